import { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import { connectingTo, temporalConnectionOptions, type Config, requireKeyRing } from '../config';
import { createActivities, ActivityDeps } from '../activities';
import { getDataConverter } from '../encryption';
import { activityMetricsInterceptor } from './metrics';
import { VENDOR_QUEUES, vendorTaskQueue, type VendorQueueStore, type VendorStep } from '../workflows/queues';
import { workflowCode } from './bundle';
import { deploymentOf, makeCurrent, workerDeploymentOptions, type Deployment } from './deployment';

export { WORKFLOWS_PATH } from './bundle';

/** The server-side rate of one vendor queue, in tasks a second for the whole deployment (config/budget.ts). */
export const vendorQueueRate = (budget: Config['budget'], vendor: VendorQueueStore, step: VendorStep): number =>
  step === 'read-back' ? budget[vendor].readBackTasksPerSecond : step === 'sweep-delete' ? budget[vendor].sweepTasksPerSecond : budget[vendor].tasksPerSecond;

/** What a started worker did about its version becoming current (worker/deployment.ts makeCurrent). */
export type CurrentOutcome = Awaited<ReturnType<typeof makeCurrent>> | 'unversioned';

export interface CreatedWorker {
  worker: Worker;
  connection: NativeConnection;
  /** The worker deployment version it polls as; undefined when unversioned (LETHE_WORKER_VERSIONING=off). */
  deployment?: Deployment;
  /**
   * Settles once run() has started and the version is current (or left as it was, per
   * LETHE_DEPLOYMENT_SET_CURRENT); rejects when the server refused to make it current.
   */
  whenCurrent(): Promise<CurrentOutcome>;
}

/** A worker over given dependencies: main() uses the real ones, tests may use their own queue. */
export async function createWorker(config: Config, deps: ActivityDeps, overrides: Partial<WorkerOptions> = {}): Promise<CreatedWorker> {
  // Resolved before connecting: a production worker without a build id stops on one line.
  const deployment = deploymentOf(config);
  const connection = await connectingTo(config.temporal, () => NativeConnection.connect(temporalConnectionOptions(config.temporal)));
  const taskQueue = overrides.taskQueue ?? config.temporal.taskQueue;
  const { budget } = config;
  // What the main worker and the vendor workers share: one activity set, one converter, the
  // same heartbeat pacing and metrics.
  const common = {
    connection,
    namespace: config.temporal.namespace,
    // Encrypts every payload and failure message this worker writes to history. Built after
    // connecting, so an unreachable server is reported before a missing key.
    dataConverter: getDataConverter(requireKeyRing(config)),
    activities: createActivities(deps),
    // A media deletion's cursor reaches the server about every second, so a worker that dies
    // costs its successor at most a second of re-listing.
    maxHeartbeatThrottleInterval: '2 seconds',
    defaultHeartbeatThrottleInterval: '1 second',
    // Steps, durations, failures and counts for /metrics, without metrics code in activities.
    interceptors: { activity: [activityMetricsInterceptor] },
    // One version for every queue of the process (docs/releasing.md).
    ...(deployment ? { workerDeploymentOptions: workerDeploymentOptions(deployment) } : {}),
  } satisfies Partial<WorkerOptions>;
  const worker = await Worker.create({
    ...common,
    taskQueue: config.temporal.taskQueue,
    ...workflowCode(config.worker.workflowBundle),
    // Bounded memory (docs/operations.md, "Sizing the worker"): the SDK sizes its workflow cache from the
    // machine's memory by default, about 1 MiB a cached deletion; past the cap a workflow is
    // replayed from its history (~50 events) when its next task comes.
    maxCachedWorkflows: budget.worker.maxCachedWorkflows,
    maxConcurrentWorkflowTaskExecutions: budget.worker.maxConcurrentWorkflowTasks,
    // Bounded so a burst of requests cannot exhaust the DB pool; the vendors have queues of their own.
    maxConcurrentActivityTaskExecutions: budget.worker.maxConcurrentActivities,
    ...overrides,
  });
  // One activity worker per vendor queue (a deletion's and a read-back's for each vendor, and
  // Recurly's for the sweep's deletions: workflows/queues.ts), in
  // this process, on the same connection. The rate is the server's (Temporal's matching service
  // dispatches at most that many tasks a second on the queue, summed over every worker polling
  // it); every process sets the same value from the same configuration, since the last poller's
  // value wins. A vendor's deletion queue runs at its deletions per second, Recurly's read-back
  // queue a quarter faster so it never builds a backlog (config/budget.ts).
  const vendorWorkers = await Promise.all(
    VENDOR_QUEUES.map(({ vendor, step }) =>
      Worker.create({
        ...common,
        taskQueue: vendorTaskQueue(taskQueue, vendor, step),
        maxTaskQueueActivitiesPerSecond: vendorQueueRate(budget, vendor, step),
        maxConcurrentActivityTaskExecutions: budget[vendor].concurrency,
        ...(overrides.identity ? { identity: overrides.identity } : {}),
      }),
    ),
  );
  const queues = [{ name: worker.options.taskQueue, workflows: true }, ...vendorWorkers.map((w) => ({ name: w.options.taskQueue, workflows: false }))];
  // Started once polling has begun, so the version can register its queues first.
  let current: Promise<CurrentOutcome> | undefined;
  let running: () => void = () => undefined;
  const runStarted = new Promise<void>((resolve) => (running = resolve));
  const main = alongside(worker, vendorWorkers, () => {
    current = deployment
      ? makeCurrent(connection.workflowService, config.temporal.namespace, deployment, queues, {
          identity: overrides.identity,
          stillRunning: () => ['INITIALIZED', 'RUNNING'].includes(worker.getState()),
        })
      : Promise.resolve('unversioned');
    current.catch(() => undefined);
    running();
  });
  const whenCurrent = () => runStarted.then(() => current!);
  return { worker: main, connection, deployment, whenCurrent };
}

/**
 * The main worker, running and shutting down the vendor workers with it: callers (main(), the
 * tests' worlds) hold one Worker, and a deletion whose vendor queue nobody polls would wait forever.
 */
function alongside(main: Worker, others: Worker[], onRun: () => void): Worker {
  const run = main.run.bind(main);
  const shutdown = main.shutdown.bind(main);
  const stopAll = () => {
    if (main.getState() === 'RUNNING') shutdown();
    for (const w of others) if (w.getState() === 'RUNNING') w.shutdown();
  };
  Object.assign(main, {
    shutdown: stopAll,
    run: async () => {
      const runs = [run(), ...others.map((w) => w.run())];
      // Polling has begun: the version can register its queues and become current.
      onRun();
      // One failing stops the rest, so the process ends instead of half-polling.
      for (const r of runs) r.catch(stopAll);
      const results = await Promise.allSettled(runs);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  });
  return main;
}
