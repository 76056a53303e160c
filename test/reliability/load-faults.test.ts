/**
 * Issue 7, load with faults. A stack of its own (worker and API as processes, every store on
 * disk so it survives its restarts) takes a burst of deletion requests through the HTTP API
 * while the worker is killed twice, the Temporal dev server and PostgreSQL are restarted,
 * Azurite is stopped for 30 s, and both vendor sandboxes answer bursts of 429 and 500.
 * Afterwards every request has exactly one receipt and every deleted account is empty in
 * every store; every other account is byte-for-byte what it was.
 *
 * LETHE_RELIABILITY_REQUESTS (default 200) and LETHE_RELIABILITY_AZURITE_OUTAGE_S (default 30)
 * size it; the nightly variant in the README uses 1000 requests.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, RunningStack, StackPorts } from '../../dev/stack/embedded';
import { freePort, waitFor } from '../../dev/stack/net';
import { loadConfig } from '../../config';
import { buildDeps } from '../../worker/deps';
import { fingerprint, rng, seedAccount, SeedDeps, SeededAccount, SubState } from '../../dev/seed/fixtures';
import { expectEmpty, storesOf } from '../support/stores';
import { scopedSeeder, daysAfter, newScopePrefix } from '../sweep/support';
import { cutoffFor } from '../../activities/sweep/candidates';
import { createTemporalClient } from '../../client/temporal';
import { createSweepService, SweepView } from '../../client/sweeps';
import type { Config } from '../../config';

const REQUESTS = Number(process.env.LETHE_RELIABILITY_REQUESTS || 200);
const OUTAGE_MS = Number(process.env.LETHE_RELIABILITY_AZURITE_OUTAGE_S || 30) * 1000;
const SWEEP_PREFIX = newScopePrefix();
const CHANNELS = ['api', 'email', 'phone', 'support', 'in_app'] as const;
const STATES: SubState[] = ['active', 'future', 'paused', 'canceled', 'expired', 'failed'];

jest.setTimeout(30 * 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pool<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        out[k] = await fn(items[k], k);
      }
    }),
  );
  return out;
}

/** Reads through a PostgreSQL restart: the suite's own reads must not be the thing that fails. */
async function patiently<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 60) throw err;
      await sleep(1000);
    }
  }
}

describe('reliability: load with faults', () => {
  let stack: RunningStack;
  let stateDir: string;
  let deps: ReturnType<typeof buildDeps>;
  let seed: SeedDeps;
  let api: string;
  let auth0Url: string;
  let recurlyUrl: string;
  let config: Config;
  const faultsSurvived: string[] = [];

  beforeAll(async () => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-reliability-'));
    fs.chmodSync(stateDir, 0o755);
    const ports: StackPorts = {
      temporal: await freePort(),
      temporalUi: await freePort(),
      postgres: await freePort(),
      azurite: await freePort(),
      auth0: await freePort(),
      recurly: await freePort(),
      api: await freePort(),
    };
    stack = await startStack({
      stateDir,
      ports,
      durable: true,
      headless: true,
      withWorker: true,
      withApi: true,
      // The sweep test's pace: paced still, but a minute of starts is not what it tests.
      // Small pages and two a run, so the sweep kill lands mid-page or across a continue-as-new;
      // the workers sweep only the sweep test's id prefix (the first test's bystanders share the database).
      env: { LETHE_SWEEP_STARTS_PER_MINUTE: '240', LETHE_SWEEP_PAGE_SIZE: '3', LETHE_SWEEP_PAGES_PER_RUN: '2', LETHE_SWEEP_SCOPE: SWEEP_PREFIX },
      // The suite injects its own 429 bursts; the limiter itself is tested in test/sandboxes.
      sandboxRateLimits: { auth0PerSecond: 10_000, recurlyPerMinute: 1_000_000 },
      log: (l) => process.stderr.write(`[reliability] ${l}\n`),
    });
    config = loadConfig({ ...process.env, ...stack.env });
    deps = buildDeps(config);
    seed = { ...deps, recurlySandboxUrl: config.recurly.baseUrl };
    api = `http://127.0.0.1:${ports.api}`;
    auth0Url = config.auth0.baseUrl!;
    recurlyUrl = config.recurly.baseUrl!;
  });

  afterAll(async () => {
    await deps?.close();
    await stack?.stop();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  const post = (p: string, body: unknown) =>
    fetch(`${api}${p}`, { method: 'POST', headers: { authorization: `Bearer ${stack.apiToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const fault = (base: string, spec: Record<string, unknown>) =>
    fetch(`${base}/__sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) }).then((r) => expect(r.status).toBeLessThan(300));

  test(`when ${REQUESTS} requests meet crashes, restarts, a storage outage and vendor errors, then all complete once and nothing else is touched`, async () => {
    const rand = rng(7007);
    // Mixed sizes: most accounts are small, one in ten holds a few hundred blobs.
    const targets = await pool(Array.from({ length: REQUESTS }), 8, (_, i) =>
      seedAccount(
        seed,
        {
          media: i % 10 === 0 ? 150 : i % 7,
          snapshots: i % 10 === 0 ? 10 : 0,
          orphanBlobs: i % 5 === 0 ? 3 : 0,
          auth0: (['linked', 'legacy', 'none'] as const)[i % 3],
          subscriptions: i % 4 === 3 ? null : [{ state: STATES[i % STATES.length] }],
          loginEvents: 2,
          shares: 1,
          supportRequests: 1,
          emailOnlySupportRequests: i % 2,
        },
        rand,
      ),
    );
    // Bystanders, some built to be confused with a target: an id one character away (a prefix
    // match without its slash would take its blobs), a legacy Auth0 user, email-only tickets.
    const bystanders: SeededAccount[] = [];
    for (let i = 0; i < 40; i++) {
      const t = targets[i];
      const twin = i < 15 ? t.id.slice(0, 35) + (t.id.endsWith('0') ? '1' : '0') : undefined;
      bystanders.push(
        await seedAccount(
          seed,
          {
            id: twin,
            media: 4,
            snapshots: 1,
            orphanBlobs: 1,
            auth0: i % 2 ? 'legacy' : 'linked',
            subscriptions: [{ state: 'active' }],
            supportRequests: 1,
            emailOnlySupportRequests: 1,
          },
          rand,
        ),
      );
    }
    const before = await pool(bystanders, 8, (b) => fingerprint(seed, b));

    // All requests at once, then a second channel for some, which must join the first.
    const filed = await Promise.all(
      targets.map(async (t, i) => {
        const res = await post('/v1/deletion-requests', { accountId: t.id, channel: CHANNELS[i % CHANNELS.length], requestedBy: 'reliability-suite' });
        expect(res.status).toBe(202);
        return (await res.json()) as { requestId: string; accountId: string };
      }),
    );
    const again = await Promise.all(
      targets.slice(0, 20).map(async (t) => {
        const res = await post('/v1/deletion-requests', { email: t.email.toUpperCase(), channel: 'email' });
        expect(res.status).toBe(202);
        return (await res.json()) as { requestId: string };
      }),
    );
    expect(again.map((a) => a.requestId)).toEqual(filed.slice(0, 20).map((f) => f.requestId));

    // The faults, while the deletions run.
    await fault(auth0Url, { mode: '429', count: 40, retryAfterSeconds: 1 });
    await fault(recurlyUrl, { mode: '500', count: 40 });
    faultsSurvived.push('Auth0: 40 × 429', 'Recurly: 40 × 500');
    const worker = stack.supervisor.get('worker')!;
    await sleep(1500);
    await worker.kill();
    await sleep(2000);
    await worker.start();
    faultsSurvived.push('worker SIGKILL #1');
    await stack.supervisor.get('temporal')!.restart();
    faultsSurvived.push('Temporal dev server restart');
    await fault(recurlyUrl, { mode: '429', count: 40, retryAfterSeconds: 1 });
    await fault(auth0Url, { mode: '500', count: 40 });
    faultsSurvived.push('Recurly: 40 × 429', 'Auth0: 40 × 500');
    await stack.supervisor.get('postgres')!.restart();
    faultsSurvived.push('PostgreSQL restart');
    const azurite = stack.supervisor.get('azurite')!;
    await azurite.stop();
    await sleep(OUTAGE_MS);
    await azurite.start();
    faultsSurvived.push(`Azurite down ${OUTAGE_MS / 1000} s`);
    await worker.kill();
    await sleep(1000);
    await worker.start();
    faultsSurvived.push('worker SIGKILL #2');

    const ids = filed.map((f) => f.requestId);
    await waitFor(
      'every receipt',
      async () => {
        const row = await patiently(() => deps.db('lethe.receipts').whereIn('request_id', ids).count<{ n: string }[]>({ n: '*' }).first());
        process.stderr.write(`[reliability] receipts ${row?.n}/${ids.length}\n`);
        return Number(row?.n) === ids.length;
      },
      { timeoutMs: 20 * 60_000, intervalMs: 5000 },
    );

    // Exactly one receipt per account, and the API reports each request completed.
    const perAccount = await deps
      .db('lethe.receipts')
      .whereIn(
        'account_id',
        targets.map((t) => t.id),
      )
      .groupBy('account_id')
      .select('account_id')
      .count<{ account_id: string; n: string }[]>({ n: '*' });
    expect(perAccount).toHaveLength(targets.length);
    expect(perAccount.filter((r) => Number(r.n) !== 1)).toEqual([]);
    for (const f of filed.slice(0, 25)) {
      const res = await fetch(`${api}/v1/deletion-requests/${f.requestId}`, { headers: { authorization: `Bearer ${stack.apiToken}` } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { status: string }).status).toBe('completed');
    }
    // Nothing left of any deleted account, in any store.
    await pool(targets, 8, async (t) => expectEmpty(await storesOf(seed, t)));
    // Nothing of anyone else touched.
    expect(await pool(bystanders, 8, (b) => fingerprint(seed, b))).toEqual(before);
    const stats = await Promise.all([auth0Url, recurlyUrl].map(async (u) => (await (await fetch(`${u}/__sandbox/stats`)).json()) as { total: number }));
    process.stderr.write(
      `[reliability] held ${REQUESTS} requests (+20 duplicates); survived: ${faultsSurvived.join(', ')}; ` +
        `vendor calls: Auth0 ${stats[0].total}, Recurly ${stats[1].total}; bystanders wrongly touched: 0; data left: 0\n`,
    );
  });

  test('when a sweep is interrupted by a worker kill, then it finishes and deletes each eligible account exactly once', async () => {
    // Scoped to an id prefix of its own: the first test's bystanders are in the same database.
    const seeder = scopedSeeder(seed, 8_2026, SWEEP_PREFIX);
    const cutoff = await cutoffFor(deps.db, new Date().toISOString(), config.sweep.inactivityMonths, config.sweep.timezone);
    const longAgo = daysAfter(cutoff, -200);
    const eligible = await pool(Array.from({ length: 20 }), 4, (_, i) =>
      seeder.account({
        createdAt: longAgo,
        lastLoginAt: i % 4 === 0 ? null : daysAfter(cutoff, -30 - i),
        subscriptions: i % 2 ? [{ state: 'expired', currentPeriodEndsAt: daysAfter(cutoff, -10) }] : null,
      }),
    );
    const kept = [
      await seeder.account({ createdAt: longAgo, lastLoginAt: daysAfter(cutoff, 1), subscriptions: null }),
      await seeder.account({ createdAt: longAgo, lastLoginAt: daysAfter(cutoff, -30), subscriptions: [{ state: 'active' }] }),
      await seeder.account({ createdAt: longAgo, lastLoginAt: daysAfter(cutoff, -30), subscriptions: [{ state: 'canceled', currentPeriodEndsAt: daysAfter(new Date(), 20) }] }),
    ];
    const before = await pool(kept, 3, (k) => fingerprint(seed, k));

    const temporal = createTemporalClient(config);
    try {
      const sweeps = createSweepService({ config, temporal, db: deps.db });
      const t0 = Date.now();
      const { sweepId } = await sweeps.start({ dryRun: false });
      let view: SweepView | null = null;
      await waitFor(
        'the sweep to start a few deletions',
        async () => {
          view = await sweeps.get(sweepId);
          return (view?.started ?? 0) >= 3;
        },
        { timeoutMs: 5 * 60_000, intervalMs: 250 },
      );
      const worker = stack.supervisor.get('worker')!;
      await worker.kill();
      await sleep(2000);
      await worker.start();
      await waitFor(
        'the sweep to finish',
        async () => {
          view = await sweeps.get(sweepId);
          return view?.status !== 'running';
        },
        { timeoutMs: 10 * 60_000, intervalMs: 1000 },
      );
      const done = view as unknown as SweepView;
      const sweptIn = Date.now() - t0;
      expect(done.status).toBe('completed');
      expect({ eligible: done.eligible, started: done.started }).toEqual({ eligible: eligible.length, started: eligible.length });

      const ids = eligible.map((e) => e.id);
      await waitFor(
        'a receipt for every eligible account',
        async () => {
          const row = await deps.db('lethe.receipts').whereIn('account_id', ids).count<{ n: string }[]>({ n: '*' }).first();
          return Number(row?.n) >= ids.length;
        },
        { timeoutMs: 10 * 60_000, intervalMs: 2000 },
      );
      // Once: one request and one receipt per account, every one from the sweep's channel.
      const receipts = await deps.db('lethe.receipts').whereIn('account_id', ids).select('account_id', 'channel');
      expect(receipts.map((r) => r.account_id).sort()).toEqual([...ids].sort());
      expect(new Set(receipts.map((r) => r.channel))).toEqual(new Set(['inactivity']));
      const requests = await deps
        .db('lethe.deletion_requests')
        .whereIn('account_id', [...ids, ...kept.map((k) => k.id)])
        .select('account_id');
      expect(requests.map((r) => r.account_id).sort()).toEqual([...ids].sort());
      await pool(eligible, 4, async (e) => expectEmpty(await storesOf(seed, e)));
      expect(await pool(kept, 3, (k) => fingerprint(seed, k))).toEqual(before);
      process.stderr.write(
        `[reliability] sweep ${sweepId}: ${done.scanned} scanned, ${done.eligible} eligible, ${done.started} started through a worker SIGKILL ` +
          `(sweep ${Math.round(sweptIn / 1000)} s, all deleted ${Math.round((Date.now() - t0) / 1000)} s); kept ${kept.length} untouched\n`,
      );
    } finally {
      await temporal.connection.close();
    }
  });
});
