/**
 * A real sweep at scale (issue 37 item 3): N inactive accounts in every store (an Auth0 user, a
 * Recurly account whose subscription expired long ago, media, rows) are found by a real (not dry)
 * inactivity sweep on a stack started here, and deleted through the vendor sandboxes at the
 * vendors' own limits, while people's requests arrive through the API at a steady pace.
 *
 * Two figures:
 *   - the sweep's pace against the ceiling the vendors' limits allow at the calls a deletion
 *     makes (measured in the same run by an uncontended pass of the same shape, two at a time);
 *     people's deletions share the budget, so the ratio counts every deletion in the window;
 *   - how long people's requests wait from filing to receipt while the sweep's backlog fills the
 *     vendor queues (target p95 under 10 minutes: they run ahead of it, contract
 *     DELETION_PRIORITY).
 *
 *   node --import tsx bench/sweep-e2e.ts [--accounts 1000] [--requests 20] [--uncontended 10] [--rate-scale 1]
 *
 * `--rate-scale k` multiplies both vendors' limits, in the sandboxes and in Lethe's budget alike,
 * so a run of 10,000 fits in an hour instead of two and a half. The ratio to the ceiling is then
 * measured against k times the vendors' rates: a harder test of everything but the vendors (the
 * worker, Temporal, PostgreSQL do k times the work a minute), so it says nothing kinder than a run
 * at k = 1 would. The report names k.
 *
 * Notices are off (LETHE_INACTIVITY_NOTICES=off): with them the backlog would first get its
 * notices and wait their lead time, which is the policy, not the throughput.
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { rng, seedAccount, type AccountSpec, type SeededAccount } from '../dev/seed/fixtures';
import { loadConfig, temporalConnectionOptions, requireKeyRing } from '../config';
import { getDataConverter } from '../encryption';
import { inactivitySweepWorkflow } from '../workflows/sweep';
import { budgetDeletionsPerMinute } from '../config/budget';
import { closeBenchStack, compileLikeTheImage, fileDeletion, percentile, pool, receiptAt, rssMiB, sandboxAdmin, startBenchStack } from './support';
import { callsExcept429, type Stats } from './e2e';

/** The sweep's re-check lists the account's subscriptions at Recurly once (activities/sweep/recheck.ts). */
const RECHECK_RECURLY_CALLS = 1;
const VENDOR_AUTH0_PER_SECOND = 16;
const VENDOR_RECURLY_PER_MINUTE = 400;
const YEAR_MS = 365 * 24 * 3600_000;

export async function runSweepE2eBench(opts: { accounts: number; requests: number; uncontended: number; rateScale?: number }): Promise<string> {
  const scale = opts.rateScale ?? 1;
  if (!(scale > 0)) throw new Error(`--rate-scale must be a positive number (got ${opts.rateScale})`);
  const AUTH0_PER_SECOND = VENDOR_AUTH0_PER_SECOND * scale;
  const RECURLY_PER_MINUTE = VENDOR_RECURLY_PER_MINUTE * scale;
  const rateEnv = { LETHE_AUTH0_RATE_PER_SECOND: String(AUTH0_PER_SECOND), LETHE_RECURLY_RATE_PER_MINUTE: String(RECURLY_PER_MINUTE) };
  process.stderr.write('[sweep-e2e] compiling the worker as the Dockerfile does\n');
  const compiled = compileLikeTheImage();
  const bench = await startBenchStack('sweep-e2e', {
    compiledWorker: compiled,
    env: { LETHE_INACTIVITY_NOTICES: 'off', ...rateEnv },
    sandboxRateLimits: { auth0PerSecond: AUTH0_PER_SECOND, recurlyPerMinute: RECURLY_PER_MINUTE },
  });
  const { stack, log, deps, auth0Url, recurlyUrl, api } = bench;
  // The stack hands back only the env it made; the worker and API read the rates given above too.
  const config = loadConfig({ ...process.env, ...stack.env, ...rateEnv });
  let failed = false;
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(requireKeyRing(config)) });
  try {
    // Seeding is set-up, not the measurement: lift the limits while it runs.
    await sandboxAdmin(auth0Url, 'PUT', 'rate-limit', { limit: 100_000 });
    await sandboxAdmin(recurlyUrl, 'PUT', 'rate-limit', { limit: 1_000_000 });
    const rand = rng(9009);
    const now = Date.now();
    const inactive: AccountSpec = {
      media: 1,
      auth0: 'linked',
      subscriptions: [{ state: 'expired', currentPeriodEndsAt: new Date(now - 2.5 * YEAR_MS) }],
      lastLoginAt: new Date(now - 3 * YEAR_MS),
      createdAt: new Date(now - 5 * YEAR_MS),
      loginEvents: 1,
      supportRequests: 1,
    };
    const person: AccountSpec = { media: 1, auth0: 'linked', subscriptions: [{ state: 'active' }], lastLoginAt: new Date(now - 24 * 3600_000), loginEvents: 1 };
    const seed = { ...deps, recurlySandboxUrl: recurlyUrl };
    const seedMany = async (n: number, spec: AccountSpec, what: string) => {
      const out: SeededAccount[] = [];
      await pool(Array.from({ length: n }), 16, async () => {
        out.push(await seedAccount(seed, spec, rand));
        if (out.length % 200 === 0) log(`seeded ${out.length}/${n} ${what}`);
      });
      return out;
    };
    const t0Seed = Date.now();
    const quiet = await seedMany(opts.uncontended, inactive, 'for the uncontended pass');
    const swept = await seedMany(opts.accounts, inactive, 'inactive');
    const people = await seedMany(opts.requests, person, "people's");
    log(`seeded ${quiet.length + swept.length + people.length} accounts in ${((Date.now() - t0Seed) / 1000).toFixed(1)} s`);

    const resetSandboxes = async () => {
      await sandboxAdmin(auth0Url, 'POST', 'reset', { keepData: true });
      await sandboxAdmin(recurlyUrl, 'POST', 'reset', { keepData: true });
      await sandboxAdmin(auth0Url, 'PUT', 'rate-limit', { limit: AUTH0_PER_SECOND });
      await sandboxAdmin(recurlyUrl, 'PUT', 'rate-limit', { limit: RECURLY_PER_MINUTE });
    };
    const file = (accountId: string) => fileDeletion(api, stack.apiToken, accountId);
    const receiptOf = (requestId: string) => receiptAt(deps.db, requestId);
    const vendorCalls = async () => ({
      auth0: callsExcept429((await sandboxAdmin(auth0Url, 'GET', 'stats')) as Stats),
      recurly: callsExcept429((await sandboxAdmin(recurlyUrl, 'GET', 'stats')) as Stats),
    });

    // The uncontended pass: the same shape of account, two at a time, far below either limit.
    await resetSandboxes();
    await pool(quiet, 2, async (a) => receiptOf((await file(a.id)).requestId));
    const q = await vendorCalls();
    const auth0Per = q.auth0.calls / quiet.length;
    // Filed through the API, the pass has no re-check; a sweep's deletion adds its one listing of
    // the account's subscriptions at Recurly (activities/sweep/recheck.ts).
    const recurlyPer = q.recurly.calls / quiet.length + RECHECK_RECURLY_CALLS;
    // Deletions a minute the vendors' limits allow at these calls a deletion.
    const ceilingAt = (auth0Calls: number, recurlyCalls: number) => Math.min((AUTH0_PER_SECOND * 60) / auth0Calls, RECURLY_PER_MINUTE / recurlyCalls);
    const ceiling = ceilingAt(auth0Per, recurlyPer);
    log(`uncontended: Auth0 ${auth0Per.toFixed(2)}, Recurly ${recurlyPer.toFixed(2)} calls a sweep's deletion; ceiling ${ceiling.toFixed(1)} deletions/min`);
    // Recurly's window is a minute: let the pass's calls age out before the sweep.
    await new Promise((r) => setTimeout(r, 61_000 - (Date.now() % 60_000)));
    await resetSandboxes();

    const t0 = Date.now();
    const sweepId = `bench-sweep-${t0}`;
    const sweep = client.workflow.start(inactivitySweepWorkflow, { taskQueue: config.temporal.taskQueue, workflowId: sweepId, args: [{ dryRun: false }] });
    await sweep;
    // People's requests, spread over the time the sweep should take at the ceiling.
    const expectedMs = ((opts.accounts + opts.requests) / ceiling) * 60_000;
    const gapMs = (expectedMs * 0.8) / Math.max(1, opts.requests);
    const filed: { requestId: string; filedAt: number }[] = [];
    const filing = (async () => {
      for (const p of people) {
        await new Promise((r) => setTimeout(r, gapMs));
        filed.push(await file(p.id));
      }
    })();

    const sweptIds = new Set(swept.map((a) => a.id));
    const worker = stack.supervisor.get('worker');
    let peak = 0;
    let lastLog = 0;
    let sweptDone = 0;
    let lastSweptAt = t0;
    for (;;) {
      const rows = await deps.db('lethe.receipts').where('completed_at', '>=', new Date(t0)).andWhere({ channel: 'inactivity' }).select('account_id', 'completed_at');
      const mine = rows.filter((r) => sweptIds.has(r.account_id));
      sweptDone = mine.length;
      if (mine.length) lastSweptAt = Math.max(...mine.map((r) => new Date(r.completed_at).getTime()));
      peak = Math.max(peak, rssMiB(worker?.pid) ?? 0);
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        log(
          `${sweptDone}/${swept.length} swept, ${filed.length}/${people.length} people's filed, at ${((Date.now() - t0) / 1000).toFixed(0)} s; worker VmRSS ${rssMiB(worker?.pid, 'VmRSS') ?? 'n/a'} MiB`,
        );
      }
      if (sweptDone >= swept.length && filed.length >= people.length) break;
      if (Date.now() - t0 > 6 * 3600_000) throw new Error(`the sweep did not finish in 6 hours (${sweptDone}/${swept.length})`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    await filing;
    const waits = (await Promise.all(filed.map(async (f) => (await receiptOf(f.requestId)) - f.filedAt))).sort((a, b) => a - b);
    const windowMin = (lastSweptAt - t0) / 60_000;
    const peopleInWindow = (await Promise.all(filed.map((f) => receiptOf(f.requestId)))).filter((at) => at <= lastSweptAt).length;
    const perMin = (sweptDone + peopleInWindow) / windowMin;
    const calls = await vendorCalls();
    const sweepResult = await client.workflow.getHandle(sweepId).result();
    // The sweep's own deletions make a call the uncontended pass (filed through the API) does not:
    // the re-check's listing at Recurly. The ceiling at the calls the run made counts it.
    const deletedInRun = sweptDone + filed.length;
    const ceilingAtRun = ceilingAt(calls.auth0.calls / deletedInRun, calls.recurly.calls / deletedInRun);
    const sweepBudget = budgetDeletionsPerMinute(config.budget, 'sweep');
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    return [
      `### A real sweep of ${swept.length} inactive accounts, with ${people.length} people's requests arriving during it`,
      '',
      '| figure | value |',
      '|---|---|',
      `| Temporal | ${stack.temporal === 'server' ? 'Temporal server on PostgreSQL (LETHE_TEMPORAL=server)' : 'dev server on SQLite'}, one worker process compiled as the image runs it |`,
      `| sandboxes' limits (and Lethe's budget) | Auth0 ${AUTH0_PER_SECOND}/s, Recurly ${RECURLY_PER_MINUTE}/min${scale === 1 ? '' : ` (${scale}× the vendors' ${VENDOR_AUTH0_PER_SECOND}/s and ${VENDOR_RECURLY_PER_MINUTE}/min, --rate-scale ${scale})`} |`,
      `| uncontended pass (${quiet.length} inactive-shaped deletions filed through the API, 2 at a time), with the sweep's re-check (1 Recurly listing) | Auth0 ${auth0Per.toFixed(2)}, Recurly ${recurlyPer.toFixed(2)} calls a deletion |`,
      `| ceiling at those calls | ${ceiling.toFixed(1)} deletions/min |`,
      `| the sweep (scanned / eligible / started) | ${sweepResult.scanned} / ${sweepResult.eligible} / ${sweepResult.started} |`,
      `| from the sweep's start to its last receipt | ${s(lastSweptAt - t0)} (${sweptDone} swept and ${peopleInWindow} people's deletions in it) |`,
      `| deletions per minute in that window | ${perMin.toFixed(1)} |`,
      `| **ratio to the ceiling** | **${(perMin / ceiling).toFixed(3)}** (target ≥ 0.95) |`,
      `| Lethe's vendor budget (the slower vendor's queue for the sweep's deletions: Auth0 ${config.budget.auth0.sweepCallsPerDeletion} calls, Recurly ${config.budget.recurly.sweepCallsPerDeletion}; people's: ${budgetDeletionsPerMinute(config.budget).toFixed(1)}/min) | ${sweepBudget.toFixed(1)} deletions/min; the window's pace is ${(perMin / sweepBudget).toFixed(3)} of it; the sweep started ${config.sweep.startsPerMinute} a minute at most |`,
      `| vendor calls in the sweep window (429s) | Auth0 ${calls.auth0.calls} (${calls.auth0.throttled}), Recurly ${calls.recurly.calls} (${calls.recurly.throttled}) |`,
      `| calls per deletion in the window (the sweep's re-check included) | Auth0 ${(calls.auth0.calls / deletedInRun).toFixed(2)}, Recurly ${(calls.recurly.calls / deletedInRun).toFixed(2)}: ceiling at those calls ${ceilingAtRun.toFixed(1)} deletions/min, **ratio ${(perMin / ceilingAtRun).toFixed(3)}** |`,
      `| people's requests, filed every ${s(gapMs)}: request to receipt p50 / p95 / max | ${s(percentile(waits, 50))} / **${s(percentile(waits, 95))}** / ${s(waits[waits.length - 1])} (target p95 < 600 s) |`,
      `| peak worker RSS (VmHWM) | ${peak || 'n/a'} MiB (target ≤ 400) |`,
      '',
    ].join('\n');
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    await connection.close();
    await closeBenchStack(bench, failed);
  }
}

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      accounts: { type: 'string', default: '1000' },
      requests: { type: 'string', default: '20' },
      uncontended: { type: 'string', default: '10' },
      'rate-scale': { type: 'string', default: '1' },
    },
  });
  runSweepE2eBench({ accounts: Number(values.accounts), requests: Number(values.requests), uncontended: Number(values.uncontended), rateScale: Number(values['rate-scale']) })
    .then((md) => process.stdout.write(`${md}\n`))
    .catch((err) => {
      process.stderr.write(`bench/sweep-e2e: ${err?.stack ?? err}\n`);
      process.exit(1);
    });
}
