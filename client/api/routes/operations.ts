/** Health, metrics and the API's own description. */
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import type { ApiMetrics } from '../metrics';
import { renderDocs } from '../docs';
import { errorResponses } from '../schemas';
import { createHealthTracker, healthBody, healthQuery, healthResponseSchema } from '../health';

export function registerOperationRoutes(app: FastifyInstance, deps: { db: Knex; temporal: Client; namespace: string; metrics: ApiMetrics }): void {
  // Issue 22: each dependency's state and since when, probed in the background as well.
  const health = createHealthTracker({
    postgres: () => deps.db.raw('select 1'),
    temporal: () => deps.temporal.withDeadline(Date.now() + 5_000, () => deps.temporal.workflowService.describeNamespace({ namespace: deps.namespace })),
  });
  app.addHook('onReady', async () => health.start());
  app.addHook('onClose', async () => health.stop());

  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        operationId: 'health',
        tags: ['operations'],
        summary: 'Whether the API can reach Temporal and PostgreSQL',
        description:
          'The one route that needs no token. Answers 503 naming what is unreachable; `?detail=true` also says since when each dependency has been in its state (as seen by this API process, probed every 10 s).',
        security: [],
        querystring: healthQuery,
        response: { 200: { ...healthResponseSchema, description: 'Both reachable' }, 503: { ...healthResponseSchema, description: 'Something is unreachable' } },
      },
    },
    async (req, reply) => {
      const { healthy, body } = healthBody(await health.check(), (req.query as { detail?: boolean }).detail === true);
      return reply.code(healthy ? 200 : 503).send(body);
    },
  );

  app.get(
    '/metrics',
    {
      // Counts by channel and outcome: an operator's view, not a requester's.
      config: { role: 'operator' },
      schema: {
        operationId: 'metrics',
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description:
          'Requests by route and status, deletion requests by channel and outcome, deletions in flight, near their deadline and overdue. Behind the token like every route: give Prometheus `authorization: { credentials_file: … }`.',
        response: {
          200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errorResponses(401, 429),
        },
      },
    },
    async (_req, reply) => {
      const text = await deps.metrics.registry.metrics();
      return reply.header('content-type', deps.metrics.registry.contentType).send(text);
    },
  );

  app.get(
    '/openapi.json',
    {
      config: { role: 'requester' },
      schema: {
        operationId: 'openapi',
        tags: ['operations'],
        summary: 'This OpenAPI document',
        response: { 200: { description: 'OpenAPI 3.0 document', type: 'object', additionalProperties: true }, ...errorResponses(401, 429) },
      },
    },
    async () => app.swagger(),
  );

  let docs: string | undefined;
  app.get(
    '/docs',
    {
      config: { role: 'requester' },
      schema: {
        operationId: 'docs',
        tags: ['operations'],
        summary: 'Human-readable API documentation',
        description: 'Rendered from /openapi.json. Behind the token like every route but /healthz.',
        response: { 200: { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } }, ...errorResponses(401, 429) },
      },
    },
    async (_req, reply) => {
      docs ??= renderDocs(app.swagger() as unknown as Record<string, unknown>);
      return reply.header('content-type', 'text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").send(docs);
    },
  );
}
