/** The Lethe HTTP API process. */
import { loadConfig, ConfigError } from '../../config';
import { createDb } from '../../stores/db';
import { connectTemporal } from '../temporal';
import { createApiServer } from './server';
import { createIntake } from '../intake';
import { createFrontDoor } from '../front-door';
import { createInbound } from '../inbound';
import { startInboundSmtp } from './inbound-smtp';

async function main(): Promise<void> {
  const config = loadConfig();
  if (config.api.tokens.length === 0 && (config.api.credentials ?? []).length === 0) {
    throw new ConfigError('LETHE_API_TOKENS', 'no API token configured (LETHE_API_TOKENS or LETHE_API_TOKENS_FILE)');
  }
  const db = createDb(config.database.url);
  const temporal = await connectTemporal(config);
  const intake = createIntake({ config, db, temporal });
  const frontDoor = createFrontDoor({ config, db, temporal, intake });
  const app = createApiServer({ config, db, temporal, intake, frontDoor });
  await app.listen({ host: config.api.host, port: config.api.port });
  process.stderr.write(`lethe-api: listening on http://${config.api.host}:${config.api.port}\n`);
  // Mail to the privacy address over SMTP (CONTRACT §6), beside the HTTP hook.
  const smtp =
    config.mail.inboundSmtpPort > 0
      ? await startInboundSmtp({
          host: config.api.host,
          port: config.mail.inboundSmtpPort,
          privacyAddress: config.mail.privacyAddress,
          inbound: createInbound({ frontDoor, log: (msg, fields) => app.log.info(fields, msg) }),
          onError: (err) => app.log.warn({ error: err.name }, 'inbound mail refused'),
        })
      : undefined;
  if (smtp) process.stderr.write(`lethe-api: taking mail for ${config.mail.privacyAddress} on smtp://${config.api.host}:${smtp.port}\n`);
  const close = async () => {
    await smtp?.close();
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
