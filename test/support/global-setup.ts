/**
 * Starts the real stack once for the test run: Temporal dev server, PostgreSQL, Azurite, both
 * vendor sandboxes and the mail catcher (Mailpit), on free ports and in a folder of their own, so
 * tests never collide with a running `npm start`. Tests read the endpoints from process.env
 * (inherited by jest's workers) through the same loadConfig() as the service; the mail caught,
 * through test/support/mailpit.ts (LETHE_TEST_MAILPIT_URL).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeStackPorts, startStack } from '../../dev/stack/embedded';
import { temporalModeOf } from '../../dev/stack/temporal-server';

const STACK_VARS = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'DATABASE_URL',
  'AZURE_STORAGE_CONNECTION_STRING',
  'AUTH0_DOMAIN',
  'AUTH0_BASE_URL',
  'AUTH0_CLIENT_ID',
  'AUTH0_CLIENT_SECRET',
  'RECURLY_API_KEY',
  'RECURLY_BASE_URL',
  'LETHE_API_TOKENS',
  'LETHE_MODE',
  'LETHE_ENCRYPTION_KEYS',
  'LETHE_ENCRYPTION_KEYS_FILE',
  'LETHE_ENCRYPTION_KEY_ID',
  'LETHE_CODEC_TOKEN',
  'LETHE_CODEC_ALLOWED_ORIGINS',
  'LETHE_RETENTION_DAYS',
  'SMTP_URL',
  'SMTP_URL_FILE',
  'LETHE_PUBLIC_URL',
];

/**
 * The run's log folder (test-artifacts/logs/<start time>): the stack's log and one per test file
 * (capture-logs.ts). Kept after the run for reading; folders of runs over two days old go.
 */
function testLogDir(): string {
  const root = path.resolve(__dirname, '..', '..', 'test-artifacts', 'logs');
  fs.mkdirSync(root, { recursive: true });
  for (const old of fs.readdirSync(root)) {
    const p = path.join(root, old);
    if (Date.now() - fs.statSync(p).mtimeMs > 2 * 86_400_000) fs.rmSync(p, { recursive: true, force: true });
  }
  const dir = path.join(root, `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`);
  fs.mkdirSync(dir);
  return dir;
}

export default async function globalSetup(): Promise<void> {
  // The tests own their stack: a developer's shell variables must not point them elsewhere.
  for (const v of STACK_VARS) delete process.env[v];
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-test-'));
  fs.chmodSync(stateDir, 0o755);
  const logDir = testLogDir();
  const stackLog = path.join(logDir, 'stack.log');
  const ports = await freeStackPorts();
  const started = Date.now();
  const stack = await startStack({
    stateDir,
    ports,
    durable: false,
    headless: true,
    withWorker: false,
    withApi: false,
    // LETHE_TEMPORAL=server runs the suite on the production-shaped Temporal (scripts/test-production-shape.sh).
    temporal: temporalModeOf(process.env),
    // Seeding thousands of records must not trip the vendors' limits; the rate-limit tests
    // run sandboxes of their own at the real limits.
    sandboxRateLimits: { auth0PerSecond: 10_000, recurlyPerMinute: 1_000_000 },
    env: {},
    log: (l) => fs.appendFileSync(stackLog, `${new Date().toISOString()} ${l}\n`),
  }).catch((err: unknown) => {
    // The stack did not start: what it logged is the cause.
    process.stderr.write(`[stack] did not start; its log (${stackLog}):\n${fs.existsSync(stackLog) ? fs.readFileSync(stackLog, 'utf8') : ''}`);
    throw err;
  });
  process.stderr.write(`[stack] up in ${Math.round((Date.now() - started) / 1000)}s at ${stateDir} (Temporal: ${stack.temporal}); logs in ${logDir}\n`);
  Object.assign(process.env, stack.env, {
    // stack.env holds the token's digest; in-process APIs (test/support/api.ts) send
    // config.api.tokens[0], a plaintext token of the earlier format, served as admin.
    LETHE_API_TOKENS: stack.apiToken,
    // Workers spawned on the shared test stack never create the real daily Schedule.
    LETHE_SWEEP_SCHEDULE: 'off',
    // The sweep tests written before the notice ladder expect deletion on eligibility; the
    // ladder's own tests (test/sweep/notices*.test.ts) turn it on in their worlds.
    LETHE_INACTIVITY_NOTICES: 'off',
    LETHE_TEST_STATE_DIR: stateDir,
    LETHE_TEST_LOG_DIR: logDir,
    LETHE_TEST_TEMPORAL: stack.temporal,
    LETHE_TEST_TEMPORAL_PORT: String(ports.temporal),
    LETHE_TEST_AZURITE_PORT: String(ports.azurite),
    // Mailpit's web page and API v1, where test/support/mailpit.ts reads what Lethe sent.
    LETHE_TEST_MAILPIT_URL: stack.mailCatcherUrl ?? '',
  });
  (globalThis as Record<string, unknown>).__LETHE_STACK__ = stack;
}
