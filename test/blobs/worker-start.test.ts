/**
 * Issue 36 item 10, end to end: the worker process itself (worker/main.ts), pointed at a storage
 * account that disallows Shared Key ("Prevent Shared Key authorization",
 * learn.microsoft.com/azure/storage/common/shared-key-authorization-prevent: every key-signed
 * request is 403 `KeyBasedAuthenticationNotPermitted`) with a connection string, exits at start
 * with one line naming the variable and the cause, instead of polling and failing every deletion.
 * The account is the HTTP double (test/support/azure-double.ts); Temporal and PostgreSQL are the
 * test stack's.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { startAzureDouble, type AzureDouble } from '../support/azure-double';

const ROOT = path.resolve(__dirname, '..', '..');

let double: AzureDouble | undefined;
afterAll(async () => {
  await double?.close();
});

test('a connection string on an account with Shared Key disallowed: the worker exits 1 at start, its last line naming AZURE_STORAGE_CONNECTION_STRING and KeyBasedAuthenticationNotPermitted', async () => {
  double = await startAzureDouble({ allowSharedKeyAccess: false, versioning: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AZURE_STORAGE_CONNECTION_STRING: double.connectionString,
    LETHE_TASK_QUEUE: `test-${randomUUID()}`,
    LETHE_WORKER_METRICS_PORT: '0',
    LETHE_SWEEP_SCHEDULE: 'off',
    LETHE_STARTUP_WAIT: '0s',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    // Polling means the check let it through: stop it rather than wait for the timeout.
    if (/polling task queue/.test(err)) child.kill('SIGKILL');
  });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.once('exit', (c) => (clearTimeout(timer), resolve(c)));
  });
  const lines = err.trimEnd().split('\n');
  expect({ code, last: lines[lines.length - 1] }).toEqual({
    code: 1,
    last: expect.stringMatching(
      /^lethe-worker: AZURE_STORAGE_CONNECTION_STRING: the storage account disallows Shared Key authorization \(AllowSharedKeyAccess=false: Get Account Information answered 403 KeyBasedAuthenticationNotPermitted\); unset AZURE_STORAGE_CONNECTION_STRING and set AZURE_STORAGE_ACCOUNT_URL .*Storage Blob Data Owner$/,
    ),
  });
  // It never began polling.
  expect(err).not.toMatch(/polling task queue/);
}, 120_000);
