/** `npm run migrate`: Lethe's own schema everywhere; the application schema outside production. */
import { ConfigError, loadConfig, requireKeyRing } from '../config';
import { createDb } from '../stores/db';
import { migrateApplicationSchema, migrateLetheSchema } from '../migrations';
import { getFieldCipher } from '../encryption';
import { sealSubject } from '../activities/deletion/subject';

async function main(): Promise<void> {
  const config = loadConfig();
  const db = createDb(config.database.url, { poolMax: 2 });
  try {
    if (config.mode !== 'production') await migrateApplicationSchema(db);
    // Migration 006 seals subjects captured before it in plain text, with the payload keys.
    const fields = getFieldCipher(() => requireKeyRing(config));
    await migrateLetheSchema(db, { sealSubject: (subject) => sealSubject(fields, subject) });
    process.stdout.write('migrations applied\n');
  } finally {
    await db.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`migrate: ${err instanceof ConfigError ? err.message : (err?.message ?? err)}\n`);
  process.exit(1);
});
