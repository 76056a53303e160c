/**
 * Open deletions held at once: N accounts are requested through the HTTP API while Auth0 is
 * throttling every call with a Retry-After of an hour, so each deletion does all the work it
 * can (freeze, media, database, Recurly, their verifications) and then stays open, waiting
 * for Auth0, as a real outage would leave it. The question is whether the Temporal under the
 * stack holds that many open workflows without errors and still answers an operator promptly:
 * the dev server keeps its history and visibility in SQLite, the production-shaped one
 * (LETHE_TEMPORAL=server) in PostgreSQL.
 *
 * What counts as an error: a filing that is not answered 202, a deletion that is not open
 * (failed, terminated, timed out) at the end, and a status read by the API that fails. How many got past their database step within the
 * wait is the machine's throughput, reported beside them.
 *
 * Then the reads (issue 37, item 4), all open: the status route (answered from Lethe's tables,
 * lethe.deletion_store_states, with no Temporal call: `source: tables`), the same with `live=true` (the
 * workflow's progress query), the list, and as the baseline a plain PostgreSQL primary-key read
 * of the request's row, in the same run, interleaved, one at a time.
 *
 *   node --import tsx bench/open.ts [--accounts 10000]
 *   LETHE_TEMPORAL=server node --import tsx bench/open.ts ...
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { rng, seedAccount } from '../dev/seed/fixtures';
import { compileLikeTheImage, memoryByKind, percentile, pool, rssMiB, sandboxAdmin, startBenchStack } from './support';

/** Longer than the run: every deletion's Auth0 step waits for it once, and no more. */
const RETRY_AFTER_SECONDS = 3600;

export async function runOpenBench(opts: { accounts: number; waitMinutes: number }): Promise<string> {
  // The worker is measured as the image runs it (compiled, its workflows bundled ahead, the
  // image's Node flags), as bench/e2e.ts does: through tsx it holds the transpiler's work too.
  process.stderr.write('[open] compiling the worker as the Dockerfile does\n');
  const compiledWorker = compileLikeTheImage();
  const { stack, stateDir, log, deps, auth0Url, recurlyUrl, api, config } = await startBenchStack('open', {
    compiledWorker,
    // The burst comes from one token; the API's per-token limit is not what is measured.
    env: { LETHE_API_RATE_LIMIT: String(opts.accounts * 10), LETHE_SWEEP_SCHEDULE: 'off' },
  });
  const temporal = deps.temporalClient();
  const workers = () => ['worker', 'worker-2'].map((n) => stack.supervisor.get(n)).filter((w) => w !== undefined);
  const workerAtStart = Math.max(0, ...workers().map((w) => rssMiB(w.pid, 'VmRSS') ?? 0));
  // Where the worker's memory is: its main thread's V8 heap and the memory outside it that V8
  // knows of (prom-client's default metrics on the worker's /metrics); the rest of its RSS is the
  // workflow thread's isolate, the SDK's Rust core and the allocator's.
  const heapOf = async (): Promise<string> => {
    try {
      const text = await (await fetch(`http://127.0.0.1:${config.worker.metricsPort}/metrics`)).text();
      const mib = (name: string) => Math.round(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN) / 1048576);
      return `${mib('nodejs_heap_size_total_bytes')} / ${mib('nodejs_heap_size_used_bytes')} / ${mib('nodejs_external_memory_bytes')}`;
    } catch {
      return 'n/a';
    }
  };
  const heapAtStart = await heapOf();
  const kinds = () => {
    const m = memoryByKind(workers()[0]?.pid);
    return m ? `${m.v8Pages} / ${m.glibcHeap + m.glibcArenas} / ${m.files} / ${m.otherAnon}` : 'n/a';
  };
  const kindsAtStart = kinds();
  try {
    // Capacity, not vendor pacing: the vendors' limits are lifted for the whole run.
    await sandboxAdmin(auth0Url, 'PUT', 'rate-limit', { limit: 1_000_000 });
    await sandboxAdmin(recurlyUrl, 'PUT', 'rate-limit', { limit: 10_000_000 });
    const rand = rng(1010);
    const ids: string[] = [];
    const tSeed = Date.now();
    // Small accounts (an Auth0 user, a Recurly account without subscriptions, a few rows): the
    // load on the machine is the workflows', not the vendors'.
    await pool(Array.from({ length: opts.accounts }), 16, async () => {
      const a = await seedAccount({ ...deps, recurlySandboxUrl: recurlyUrl }, { media: 0, auth0: 'linked', subscriptions: [], loginEvents: 1 }, rand);
      ids.push(a.id);
      if (ids.length % 1000 === 0) log(`seeded ${ids.length}/${opts.accounts}`);
    });
    log(`seeded ${ids.length} accounts in ${((Date.now() - tSeed) / 1000).toFixed(0)} s`);
    await sandboxAdmin(auth0Url, 'POST', 'faults', { mode: '429', count: 1_000_000_000, retryAfterSeconds: RETRY_AFTER_SECONDS, pathPrefix: '/api/v2/' });

    const t0 = Date.now();
    const requestIds: string[] = [];
    const refused: string[] = [];
    await pool(ids, 64, async (accountId) => {
      const res = await fetch(`${api}/v1/deletion-requests`, {
        method: 'POST',
        headers: { authorization: `Bearer ${stack.apiToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ accountId, channel: 'support', requestedBy: 'bench-open' }),
      });
      if (res.status === 202) requestIds.push(((await res.json()) as { requestId: string }).requestId);
      else refused.push(`${res.status} ${(await res.text()).slice(0, 200)}`);
    });
    const filedMs = Date.now() - t0;
    log(`filed ${requestIds.length} (${refused.length} refused) in ${(filedMs / 1000).toFixed(0)} s`);

    // Every deletion gets as far as it can without Auth0: its account's rows are gone.
    const deadline = Date.now() + opts.waitMinutes * 60_000;
    let left = ids.length;
    let peakServer = 0;
    let peakWorker = 0;
    const server = stack.supervisor.get('temporal');
    while (Date.now() < deadline) {
      const rows: { n: string }[] = await deps.db('accounts').whereIn('id', ids).count({ n: '*' });
      left = Number(rows[0].n);
      peakServer = Math.max(peakServer, rssMiB(server?.pid, 'VmRSS') ?? 0);
      for (const w of workers()) peakWorker = Math.max(peakWorker, rssMiB(w.pid, 'VmHWM') ?? 0);
      if (left === 0) break;
      log(`${ids.length - left}/${ids.length} past the database step after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      await new Promise((r) => setTimeout(r, 10_000));
    }
    const settledMs = Date.now() - t0;
    const peakWorkerSettled = peakWorker;
    const heapSettled = await heapOf();
    const kindsSettled = kinds();

    const type = 'accountDeletionWorkflow';
    const open = (await temporal.workflow.count(`WorkflowType = '${type}' AND ExecutionStatus = 'Running'`)).count;
    const closedBadly = (await temporal.workflow.count(`WorkflowType = '${type}' AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed'`)).count;

    // What an operator does at 3 a.m. with all of them open: read a few hundred statuses.
    const sample = requestIds.filter((_, i) => i % Math.max(1, Math.floor(requestIds.length / 200)) === 0);
    const latencies: number[] = [];
    let readErrors = 0;
    await pool(sample, 8, async (requestId) => {
      const t = Date.now();
      const res = await fetch(`${api}/v1/deletion-requests/${requestId}`, { headers: { authorization: `Bearer ${stack.apiToken}` } });
      latencies.push(Date.now() - t);
      const body = (await res.json()) as { status?: string };
      if (res.status !== 200 || !['running', 'blocked', 'pending'].includes(body.status ?? '')) readErrors++;
    });
    latencies.sort((a, b) => a - b);

    // Read p95 against a plain primary-key read of the same rows, same run: each round reads
    // one request four ways, one after another (the reads do not compete with each other).
    const reads = { pk: [] as number[], table: [] as number[], live: [] as number[], list: [] as number[] };
    let tableAnswers = 0;
    const timed = async (into: number[], fn: () => Promise<unknown>) => {
      const t = process.hrtime.bigint();
      const r = await fn();
      into.push(Number(process.hrtime.bigint() - t) / 1e6);
      return r;
    };
    const get = (path: string) =>
      fetch(`${api}${path}`, { headers: { authorization: `Bearer ${stack.apiToken}` } }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const rounds = requestIds.filter((_, i) => i % Math.max(1, Math.floor(requestIds.length / 150)) === 0);
    for (const [i, requestId] of rounds.entries()) {
      const warm = i < 10;
      const sink = (k: keyof typeof reads) => (warm ? [] : reads[k]);
      await timed(sink('pk'), () => deps.db.raw('select * from lethe.deletion_requests where request_id = ?', [requestId]));
      const v = (await timed(sink('table'), () => get(`/v1/deletion-requests/${requestId}`))) as { status: number; body: { stores?: { reason?: string }[]; source?: string } };
      if (v.status !== 200) readErrors++;
      else if (v.body.stores?.length && v.body.source === 'tables') tableAnswers++;
      await timed(sink('live'), () => get(`/v1/deletion-requests/${requestId}?live=true`));
      await timed(sink('list'), () => get('/v1/deletion-requests?limit=50&status=running'));
    }
    for (const k of Object.keys(reads) as (keyof typeof reads)[]) reads[k].sort((a, b) => a - b);
    const p = (k: keyof typeof reads, q: number) => (percentile(reads[k], q) as number).toFixed(1);
    const ratio = (k: keyof typeof reads) => ((percentile(reads[k], 95) as number) / (percentile(reads.pk, 95) as number)).toFixed(1);
    const tList = Date.now();
    let listed = 0;
    for await (const _ of temporal.workflow.list({ query: `WorkflowType = '${type}' AND ExecutionStatus = 'Running'`, pageSize: 1000 })) listed++;
    const listMs = Date.now() - tList;
    // The high-water mark once the reads are done too.
    for (const w of workers()) peakWorker = Math.max(peakWorker, rssMiB(w.pid, 'VmHWM') ?? 0);
    const heapAfterReads = await heapOf();
    const kindsAfterReads = kinds();

    // Proof that the outage reached every deletion: each one's Auth0 step met a 429.
    const faults = (await sandboxAdmin(auth0Url, 'GET', 'faults')) as { fired: Record<string, number> };
    const throttled = faults.fired['429'] ?? 0;
    const errors = refused.length + (ids.length - open) + closedBadly + readErrors;
    return [
      `### Open deletions held at once: ${ids.length} requested, Auth0 answering 429 (Retry-After ${RETRY_AFTER_SECONDS} s)`,
      '',
      '| figure | value |',
      '|---|---|',
      `| Temporal | ${stack.temporal === 'server' ? 'Temporal server on PostgreSQL (LETHE_TEMPORAL=server), 2 workers' : 'dev server on SQLite, 1 worker'} |`,
      `| filed through the API (HTTP 202) / refused | ${requestIds.length} / ${refused.length}${refused.length ? ` (first: ${refused[0]})` : ''} |`,
      `| filing time | ${(filedMs / 1000).toFixed(0)} s |`,
      `| past every step but Auth0 / still behind (after ${(settledMs / 1000).toFixed(0)} s) | ${ids.length - left} / ${left} |`,
      `| Auth0 calls answered 429 (one per deletion that reached it) | ${throttled} |`,
      `| open at the end (visibility count) | ${open} |`,
      `| closed other than completed (failed, terminated, timed out) | ${closedBadly} |`,
      `| listing all open ones through visibility | ${listed} in ${(listMs / 1000).toFixed(1)} s |`,
      `| status reads through the API (${sample.length}, 8 at a time) p50 / p95 / errors | ${percentile(latencies, 50)} ms / ${percentile(latencies, 95)} ms / ${readErrors} |`,
      `| reads one at a time (${reads.pk.length} rounds): p50 / p95 ms, p95 ÷ plain read p95 | |`,
      `| - plain PostgreSQL primary-key read of the request row (baseline) | ${p('pk', 50)} / ${p('pk', 95)}, 1.0 |`,
      `| - \`GET /v1/deletion-requests/{id}\` (Lethe's tables; ${tableAnswers} of ${rounds.length} answered with source tables) | ${p('table', 50)} / ${p('table', 95)}, ${ratio('table')} |`,
      `| - \`GET /v1/deletion-requests/{id}?live=true\` (the workflow's query) | ${p('live', 50)} / ${p('live', 95)}, ${ratio('live')} |`,
      `| - \`GET /v1/deletion-requests?limit=50&status=running\` | ${p('list', 50)} / ${p('list', 95)}, ${ratio('list')} |`,
      `| peak RSS: Temporal server / worker (larger; compiled as the image runs it, cache ${process.env.LETHE_WORKER_MAX_CACHED_WORKFLOWS ?? 'default'}) | ${peakServer || 'n/a'} MiB / ${peakWorker || 'n/a'} MiB |`,
      `| worker RSS when the stack was up, before any deletion / peak before the reads (all filed and settled) | ${workerAtStart || 'n/a'} MiB / ${peakWorkerSettled || 'n/a'} MiB |`,
      `| worker main thread V8 heap total / used / external MiB: at start; settled; after the reads | ${heapAtStart}; ${heapSettled}; ${heapAfterReads} |`,
      `| worker resident MiB by mapping (bench/support.ts memoryByKind), V8 pages / glibc heap and arenas / files / other: at start; settled; after the reads | ${kindsAtStart}; ${kindsSettled}; ${kindsAfterReads} |`,
      `| **errors** | **${errors}** |`,
      '',
    ].join('\n');
  } finally {
    await deps.close();
    await stack.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { accounts: { type: 'string', default: '10000' }, wait: { type: 'string', default: '40' } } });
  runOpenBench({ accounts: Number(values.accounts), waitMinutes: Number(values.wait) })
    .then((md) => process.stdout.write(`${md}\n`))
    .catch((err) => {
      process.stderr.write(`bench/open: ${err?.stack ?? err}\n`);
      process.exit(1);
    });
}
