/**
 * Issue 22: a worker that starts while Temporal is down waits for it (capped exponential
 * backoff, one line per attempt) instead of exiting and crash-looping; past LETHE_STARTUP_WAIT
 * it exits with the one line naming TEMPORAL_ADDRESS, and a malformed address is still refused
 * at once. "Temporal" here is a TCP relay to the test stack's server, opened when the test says.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { freePort, waitFor } from '../../dev/stack/net';
import { STARTUP_BACKOFF } from '../../config/reachability';
import { vendorBudget } from '../../config/budget';
import fs from 'node:fs';
import os from 'node:os';

const ROOT = path.resolve(__dirname, '..', '..');

function relay(port: number, to: number): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(to, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const close = () => (client.destroy(), upstream.destroy());
    client.on('error', close);
    upstream.on('error', close);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const workerEnv = (temporalAddress: string, wait: string): NodeJS.ProcessEnv => ({
  ...process.env,
  TEMPORAL_ADDRESS: temporalAddress,
  LETHE_STARTUP_WAIT: wait,
  LETHE_TASK_QUEUE: `test-${randomUUID()}`,
  LETHE_WORKER_METRICS_PORT: '0',
  LETHE_SWEEP_SCHEDULE: 'off',
});

describe('the worker waits for Temporal', () => {
  let child: ChildProcess | undefined;
  let server: net.Server | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = undefined;
  });

  test('when Temporal is down at start, then the worker retries on a growing backoff and polls once it is up', async () => {
    const port = await freePort();
    const env = workerEnv(`127.0.0.1:${port}`, '2m');
    child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const retries = () => err.split('\n').filter((l) => l.startsWith(`lethe-worker: TEMPORAL_ADDRESS: Temporal at 127.0.0.1:${port} is unreachable`));
    await waitFor('three failed attempts', async () => retries().length >= 3 || child!.exitCode !== null, { timeoutMs: 60_000, intervalMs: 200 });
    expect(child.exitCode).toBeNull();
    const delays = retries().map((l) => Number(/retrying in (\d+\.\d)s \(attempt (\d+), waiting up to 120s\)$/.exec(l)![1]) * 1000);
    delays.forEach((d, i) => {
      const base = Math.min(STARTUP_BACKOFF.maxMs, STARTUP_BACKOFF.initialMs * 2 ** i);
      expect(d).toBeGreaterThanOrEqual(base / 2 - 50);
      expect(d).toBeLessThanOrEqual(base + 50);
    });

    server = await relay(port, Number(process.env.LETHE_TEST_TEMPORAL_PORT));
    await waitFor('the worker to poll', async () => err.includes(`lethe-worker: polling task queue`) || child!.exitCode !== null, { timeoutMs: 120_000, intervalMs: 250 });
    expect(err).toMatch(new RegExp(`lethe-worker: TEMPORAL_ADDRESS: Temporal at 127\\.0\\.0\\.1:${port} is reachable after \\d+s`));
    expect(child.exitCode).toBeNull();
    // The start line gives each vendor queue its own server-side rate: the on-call reading of a backlog (docs/operations.md).
    const budget = vendorBudget(env);
    for (const v of ['auth0', 'recurly'] as const) {
      expect(err).toContain(`${env.LETHE_TASK_QUEUE}-${v} at ${budget[v].tasksPerSecond.toFixed(2)} tasks/s`);
      expect(err).toContain(`${env.LETHE_TASK_QUEUE}-${v}-read-back at ${budget[v].readBackTasksPerSecond.toFixed(2)} tasks/s`);
    }
    expect(err).toContain(`${env.LETHE_TASK_QUEUE}-recurly-sweep at ${budget.recurly.sweepTasksPerSecond.toFixed(2)} tasks/s`);
  });

  test('when Temporal stays down past LETHE_STARTUP_WAIT, then the worker exits 1, its last line naming TEMPORAL_ADDRESS', async () => {
    const port = await freePort();
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'worker/main.ts'], { cwd: ROOT, env: workerEnv(`127.0.0.1:${port}`, '4s'), encoding: 'utf8', timeout: 60_000 });
    const lines = r.stderr.trim().split('\n');
    expect(r.status).toBe(1);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.slice(0, -1).every((l) => / is unreachable \(.*\); retrying in /.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(`^lethe-worker: TEMPORAL_ADDRESS: cannot connect to Temporal at 127\\.0\\.0\\.1:${port} \\(.*\\); gave up after waiting 4s$`));
    // The workflow bundle built for this start (worker/bundle.ts) does not outlive a start that failed.
    expect(fs.existsSync(path.join(os.tmpdir(), `lethe-workflows-${r.pid}.js`))).toBe(false);
  });

  test.each([
    [{ TEMPORAL_ADDRESS: 'nowhere', LETHE_STARTUP_WAIT: '2m' }, 'lethe-worker: TEMPORAL_ADDRESS: expected host:port'],
    [{ LETHE_STARTUP_WAIT: 'a while' }, 'lethe-worker: LETHE_STARTUP_WAIT: expected a duration'],
  ])('when the worker starts with %j, then it exits at once with one line: %s', (env, line) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'worker/main.ts'], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^${line}`))]);
  });
});
