/** The Lethe worker process: runs deletion workflows and their activities until SIGTERM. */
import { loadConfig, ConfigError, connectingTo, temporalConnectionOptions, type Config } from '../config';
import { VENDOR_QUEUES, vendorTaskQueue } from '../workflows/queues';
import { buildDeps } from './deps';
import { checkBlobRetention } from './blob-retention';
import fs from 'node:fs';
import { createWorker, vendorQueueRate } from './worker';
import { bundleInChildProcess } from './bundle';
import { migrateLetheSchema } from '../migrations';
import { assertComplete, checkCompleteness, CompletenessError } from '../activities/deletion/completeness';
import { sealSubject } from '../activities/deletion/subject';
import { assertDatabaseReachable, assertTemporalReachable, startupWaitMs } from '../config/reachability';
import { NativeConnection } from '@temporalio/worker';
import { installWorkerRuntime } from './logger';
import { ensureSweepSchedule } from './schedule';
import { freeLoopbackPort, startWorkerMetricsServer } from './metrics';

async function main(): Promise<void> {
  const config = loadConfig(process.env, { servesApi: false });
  // Temporal or PostgreSQL restarting is waited for (capped backoff), up to LETHE_STARTUP_WAIT.
  const wait = { waitMs: startupWaitMs(process.env, config.mode), log: (line: string) => void process.stderr.write(`lethe-worker: ${line}\n`) };
  // The SDK's own metrics go to a loopback port of their own; /metrics appends them.
  const sdkPort = config.worker.metricsPort ? await freeLoopbackPort() : undefined;
  // First, before any connection: every log line of this process passes the redactor.
  installWorkerRuntime(sdkPort ? { telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${sdkPort}`, countersTotalSuffix: true, useSecondsForDurations: true } } } } : {});
  const deps = buildDeps(config);
  await assertDatabaseReachable(deps.db, wait);
  // Lethe owns its schema everywhere, production included; the migration is idempotent.
  // Migration 006 seals deletion subjects captured before it with this worker's keys.
  await migrateLetheSchema(deps.db, { sealSubject: (s) => sealSubject(deps.fields, s) });
  // The completeness guard: a column that can hold a person's data (or point at an account)
  // that the data map neither deletes nor waives would outlive every deletion. Production
  // refuses to start; the embedded stack says so loudly and runs.
  const completeness = await checkCompleteness(deps.db);
  try {
    assertComplete(completeness);
  } catch (err) {
    if (config.mode === 'production' || !(err instanceof CompletenessError)) throw err;
    process.stderr.write(`lethe-worker: WARNING ${err.message}\n`);
  }
  // Webpack runs in a child process unless the image brought a bundle (worker/bundle.ts): its
  // peak would otherwise stay in this process's memory high-water mark for good.
  const builtHere = config.worker.workflowBundle ? undefined : await bundleInChildProcess();
  const workerConfig = builtHere ? { ...config, worker: { ...config.worker, workflowBundle: builtHere } } : config;
  const { worker, connection, deployment, whenCurrent } = await assertTemporalReachable(config.temporal.address, () => createWorker(workerConfig, deps), {
    ...wait,
    probe: () => connectingTo(config.temporal, () => NativeConnection.connect(temporalConnectionOptions(config.temporal))).then((c) => c.close()),
  }).finally(() => {
    // Worker.create has read the bundle (or failed); the file was only the way across from the child.
    if (builtHere) fs.rmSync(builtHere, { force: true });
  });
  // Soft delete keeping deleted media past a request's deadline is said loudly at start (and
  // each receipt says when Azure purges the soft-deleted copies); it does not stop deletions.
  await checkBlobRetention(deps.blobs, { deadlineHours: config.deletion.deadlineHours, log: (line) => void process.stderr.write(`lethe-worker: ${line}\n`) });
  process.stderr.write(
    `lethe-worker: polling task queue ${config.temporal.taskQueue} (and, for the whole deployment, ${vendorRates(config.temporal.taskQueue, config.budget)}) on ${config.temporal.address}\n`,
  );
  if (deployment) {
    const { deploymentName, buildId } = deployment.version;
    process.stderr.write(`lethe-worker: worker deployment ${deploymentName}, build ${buildId} (LETHE_DEPLOYMENT_SET_CURRENT=${deployment.setCurrent})\n`);
    // Reported when it settles; deletions are routed by the server, not by this process.
    void whenCurrent().then(
      (outcome) =>
        void process.stderr.write(
          outcome === 'set' || outcome === 'already'
            ? `lethe-worker: version ${deploymentName}.${buildId} is current\n`
            : outcome === 'left'
              ? `lethe-worker: version ${deploymentName}.${buildId} polls; it takes new deletions once made current (temporal worker deployment set-current-version, docs/releasing.md)\n`
              : '',
        ),
      (err) => void process.stderr.write(`lethe-worker: WARNING version ${deploymentName}.${buildId} could not be made current (${err?.message ?? err}); see docs/releasing.md\n`),
    );
  } else process.stderr.write('lethe-worker: unversioned (LETHE_WORKER_VERSIONING=off)\n');
  await ensureSweepSchedule(config, deps.temporalClient());
  // Metrics matter less than deletions: a port in use is reported, and the worker runs on.
  const metrics = config.worker.metricsPort
    ? await startWorkerMetricsServer({ host: config.worker.metricsHost, port: config.worker.metricsPort, sdkMetricsUrl: `http://127.0.0.1:${sdkPort}/metrics` }).then(
        (m) => (process.stderr.write(`lethe-worker: metrics on http://${config.worker.metricsHost}:${m.port}/metrics\n`), m),
        (err) =>
          void process.stderr.write(
            `lethe-worker: LETHE_WORKER_METRICS_PORT: cannot listen on ${config.worker.metricsHost}:${config.worker.metricsPort} (${err.code ?? err.message}); running without /metrics\n`,
          ),
      )
    : undefined;
  // Worker.run() installs its own SIGINT/SIGTERM handlers and drains in-flight tasks.
  await worker.run();
  await metrics?.close();
  await connection.close();
  await deps.close();
}

main().catch((err) => {
  // A configuration problem is one line naming the variable; anything else keeps its stack.
  process.stderr.write(`lethe-worker: ${err instanceof ConfigError || err instanceof CompletenessError ? err.message : (err?.stack ?? err)}\n`);
  process.exit(1);
});

/** "<tq>-auth0 at 1.20 tasks/s, <tq>-auth0-read-back at 1.20 tasks/s, …": each vendor queue's server-side rate. */
function vendorRates(taskQueue: string, budget: Config['budget']): string {
  return VENDOR_QUEUES.map(({ vendor, step }) => `${vendorTaskQueue(taskQueue, vendor, step)} at ${vendorQueueRate(budget, vendor, step).toFixed(2)} tasks/s`).join(', ');
}
