/** What a test needs from the stack that global-setup started. */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { loadConfig, Config, temporalConnectionOptions, requireKeyRing } from '../../config';
import { buildDeps, type WorkerDeps } from '../../worker/deps';
import { createWorker } from '../../worker/worker';
import { getDataConverter } from '../../encryption';

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ ...process.env, ...overrides });
}

export interface TestWorld {
  config: Config;
  deps: WorkerDeps;
  client: Client;
  worker: Worker;
  taskQueue: string;
  /** Runs `fn`; the worker polls for the whole life of the world (a Worker runs only once). */
  withWorker<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A worker on a task queue of its own, so test files never steal each other's tasks. */
export async function startWorld(opts: { env?: Record<string, string>; deps?: (d: WorkerDeps) => WorkerDeps } = {}): Promise<TestWorld> {
  const taskQueue = `test-${randomUUID()}`;
  const config = testConfig({ ...opts.env, LETHE_TASK_QUEUE: taskQueue });
  const base = buildDeps(config);
  const deps = opts.deps ? opts.deps(base) : base;
  const { worker, connection: nativeConnection, whenCurrent } = await createWorker(config, deps);
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(requireKeyRing(config)) });
  const running = worker.run();
  running.catch(() => undefined);
  // The world's deployment (one per task queue) has this worker's version current before the
  // test starts anything, so no test waits on routing (worker/deployment.ts).
  await Promise.race([whenCurrent(), running.then(() => Promise.reject(new Error('test worker stopped before its version became current')))]);
  return {
    config,
    deps,
    client,
    worker,
    taskQueue,
    withWorker: async (fn) => {
      if (worker.getState() !== 'RUNNING') throw new Error(`test worker is ${worker.getState()}`);
      return fn();
    },
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
      await deps.close();
    },
  };
}
