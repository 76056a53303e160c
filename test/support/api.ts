/** The HTTP API on port 0 over a test world's dependencies, with its log lines captured. */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config';
import { createApiServer, ApiDeps } from '../../client/api/server';
import { createApiLogger } from '../../client/api/logger';
import type { TestWorld } from './stack';

/** A response's JSON body as the tests read it: asserted field by field, of every route's shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- every route's body, checked by the assertions, not the compiler
export type JsonBody = any;

export interface TestApi {
  app: FastifyInstance;
  url: string;
  token: string;
  logs: string[];
  /** Every route the server registered, as `METHOD /path/{param}` (HEAD twins left out). */
  routes: string[];
  /** fetch against the API with the token (unless `token: null`) and a JSON body. */
  request(
    method: string,
    path: string,
    opts?: { body?: unknown; raw?: string; token?: string | null; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; body: JsonBody; text: string }>;
  close(): Promise<void>;
}

export async function startApi(world: TestWorld, opts: { config?: Partial<Config['api']>; deps?: Partial<ApiDeps> } = {}): Promise<TestApi> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const config: Config = { ...world.config, api: { ...world.config.api, ...opts.config } };
  const app = createApiServer({ config, db: world.deps.db, temporal: world.client, logger: createApiLogger({ level: 'info', destination }), ...opts.deps });
  const routes: string[] = [];
  app.addHook('onRoute', (r) => {
    // Pages (the privacy page, the console) are hidden from the API's reference, and from this list.
    if ((r.schema as { hide?: boolean } | undefined)?.hide) return;
    for (const m of [r.method].flat()) if (m !== 'HEAD') routes.push(`${m} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address() as { port: number };
  const url = `http://127.0.0.1:${address.port}`;
  const token = config.api.tokens[0];
  return {
    app,
    url,
    token,
    logs,
    routes,
    async request(method, path, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token !== null) headers.authorization = `Bearer ${o.token ?? token}`;
      let body: string | undefined = o.raw;
      if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${url}${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
    close: () => app.close(),
  };
}

/** Polls a deletion request until it reaches a final status. */
export async function waitForStatus(api: TestApi, requestId: string, timeoutMs = 90_000, opts: { live?: boolean } = {}): Promise<JsonBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api.request('GET', `/v1/deletion-requests/${requestId}${opts.live ? '?live=true' : ''}`);
    if (res.status !== 200) throw new Error(`GET ${requestId}: ${res.status} ${res.text}`);
    if (['completed', 'failed', 'skipped'].includes(res.body.status)) return res.body;
    if (Date.now() > deadline) throw new Error(`request ${requestId} still ${res.body.status}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
