/** `/v1/deletion-requests`: file a request, read its status, list requests. */
import type { FastifyInstance } from 'fastify';
import type { Intake } from '../../intake';
import type { RequestReader } from '../../requests';
import type { ApiMetrics } from '../metrics';
import { ApiError } from '../errors';
import {
  DeletionRequestBody,
  ListQuery,
  deletionRequestBody,
  deletionViewSchema,
  errorResponses,
  listQuery,
  listSchema,
  requestIdParams,
  startedSchema,
} from '../schemas';

export function registerDeletionRoutes(app: FastifyInstance, deps: { intake: Intake; requests: RequestReader; metrics: ApiMetrics }): void {
  const { intake, requests, metrics } = deps;

  app.post<{ Body: DeletionRequestBody }>(
    '/v1/deletion-requests',
    {
      config: { countsDeletionRequests: true },
      schema: {
        operationId: 'createDeletionRequest',
        tags: ['deletions'],
        summary: 'File a deletion request',
        description:
          'Starts the deletion of one account (by id, or by email matched exactly and case-insensitively). A request for an account whose deletion is under way joins it and answers the same requestId (an earlier receivedAt moves the deadline earlier); one for an account Lethe already deleted answers 200 with the request that deleted it.',
        body: deletionRequestBody,
        response: {
          202: { ...startedSchema, description: 'Accepted; Location names the status resource' },
          200: { ...startedSchema, description: 'The account was already deleted by this request' },
          ...errorResponses(400, 401, 404, 413, 415, 429, 503),
        },
      },
    },
    async (req, reply) => {
      const body = req.body;
      let started;
      try {
        started = await intake.start({ ...body });
      } catch (err) {
        // Refusals (400) are counted by the error handler, with the schema's.
        if ((err as { code?: string }).code === 'account_not_found') metrics.deletionRequest(body.channel, 'not_found');
        throw err;
      }
      const done = started.existing && started.status === 'completed';
      metrics.deletionRequest(body.channel, done ? 'already_completed' : started.existing ? 'joined' : 'accepted');
      return reply
        .code(done ? 200 : 202)
        .header('location', `/v1/deletion-requests/${started.requestId}`)
        .send({
          requestId: started.requestId,
          accountId: started.accountId,
          status: started.status,
          receivedAt: started.receivedAt,
          deadlineAt: started.deadlineAt,
          existing: started.existing,
        });
    },
  );

  app.get<{ Params: { requestId: string } }>(
    '/v1/deletion-requests/:requestId',
    {
      schema: {
        operationId: 'getDeletionRequest',
        tags: ['deletions'],
        summary: 'Status of one deletion request',
        description:
          "The workflow's live progress (steps, attempts of a step being retried, deadline flags) joined with the PII-free receipt once completed; from Lethe's records alone once the workflow history has expired.",
        params: requestIdParams,
        response: { 200: { ...deletionViewSchema, description: 'The request' }, ...errorResponses(400, 401, 404, 429) },
      },
    },
    async (req) => {
      const view = await requests.get(req.params.requestId);
      if (!view) throw new ApiError(404, 'not_found', `no deletion request has id ${req.params.requestId}`, 'params/requestId');
      return view;
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/v1/deletion-requests',
    {
      schema: {
        operationId: 'listDeletionRequests',
        tags: ['deletions'],
        summary: 'List deletion requests',
        description: 'Newest filed first; filter by status, channel and overdue; a page at a time (pass nextCursor back as cursor).',
        querystring: listQuery,
        response: { 200: { ...listSchema, description: 'A page of requests' }, ...errorResponses(400, 401, 429) },
      },
    },
    async (req) => requests.list(req.query),
  );
}
