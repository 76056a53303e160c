import os from 'node:os';
import { Command, COMMON_HELP, parse, printHelp, usage, writeJson } from '../command';
import { CliError, EXIT } from '../exit';
import { stateDir } from '../api';
import { when } from '../format';
import { ConfigError, loadConfig } from '../../../config';
import { connectTemporal } from '../../temporal';
import { createScheduleService, ScheduleView } from '../../schedule';
import { createAuditTrail } from '../../audit';
import { createDb } from '../../../stores/db';
import type { Config } from '../../../config';

const VERBS = ['pause', 'resume', 'trigger', 'describe', 'backfill'] as const;

export const scheduleCommand: Command = {
  name: 'schedule',
  summary: 'pause, resume, trigger, backfill or describe the daily inactivity sweep',
  help: `Usage: lethe schedule pause [--note TEXT]
       lethe schedule resume [--note TEXT]
       lethe schedule trigger
       lethe schedule backfill --from TIME --to TIME
       lethe schedule describe [--json]

The Temporal Schedule that runs the inactivity sweep every day. Talks to Temporal directly
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE; default the embedded stack's; with TLS, TEMPORAL_TLS_CA,
TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_SERVER_NAME or TEMPORAL_API_KEY), not to the API, and
records each change in the audit trail (DATABASE_URL) as cli:<LETHE_OPERATOR or OS user>@<host>.
Over the API the same changes need an admin token: POST /v1/schedule/{pause,resume,trigger,backfill}.

Verbs:
  pause      stop starting sweeps until resumed (the note says why, in the Web UI too)
  resume     start sweeps on schedule again
  trigger    start a sweep now, as the schedule would
  backfill   run the sweeps the schedule would have run between --from and --to (RFC 3339)
  describe   state, next runs, recent runs

${COMMON_HELP.replace(/\n {2}--api-url[^\n]*\n[^\n]*/, '')}`,

  async run(argv, io) {
    const { values, positionals } = parse('schedule', argv, { note: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } }, true);
    if (values.help) return printHelp(io, this.help);
    const verb = positionals[0] as (typeof VERBS)[number] | undefined;
    if (!verb || !VERBS.includes(verb) || positionals.length > 1) throw usage('schedule', `give one of ${VERBS.join(', ')}`);
    if (values.note !== undefined && verb !== 'pause' && verb !== 'resume') throw usage('schedule', '--note goes with pause or resume');
    let range: [Date, Date] | undefined;
    if (verb === 'backfill') {
      const from = Date.parse(values.from ?? '');
      const to = Date.parse(values.to ?? '');
      if (Number.isNaN(from) || Number.isNaN(to) || from >= to) throw usage('schedule', 'backfill needs --from and --to, RFC 3339 times, --from before --to');
      range = [new Date(from), new Date(to)];
    } else if (values.from || values.to) throw usage('schedule', '--from and --to go with backfill');

    let config;
    try {
      config = loadConfig({ ...io.env, LETHE_STATE_DIR: stateDir(io.env) }, { servesApi: false });
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(EXIT.usage, err.message);
      throw err;
    }
    // A TLS or API key mistake found while connecting is one line naming the variable.
    const temporal = await connectTemporal(config).catch((err: unknown) => {
      throw err instanceof ConfigError ? new CliError(EXIT.usage, err.message) : err;
    });
    try {
      const schedules = createScheduleService({ config, temporal });
      let result: unknown;
      try {
        result =
          verb === 'pause'
            ? await schedules.pause(values.note)
            : verb === 'resume'
              ? await schedules.resume(values.note)
              : verb === 'trigger'
                ? await schedules.trigger()
                : verb === 'backfill'
                  ? await schedules.backfill(range![0], range![1])
                  : await schedules.describe();
      } catch (err) {
        throw temporalError(err, config.temporal.address);
      }
      if (verb !== 'describe') await recordChange(config, io.env, verb, range);
      if (values.json) writeJson(io, verb === 'describe' ? result : { ok: true, action: verb });
      else io.stdout.write(verb === 'describe' ? `${renderDescription(result as ScheduleView)}\n` : `${DONE[verb]}\n`);
      return EXIT.ok;
    } finally {
      await temporal.connection.close().catch(() => undefined);
    }
  },
};

const ACTION = { pause: 'schedule.paused', resume: 'schedule.resumed', trigger: 'schedule.triggered', backfill: 'schedule.backfilled' } as const;

/**
 * The CLI changes the Schedule through Temporal, not the API, so no token names the caller: the
 * trail names the operator as the CLI knows them (LETHE_OPERATOR, else the OS user) and host.
 */
export const cliActor = (env: NodeJS.ProcessEnv): string => `cli:${env.LETHE_OPERATOR || os.userInfo().username}@${os.hostname()}`;

async function recordChange(config: Config, env: NodeJS.ProcessEnv, verb: keyof typeof ACTION, range?: [Date, Date]): Promise<void> {
  const db = createDb(config.database.url, { poolMax: 1 });
  try {
    await createAuditTrail({ db }).record({
      actor: cliActor(env),
      via: 'cli',
      action: ACTION[verb],
      scheduleId: config.sweep.scheduleId,
      ...(range ? { details: { from: range[0].toISOString(), to: range[1].toISOString() } } : {}),
    });
  } catch (err) {
    // The change is made; say plainly that its record is missing rather than hide it.
    throw new CliError(EXIT.failed, `the schedule change (${verb}) was made, but its audit entry could not be written to PostgreSQL (${(err as Error).message}); record it by hand`);
  } finally {
    await db.destroy();
  }
}

const DONE: Record<(typeof VERBS)[number], string> = {
  pause: 'Paused: no sweep starts until "lethe schedule resume".',
  resume: 'Resumed: sweeps start on schedule again.',
  trigger: 'Triggered: a sweep starts now (see "lethe schedule describe").',
  backfill: 'Backfill requested: the missed sweeps start now.',
  describe: '',
};

function temporalError(err: unknown, address: string): unknown {
  if (err instanceof CliError) return err;
  const e = err as { name?: string; code?: number; message?: string; cause?: { code?: number } };
  if (e.name === 'ScheduleNotFoundError' || e.name === 'ScheduleMissingError') return new CliError(EXIT.notFound, 'the sweep schedule does not exist yet (a worker creates it when it starts)');
  if (err instanceof RangeError) return new CliError(EXIT.usage, err.message);
  if (e.name === 'ScheduleNotSettledError') return new CliError(EXIT.unreachable, e.message ?? 'the schedule change did not show');
  if (e.code === 14 || e.cause?.code === 14 || e.code === 4 || /UNAVAILABLE|DEADLINE_EXCEEDED|connect/i.test(e.message ?? '')) {
    return new CliError(EXIT.unreachable, `cannot reach Temporal at ${address}; is it running (npm start)? Set TEMPORAL_ADDRESS if it is elsewhere`);
  }
  return err;
}

function renderDescription(d: ScheduleView): string {
  const minutes = Math.round(d.catchupWindowMs / 60_000);
  return [
    `Schedule  ${d.scheduleId}  ${d.paused ? 'PAUSED' : 'active'}${d.note ? ` (${d.note})` : ''}`,
    `Runs      ${d.workflowType} daily at ${d.time} ${d.timezone} on task queue ${d.taskQueue} (overlap ${d.overlap}, catch-up window ${minutes} min)`,
    `Next      ${d.paused ? '- (paused)' : d.nextActionTimes.map(when).join(', ') || '-'}`,
    `Running   ${d.running.join(', ') || '-'}`,
    `Recent    ${d.recentActions.length ? '' : '-'}`,
    ...d.recentActions.map((a) => `  ${when(a.takenAt)}  ${a.workflowId}`),
    `Totals    ${d.actionsTaken} started, ${d.skippedOverlap} skipped (a sweep was still running), ${d.missedCatchupWindow} missed (outside the catch-up window)`,
  ].join('\n');
}
