/**
 * The inactivity sweep's Schedule is created (or brought up to date) whenever a worker
 * starts, so `npm start`, docker-compose and every production replica converge on one
 * Schedule matching their configuration. A failure is reported loudly but does not stop the
 * worker: running deletions matter more than tomorrow's sweep, and the next start retries.
 */
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { createScheduleService } from '../client/schedule';

export async function ensureSweepSchedule(config: Config, temporal: Client, write = (l: string) => process.stderr.write(l)): Promise<void> {
  if (config.sweep.schedule === 'off') {
    write(`lethe-worker: schedule ${config.sweep.scheduleId} not managed (LETHE_SWEEP_SCHEDULE=off)\n`);
    return;
  }
  try {
    const outcome = await createScheduleService({ config, temporal }).ensure();
    write(`lethe-worker: schedule ${config.sweep.scheduleId} ${outcome} (daily at ${config.sweep.time} ${config.sweep.timezone})\n`);
  } catch (err) {
    write(`lethe-worker: ERROR could not create or update schedule ${config.sweep.scheduleId}: ${(err as Error)?.message ?? err}\n`);
  }
}
