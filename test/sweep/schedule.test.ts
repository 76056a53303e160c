/**
 * Issue 4, the Schedule: ensure() is idempotent (twice leaves one, unchanged), a changed
 * configuration updates it, and the operator verbs (pause, resume, trigger, backfill,
 * describe) act on it. A schedule id of its own, starting dry runs scoped to an empty id
 * prefix, so nothing it triggers can touch another test file's accounts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { startWorld, testConfig, TestWorld } from '../support/stack';
import { createScheduleService, ScheduleMissingError, type ScheduleService } from '../../client/schedule';
import type { SweepResult } from '../../contract';
import { until } from '../support/until';

describe('the inactivity sweep schedule', () => {
  let world: TestWorld;
  let schedule: ScheduleService;
  const scheduleId = `test-sweep-schedule-${randomUUID()}`;
  // Dry runs, by a worker that sweeps an id prefix no account has: configuration, as in production.
  const scheduleEnv = { LETHE_SWEEP_SCHEDULE_ID: scheduleId, LETHE_SWEEP_SCHEDULE: 'dry-run', LETHE_SWEEP_SCOPE: randomBytes(6).toString('hex') };
  const serviceFor = (env: Record<string, string>) => createScheduleService({ config: testConfig({ ...scheduleEnv, ...env, LETHE_TASK_QUEUE: world.taskQueue }), temporal: world.client });

  beforeAll(async () => {
    world = await startWorld({ env: scheduleEnv });
    schedule = createScheduleService({ config: world.config, temporal: world.client });
  });
  afterAll(async () => {
    await schedule?.remove();
    await world?.close();
  });

  async function countSchedules(): Promise<number> {
    // The list is eventually consistent: wait for it to show the schedule, then count.
    for (let i = 0; ; i++) {
      let n = 0;
      for await (const s of world.client.schedule.list()) if (s.scheduleId === scheduleId) n++;
      if (n > 0 || i >= 40) return n;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async function actionsAfter(count: number): Promise<string[]> {
    for (let i = 0; i < 80; i++) {
      const d = await schedule.describe();
      if (d.recentActions.length > count) return d.recentActions.map((a) => a.workflowId);
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error('the schedule took no action');
  }

  test('when ensure runs twice, then there is one schedule, created then unchanged, daily at 03:00 UTC with overlap SKIP and a one-day catch-up window', async () => {
    await expect(schedule.describe()).rejects.toBeInstanceOf(ScheduleMissingError);
    expect(await schedule.ensure()).toBe('created');
    expect(await schedule.ensure()).toBe('unchanged');
    // Two workers starting at once: one creates, the other finds it as configured.
    expect((await Promise.all([schedule.ensure(), schedule.ensure()])).sort()).toEqual(['unchanged', 'unchanged']);
    expect(await countSchedules()).toBe(1);

    const d = await schedule.describe();
    expect(d).toMatchObject({
      scheduleId,
      paused: false,
      time: '03:00',
      timezone: 'UTC',
      overlap: 'SKIP',
      catchupWindowMs: 86_400_000,
      taskQueue: world.taskQueue,
      workflowType: 'inactivitySweepWorkflow',
    });
    const next = new Date(d.nextActionTimes[0]);
    expect([next.getUTCHours(), next.getUTCMinutes(), next.getUTCSeconds()]).toEqual([3, 0, 0]);
    expect(next.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
    expect(next.getTime()).toBeGreaterThan(Date.now());
  });

  test('when the configured time, zone or catch-up window changes, then ensure updates the one schedule, and an operator’s pause survives it', async () => {
    await schedule.ensure();
    const changed = serviceFor({ LETHE_SWEEP_TIME: '04:30', LETHE_SWEEP_TIMEZONE: 'Europe/Lisbon', LETHE_SWEEP_CATCHUP: '6h' });
    await schedule.pause('maintenance window');
    expect(await changed.ensure()).toBe('updated');
    expect(await changed.ensure()).toBe('unchanged');
    const d = await changed.describe();
    expect(d).toMatchObject({ time: '04:30', timezone: 'Europe/Lisbon', catchupWindowMs: 6 * 3_600_000, paused: true, note: 'maintenance window' });
    // 04:30 in Lisbon is 04:30 or 03:30 UTC depending on summer time.
    const next = new Date(d.nextActionTimes[0]);
    expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Lisbon', hour: '2-digit', minute: '2-digit' }).format(next)).toBe('04:30');
    expect(await countSchedules()).toBe(1);

    expect(await schedule.ensure()).toBe('updated');
    await schedule.resume('maintenance over');
    expect(await schedule.describe()).toMatchObject({ time: '03:00', timezone: 'UTC', paused: false, note: 'maintenance over' });
  });

  test('when an operator triggers the schedule, then a sweep runs now, and describe lists it', async () => {
    await schedule.ensure();
    const before = (await schedule.describe()).recentActions.length;
    await schedule.trigger();
    const ids = await actionsAfter(before);
    const workflowId = ids[ids.length - 1];
    expect(workflowId.startsWith(`${scheduleId}-sweep-`)).toBe(true);
    const result: SweepResult = await world.client.workflow.getHandle(workflowId).result();
    expect(result).toMatchObject({ sweepId: workflowId, dryRun: true, scanned: 0, eligible: 0, started: 0 });
  });

  test('when an operator backfills missed days, then the missed run is taken now, once (the rest overlap and are skipped)', async () => {
    await schedule.ensure();
    // SKIP is judged against the sweeps the Schedule believes are running: wait until it has
    // seen the earlier tests' sweeps end, or every backfilled time would be skipped.
    const d0 = await until('the schedule to see no sweep running', async () => {
      const d = await schedule.describe();
      return d.running.length === 0 ? d : undefined;
    });
    const end = new Date();
    const start = new Date(end.getTime() - 3 * 86_400_000);
    // The daily 03:00 UTC times inside the range: three (four if it began on one to the second).
    const due: string[] = [];
    for (let t = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate(), 3); t <= end.getTime(); t += 86_400_000) if (t >= start.getTime()) due.push(new Date(t).toISOString());
    expect(due.length).toBeGreaterThanOrEqual(3);
    await schedule.backfill(start, end);
    // Temporal's scheduler takes the backfilled times in order within one pass: the first
    // starts a sweep, and each later one finds it still running, so with overlap SKIP it is
    // skipped; a sweep can only end after that pass, when the scheduler hears of it.
    const d1 = await until(
      `the schedule to account for all ${due.length} backfilled times`,
      async () => {
        const d = await schedule.describe();
        return d.actionsTaken - d0.actionsTaken + (d.skippedOverlap - d0.skippedOverlap) >= due.length ? d : undefined;
      },
      60_000,
      250,
    );
    expect({ taken: d1.actionsTaken - d0.actionsTaken, skipped: d1.skippedOverlap - d0.skippedOverlap }).toEqual({ taken: 1, skipped: due.length - 1 });
    // The one taken is the earliest missed run, and it carries the time it was due.
    const taken = d1.recentActions.filter((a) => !d0.recentActions.some((b) => b.workflowId === a.workflowId));
    expect(taken.map((a) => a.scheduledAt)).toEqual([due[0]]);
    const result: SweepResult = await world.client.workflow.getHandle(taken[0].workflowId).result();
    expect(result).toMatchObject({ sweepId: taken[0].workflowId, dryRun: true, started: 0 });
    await expect(schedule.backfill(end, start)).rejects.toThrow(RangeError);
  });
});
