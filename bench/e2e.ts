/**
 * End-to-end throughput: N small accounts (Auth0 user, Recurly account with a live
 * subscription, a few media blobs, rows in every table) are requested at once through the
 * HTTP API of a stack started here (worker and API as their own processes, as `npm start`
 * runs them), and every deletion is followed to its receipt.
 *
 * The baseline is the ceiling the vendors' rate limits allow, measured in the same run: the
 * vendor calls one deletion needs when nothing contends (a small pass of deletions two at a
 * time before the burst, counted by the sandboxes), against the sandboxes' limits, which
 * default to the vendors' own (Auth0 16 req/s, Recurly 400 req/min). With `--workers 2` a
 * second worker process polls the same task queues: the vendor budget is the server's, shared.
 *
 *   node --import tsx bench/e2e.ts [--accounts 1000] [--media 2] [--workers 1|2] [--uncontended 20]
 *   LETHE_TEMPORAL=server node --import tsx bench/e2e.ts ...   on the production-shaped Temporal
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { workerService } from '../dev/stack/embedded';
import { rng, seedAccount, SeededAccount } from '../dev/seed/fixtures';
import { Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { vendorTaskQueue } from '../workflows/queues';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../worker/process';
import { closeBenchStack, compileLikeTheImage, fileDeletion, percentile, pool, receiptAt, rssMiB, sandboxAdmin, startBenchStack } from './support';

const AUTH0_PER_SECOND = 16;
const RECURLY_PER_MINUTE = 400;
/** A production Recurly site counts GETs only, 1,000 a minute over a sliding five minutes (api.yaml "Rate Limits"). */
const RECURLY_PRODUCTION_GETS_PER_MINUTE = 1_000;

export interface Stats {
  total: number;
  statuses: Record<string, Record<string, number>>;
}

/** Calls that did work: 429 answers are the limiter pushing back, not part of a deletion. */
export function callsExcept429(s: Stats): { calls: number; gets: number; throttled: number; throttledBy: Record<string, number> } {
  let calls = 0;
  let gets = 0;
  let throttled = 0;
  const throttledBy: Record<string, number> = {};
  for (const [route, byStatus] of Object.entries(s.statuses)) {
    if (route.startsWith('POST /oauth/token')) continue; // not rate limited by Auth0's Management API limit
    for (const [status, n] of Object.entries(byStatus)) {
      if (status === '429') {
        throttled += n;
        throttledBy[route] = (throttledBy[route] ?? 0) + n;
      } else {
        calls += n;
        if (route.startsWith('GET ')) gets += n;
      }
    }
  }
  return { calls, gets, throttled, throttledBy };
}

/** Where the 429s fell, most first: which calls met a spent window. */
const byRoute = (m: Record<string, number>) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([route, n]) => `${route} ${n}`)
    .join('; ') || 'none';

/** Distinct worker identities polling a vendor's activity queue. */
async function vendorPollers(address: string, namespace: string, taskQueue: string): Promise<number> {
  const connection = await Connection.connect({ address });
  try {
    const res = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: vendorTaskQueue(taskQueue, 'auth0') },
      taskQueueType: proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    });
    return new Set((res.pollers ?? []).map((p) => p.identity)).size;
  } finally {
    await connection.close();
  }
}

export async function runE2eBench(opts: { accounts: number; media: number; workers?: number; uncontended?: number }): Promise<string> {
  const workerCount = opts.workers ?? 1;
  const uncontendedCount = opts.uncontended ?? 20;
  // The worker is measured as the image runs it: compiled, its workflows bundled ahead, with the
  // image's Node flags and environment (worker/process.ts).
  process.stderr.write('[e2e] compiling the worker as the Dockerfile does\n');
  const compiled = compileLikeTheImage();
  const bench = await startBenchStack('e2e', {
    compiledWorker: compiled,
    env: {},
    sandboxRateLimits: { auth0PerSecond: AUTH0_PER_SECOND, recurlyPerMinute: RECURLY_PER_MINUTE },
  });
  const { stack, log, config, deps, auth0Url, recurlyUrl, api } = bench;
  let failed = false;
  try {
    for (let i = 2; i <= workerCount; i++) {
      const name = `worker-${i}`;
      if (stack.supervisor.get(name)) continue; // the production-shaped stack runs two already
      await stack.supervisor.start(
        workerService(
          name,
          { ...process.env, ...stack.env, LETHE_WORKER_METRICS_PORT: '0' },
          compiled,
          async () => (await vendorPollers(config.temporal.address, config.temporal.namespace, config.temporal.taskQueue)) >= i,
        ),
      );
      log(`started ${name}`);
    }
    // Seeding is set-up, not the measurement: lift the limits while it runs.
    await sandboxAdmin(auth0Url, 'PUT', 'rate-limit', { limit: 100_000 });
    await sandboxAdmin(recurlyUrl, 'PUT', 'rate-limit', { limit: 1_000_000 });
    const rand = rng(8008);
    const seeded: SeededAccount[] = [];
    const tSeed = Date.now();
    await pool(Array.from({ length: opts.accounts + uncontendedCount }), 16, async () => {
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
      if (seeded.length % 100 === 0) log(`seeded ${seeded.length}/${opts.accounts + uncontendedCount}`);
    });
    log(`seeded ${seeded.length} accounts in ${((Date.now() - tSeed) / 1000).toFixed(1)} s`);
    // Stats cleared first: a reset also puts back the limits the sandboxes started with.
    const resetSandboxes = async () => {
      await sandboxAdmin(auth0Url, 'POST', 'reset', { keepData: true });
      await sandboxAdmin(recurlyUrl, 'POST', 'reset', { keepData: true });
      await sandboxAdmin(auth0Url, 'PUT', 'rate-limit', { limit: AUTH0_PER_SECOND });
      await sandboxAdmin(recurlyUrl, 'PUT', 'rate-limit', { limit: RECURLY_PER_MINUTE });
    };
    let refusedOnce = 0;
    // What the API logged of its 5xx answers (not the 503s a client retries), for a refused filing.
    const apiErrors = () => {
      const apiLog = stack.supervisor.get('api')?.logFile;
      const lines =
        apiLog && fs.existsSync(apiLog)
          ? fs
              .readFileSync(apiLog, 'utf8')
              .split('\n')
              .filter((l) => /"status":5\d\d/.test(l) && !/"status":503/.test(l))
              .slice(-5)
              .join('\n')
          : '';
      return lines ? `the API's log says:\n${lines}` : '';
    };
    const file = (a: SeededAccount) => fileDeletion(api, stack.apiToken, a.id, { onRetry: () => refusedOnce++, explain: apiErrors });
    const receiptOf = (requestId: string) => receiptAt(deps.db, requestId);

    // The uncontended pass: two deletions at a time, far below either limit, at the limits the
    // burst meets. What one deletion costs in calls when nothing is throttled or repeated.
    const quiet = seeded.splice(opts.accounts, uncontendedCount);
    await resetSandboxes();
    await pool(quiet, 2, async (a) => receiptOf((await file(a)).requestId));
    const auth0Quiet = callsExcept429((await sandboxAdmin(auth0Url, 'GET', 'stats')) as Stats);
    const recurlyQuiet = callsExcept429((await sandboxAdmin(recurlyUrl, 'GET', 'stats')) as Stats);
    const auth0QuietPer = auth0Quiet.calls / quiet.length;
    const recurlyQuietPer = recurlyQuiet.calls / quiet.length;
    log(`uncontended: ${quiet.length} deletions, Auth0 ${auth0QuietPer.toFixed(2)} and Recurly ${recurlyQuietPer.toFixed(2)} calls each, ${auth0Quiet.throttled + recurlyQuiet.throttled} 429s`);
    await resetSandboxes();
    // The Recurly window is a minute: let the pass's calls age out of it before the burst.
    await new Promise((r) => setTimeout(r, 61_000 - (Date.now() % 60_000)));
    await resetSandboxes();

    // The workers' resident memory before the burst (started, bundle loaded, the uncontended pass
    // done): what the burst's deletions in flight add comes on top of it.
    const workerNames = ['worker', ...Array.from({ length: Math.max(workerCount, stack.temporal === 'server' ? 2 : 1) - 1 }, (_, i) => `worker-${i + 2}`)];
    const idle = workerNames.map((n) => rssMiB(stack.supervisor.get(n)?.pid, 'VmRSS') ?? 0);
    // All at once, as a burst of requests from the support desk would arrive.
    const t0 = Date.now();
    const filed = await Promise.all(seeded.map(file));
    const filedMs = Date.now() - t0;
    log(`filed ${filed.length} requests in ${filedMs} ms; waiting for receipts`);

    const ids = filed.map((f) => f.requestId);
    let done = 0;
    const workers = workerNames.map((n) => stack.supervisor.get(n)).filter((w) => w !== undefined);
    const peaks = workers.map(() => 0);
    let lastTrace = 0;
    for (;;) {
      const row = await deps.db('lethe.receipts').whereIn('request_id', ids).count<{ n: string }[]>({ n: '*' }).first();
      done = Number(row?.n ?? 0);
      workers.forEach((w, i) => (peaks[i] = Math.max(peaks[i], rssMiB(w.pid) ?? 0)));
      // Where the peak builds up, and when the binding vendor's queue starts and stops being fed:
      // each worker's resident memory and the vendors' calls so far, every 5 s in the first
      // minute (the start) and every 15 s after.
      if (Date.now() - lastTrace >= (Date.now() - t0 < 60_000 ? 5_000 : 15_000)) {
        lastTrace = Date.now();
        const calls = async (url: string) => callsExcept429((await sandboxAdmin(url, 'GET', 'stats')) as Stats).calls;
        log(
          `${done}/${ids.length} receipts at ${((Date.now() - t0) / 1000).toFixed(0)} s; calls Auth0 ${await calls(auth0Url)}, Recurly ${await calls(recurlyUrl)}; worker VmRSS ${workers.map((w) => `${rssMiB(w.pid, 'VmRSS') ?? 'n/a'} MiB`).join(', ')}`,
        );
      }
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

    const auth0 = callsExcept429((await sandboxAdmin(auth0Url, 'GET', 'stats')) as Stats);
    const recurly = callsExcept429((await sandboxAdmin(recurlyUrl, 'GET', 'stats')) as Stats);
    const auth0PerDeletion = auth0.calls / ids.length;
    const recurlyPerDeletion = recurly.calls / ids.length;
    const ceilingPerMin = Math.min((AUTH0_PER_SECOND * 60) / auth0PerDeletion, RECURLY_PER_MINUTE / recurlyPerDeletion);
    const quietCeiling = Math.min((AUTH0_PER_SECOND * 60) / auth0QuietPer, RECURLY_PER_MINUTE / recurlyQuietPer);
    // The same deletions against a production Recurly site, where only the GETs count (writes free).
    const recurlyQuietGets = recurlyQuiet.gets / quiet.length;
    const productionCeiling = Math.min((AUTH0_PER_SECOND * 60) / auth0QuietPer, RECURLY_PRODUCTION_GETS_PER_MINUTE / recurlyQuietGets);
    const perMin = ids.length / (totalMs / 60_000);
    const pct = (a: number, b: number) => `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(1)}%`;
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    return [
      `### End to end: ${ids.length} accounts requested at once through the API`,
      '',
      '| figure | value |',
      '|---|---|',
      `| Temporal | ${stack.temporal === 'server' ? 'Temporal server on PostgreSQL (LETHE_TEMPORAL=server)' : 'dev server on SQLite'}, ${workers.length} worker process${workers.length > 1 ? 'es' : ''}, compiled and started as the image starts them (node ${WORKER_NODE_FLAGS.join(' ')}, ${Object.entries(
        WORKER_PROCESS_ENV,
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}) |`,
      `| vendor budget, deletion queues (all workers together; read-back queues Auth0 ${config.budget.auth0.readBackTasksPerSecond.toFixed(2)}, Recurly ${config.budget.recurly.readBackTasksPerSecond.toFixed(2)} tasks/s) | Auth0 ${config.budget.auth0.tasksPerSecond.toFixed(2)} tasks/s (${AUTH0_PER_SECOND}/s less ${Math.round(config.budget.auth0.headroom * 100)}%, ${config.budget.auth0.callsPerDeletion} calls a deletion), Recurly ${config.budget.recurly.tasksPerSecond.toFixed(2)} tasks/s (${RECURLY_PER_MINUTE}/min less ${Math.round(config.budget.recurly.headroom * 100)}%, ${config.budget.recurly.callsPerDeletion} calls a deletion) |`,
      `| worker caps | ${config.budget.worker.maxCachedWorkflows} cached workflows, ${config.budget.worker.maxConcurrentWorkflowTasks} workflow tasks, ${config.budget.worker.maxConcurrentActivities} activities + ${config.budget.auth0.concurrency} Auth0 + ${config.budget.recurly.concurrency} Recurly |`,
      `| uncontended pass (${quiet.length} deletions, 2 at a time) | Auth0 ${auth0QuietPer.toFixed(2)}, Recurly ${recurlyQuietPer.toFixed(2)} calls per deletion; ${auth0Quiet.throttled + recurlyQuiet.throttled} 429s |`,
      `| accounts (media blobs each) | ${ids.length} (${opts.media}, plus Auth0 user, Recurly account with an active subscription, rows in every table) |`,
      `| filing all requests (HTTP 202) | ${s(filedMs)}${refusedOnce ? ` (${refusedOnce} answers of 503 "retry shortly" retried)` : ''} |`,
      `| time until every receipt | ${s(totalMs)} |`,
      `| per deletion p50 / p95 / max | ${s(percentile(latencies, 50))} / ${s(percentile(latencies, 95))} / ${s(latencies[latencies.length - 1])} |`,
      `| deletions per minute | ${perMin.toFixed(1)} |`,
      `| vendor calls per deletion (429s excluded) | Auth0 ${auth0PerDeletion.toFixed(2)} (${pct(auth0PerDeletion, auth0QuietPer)} on uncontended), Recurly ${recurlyPerDeletion.toFixed(2)} (${pct(recurlyPerDeletion, recurlyQuietPer)}) (target within 5%) |`,
      `| 429 answers | Auth0 ${auth0.throttled}, Recurly ${recurly.throttled}: **${((auth0.throttled + recurly.throttled) / ids.length).toFixed(3)} per deletion** (target ≤ 0.05) |`,
      `| 429s by route | ${byRoute({ ...auth0.throttledBy, ...recurly.throttledBy })} |`,
      `| ceiling at the uncontended calls per deletion (Auth0 ${AUTH0_PER_SECOND}/s, Recurly ${RECURLY_PER_MINUTE}/min) | ${quietCeiling.toFixed(1)} deletions/min |`,
      `| **ratio to that ceiling** | **${(perMin / quietCeiling).toFixed(3)}** (target ≥ 0.95) |`,
      `| ceiling at the calls this run made | ${ceilingPerMin.toFixed(1)} deletions/min (ratio ${(perMin / ceilingPerMin).toFixed(3)}) |`,
      `| ceiling on a production Recurly site (${RECURLY_PRODUCTION_GETS_PER_MINUTE} GETs/min, ${recurlyQuietGets.toFixed(2)} GETs a deletion uncontended; Auth0 as above) | ${productionCeiling.toFixed(1)} deletions/min (${(AUTH0_PER_SECOND * 60) / auth0QuietPer < RECURLY_PRODUCTION_GETS_PER_MINUTE / recurlyQuietGets ? 'Auth0' : 'Recurly'} binds) |`,
      `| over deadline | ${overdue} |`,
      `| peak RSS per worker process (VmHWM) | ${peaks.map((p) => `${p || 'n/a'} MiB`).join(', ')} (target ≤ 400); before the burst (VmRSS) ${idle.map((p) => `${p || 'n/a'} MiB`).join(', ')} |`,
      '',
    ].join('\n');
  } catch (err) {
    // The stack's logs say why; keep them.
    failed = true;
    throw err;
  } finally {
    await closeBenchStack(bench, failed);
  }
}

if (require.main === module) {
  const { values } = parseArgs({
    options: { accounts: { type: 'string', default: '1000' }, media: { type: 'string', default: '2' }, workers: { type: 'string', default: '1' }, uncontended: { type: 'string', default: '20' } },
  });
  runE2eBench({ accounts: Number(values.accounts), media: Number(values.media), workers: Number(values.workers), uncontended: Number(values.uncontended) })
    .then((md) => process.stdout.write(`${md}\n`))
    .catch((err) => {
      process.stderr.write(`bench/e2e: ${err?.stack ?? err}\n`);
      process.exit(1);
    });
}
