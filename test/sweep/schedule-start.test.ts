/**
 * Issue 4, done-when 3: once the stack is up (what `npm start` runs: startStack with the
 * worker and the Web UI), the sweep's Schedule exists and the Web UI lists it; starting the
 * stack a second time on the same state leaves exactly one.
 *
 * Temporal and its UI are this file's own (a state folder of their own, kept across the two
 * starts); the stores are the global test stack's. The sweep time is set twelve hours away,
 * so the worker here never runs a real, unscoped sweep over the shared test database.
 *
 * And the other side (issue 16): on the shared test stack itself a worker process, started
 * with the environment global-setup gives every test (LETHE_SWEEP_SCHEDULE=off), leaves the
 * production Schedule alone, so no test run crossing 03:00 UTC can sweep the test database.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, RunningStack } from '../../dev/stack/embedded';
import { freePort } from '../../dev/stack/net';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { SWEEP_SCHEDULE_ID } from '../../client/schedule';
import { until } from '../support/until';

interface UiSchedule {
  scheduleId: string;
}

test('when the stack starts, then the sweep schedule exists and shows in the Web UI, and a second start still leaves one', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-schedule-'));
  fs.chmodSync(stateDir, 0o755);
  const uiPort = await freePort();
  const ports = { temporal: await freePort(), temporalUi: uiPort, codec: await freePort(), postgres: 0, azurite: 0, auth0: 0, recurly: 0, api: 0 };
  const shared = ['AZURE_STORAGE_CONNECTION_STRING', 'AUTH0_BASE_URL', 'RECURLY_BASE_URL'];
  // The shared database, given as a mounted secret would be: the stack and its worker read the file.
  const databaseUrlFile = path.join(stateDir, 'database-url');
  fs.writeFileSync(databaseUrlFile, `${process.env.DATABASE_URL}\n`, { mode: 0o600 });
  const away = new Date(Date.now() + 12 * 3_600_000);
  const sweepTime = `${String(away.getUTCHours()).padStart(2, '0')}:${String(away.getUTCMinutes()).padStart(2, '0')}`;

  const start = () =>
    startStack({
      stateDir,
      ports,
      durable: false,
      headless: false,
      withWorker: true,
      withApi: false,
      // Given to this stack's worker only (startStack's `env` wins over the inherited
      // process.env), never set in this jest worker's process.env, where other files would see it.
      env: {
        ...Object.fromEntries(shared.map((v) => [v, process.env[v]])),
        DATABASE_URL: '',
        DATABASE_URL_FILE: databaseUrlFile,
        LETHE_SWEEP_SCHEDULE: 'on',
        LETHE_SWEEP_TIME: sweepTime,
        LETHE_SWEEP_TIMEZONE: 'UTC',
        LETHE_WORKER_METRICS_PORT: '0',
      },
      log: (l) => process.stderr.write(`[schedule-stack] ${l}\n`),
    });

  async function uiSchedules(): Promise<UiSchedule[]> {
    // The Web UI's own HTTP API, which its Schedules page renders.
    for (let i = 0; ; i++) {
      const res = await fetch(`http://127.0.0.1:${uiPort}/api/v1/namespaces/default/schedules`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { schedules?: UiSchedule[] };
      const ours = (body.schedules ?? []).filter((s) => s.scheduleId === SWEEP_SCHEDULE_ID);
      if (ours.length > 0 || i >= 60) return ours;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async function describeInUi(): Promise<{ schedule?: { spec?: { calendar?: unknown; structuredCalendar?: unknown[]; timezoneName?: string } } }> {
    const res = await fetch(`http://127.0.0.1:${uiPort}/api/v1/namespaces/default/schedules/${SWEEP_SCHEDULE_ID}`);
    expect(res.status).toBe(200);
    return (await res.json()) as never;
  }

  let stack: RunningStack | undefined;
  try {
    stack = await start();
    expect(await uiSchedules()).toHaveLength(1);
    const d = await describeInUi();
    expect(JSON.stringify(d.schedule?.spec)).toContain('inactivity sweep, daily at');
    const log = () => fs.readFileSync(path.join(stateDir, 'logs', 'worker.log'), 'utf8');
    expect(log()).toContain(`schedule ${SWEEP_SCHEDULE_ID} created (daily at ${sweepTime} UTC)`);
    await stack.stop();
    stack = undefined;

    stack = await start();
    // The worker ensures the schedule right after it starts polling; wait for its line.
    for (let i = 0; i < 120 && !/schedule lethe-inactivity-sweep unchanged/.test(log()); i++) await new Promise((r) => setTimeout(r, 250));
    expect(log()).toContain(`schedule ${SWEEP_SCHEDULE_ID} unchanged`);
    expect(await uiSchedules()).toHaveLength(1);
  } finally {
    await stack?.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}, 300_000);

test('when a worker process starts on the shared test stack, then the production Schedule lethe-inactivity-sweep is not created there', async () => {
  // Exactly the environment the test stack hands every worker it spawns (global-setup's,
  // inherited by this jest worker), plus a task queue of its own; LETHE_SWEEP_SCHEDULE is not
  // touched here, so what is proven is the stack's own setting.
  const taskQueue = `test-${randomUUID()}`;
  const env = { ...process.env, LETHE_TASK_QUEUE: taskQueue, LETHE_WORKER_METRICS_PORT: '0' };
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE || 'default' });
  let child: ChildProcess | undefined;
  let err = '';
  try {
    child = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], { cwd: path.resolve(__dirname, '..', '..'), env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d) => (err += d));
    // The worker decides about the Schedule right after it starts polling, and says so.
    await until(
      'the worker to say what it did with the schedule',
      async () => (child!.exitCode !== null || /lethe-worker: schedule lethe-inactivity-sweep /.test(err) ? true : undefined),
      120_000,
      250,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; its log:\n${err}`);
    });
    expect([child.exitCode, child.signalCode]).toEqual([null, null]);
    expect(err).toContain(`lethe-worker: schedule ${SWEEP_SCHEDULE_ID} not managed (LETHE_SWEEP_SCHEDULE=off)`);
    expect(err).not.toMatch(/schedule lethe-inactivity-sweep (created|updated|unchanged)/);
    // And Temporal agrees. The CLI test creates the Schedule for a moment (on the queue
    // lethe-deletions, which no test worker polls): if it is there, it is that one, not ours.
    const described = await client.schedule
      .getHandle(SWEEP_SCHEDULE_ID)
      .describe()
      .catch((e) => {
        if (e instanceof ScheduleNotFoundError) return undefined;
        throw e;
      });
    if (described) expect(described.action.taskQueue).not.toBe(taskQueue);
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await connection.close();
  }
}, 180_000);
