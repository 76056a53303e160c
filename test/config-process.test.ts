/** Bad configuration stops the processes with one line naming the variable, exit code 1. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../dev/stack/net';

const ROOT = path.resolve(__dirname, '..');

function run(entry: string, env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, lines: r.stderr.trim().split('\n') };
}

describe('bad configuration at process start', () => {
  test.each([
    ['worker/main.ts', { LETHE_API_PORT: 'http' }, 'lethe-worker: LETHE_API_PORT: expected a port number'],
    ['client/api/main.ts', { LETHE_MODE: 'production' }, 'lethe-api: LETHE_API_TOKENS: is required in production mode'],
    // The worker serves no HTTP callers: in production it needs no API token, but the rest.
    ['worker/main.ts', { LETHE_MODE: 'production' }, 'lethe-worker: DATABASE_URL: is required in production mode'],
    ['client/api/main.ts', { TEMPORAL_ADDRESS: 'nowhere' }, 'lethe-api: TEMPORAL_ADDRESS: expected host:port'],
    ['scripts/start.ts', { LETHE_DEADLINE_HOURS: 'soon' }, 'lethe: LETHE_DEADLINE_HOURS: expected a positive number'],
  ])('when %s starts with %j, then it exits with one line: %s', (entry, env, line) => {
    const r = run(entry, env as Record<string, string>);
    expect(r.status).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0].startsWith(line)).toBe(true);
  });

  test('when DATABASE_URL points at a port where nothing listens, then the worker names DATABASE_URL', async () => {
    const port = await freePort();
    const r = run('worker/main.ts', { DATABASE_URL: `postgres://lethe:lethe@127.0.0.1:${port}/lethe` });
    expect(r.status).toBe(1);
    expect(r.lines).toEqual([expect.stringMatching(/^lethe-worker: DATABASE_URL: cannot connect to the database \(ECONNREFUSED\)$/)]);
  });

  test('when TEMPORAL_ADDRESS points at a port where nothing listens, then the worker names TEMPORAL_ADDRESS', async () => {
    const port = await freePort();
    const r = run('worker/main.ts', { DATABASE_URL: process.env.DATABASE_URL!, TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    expect(r.status).toBe(1);
    expect(r.lines).toEqual([expect.stringMatching(/^lethe-worker: TEMPORAL_ADDRESS: cannot connect to Temporal at 127\.0\.0\.1:\d+ /)]);
  });
});
