/** The Lethe HTTP API process. */
import { loadConfig, ConfigError } from '../../config';
import { createDb } from '../../stores/db';
import { connectTemporal } from '../temporal';
import { createApiServer } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.api.tokens.length === 0 && (config.api.credentials ?? []).length === 0) {
    throw new ConfigError('LETHE_API_TOKENS', 'no API token configured (LETHE_API_TOKENS or LETHE_API_TOKENS_FILE)');
  }
  const db = createDb(config.database.url);
  const temporal = await connectTemporal(config);
  const app = createApiServer({ config, db, temporal });
  await app.listen({ host: config.api.host, port: config.api.port });
  process.stderr.write(`lethe-api: listening on http://${config.api.host}:${config.api.port}\n`);
  const close = async () => {
    await app.close();
    await temporal.connection.close();
    await db.destroy();
  };
  // A signal handler cannot be awaited: it closes, then exits 0, or 1 saying what failed.
  const stop = () => {
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`lethe-api: shutdown failed: ${err instanceof Error ? err.stack : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`lethe-api: ${err instanceof ConfigError ? err.message : (err?.stack ?? err)}\n`);
  process.exit(1);
});
