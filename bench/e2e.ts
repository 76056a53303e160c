/**
 * End-to-end throughput: N small accounts (Auth0 user, Recurly account with a live
 * subscription, a few media blobs, rows in every table) are requested at once through the
 * HTTP API of a stack started here (worker and API as their own processes, as `npm start`
 * runs them), and every deletion is followed to its receipt.
 *
 * The baseline is the ceiling the vendors' rate limits allow, measured in the same run: the
 * vendor calls one deletion needs (counted by the sandboxes, 429s excluded) against the
 * sandboxes' limits, which default to the vendors' own (Auth0 16 req/s, Recurly 400 req/min).
 *
 *   node --import tsx bench/e2e.ts [--accounts 1000] [--media 2]
 *   LETHE_TEMPORAL=server node --import tsx bench/e2e.ts ...   on the production-shaped Temporal
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freeStackPorts, startStack } from '../dev/stack/embedded';
import { loadConfig } from '../config';
import { buildDeps } from '../worker/deps';
import { rng, seedAccount, SeededAccount } from '../dev/seed/fixtures';

const AUTH0_PER_SECOND = 16;
const RECURLY_PER_MINUTE = 400;

interface Stats {
  total: number;
  statuses: Record<string, Record<string, number>>;
}

async function admin(base: string, method: string, p: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}/__sandbox/${p}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`sandbox ${method} ${p}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
}

/** Calls that did work: 429 answers are the limiter pushing back, not part of a deletion. */
function callsExcept429(s: Stats): { calls: number; throttled: number } {
  let calls = 0;
  let throttled = 0;
  for (const [route, byStatus] of Object.entries(s.statuses)) {
    if (route.startsWith('POST /oauth/token')) continue; // not rate limited by Auth0's Management API limit
    for (const [status, n] of Object.entries(byStatus)) {
      if (status === '429') throttled += n;
      else calls += n;
    }
  }
  return { calls, throttled };
}

async function pool<T>(items: T[], limit: number, fn: (t: T, i: number) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        await fn(items[k], k);
      }
    }),
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Peak resident memory of a process and its children's largest (the worker runs under node). */
function peakRssMiB(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

export async function runE2eBench(opts: { accounts: number; media: number }): Promise<string> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-bench-e2e-'));
  fs.chmodSync(stateDir, 0o755);
  const ports = await freeStackPorts();
  const log = (l: string) => process.stderr.write(`[e2e] ${l}\n`);
  const stack = await startStack({
    stateDir,
    ports,
    durable: false,
    headless: true,
    withWorker: true,
    withApi: true,
    env: {},
    sandboxRateLimits: { auth0PerSecond: AUTH0_PER_SECOND, recurlyPerMinute: RECURLY_PER_MINUTE },
    log,
  });
  const config = loadConfig({ ...process.env, ...stack.env });
  const deps = buildDeps(config);
  const auth0Url = config.auth0.baseUrl!;
  const recurlyUrl = config.recurly.baseUrl!;
  const api = `http://127.0.0.1:${ports.api}`;
  try {
    // Seeding is set-up, not the measurement: lift the limits while it runs.
    await admin(auth0Url, 'PUT', 'rate-limit', { limit: 100_000 });
    await admin(recurlyUrl, 'PUT', 'rate-limit', { limit: 1_000_000 });
    const rand = rng(8008);
    const seeded: SeededAccount[] = [];
    const tSeed = Date.now();
    await pool(Array.from({ length: opts.accounts }), 16, async () => {
      seeded.push(
        await seedAccount(
          { ...deps, recurlySandboxUrl: recurlyUrl },
          {
            media: opts.media,
            auth0: 'linked',
            subscriptions: [{ state: 'active' }],
            loginEvents: 2,
            shares: 1,
            supportRequests: 1,
          },
          rand,
        ),
      );
      if (seeded.length % 100 === 0) log(`seeded ${seeded.length}/${opts.accounts}`);
    });
    log(`seeded ${seeded.length} accounts in ${((Date.now() - tSeed) / 1000).toFixed(1)} s`);
    // Stats cleared first: a reset also puts back the limits the sandboxes started with.
    await admin(auth0Url, 'POST', 'reset', { keepData: true });
    await admin(recurlyUrl, 'POST', 'reset', { keepData: true });
    await admin(auth0Url, 'PUT', 'rate-limit', { limit: AUTH0_PER_SECOND });
    await admin(recurlyUrl, 'PUT', 'rate-limit', { limit: RECURLY_PER_MINUTE });

    // All at once, as a burst of requests from the support desk would arrive.
    const t0 = Date.now();
    const filed = await Promise.all(
      seeded.map(async (a) => {
        const res = await fetch(`${api}/v1/deletion-requests`, {
          method: 'POST',
          headers: { authorization: `Bearer ${stack.apiToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ accountId: a.id, channel: 'support', requestedBy: 'bench' }),
        });
        if (res.status !== 202) throw new Error(`POST /v1/deletion-requests answered ${res.status}: ${await res.text()}`);
        return { ...((await res.json()) as { requestId: string }), filedAt: Date.now() };
      }),
    );
    const filedMs = Date.now() - t0;
    log(`filed ${filed.length} requests in ${filedMs} ms; waiting for receipts`);

    const ids = filed.map((f) => f.requestId);
    let done = 0;
    let peakWorker = 0;
    // The production-shaped stack (LETHE_TEMPORAL=server) runs two workers; the figure is the larger.
    const workers = ['worker', 'worker-2'].map((n) => stack.supervisor.get(n)).filter((w) => w !== undefined);
    for (;;) {
      const row = await deps.db('lethe.receipts').whereIn('request_id', ids).count<{ n: string }[]>({ n: '*' }).first();
      done = Number(row?.n ?? 0);
      for (const w of workers) peakWorker = Math.max(peakWorker, peakRssMiB(w.pid) ?? 0);
      if (done >= ids.length) break;
      const failed = await deps.db('lethe.deletion_requests').whereIn('request_id', ids).where({ status: 'failed' }).count<{ n: string }[]>({ n: '*' }).first();
      if (Number(failed?.n ?? 0) > 0) throw new Error(`${failed?.n} deletions failed`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const totalMs = Date.now() - t0;
    const receipts = await deps.db('lethe.receipts').whereIn('request_id', ids).select('request_id', 'completed_at', 'deadline_at');
    const filedAt = new Map(filed.map((f) => [f.requestId, f.filedAt]));
    const latencies = receipts.map((r) => new Date(r.completed_at).getTime() - filedAt.get(r.request_id)!).sort((a, b) => a - b);
    const overdue = receipts.filter((r) => new Date(r.completed_at) > new Date(r.deadline_at)).length;

    const auth0 = callsExcept429((await admin(auth0Url, 'GET', 'stats')) as Stats);
    const recurly = callsExcept429((await admin(recurlyUrl, 'GET', 'stats')) as Stats);
    const auth0PerDeletion = auth0.calls / ids.length;
    const recurlyPerDeletion = recurly.calls / ids.length;
    const ceilingPerMin = Math.min((AUTH0_PER_SECOND * 60) / auth0PerDeletion, RECURLY_PER_MINUTE / recurlyPerDeletion);
    const perMin = ids.length / (totalMs / 60_000);
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    return [
      `### End to end: ${ids.length} accounts requested at once through the API`,
      '',
      '| figure | value |',
      '|---|---|',
      `| Temporal | ${stack.temporal === 'server' ? 'Temporal server on PostgreSQL (LETHE_TEMPORAL=server), 2 workers' : 'dev server on SQLite, 1 worker'} |`,
      `| accounts (media blobs each) | ${ids.length} (${opts.media}, plus Auth0 user, Recurly account with an active subscription, rows in every table) |`,
      `| filing all requests (HTTP 202) | ${s(filedMs)} |`,
      `| time until every receipt | ${s(totalMs)} |`,
      `| per deletion p50 / p95 / max | ${s(percentile(latencies, 50))} / ${s(percentile(latencies, 95))} / ${s(latencies[latencies.length - 1])} |`,
      `| deletions per minute | ${perMin.toFixed(1)} |`,
      `| vendor calls per deletion (429s excluded) | Auth0 ${auth0PerDeletion.toFixed(2)}, Recurly ${recurlyPerDeletion.toFixed(2)} |`,
      `| 429 answers absorbed | Auth0 ${auth0.throttled}, Recurly ${recurly.throttled} |`,
      `| ceiling from rate limits (Auth0 ${AUTH0_PER_SECOND}/s, Recurly ${RECURLY_PER_MINUTE}/min) | ${ceilingPerMin.toFixed(1)} deletions/min |`,
      `| **ratio to ceiling** | **${(perMin / ceilingPerMin).toFixed(2)}** (target ≥ 0.80) |`,
      `| over deadline | ${overdue} |`,
      `| peak worker RSS${workers.length > 1 ? ' (larger of the two)' : ''} | ${peakWorker || 'n/a'} MiB |`,
      '',
    ].join('\n');
  } finally {
    await deps.close();
    await stack.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { accounts: { type: 'string', default: '1000' }, media: { type: 'string', default: '2' } } });
  runE2eBench({ accounts: Number(values.accounts), media: Number(values.media) })
    .then((md) => process.stdout.write(`${md}\n`))
    .catch((err) => {
      process.stderr.write(`bench/e2e: ${err?.stack ?? err}\n`);
      process.exit(1);
    });
}
