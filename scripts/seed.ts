/**
 * `npm run seed -- --accounts N --media-per-account M --seed S`: demo data in every table,
 * in Azurite and in both vendor sandboxes, against the stack that `npm start` runs (or
 * whatever the environment points at; production mode is refused).
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config';
import { buildDeps } from '../worker/deps';
import { rng, seedAccount, AccountSpec, SubState } from '../dev/seed/fixtures';

const STATES: SubState[] = ['active', 'future', 'paused', 'canceled', 'expired', 'failed'];

function int(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`--${name}`, `expected a whole number, got "${raw}"`);
  return Number(raw);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      accounts: { type: 'string' },
      'media-per-account': { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write('usage: npm run seed -- [--accounts N=20] [--media-per-account M=10] [--seed S=1]\n');
    return;
  }
  const accounts = int('accounts', values.accounts, 20);
  const media = int('media-per-account', values['media-per-account'], 10);
  const seed = int('seed', values.seed, 1);
  const config = loadConfig();
  if (config.mode === 'production') throw new ConfigError('LETHE_MODE', 'seeding is refused in production mode');
  const deps = buildDeps(config);
  const rand = rng(seed);
  const day = 86_400_000;
  const started = Date.now();
  try {
    for (let i = 0; i < accounts; i++) {
      // Every subscription state, legacy Auth0 links, accounts without billing, and a spread
      // of activity: some inactive past 24 months, some never logged in.
      const created = new Date(Date.now() - (30 + Math.floor(rand() * 1000)) * day);
      const spec: AccountSpec = {
        media,
        orphanBlobs: i % 3 === 0 ? 2 : 0,
        snapshots: i % 4 === 0 ? Math.min(2, media) : 0,
        auth0: i % 10 === 9 ? 'legacy' : 'linked',
        subscriptions: i % 7 === 6 ? null : [{ state: STATES[i % STATES.length], currentPeriodEndsAt: STATES[i % STATES.length] === 'canceled' && i % 2 ? new Date(Date.now() - 5 * day) : undefined }],
        createdAt: created,
        lastLoginAt: i % 5 === 0 ? null : new Date(created.getTime() + Math.floor(rand() * (Date.now() - created.getTime()))),
        loginEvents: 1 + (i % 4),
        shares: i % 3,
        supportRequests: i % 2,
        emailOnlySupportRequests: i % 6 === 0 ? 1 : 0,
      };
      await seedAccount({ ...deps, recurlySandboxUrl: config.recurly.baseUrl }, spec, rand);
      const done = i + 1;
      const width = 30;
      const bar = '#'.repeat(Math.round((done / accounts) * width)).padEnd(width, '.');
      process.stderr.write(`\rseed [${bar}] ${done}/${accounts} accounts (${Math.round((Date.now() - started) / 1000)}s)`);
    }
    process.stderr.write('\n');
    process.stdout.write(`seeded ${accounts} accounts with ${media} media each (seed ${seed})\n`);
  } finally {
    await deps.close();
  }
}

main().catch((err) => {
  process.stderr.write(`\nseed: ${err instanceof ConfigError ? err.message : (err?.message ?? err)}\n`);
  process.exit(1);
});
