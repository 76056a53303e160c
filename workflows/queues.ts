/**
 * The vendors' own task queues, beside the deployment's task queue: `<taskQueue>-auth0` and
 * `<taskQueue>-recurly`. Temporal's server-side rate on each (worker/worker.ts) is the one
 * budget of calls to that vendor for every worker process polling it. Plain names, no SDK: the
 * worker (outside the sandbox) and the workflows (inside) derive them the same way.
 */
export const VENDOR_QUEUE_STORES = ['auth0', 'recurly'] as const;
export type VendorQueueStore = (typeof VENDOR_QUEUE_STORES)[number];

export const vendorTaskQueue = (taskQueue: string, vendor: VendorQueueStore): string => `${taskQueue}-${vendor}`;
