/**
 * Issue 22: /healthz says which dependency is down and, with `?detail=true`, since when, as
 * this API process saw it (on each call and from a background probe every 10 s). The API runs
 * in process over the test stack's PostgreSQL and a TCP relay to its Temporal that the test
 * opens and cuts; the default body keeps the shape monitors already parse.
 */
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createApiServer } from '../../client/api/server';
import { connectTemporal } from '../../client/temporal';
import { HEALTH_PROBE_INTERVAL_MS } from '../../client/api/health';
import { createDb } from '../../stores/db';
import { freePort, waitFor } from '../../dev/stack/net';
import { testConfig } from '../support/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A relay to the test stack's Temporal that can be cut, connections and all. */
function relay(port: number, to: number) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  return {
    open: () =>
      new Promise<void>((resolve) => {
        if (server) return resolve();
        server = net.createServer((client) => {
          const upstream = net.connect(to, '127.0.0.1');
          for (const s of [client, upstream]) {
            sockets.add(s);
            s.on('close', () => sockets.delete(s));
            s.on('error', () => (client.destroy(), upstream.destroy()));
          }
          client.pipe(upstream).pipe(client);
        });
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    cut: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        if (server) server.close(() => resolve());
        else resolve();
        server = undefined;
      }),
  };
}

describe('/healthz', () => {
  let app: FastifyInstance;
  let url: string;
  let link: ReturnType<typeof relay>;
  let close: () => Promise<void>;
  let started: string;

  beforeAll(async () => {
    started = new Date().toISOString();
    const port = await freePort();
    link = relay(port, Number(process.env.LETHE_TEST_TEMPORAL_PORT));
    const config = testConfig();
    const db = createDb(config.database.url, { poolMax: 2 });
    const temporal = await connectTemporal({ ...config, temporal: { ...config.temporal, address: `127.0.0.1:${port}` } });
    app = createApiServer({ config, db, temporal });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
    close = async () => {
      // The client's gRPC retry interceptor keeps a timer per failing call that outlives the call
      // (withDeadline gives up first); fired after the connection closed, it throws "Channel has
      // been shut down" in whatever test file this jest worker runs next (seen in CI). So Temporal
      // is reachable again, and every such timer (at most 5 s, 20% jitter) has fired, before closing.
      await link.open();
      await sleep(6_500);
      await app.close();
      await temporal.connection.close().catch(() => undefined);
      await db.destroy();
      await link.cut();
    };
  });
  afterAll(async () => close?.());

  type Detail = { status: string; checks: Record<string, { status: string; since: string }> };
  const health = async (query = '') => {
    const res = await fetch(`${url}/healthz${query}`);
    return { status: res.status, body: (await res.json()) as unknown };
  };
  const detail = async () => {
    const res = await health('?detail=true');
    return { status: res.status, body: res.body as Detail };
  };

  test('when Temporal is down, comes back and goes down again, then /healthz names it, and with detail says since when', async () => {
    const down = await health();
    expect(down).toEqual({ status: 503, body: { status: 'unavailable', checks: { postgres: 'ok', temporal: 'unreachable' } } });
    const first = await detail();
    expect(first.status).toBe(503);
    expect(first.body).toEqual({
      status: 'unavailable',
      checks: { postgres: { status: 'ok', since: expect.any(String) }, temporal: { status: 'unreachable', since: expect.any(String) } },
    });
    const since = first.body.checks.temporal.since as string;
    expect(new Date(since).toISOString()).toBe(since); // RFC 3339, UTC
    // Seen from the API's start (its first background probe), not from the first caller.
    expect(since >= started).toBe(true);
    expect(since).toBe(first.body.checks.postgres.since);
    await sleep(1_100);
    // Still down: since is when it was first seen down, not the latest check.
    expect((await detail()).body.checks.temporal).toEqual({ status: 'unreachable', since });

    await link.open();
    const opened = new Date().toISOString();
    await waitFor('/healthz 200 once Temporal answers', async () => (await health()).status === 200, { timeoutMs: 90_000, intervalMs: 500 });
    const up = await detail();
    expect(up).toEqual({ status: 200, body: { status: 'ok', checks: { postgres: first.body.checks.postgres, temporal: { status: 'ok', since: expect.any(String) } } } });
    expect(Date.parse(up.body.checks.temporal.since)).toBeGreaterThanOrEqual(Date.parse(opened) - 1_000);

    // Cut while nobody asks: the background probe notices, so "since" is not the next caller's time.
    await link.cut();
    const cut = new Date().toISOString();
    await sleep(HEALTH_PROBE_INTERVAL_MS + 5_000);
    const asked = new Date().toISOString();
    const again = await detail();
    expect(again.status).toBe(503);
    expect(again.body.checks.temporal.status).toBe('unreachable');
    expect(Date.parse(again.body.checks.temporal.since)).toBeGreaterThanOrEqual(Date.parse(cut) - 1_000);
    expect(Date.parse(asked) - Date.parse(again.body.checks.temporal.since)).toBeGreaterThanOrEqual(2_000);
  });

  test('when a monitor adds a query field of its own, then /healthz ignores it', async () => {
    expect([200, 503]).toContain((await health('?nocache=123')).status);
    expect((await health('?detail=yes')).status).toBe(400);
  });
});
