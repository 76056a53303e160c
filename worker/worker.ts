import { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import type { Config } from '../config';
import { createActivities, ActivityDeps } from '../activities';

export const WORKFLOWS_PATH = require.resolve('../workflows');

/** A worker over given dependencies: main() uses the real ones, tests may use their own queue. */
export async function createWorker(
  config: Config,
  deps: ActivityDeps,
  overrides: Partial<WorkerOptions> = {},
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: createActivities(deps),
    // Bounded so a burst of requests cannot exhaust the vendors' rate limits or the DB pool.
    maxConcurrentActivityTaskExecutions: 20,
    ...overrides,
  });
  return { worker, connection };
}
