/** Health, metrics and the API's own description. */
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import type { ApiMetrics } from '../metrics';
import { renderDocs } from '../docs';
import { errorResponses, healthSchema } from '../schemas';

export function registerOperationRoutes(app: FastifyInstance, deps: { db: Knex; temporal: Client; namespace: string; metrics: ApiMetrics }): void {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        operationId: 'health',
        tags: ['operations'],
        summary: 'Whether the API can reach Temporal and PostgreSQL',
        description: 'The one route that needs no token. Answers 503 naming what is unreachable.',
        security: [],
        response: { 200: { ...healthSchema, description: 'Both reachable' }, 503: { ...healthSchema, description: 'Something is unreachable' } },
      },
    },
    async (_req, reply) => {
      const checks: Record<string, string> = {};
      try {
        await deps.db.raw('select 1');
        checks.postgres = 'ok';
      } catch {
        checks.postgres = 'unreachable';
      }
      try {
        await deps.temporal.withDeadline(Date.now() + 5_000, () => deps.temporal.workflowService.describeNamespace({ namespace: deps.namespace }));
        checks.temporal = 'ok';
      } catch {
        checks.temporal = 'unreachable';
      }
      const healthy = Object.values(checks).every((v) => v === 'ok');
      return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'unavailable', checks });
    },
  );

  app.get(
    '/metrics',
    {
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
      return reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
        .send(docs);
    },
  );
}
