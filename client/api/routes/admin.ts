/**
 * `/v1/schedule`: the daily sweep's Schedule, read by operators and changed only by admins
 * (pausing it stops deletions of inactive accounts; triggering or backfilling deletes them
 * now). `/v1/audit`: who changed what, for operators.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ScheduleService } from '../../schedule';
import type { AuditAction, AuditQuery, AuditTrail } from '../../audit';
import { ApiError } from '../errors';
import { auditListSchema, auditQuery, errorResponses, scheduleBackfillBody, scheduleNoteBody, scheduleViewSchema } from '../schemas';

export function registerScheduleRoutes(app: FastifyInstance, deps: { schedules: ScheduleService; audit: AuditTrail; scheduleId: string; caller: (req: FastifyRequest) => string }): void {
  const { schedules, audit } = deps;

  app.get(
    '/v1/schedule',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'describeSchedule',
        tags: ['sweeps'],
        summary: "The inactivity sweep's daily Schedule",
        description: 'Paused or not, next and recent runs; 404 until a worker has created it.',
        response: { 200: scheduleViewSchema, ...errorResponses(401, 404, 429, 503) },
      },
    },
    async () => schedules.describe(),
  );

  const change = (verb: 'pause' | 'resume' | 'trigger', action: AuditAction, summary: string, run: (note?: string) => Promise<void>) =>
    app.post<{ Body: { note?: string } | null }>(
      `/v1/schedule/${verb}`,
      {
        config: { role: 'admin' },
        schema: {
          operationId: `${verb}Schedule`,
          tags: ['sweeps'],
          summary,
          ...(verb === 'trigger' ? {} : { body: scheduleNoteBody }),
          response: { 200: scheduleViewSchema, ...errorResponses(400, 401, 404, 429, 503) },
        },
      },
      async (req) => {
        await run(req.body?.note);
        // The note is free text and stays on the Schedule; the trail keeps the verb and the id.
        await audit.record({ actor: deps.caller(req), via: 'api', action, scheduleId: deps.scheduleId });
        return schedules.describe();
      },
    );
  change('pause', 'schedule.paused', 'Pause the daily sweep until resumed', (note) => schedules.pause(note));
  change('resume', 'schedule.resumed', 'Resume the daily sweep', (note) => schedules.resume(note));
  change('trigger', 'schedule.triggered', 'Start a real sweep now, as the Schedule would (skipped while one runs)', () => schedules.trigger());

  app.post<{ Body: { from: string; to: string } }>(
    '/v1/schedule/backfill',
    {
      config: { role: 'admin' },
      schema: {
        operationId: 'backfillSchedule',
        tags: ['sweeps'],
        summary: 'Take now the runs the Schedule would have taken between from and to',
        body: scheduleBackfillBody,
        response: { 200: scheduleViewSchema, ...errorResponses(400, 401, 404, 429, 503) },
      },
    },
    async (req) => {
      const from = new Date(req.body.from);
      const to = new Date(req.body.to);
      if (!(from < to)) throw new ApiError(400, 'invalid_input', 'body/from must be before body/to', 'body/from');
      await schedules.backfill(from, to);
      await audit.record({ actor: deps.caller(req), via: 'api', action: 'schedule.backfilled', scheduleId: deps.scheduleId, details: { from: from.toISOString(), to: to.toISOString() } });
      return schedules.describe();
    },
  );
}

export function registerAuditRoutes(app: FastifyInstance, deps: { audit: AuditTrail }): void {
  app.get<{ Querystring: AuditQuery }>(
    '/v1/audit',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'listAudit',
        tags: ['audit'],
        summary: 'Who changed what: requests filed, retries, resolutions, sweeps, Schedule changes',
        description:
          "Newest first, a page at a time (pass nextCursor back as cursor). Each entry names the token (or the CLI's operator identity), the action and the ids it touched; never personal data. Kept for LETHE_AUDIT_RETENTION_DAYS.",
        querystring: auditQuery,
        response: { 200: auditListSchema, ...errorResponses(400, 401, 429) },
      },
    },
    async (req) => deps.audit.list(req.query),
  );
}
