/**
 * Issue 4, done-when 3: once the stack is up (what `npm start` runs: startStack with the
 * worker and the Web UI), the sweep's Schedule exists and the Web UI lists it; starting the
 * stack a second time on the same state leaves exactly one.
 *
 * Temporal and its UI are this file's own (a state folder of their own, kept across the two
 * starts); the stores are the global test stack's. The sweep time is set twelve hours away,
 * so the worker here never runs a real, unscoped sweep over the shared test database.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, RunningStack } from '../../dev/stack/embedded';
import { freePort } from '../../dev/stack/net';
import { SWEEP_SCHEDULE_ID } from '../../client/schedule';

interface UiSchedule {
  scheduleId: string;
}

test('when the stack starts, then the sweep schedule exists and shows in the Web UI, and a second start still leaves one', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-schedule-'));
  fs.chmodSync(stateDir, 0o755);
  const uiPort = await freePort();
  const ports = { temporal: await freePort(), temporalUi: uiPort, codec: await freePort(), postgres: 0, azurite: 0, auth0: 0, recurly: 0, api: 0 };
  const shared = ['DATABASE_URL', 'AZURE_STORAGE_CONNECTION_STRING', 'AUTH0_BASE_URL', 'RECURLY_BASE_URL'];
  const away = new Date(Date.now() + 12 * 3_600_000);
  const sweepTime = `${String(away.getUTCHours()).padStart(2, '0')}:${String(away.getUTCMinutes()).padStart(2, '0')}`;
  // The worker inherits process.env (startStack's service environment).
  const saved = { time: process.env.LETHE_SWEEP_TIME, tz: process.env.LETHE_SWEEP_TIMEZONE, metrics: process.env.LETHE_WORKER_METRICS_PORT };
  Object.assign(process.env, { LETHE_SWEEP_TIME: sweepTime, LETHE_SWEEP_TIMEZONE: 'UTC', LETHE_WORKER_METRICS_PORT: '0' });

  const start = () =>
    startStack({
      stateDir,
      ports,
      durable: false,
      headless: false,
      withWorker: true,
      withApi: false,
      env: { ...Object.fromEntries(shared.map((v) => [v, process.env[v]])), LETHE_SWEEP_SCHEDULE: 'on' },
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
    for (const [k, v] of [
      ['LETHE_SWEEP_TIME', saved.time],
      ['LETHE_SWEEP_TIMEZONE', saved.tz],
      ['LETHE_WORKER_METRICS_PORT', saved.metrics],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}, 300_000);
