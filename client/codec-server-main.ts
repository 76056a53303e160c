/** The codec server process (see codec-server.ts): started by the embedded stack beside the Web UI. */
import { loadConfig, ConfigError, requireKeyRing } from '../config';
import { getPayloadCodec } from '../encryption';
import { assertCodecAuthenticated, startCodecServer } from './codec-server';
import { credentialsOf } from './api/auth';

async function main(): Promise<void> {
  const config = loadConfig();
  assertCodecAuthenticated(config);
  const log = (line: string) => process.stderr.write(`lethe-codec: ${line}\n`);
  const running = await startCodecServer({
    codec: getPayloadCodec(requireKeyRing(config)),
    host: config.codec.host,
    port: config.codec.port,
    allowedOrigins: config.codec.allowedOrigins,
    token: config.codec.token,
    ...(config.codec.auth === 'api-tokens' ? { credentials: credentialsOf(config.api) } : {}),
    log,
  });
  // Key ids and origins only: the keys and the token are never printed.
  log(
    `listening on ${running.url} for ${config.codec.allowedOrigins.join(', ')}; keys ${config.encryption.keys!.keyIds.join(', ')} (current ${config.encryption.keys!.currentKeyId})${config.codec.auth === 'api-tokens' ? '; an operator API token required' : config.codec.token ? '; bearer token required' : ''}`,
  );
  // A signal handler cannot be awaited: it closes, then exits 0, or 1 saying what failed.
  const stop = () => {
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`shutdown failed: ${err instanceof Error ? err.stack : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  process.stderr.write(`lethe-codec: ${err instanceof ConfigError ? err.message : (err?.stack ?? err)}\n`);
  process.exit(1);
});
