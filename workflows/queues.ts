/**
 * The vendors' own task queues, beside the deployment's task queue: `<taskQueue>-auth0` and
 * `<taskQueue>-recurly` for the deletions, `<taskQueue>-auth0-read-back` and
 * `<taskQueue>-recurly-read-back` for the reads that verify them. Temporal's server-side rate on
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

/** A vendor's step: the deletion, or the read-back that verifies it. */
export type VendorStep = 'delete' | 'read-back';
export const VENDOR_STEPS: readonly VendorStep[] = ['delete', 'read-back'];

export const vendorTaskQueue = (taskQueue: string, vendor: VendorQueueStore, step: VendorStep = 'delete'): string => (step === 'delete' ? `${taskQueue}-${vendor}` : `${taskQueue}-${vendor}-${step}`);
