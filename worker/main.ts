/** The Lethe worker process: runs deletion workflows and their activities until SIGTERM. */
import { loadConfig, ConfigError } from '../config';
import { buildDeps } from './deps';
import { createWorker } from './worker';
import { migrateLetheSchema } from '../migrations';
import { assertDatabaseReachable, assertTemporalReachable } from '../config/reachability';
import { installWorkerRuntime } from './logger';

async function main(): Promise<void> {
  const config = loadConfig(process.env, { servesApi: false });
  // First, before any connection: every log line of this process passes the redactor.
  installWorkerRuntime();
  const deps = buildDeps(config);
  await assertDatabaseReachable(deps.db);
  // Lethe owns its schema everywhere, production included; the migration is idempotent.
  await migrateLetheSchema(deps.db);
  const { worker, connection } = await assertTemporalReachable(config.temporal.address, () => createWorker(config, deps));
  process.stderr.write(`lethe-worker: polling task queue ${config.temporal.taskQueue} on ${config.temporal.address}\n`);
  // Worker.run() installs its own SIGINT/SIGTERM handlers and drains in-flight tasks.
  await worker.run();
  await connection.close();
  await deps.close();
}

main().catch((err) => {
  // A configuration problem is one line naming the variable; anything else keeps its stack.
  process.stderr.write(`lethe-worker: ${err instanceof ConfigError ? err.message : err?.stack ?? err}\n`);
  process.exit(1);
});
