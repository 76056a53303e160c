/**
 * The vendors' rate budget and the worker's memory caps (issue 18). The vendor limits are the
 * whole deployment's: every worker process sets the same server-side rate on the vendor's own
 * task queues (worker/worker.ts), so Temporal's matching service, not Lethe, holds the budget.
 * That rate counts activity tasks. A deletion makes one task on the vendor's deletion queue and
 * two on its read-back queue (the read-back right after the deletion, and the final one before
 * the receipt: workflows/queues.ts, workflows/deletion.ts), so the deletion queue runs at the
 * deletions per second that the limit allows at the calls one whole deletion makes (counted by
 * the sandboxes, test/budget/call-counts.test.ts) and the read-back queue at twice that.
 */
import { ConfigError, positiveInteger, positiveNumber, type Env } from './env';

/**
 * The vendors' rate windows: Auth0's Management API limits are per second, Recurly's per minute
 * (api.yaml "Rate Limits"). The one place they are kept: the budget converts a limit with them,
 * the pace (stores/vendorPace.ts) waits in them, a throttled attempt's retry spreads over them.
 */
export const VENDOR_WINDOW_MS = { auth0: 1_000, recurly: 60_000 } as const;

export interface VendorBudget {
  /** The vendor's documented limit, in calls per second (Recurly's per-minute limit over its window). */
  callsPerSecond: number;
  /** Calls one deletion makes to the vendor, its deletion step and read-back together. */
  callsPerDeletion: number;
  /** Fraction of the limit left unspent (for other clients of the same tenant, and bursts). */
  headroom: number;
  /** What Lethe spends: deletions per second at the limit less the headroom, i.e. tasks per second on the vendor's deletion queue. */
  tasksPerSecond: number;
  /**
   * Calls of a deletion only the inactivity sweep asked for, and the tasks per second of the
   * queue those run on (Recurly's `<taskQueue>-recurly-sweep`, workflows/queues.ts): a sweep's
   * account has no live subscription, so Recurly's costs fewer calls. Auth0's are the same as a
   * person's (its sweep deletions share its deletion queue).
   */
  sweepCallsPerDeletion: number;
  sweepTasksPerSecond: number;
  /**
   * Tasks per second on the vendor's read-back queue: two a deletion (see the module comment).
   * Recurly's is a further quarter above that, so the read-backs drain as fast as deletions feed
   * them even when they arrive bunched: at exactly the feeding rate the queue is a random walk
   * that builds a backlog, and the last deletions' read-backs wait behind it (bench/RESULTS.md
   * §3c). In steady state it carries exactly the deletions' read-backs, so the calls stay the
   * budget, and a backlog draining (1 call a task) fits in Recurly's minute window. Auth0's has
   * no quarter to spare: its window is a second, and with two workers the faster queue met 429s (§3c).
   */
  readBackTasksPerSecond: number;
  /** Activity slots per worker process on each of the vendor's queues. */
  concurrency: number;
}

export interface BudgetConfig {
  auth0: VendorBudget;
  recurly: VendorBudget;
  worker: {
    /** Workflows kept in the worker's sticky cache; the rest are replayed from history when needed. */
    maxCachedWorkflows: number;
    /** Workflow tasks executed at once. */
    maxConcurrentWorkflowTasks: number;
    /** Activities at once on the main queue (media, rows, freeze, receipts). */
    maxConcurrentActivities: number;
  };
}

/**
 * Calls per deletion for an account with one login and one live subscription, as the sandboxes
 * count them (test/budget/call-counts.test.ts pins each call; activities/deletion/auth0.ts and
 * recurly.ts say why each is made). Auth0 7: 5 in the deletion (users-by-email, the search by
 * email in other letter cases, the grants, the user, the address's brute-force blocks) and 2 in
 * its read-back (users-by-email and the blocks), which the final read-back before the receipt
 * repeats only when it is older than FRESH_VENDOR_READ_MS (contract/deletion.ts); a tenant with the Enterprise
 * session layer adds 2 (its sessions and refresh tokens), a tenant with Organizations 1 per user
 * (its memberships listed) and, for a member, 1 per membership and 1 more listing; whether the
 * tenant has either is learned once a process, not per deletion. Recurly 6: the account, its live
 * subscriptions, the terminate, its notes, the redaction, and the account read once after the
 * redaction was accepted, which is also the read-back (the activity hands it over).
 */
const AUTH0_CALLS_PER_DELETION = 7;
const RECURLY_CALLS_PER_DELETION = 6;
/**
 * The GETs among them, which are all a production site counts (api.yaml "Rate Limits"): the
 * account, its subscriptions, its notes and the redaction read once (the read-back's too).
 */
const RECURLY_GETS_PER_DELETION = 4;
/**
 * A deletion only the sweep asked for: its re-check lists the account's subscriptions at Recurly
 * (activities/sweep/recheck.ts: a live one there keeps the account), and then, the account having
 * none live, the deletion reads it, lists its notes, asks for the redaction and reads it once: 5
 * calls, 4 of them GETs. The re-check runs on the main queue, but one comes with every sweep
 * deletion, so the sweep's Recurly queue counts it.
 */
const RECURLY_SWEEP_CALLS_PER_DELETION = 5;
const RECURLY_SWEEP_GETS_PER_DELETION = 4;

/**
 * The deletions a minute the vendor budget lets through, for people's deletions or the sweep's:
 * the slower of the vendors' queues for them (each runs at one task a deletion). A sweep starts
 * its deletions a little faster than this by default (config/index.ts), so the vendor queues,
 * not the sweep's own pace, set how fast it goes, and its backlog grows by a twentieth at most;
 * people's requests run ahead of it (workflows/queues.ts, contract DELETION_PRIORITY).
 */
export function budgetDeletionsPerMinute(budget: Pick<BudgetConfig, 'auth0' | 'recurly'>, who: 'people' | 'sweep' = 'people'): number {
  const of = (v: VendorBudget) => (who === 'sweep' ? v.sweepTasksPerSecond : v.tasksPerSecond);
  return 60 * Math.min(of(budget.auth0), of(budget.recurly));
}

function percent(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback / 100;
  const n = Number(raw.replace(/%$/, ''));
  if (!Number.isFinite(n) || n < 0 || n >= 100) throw new ConfigError(name, `expected a percentage from 0 to below 100, got "${raw}"`);
  return n / 100;
}

/**
 * Headroom left by default. Auth0 limits per second, and a deletion step makes its 5 to 7 calls
 * within a fraction of one, so at 97% of the limit the calls queue in the pace past its wait and
 * meet 429s (bench/RESULTS.md §3c: 0.08 per deletion); at 90% they do not. Recurly's window is a
 * minute, which absorbs a step's burst.
 */
const AUTH0_HEADROOM_PERCENT = 10;
const RECURLY_HEADROOM_PERCENT = 3;

/**
 * The read-back queue's rate over the deletion queue's: room for two read-backs a deletion (the
 * second when the final read-back finds the first stale, as after an outage), Recurly's
 * with a quarter to spare (`VendorBudget.readBackTasksPerSecond`).
 */
const READ_BACK_RATE_FACTOR = { AUTH0: 2, RECURLY: 2 * 1.25 } as const;

/** Settings of an earlier release that mean something else now: refused, naming what replaced them. */
const REPLACED: Record<string, string> = {
  LETHE_VENDOR_RATE_HEADROOM: 'LETHE_AUTH0_RATE_HEADROOM and LETHE_RECURLY_RATE_HEADROOM (one per vendor)',
  LETHE_AUTH0_CALLS_PER_TASK: 'LETHE_AUTH0_CALLS_PER_DELETION (the calls of a whole deletion, both its steps)',
  LETHE_RECURLY_CALLS_PER_TASK: 'LETHE_RECURLY_CALLS_PER_DELETION (the calls of a whole deletion, both its steps)',
};

export function vendorBudget(env: Env): BudgetConfig {
  for (const [old, now] of Object.entries(REPLACED)) if (env[old] !== undefined && env[old] !== '') throw new ConfigError(old, `is no longer read; set ${now}`);
  const vendor = (name: 'AUTH0' | 'RECURLY', callsPerSecond: number, callsDefault: number, headroomDefault: number, sweepCallsDefault?: number): VendorBudget => {
    const callsPerDeletion = positiveNumber(env, `LETHE_${name}_CALLS_PER_DELETION`, callsDefault);
    const sweepCallsPerDeletion = sweepCallsDefault === undefined ? callsPerDeletion : positiveNumber(env, `LETHE_${name}_SWEEP_CALLS_PER_DELETION`, sweepCallsDefault);
    const headroom = percent(env, `LETHE_${name}_RATE_HEADROOM`, headroomDefault);
    const tasksPerSecond = (callsPerSecond * (1 - headroom)) / callsPerDeletion;
    return {
      callsPerSecond,
      callsPerDeletion,
      headroom,
      tasksPerSecond,
      sweepCallsPerDeletion,
      sweepTasksPerSecond: (callsPerSecond * (1 - headroom)) / sweepCallsPerDeletion,
      readBackTasksPerSecond: tasksPerSecond * READ_BACK_RATE_FACTOR[name],
      concurrency: positiveInteger(env, `LETHE_${name}_CONCURRENCY`, 10),
    };
  };
  // A production Recurly site limits GETs only, at 1,000 a minute (api.yaml "Rate Limits"): the
  // budget there counts a deletion's GETs against that limit (RECURLY_SITE_KIND).
  const recurlyProduction = env.RECURLY_SITE_KIND === 'production';
  // 20, not 100: with 300 deletions at once a worker peaked at 396 MiB against 508 MiB, at the
  // same pace (0.967 and 0.964 of the vendors' ceiling; bench/RESULTS.md §3i). A miss replays.
  const maxCachedWorkflows = nonNegativeInteger(env, 'LETHE_WORKER_MAX_CACHED_WORKFLOWS', 20);
  const maxConcurrentWorkflowTasks = positiveInteger(env, 'LETHE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', 10);
  // The SDK refuses fewer than 2 workflow task slots with a cache, and more slots than cached workflows.
  if (maxCachedWorkflows > 0 && maxConcurrentWorkflowTasks < 2)
    throw new ConfigError('LETHE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', 'must be at least 2 while LETHE_WORKER_MAX_CACHED_WORKFLOWS is above 0');
  if (maxCachedWorkflows > 0 && maxConcurrentWorkflowTasks > maxCachedWorkflows) {
    throw new ConfigError('LETHE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', `must not exceed LETHE_WORKER_MAX_CACHED_WORKFLOWS (${maxCachedWorkflows})`);
  }
  return {
    auth0: vendor('AUTH0', positiveNumber(env, 'LETHE_AUTH0_RATE_PER_SECOND', 16), AUTH0_CALLS_PER_DELETION, AUTH0_HEADROOM_PERCENT),
    recurly: vendor(
      'RECURLY',
      positiveNumber(env, 'LETHE_RECURLY_RATE_PER_MINUTE', recurlyProduction ? 1_000 : 400) / (VENDOR_WINDOW_MS.recurly / 1_000),
      recurlyProduction ? RECURLY_GETS_PER_DELETION : RECURLY_CALLS_PER_DELETION,
      RECURLY_HEADROOM_PERCENT,
      recurlyProduction ? RECURLY_SWEEP_GETS_PER_DELETION : RECURLY_SWEEP_CALLS_PER_DELETION,
    ),
    worker: {
      maxCachedWorkflows,
      maxConcurrentWorkflowTasks,
      maxConcurrentActivities: positiveInteger(env, 'LETHE_WORKER_MAX_CONCURRENT_ACTIVITIES', 20),
    },
  };
}

function nonNegativeInteger(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number of at least 0, got "${raw}"`);
  return Number(raw);
}
