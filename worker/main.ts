/** The Lethe worker process: runs deletion workflows and their activities until SIGTERM. */
import { loadConfig, ConfigError } from '../config';
import { buildDeps } from './deps';
import { createWorker } from './worker';
import { migrateLetheSchema } from '../migrations';

async function main(): Promise<void> {
  const config = loadConfig();
  const deps = buildDeps(config);
  // Lethe owns its schema everywhere, production included; the migration is idempotent.
  await migrateLetheSchema(deps.db);
  const { worker, connection } = await createWorker(config, deps);
  process.stderr.write(`lethe-worker: polling task queue ${config.temporal.taskQueue} on ${config.temporal.address}\n`);
  // Worker.run() installs its own SIGINT/SIGTERM handlers and drains in-flight tasks.
  await worker.run();
  await connection.close();
  await deps.close();
}

main().catch((err) => {
  process.stderr.write(`lethe-worker: ${err instanceof ConfigError ? err.message : err?.stack ?? err}\n`);
  process.exit(1);
});
