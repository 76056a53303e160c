import { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import type { Config } from '../config';
import { createActivities, ActivityDeps } from '../activities';
import { getDataConverter } from '../encryption';
import { activityMetricsInterceptor } from './metrics';

export const WORKFLOWS_PATH = require.resolve('../workflows');

/** A worker over given dependencies: main() uses the real ones, tests may use their own queue. */
export async function createWorker(config: Config, deps: ActivityDeps, overrides: Partial<WorkerOptions> = {}): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    // Encrypts every payload and failure message this worker writes to history. Built after
    // connecting, so an unreachable server is reported before a missing key.
    dataConverter: getDataConverter(config),
    activities: createActivities(deps),
    // Bounded so a burst of requests cannot exhaust the vendors' rate limits or the DB pool.
    maxConcurrentActivityTaskExecutions: 20,
    // A media deletion's cursor reaches the server about every second, so a worker that dies
    // costs its successor at most a second of re-listing.
    maxHeartbeatThrottleInterval: '2 seconds',
    defaultHeartbeatThrottleInterval: '1 second',
    // Steps, durations, failures and counts for /metrics, without metrics code in activities.
    interceptors: { activity: [activityMetricsInterceptor] },
    ...overrides,
  });
  return { worker, connection };
}
