/** `/v1/sweeps`: run the inactivity sweep now (or as a dry run) and read its outcome. */
import type { FastifyInstance } from 'fastify';
import type { SweepService } from '../../sweeps';
import type { ApiMetrics } from '../metrics';
import { ApiError } from '../errors';
import { errorResponses, sweepBody, sweepParams, sweepQuery, sweepStartedSchema, sweepViewSchema } from '../schemas';

export function registerSweepRoutes(app: FastifyInstance, deps: { sweeps: SweepService; metrics: ApiMetrics }): void {
  app.post<{ Body: { dryRun?: boolean } }>(
    '/v1/sweeps',
    {
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
