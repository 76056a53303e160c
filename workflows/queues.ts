/**
 * The vendors' own task queues, beside the deployment's task queue: `<taskQueue>-auth0` and
 * `<taskQueue>-recurly` for the deletions, `<taskQueue>-auth0-read-back` and
 * `<taskQueue>-recurly-read-back` for the reads that verify them, and `<taskQueue>-recurly-sweep`
 * for the Recurly deletions only the inactivity sweep asked for (see VendorStep; workflows/stores.ts
 * chooses it at each attempt). Temporal's server-side rate on
 * each (worker/worker.ts) is that step's share of the vendor's budget for every worker process
 * polling it.
 *
 * Why a deletion and its read-back have queues of their own: the server's rate counts tasks,
 * and the two steps cost different numbers of calls (Recurly: 5 and 1). On one queue a burst of
 * requests queues every deletion first, so the queue first runs at the deletions' cost per task
 * (over the vendor's limit) and then drains the read-backs, queued behind them, at the cheap
 * one's (far under it). With a queue each, both run at the deletions' pace at once (Recurly's
 * read-backs with a quarter to spare, so they never queue up), and the sum of their calls is the
 * budget throughout (bench/RESULTS.md §3c).
 *
 * Plain names, no SDK: the worker (outside the sandbox) and the workflows (inside) derive them
 * the same way.
 */
export const VENDOR_QUEUE_STORES = ['auth0', 'recurly'] as const;
export type VendorQueueStore = (typeof VENDOR_QUEUE_STORES)[number];

/**
 * A vendor's step: the deletion, the read-back that verifies it, or a deletion only the sweep
 * asked for (`sweep-delete`, Recurly's alone: `<taskQueue>-recurly-sweep`).
 *
 * Why the sweep's Recurly deletions have a queue of their own: the rate counts tasks, and a
 * sweep's deletion costs Recurly fewer calls than a person's. The sweep deletes only accounts
 * with no live subscription (its re-check lists them at Recurly and keeps an account that has
 * one), so with that listing it makes 5 calls where a person's with one live subscription makes 6
 * (config/budget.ts). Budgeted at a person's 6, a sweep could use five sixths of Recurly's
 * limit at most; budgeted at 4 on one queue, a burst of people's deletions overran Recurly's
 * window and waited in the pace (0.933 of the ceiling against 0.964; bench/RESULTS.md §3j). Each
 * queue is budgeted at its own deletions' calls. When both are busy at once their sum can pass
 * Recurly's limit; the vendor's own rate-limit headers then hold the calls to it
 * (stores/vendorPace.ts), and people's deletions still never queue behind the sweep's backlog.
 * Auth0's calls do not depend on the shape, so the sweep's Auth0 step shares Auth0's queue and
 * runs behind people's by task-queue priority (contract DELETION_PRIORITY).
 */
export type VendorStep = 'delete' | 'read-back' | 'sweep-delete';

/** Every vendor queue a worker polls, each with its own server-side rate (worker/worker.ts). */
export const VENDOR_QUEUES: readonly { vendor: VendorQueueStore; step: VendorStep }[] = [
  { vendor: 'auth0', step: 'delete' },
  { vendor: 'auth0', step: 'read-back' },
  { vendor: 'recurly', step: 'delete' },
  { vendor: 'recurly', step: 'read-back' },
  { vendor: 'recurly', step: 'sweep-delete' },
];

export const vendorTaskQueue = (taskQueue: string, vendor: VendorQueueStore, step: VendorStep = 'delete'): string =>
  step === 'delete' ? `${taskQueue}-${vendor}` : step === 'sweep-delete' ? `${taskQueue}-${vendor}-sweep` : `${taskQueue}-${vendor}-${step}`;
