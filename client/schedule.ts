/**
 * The daily Schedule that starts the inactivity sweep, and the operator verbs over it (pause,
 * resume, trigger now, backfill, describe): thin commands over the Schedule handle, so the
 * Web UI, the CLI and `temporal schedule ...` all see and steer the same thing.
 *
 * ensure() runs whenever a worker starts (worker/main.ts): it creates the Schedule, leaves it
 * alone when it already says what the configuration says, and updates it when the
 * configuration changed (time, time zone, catch-up window, task queue). Paused stays paused.
 */
import type { Client, ScheduleDescription, ScheduleHandle, ScheduleOptions } from '@temporalio/client';
import { ScheduleAlreadyRunning, ScheduleNotFoundError } from '@temporalio/client';
import type { Config } from '../config';
import { inactivitySweepWorkflow } from '../workflows/sweep';
import { SWEEP_SCHEDULE_ID, SWEEP_WORKFLOW_PREFIX, type SweepInput } from '../contract';

export { SWEEP_SCHEDULE_ID };

export type EnsureOutcome = 'created' | 'updated' | 'unchanged';

export interface ScheduleView {
  scheduleId: string;
  paused: boolean;
  note?: string;
  /** `HH:MM` and the IANA zone it is read in. */
  time: string;
  timezone: string;
  overlap: string;
  catchupWindowMs: number;
  taskQueue: string;
  workflowType: string;
  nextActionTimes: string[];
  /** Oldest first, as Temporal keeps them (its most recent ten or so). */
  recentActions: { scheduledAt: string; takenAt: string; workflowId: string }[];
  /** Sweeps this Schedule started that are still running (at most one: overlap SKIP). */
  running: string[];
  actionsTaken: number;
  skippedOverlap: number;
  missedCatchupWindow: number;
  createdAt: string;
  updatedAt?: string;
}

export class ScheduleMissingError extends Error {
  readonly type = 'not_found';
  constructor(scheduleId: string) {
    super(`no schedule ${scheduleId}; a worker creates it when it starts`);
    this.name = 'ScheduleMissingError';
  }
}

/** How long a change to the Schedule may take to show in describe before Lethe says so. */
const SETTLE_MS = 10_000;

export class ScheduleNotSettledError extends Error {
  readonly type = 'unavailable';
  constructor(scheduleId: string, what: 'update' | 'pause' | 'resume') {
    super(`the ${what} of schedule ${scheduleId} was sent but did not show within ${SETTLE_MS / 1000} s ` + '(another change to it at the same moment, or a slow Temporal): describe it and try again');
    this.name = 'ScheduleNotSettledError';
  }
}

export interface ScheduleService {
  ensure(): Promise<EnsureOutcome>;
  pause(note?: string): Promise<void>;
  resume(note?: string): Promise<void>;
  /** One sweep now; skipped, like a scheduled one, while another sweep still runs. */
  trigger(): Promise<void>;
  /** The runs the Schedule would have taken between start and end, taken now (overlap SKIP). */
  backfill(start: Date, end: Date): Promise<void>;
  describe(): Promise<ScheduleView>;
  /** Removes the Schedule (tests and decommissioning; the next worker start recreates it). */
  remove(): Promise<void>;
}

export function createScheduleService(deps: { config: Pick<Config, 'sweep' | 'temporal'>; temporal: Client }): ScheduleService {
  const { config, temporal } = deps;
  const scheduleId = config.sweep.scheduleId;
  const input: SweepInput = { dryRun: config.sweep.schedule === 'dry-run' };
  const handle = (): ScheduleHandle => temporal.schedule.getHandle(scheduleId);
  const wanted = desired();

  function desired(): Omit<ScheduleOptions, 'scheduleId'> {
    const { hour, minute, timezone, catchupWindowMs } = config.sweep;
    return {
      spec: {
        calendars: [{ hour, minute, comment: `inactivity sweep, daily at ${config.sweep.time} ${timezone} (LETHE_SWEEP_TIME, LETHE_SWEEP_TIMEZONE)` }],
        timezone,
      },
      action: {
        type: 'startWorkflow',
        workflowType: inactivitySweepWorkflow,
        taskQueue: config.temporal.taskQueue,
        // Temporal appends the scheduled time: inactivity-sweep-2026-11-29T03:00:00Z.
        workflowId: scheduleId === SWEEP_SCHEDULE_ID ? SWEEP_WORKFLOW_PREFIX : `${scheduleId}-sweep`,
        args: [input],
      },
      policies: {
        // A sweep still starting yesterday's deletions must not race a second one.
        overlap: 'SKIP',
        // After an outage, a run missed by less than this is still taken (once: SKIP).
        catchupWindow: catchupWindowMs,
      },
    };
  }

  /** What ensure() compares: the parts of the spec the configuration controls. */
  function shapeOf(d: ScheduleDescription): string {
    const cal = d.spec.calendars?.[0];
    const single = (r: { start: number; end: number }[] | undefined) => (r && r.length === 1 && r[0].start === r[0].end ? r[0].start : JSON.stringify(r));
    return JSON.stringify({
      calendars: d.spec.calendars?.length ?? 0,
      hour: single(cal?.hour),
      minute: single(cal?.minute),
      second: single(cal?.second),
      timezone: d.spec.timezone || 'UTC',
      intervals: d.spec.intervals?.length ?? 0,
      overlap: d.policies.overlap,
      catchupWindow: d.policies.catchupWindow,
      workflowType: d.action.workflowType,
      taskQueue: d.action.taskQueue,
      workflowId: d.action.workflowId,
      args: d.action.args ?? [],
    });
  }

  function wantedShape(): string {
    const { hour, minute, timezone, catchupWindowMs } = config.sweep;
    return JSON.stringify({
      calendars: 1,
      hour,
      minute,
      second: 0,
      timezone,
      intervals: 0,
      overlap: 'SKIP',
      catchupWindow: catchupWindowMs,
      workflowType: inactivitySweepWorkflow.name,
      taskQueue: config.temporal.taskQueue,
      workflowId: wanted.action.workflowId,
      args: [input],
    });
  }

  /** The SDK's not-found as Lethe's, which names the Schedule and who creates it. */
  async function named(op: Promise<void>): Promise<void> {
    try {
      await op;
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) throw new ScheduleMissingError(scheduleId);
      throw err;
    }
  }

  async function describeRaw(): Promise<ScheduleDescription> {
    try {
      return await handle().describe();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) throw new ScheduleMissingError(scheduleId);
      throw err;
    }
  }

  /**
   * Waits until describe shows what was just asked. Temporal applies a Schedule's update, pause
   * and unpause as signals to its scheduler workflow, and an update carries the whole state it
   * was read with. In CI, `ensure()` followed at once by `resume()` ended paused: describe showed
   * the update's new time with the old pause and note, so the update's state was applied after
   * the unpause. Waiting for each change to show before returning keeps them in the order asked.
   */
  async function shows(test: (d: ScheduleDescription) => boolean): Promise<boolean> {
    const until = Date.now() + SETTLE_MS;
    for (;;) {
      if (test(await describeRaw())) return true;
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Pause or unpause, confirmed; asked again once if a concurrent update put the old state back. */
  async function setPaused(paused: boolean, note: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await named(paused ? handle().pause(note) : handle().unpause(note));
      if (await shows((d) => d.state.paused === paused && d.state.note === note)) return;
      if (attempt === 2) throw new ScheduleNotSettledError(scheduleId, paused ? 'pause' : 'resume');
    }
  }

  return {
    async ensure() {
      try {
        await temporal.schedule.create({ scheduleId, ...wanted, state: { note: 'created by Lethe at worker start' } });
        return 'created';
      } catch (err) {
        // Another worker (or an earlier start) made it: compare, and update only on change.
        if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      }
      const current = await describeRaw();
      if (shapeOf(current) === wantedShape()) return 'unchanged';
      // Keep what operators decided (paused, its note); replace what configuration decides.
      await handle().update((prev) => ({
        spec: wanted.spec,
        action: wanted.action,
        policies: { ...wanted.policies, pauseOnFailure: prev.policies.pauseOnFailure },
        state: { paused: prev.state.paused, note: prev.state.note, remainingActions: prev.state.remainingActions },
      }));
      if (!(await shows((d) => shapeOf(d) === wantedShape()))) throw new ScheduleNotSettledError(scheduleId, 'update');
      return 'updated';
    },

    pause: (note) => setPaused(true, note ?? 'paused by an operator'),
    resume: (note) => setPaused(false, note ?? 'resumed by an operator'),
    // SKIP, not the SDK's default ALLOW_ALL: never two sweeps at once, whoever asks.
    trigger: () => named(handle().trigger('SKIP')),
    async backfill(start, end) {
      if (!(start instanceof Date) || !(end instanceof Date) || Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || start >= end) {
        throw new RangeError('backfill needs a start time before its end time');
      }
      // Each sweep covers everything eligible at its own time, so catching up a week of missed
      // runs needs one sweep: the rest overlap it and are skipped.
      await named(handle().backfill({ start, end, overlap: 'SKIP' }));
    },

    async describe() {
      const d = await describeRaw();
      const cal = d.spec.calendars?.[0];
      const h = cal?.hour?.[0]?.start ?? 0;
      const m = cal?.minute?.[0]?.start ?? 0;
      return {
        scheduleId,
        paused: d.state.paused,
        ...(d.state.note ? { note: d.state.note } : {}),
        time: `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`,
        timezone: d.spec.timezone || 'UTC',
        overlap: String(d.policies.overlap),
        catchupWindowMs: d.policies.catchupWindow,
        taskQueue: d.action.taskQueue,
        workflowType: d.action.workflowType,
        nextActionTimes: d.info.nextActionTimes.map((t) => t.toISOString()),
        recentActions: d.info.recentActions.map((a) => ({
          scheduledAt: a.scheduledAt.toISOString(),
          takenAt: a.takenAt.toISOString(),
          workflowId: a.action.workflow.workflowId,
        })),
        running: d.info.runningActions.map((a) => a.workflow.workflowId),
        actionsTaken: d.info.numActionsTaken,
        skippedOverlap: d.info.numActionsSkippedOverlap,
        missedCatchupWindow: d.info.numActionsMissedCatchupWindow,
        createdAt: d.info.createdAt.toISOString(),
        ...(d.info.lastUpdatedAt ? { updatedAt: d.info.lastUpdatedAt.toISOString() } : {}),
      };
    },

    async remove() {
      try {
        await handle().delete();
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError)) throw err;
      }
    },
  };
}
