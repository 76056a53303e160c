/**
 * `/v1/sweeps`: run the inactivity sweep now and read its outcome. A dry run only reports and
 * needs an operator; a real sweep deletes every eligible account and needs an admin.
 */
import type { FastifyInstance } from 'fastify';
import type { SweepService } from '../../sweeps';
import type { FastifyRequest } from 'fastify';
import type { ApiMetrics } from '../metrics';
import type { AuditTrail } from '../../audit';
import { ApiError } from '../errors';
import { errorResponses, sweepBody, sweepParams, sweepQuery, sweepStartedSchema, sweepViewSchema } from '../schemas';

export function registerSweepRoutes(app: FastifyInstance, deps: { sweeps: SweepService; metrics: ApiMetrics; audit: AuditTrail; caller: (req: FastifyRequest) => string }): void {
  app.post<{ Body: { dryRun?: boolean } }>(
    '/v1/sweeps',
    {
      config: {
        role: 'operator',
        // No body, or no dryRun, is a real sweep (the default): only a dry run is an operator's.
        roleFor: (req) => ((req.body as { dryRun?: boolean } | undefined)?.dryRun === true ? undefined : { role: 'admin', what: 'POST /v1/sweeps (a real sweep; dryRun: true needs only operator)' }),
      },
      // No body at all means the defaults, as `{}` would.
      preValidation: async (req) => {
        if (req.body === undefined || req.body === null) req.body = {};
      },
      schema: {
        operationId: 'startSweep',
        tags: ['sweeps'],
        summary: 'Start an inactivity sweep',
        description: 'Selects accounts inactive for over 24 months with no live subscription and starts their deletions (channel `inactivity`); with dryRun, only reports them.',
        body: sweepBody,
        response: { 202: { ...sweepStartedSchema, description: 'Started; Location names the sweep' }, ...errorResponses(400, 401, 429, 503) },
      },
    },
    async (req, reply) => {
      const dryRun = req.body.dryRun ?? false;
      const { sweepId } = await deps.sweeps.start({ dryRun });
      await deps.audit.record({ actor: deps.caller(req), via: 'api', action: 'sweep.started', sweepId, details: { dryRun } });
      deps.metrics.sweepStarted(dryRun);
      return reply
        .code(202)
        .header('location', `/v1/sweeps/${encodeURIComponent(sweepId)}`)
        .send({ sweepId });
    },
  );

  app.get<{ Params: { sweepId: string }; Querystring: { pageToken?: string; pageSize?: number } }>(
    '/v1/sweeps/:sweepId',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'getSweep',
        tags: ['sweeps'],
        summary: 'Progress and outcome of a sweep',
        description: 'Counts so far; the eligible accountIds a page at a time (pageToken from nextPageToken).',
        params: sweepParams,
        querystring: sweepQuery,
        response: { 200: { ...sweepViewSchema, description: 'The sweep' }, ...errorResponses(400, 401, 404, 429) },
      },
    },
    async (req) => {
      const view = await deps.sweeps.get(req.params.sweepId, { pageToken: req.query.pageToken, pageSize: req.query.pageSize });
      if (!view) throw new ApiError(404, 'not_found', `no sweep has id ${req.params.sweepId}`, 'params/sweepId');
      return view;
    },
  );
}
