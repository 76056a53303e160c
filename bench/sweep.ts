/**
 * Inactivity sweep benchmark: N accounts (default 1,000,000), 1% of them eligible, in the
 * stack's PostgreSQL; then
 *   1. the dry-run scan page by page through Lethe's own activity code (beginSweep +
 *      sweepPage, as the worker runs them), with accounts_inactive_since_idx;
 *   2. EXPLAIN (ANALYZE, BUFFERS) of the page query, first page and a page from a cursor;
 *   3. the baseline, same run, same data: the same scan with the index dropped;
 *   4. the real sweep workflow (dry run) on the dev server over all N accounts, to time it
 *      end to end and count history events per run, at the default page size and at a page
 *      size small enough to make it continue as new.
 *
 *   node --import tsx bench/sweep.ts [--accounts 1000000] [--skip-workflow]
 *
 * DATABASE_URL reuses a PostgreSQL (its `accounts` table must be empty: the scan would list
 * real accounts, and the bench removes only what it inserted); otherwise the stack's own.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Client, Connection } from '@temporalio/client';
import { freeStackPorts, startStack, RunningStack } from '../dev/stack/embedded';
import { loadConfig, Config, temporalConnectionOptions, requireKeyRing } from '../config';
import { buildDeps } from '../worker/deps';
import { createWorker } from '../worker/worker';
import { getDataConverter } from '../encryption';
import { createSweepActivities } from '../activities/sweep/sweep';
import { candidatePageSql, cutoffFor } from '../activities/sweep/candidates';
import { CREATE_INACTIVITY_INDEX_SQL, INACTIVITY_INDEX } from '../migrations/app/002_inactivity_index';
import { inactivitySweepWorkflow, PAGES_PER_RUN } from '../workflows/sweep';
import type { SweepResult, SweepCounts, SweepCursor, SweepPageResult } from '../contract';

export interface SweepBenchOptions {
  accounts: number;
  /** Skip the workflow runs on the dev server (activity scan and EXPLAIN only). */
  skipWorkflow?: boolean;
  log?: (line: string) => void;
}

const BENCH_EMAIL = '%@bench.lethe.test';

/**
 * The data set, in SQL so a million rows load in seconds. Per account number i:
 *   i % 100 = 0           eligible (1%): half never logged in (created 26-65 months ago),
 *                         half last logged in 25-54 months ago; some with expired, failed
 *                         or canceled-and-run-out subscriptions, none live
 *   i % 200 = 1           inactive 30 months but a live subscription (0.5%): active,
 *                         paused, future, or canceled and paid through, in turn
 *   otherwise             logged in within the last 690 days (under 24 months), created
 *                         3-8 years ago (so created_at alone would wrongly look inactive);
 *                         every second one with an active subscription
 */
async function load(db: Knex, n: number, now: string): Promise<void> {
  await db.raw(
    `insert into accounts (id, email, full_name, created_at, last_login_at, recurly_account_code)
     select md5('bench-account-' || i)::uuid,
            'a' || i || '@bench.lethe.test',
            null,
            case when i % 200 = 0 then ?::timestamptz - make_interval(months => 26 + (i / 200) % 40)
                 else ?::timestamptz - make_interval(days => 1095 + i % 1900) end,
            case when i % 200 = 0 then null
                 when i % 100 = 0 then ?::timestamptz - make_interval(months => 25 + i % 30, days => i % 28)
                 when i % 200 = 1 then ?::timestamptz - make_interval(months => 30, days => i % 28)
                 else ?::timestamptz - make_interval(days => i % 690, secs => i % 86400) end,
            'bench-' || i
       from generate_series(1, ?) as i`,
    [now, now, now, now, now, n],
  );
  await db.raw(
    `insert into subscriptions (id, account_id, recurly_subscription_id, plan_code, state, current_period_ends_at)
     select md5('bench-sub-' || i)::uuid, md5('bench-account-' || i)::uuid, 'sub-' || i, 'timelapse-basic',
            case when i % 200 = 1 then (array['active', 'paused', 'future', 'canceled'])[1 + (i / 200) % 4]
                 when i % 100 = 0 then (array['expired', 'failed', 'canceled'])[1 + (i / 100) % 3]
                 else 'active' end,
            case when i % 100 = 0 then ?::timestamptz - interval '40 days' else ?::timestamptz + interval '20 days' end
       from generate_series(1, ?) as i
      where i % 200 = 1 or (i % 100 = 0 and i % 300 <> 0) or (i % 2 = 0 and i % 100 <> 0)`,
    [now, now, n],
  );
}

async function explain(db: Knex, sql: string, bindings: Record<string, unknown>): Promise<string> {
  const { rows } = await db.raw(`explain (analyze, buffers, costs off, timing on) ${sql}`, bindings);
  return (rows as { 'QUERY PLAN': string }[]).map((r) => r['QUERY PLAN']).join('\n');
}

interface ScanOutcome {
  ms: number;
  pages: number;
  counts: SweepCounts;
  pageMs: number[];
  midCursor?: SweepCursor;
}

/** The dry run exactly as the worker runs it: beginSweep, then sweepPage until no cursor. */
async function scan(config: Config, db: Knex, label: string): Promise<ScanOutcome> {
  const acts = createSweepActivities({ sweep: config.sweep, db });
  const env = new MockActivityEnvironment();
  const sweepId = `bench-${label}-${randomUUID()}`;
  const t0 = performance.now();
  const begun = (await env.run(acts.beginSweep, { sweepId, dryRun: true, referenceTime: new Date().toISOString() })) as Awaited<ReturnType<typeof acts.beginSweep>>;
  let cursor: SweepCursor | undefined;
  let midCursor: SweepCursor | undefined;
  const totals: SweepCounts = { scanned: 0, eligible: 0, started: 0 };
  const pageMs: number[] = [];
  for (let page = 1; ; page++) {
    const p0 = performance.now();
    const r = (await env.run(acts.sweepPage, { sweepId, dryRun: true, cutoff: begun.cutoff, referenceTime: begun.referenceTime, cursor, totals: { ...totals }, pageNumber: page })) as SweepPageResult;
    pageMs.push(performance.now() - p0);
    totals.scanned += r.scanned;
    totals.eligible += r.eligible;
    cursor = r.nextCursor;
    if (page === 5) midCursor = cursor;
    if (!cursor) break;
  }
  await env.run(acts.finishSweep, { sweepId, status: 'completed' as const, totals, pages: pageMs.length });
  const ms = performance.now() - t0;
  const stored = await db('lethe.sweep_candidates').where({ sweep_id: sweepId }).count<{ n: number }[]>({ n: '*' });
  if (Number(stored[0].n) !== totals.eligible) throw new Error(`${label}: ${stored[0].n} ids stored for ${totals.eligible} eligible`);
  return { ms, pages: pageMs.length, counts: totals, pageMs, midCursor };
}

async function historyOf(client: Client, workflowId: string): Promise<{ runs: number; events: number[]; bytes: number[] }> {
  const runs: { runId: string; start: number }[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push({ runId: w.runId, start: w.startTime.getTime() });
  runs.sort((a, b) => a.start - b.start);
  const events: number[] = [];
  const bytes: number[] = [];
  for (const r of runs) {
    const h = await client.workflow.getHandle(workflowId, r.runId).fetchHistory();
    events.push(h.events?.length ?? 0);
    bytes.push(Buffer.byteLength(JSON.stringify(h)));
  }
  return { runs: runs.length, events, bytes };
}

const fmt = (n: number) => n.toLocaleString('en');
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runSweepBench(opts: SweepBenchOptions): Promise<string> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const n = opts.accounts;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-bench-sweep-'));
  fs.chmodSync(stateDir, 0o755);
  const ports = await freeStackPorts();
  let stack: RunningStack | undefined;
  const reused = !!process.env.DATABASE_URL;
  try {
    stack = await startStack({
      stateDir,
      ports,
      durable: false,
      headless: true,
      withWorker: false,
      withApi: false,
      env: { ...(reused ? { DATABASE_URL: process.env.DATABASE_URL } : {}) },
      log: () => undefined,
    });
    const config = loadConfig({ ...process.env, ...stack.env, LETHE_TASK_QUEUE: `bench-sweep-${randomUUID()}` });
    const deps = buildDeps(config);
    const db = deps.db;
    const out: string[] = [];
    try {
      const [{ c }] = await db('accounts').count<{ c: number }[]>({ c: '*' });
      if (Number(c) > 0) throw new Error(`accounts holds ${c} rows already; the sweep bench needs an empty application database`);

      // Load without the index, then build it, as the app team would on a live table.
      log(`loading ${fmt(n)} accounts`);
      await db.raw(`drop index if exists ${INACTIVITY_INDEX}`);
      const now = new Date().toISOString();
      let t = performance.now();
      await load(db, n, now);
      const loadMs = performance.now() - t;
      await db.raw('vacuum analyze accounts');
      await db.raw('vacuum analyze subscriptions');
      const [{ subs }] = await db('subscriptions').count<{ subs: number }[]>({ subs: '*' });
      log(`loaded in ${sec(loadMs)} (${fmt(Number(subs))} subscriptions)`);

      // Baseline first (no index), then the index, then Lethe's scan.
      log('baseline: the same dry-run scan without the index');
      const baseline = await scan(config, db, 'baseline');
      const cutoff = await cutoffFor(db, now, config.sweep.inactivityMonths, config.sweep.timezone);
      const baselinePlan = await explain(db, ...sqlArgs(candidatePageSql({ cutoff, referenceTime: now, limit: config.sweep.pageSize })));

      t = performance.now();
      await db.raw(CREATE_INACTIVITY_INDEX_SQL);
      const indexMs = performance.now() - t;
      await db.raw('vacuum analyze accounts');
      const [{ size }] = (await db.raw(`select pg_size_pretty(pg_relation_size(?)) as size`, [INACTIVITY_INDEX])).rows;

      log('Lethe: the dry-run scan with accounts_inactive_since_idx');
      const lethe = await scan(config, db, 'lethe');
      const expectedEligible = Math.floor(n / 100);
      const expectedScanned = expectedEligible + Math.floor((n - 1) / 200) + 1;
      if (lethe.counts.eligible !== expectedEligible || baseline.counts.eligible !== expectedEligible) {
        throw new Error(`eligible: Lethe ${lethe.counts.eligible}, baseline ${baseline.counts.eligible}, expected ${expectedEligible}`);
      }
      const firstPlan = await explain(db, ...sqlArgs(candidatePageSql({ cutoff, referenceTime: now, limit: config.sweep.pageSize })));
      const cursorPlan = lethe.midCursor
        ? await explain(db, ...sqlArgs(candidatePageSql({ cutoff, referenceTime: now, after: lethe.midCursor, limit: config.sweep.pageSize })))
        : '(fewer than 5 pages)';
      if (!/Index Only Scan using accounts_inactive_since_idx/.test(firstPlan)) throw new Error(`the page query does not use the index:\n${firstPlan}`);

      const workflowRows: string[] = [];
      if (!opts.skipWorkflow) {
        log('the sweep workflow (dry run) on the dev server');
        const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
        const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(requireKeyRing(config)) });
        try {
          // The page size is the worker's setting: one worker per size, on a task queue of its own.
          for (const pageSize of [config.sweep.pageSize, 100]) {
            const sized = { ...config, sweep: { ...config.sweep, pageSize }, temporal: { ...config.temporal, taskQueue: `bench-sweep-${pageSize}-${randomUUID()}` } };
            const { worker, connection: nc } = await createWorker(sized, { ...deps, config: sized });
            const running = worker.run();
            const workflowId = `inactivity-sweep-bench-${pageSize}-${randomUUID()}`;
            const w0 = performance.now();
            const r: SweepResult = await client.workflow.execute(inactivitySweepWorkflow, { taskQueue: sized.temporal.taskQueue, workflowId, args: [{ dryRun: true }] }).finally(async () => {
              worker.shutdown();
              await running;
              await nc.close();
            });
            const wMs = performance.now() - w0;
            const h = await historyOf(client, workflowId);
            workflowRows.push(
              `| ${pageSize} | ${fmt(r.pages)} | ${sec(wMs)} | ${h.runs} | ${h.events.join(', ')} | ${h.bytes.map((b) => `${Math.round(b / 1024)} KiB`).join(', ')} | ${fmt(r.scanned)} / ${fmt(r.eligible)} |`,
            );
          }
        } finally {
          await connection.close();
        }
      }

      const rate = (x: ScanOutcome) => fmt(Math.round(x.counts.scanned / (x.ms / 1000)));
      out.push(
        `accounts: ${fmt(n)} (${fmt(Number(subs))} subscriptions); inactive past the cut-off (scanned): ${fmt(lethe.counts.scanned)} (expected ${fmt(expectedScanned)}); eligible: ${fmt(lethe.counts.eligible)} (${((lethe.counts.eligible / n) * 100).toFixed(2)}%); page size ${config.sweep.pageSize}`,
        `load: ${sec(loadMs)} (generate_series); index build: ${sec(indexMs)}, ${size}`,
        '',
        '| dry-run scan (activity code, page by page) | time | pages | scanned rows/s | page median | page max | speed-up |',
        '|---|---|---|---|---|---|---|',
        `| baseline: no index | ${sec(baseline.ms)} | ${baseline.pages} | ${rate(baseline)} | ${median(baseline.pageMs).toFixed(1)} ms | ${Math.max(...baseline.pageMs).toFixed(1)} ms | 1.0× |`,
        `| Lethe: accounts_inactive_since_idx | ${sec(lethe.ms)} | ${lethe.pages} | ${rate(lethe)} | ${median(lethe.pageMs).toFixed(1)} ms | ${Math.max(...lethe.pageMs).toFixed(1)} ms | ${(baseline.ms / lethe.ms).toFixed(1)}× |`,
        '',
      );
      if (workflowRows.length) {
        out.push(
          `The sweep workflow, dry run, on the dev server (continue-as-new every ${PAGES_PER_RUN} pages):`,
          '',
          '| page size | pages | wall time | runs | history events per run | history size per run | scanned / eligible |',
          '|---|---|---|---|---|---|---|',
          ...workflowRows,
          '',
        );
      }
      out.push(
        'Page query, first page, with the index:',
        '```',
        firstPlan,
        '```',
        'Page query from a cursor (page 6), with the index:',
        '```',
        cursorPlan,
        '```',
        'Baseline: the same first page without the index:',
        '```',
        baselinePlan,
        '```',
        `machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${new Date().toISOString()}`,
      );
    } finally {
      if (reused) {
        await db.raw(`delete from subscriptions where account_id in (select id from accounts where email like ?)`, [BENCH_EMAIL]);
        await db.raw(`delete from accounts where email like ?`, [BENCH_EMAIL]);
        await db.raw(CREATE_INACTIVITY_INDEX_SQL);
      }
      await deps.close();
    }
    return out.join('\n');
  } finally {
    await stack?.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

function sqlArgs(q: { sql: string; bindings: Record<string, unknown> }): [string, Record<string, unknown>] {
  return [q.sql, q.bindings];
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { accounts: { type: 'string' }, 'skip-workflow': { type: 'boolean' } } });
  const accounts = Number(values.accounts ?? 1_000_000);
  if (!Number.isInteger(accounts) || accounts < 1000) throw new Error('--accounts must be a whole number of at least 1000');
  const md = await runSweepBench({ accounts, skipWorkflow: values['skip-workflow'] });
  process.stdout.write(`\n${md}\n`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bench: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
