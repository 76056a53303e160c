/**
 * The HTTP API (CONTRACT §5), a factory over its dependencies so tests start it on port 0
 * against the real stack.
 */
import Fastify, { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import type { Config } from '../../config';
import { createTokenChecker } from './auth';

export interface ApiDeps {
  config: Config;
  db: Knex;
  temporal: Client;
}

export function createApiServer(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    bodyLimit: 64 * 1024,
    // Log method, route and status only: bodies and headers can hold tokens and personal data.
    logger: false,
  });
  const tokenOk = createTokenChecker(deps.config.api.tokens);

  app.addHook('onRequest', async (req, reply) => {
    if (req.url === '/healthz') return;
    if (!tokenOk(req.headers.authorization)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'missing or invalid bearer token' });
    }
  });

  app.get('/healthz', async (_req, reply) => {
    const checks: Record<string, string> = {};
    try {
      await deps.db.raw('select 1');
      checks.postgres = 'ok';
    } catch {
      checks.postgres = 'unreachable';
    }
    try {
      await deps.temporal.workflowService.describeNamespace({ namespace: deps.config.temporal.namespace });
      checks.temporal = 'ok';
    } catch {
      checks.temporal = 'unreachable';
    }
    const healthy = Object.values(checks).every((v) => v === 'ok');
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'unavailable', checks });
  });

  return app;
}
