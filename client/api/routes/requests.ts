/**
 * `GET /v1/requests` (issue 35 item 6, CONTRACT §8): deletions, access requests and corrections
 * in one list, newest first, from Lethe's own tables in one statement a page
 * (client/request-list.ts), never a Temporal call. The operator role, as the deletion list.
 * `GET /v1/deletion-requests` stays as it was: outside tests rely on its shape.
 */
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { CHANNELS } from '../../../contract';
import { createRequestList, LIST_STATUSES, REQUEST_TYPES, RequestListCursorError, type RequestList, type RequestType } from '../../request-list';
import { ApiError } from '../errors';
import { errorResponses } from '../schemas';

const time = { type: 'string', format: 'date-time' } as const;
const uuid = { type: 'string', format: 'uuid' } as const;

const query = {
  type: 'object',
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: [...REQUEST_TYPES], description: 'Only requests of this type (all three when absent)' },
    status: {
      type: 'string',
      enum: [...LIST_STATUSES],
      description:
        'Each type has its own: deletion pending, running, blocked, completed, failed, skipped, held; access pending, running, blocked, ready, expired, cancelled, failed; correction pending, running, awaiting_confirmation, blocked, completed, refused, failed',
    },
    accountId: { ...uuid, description: "Only this account's requests" },
    channel: { type: 'string', enum: [...CHANNELS] },
    overdue: { type: 'boolean', description: 'true: past the deadline before finishing (open ones, and finished late)' },
    limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    cursor: { type: 'string', maxLength: 512, description: 'nextCursor of the previous page' },
  },
} as const;

interface Query {
  type?: RequestType;
  status?: string;
  accountId?: string;
  channel?: string;
  overdue?: boolean;
  limit?: number;
  cursor?: string;
}

const itemSchema = {
  type: 'object',
  required: ['type', 'requestId', 'accountId', 'channel', 'status', 'receivedAt', 'deadlineAt', 'overdue'],
  properties: {
    type: { type: 'string', enum: [...REQUEST_TYPES] },
    requestId: uuid,
    accountId: uuid,
    channel: { type: 'string' },
    status: { type: 'string', enum: [...LIST_STATUSES] },
    receivedAt: time,
    deadlineAt: {
      ...time,
      description: "A correction's is its receipt plus the deletion's deadline hours (its table keeps none)",
    },
    completedAt: time,
    overdue: { type: 'boolean' },
  },
} as const;

export function registerRequestListRoutes(app: FastifyInstance, deps: { db: Knex; deadlineHours: number; list?: RequestList }): void {
  const list = deps.list ?? createRequestList(deps);
  app.get<{ Querystring: Query }>(
    '/v1/requests',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'listRequests',
        tags: ['deletions', 'access', 'corrections'],
        summary: 'List requests of every type',
        description:
          "Deletion, access and correction requests, newest received first, each with its type, status and clock (deadline, overdue), from Lethe's tables; filter by type, status, account, channel and overdue; a page at a time (pass nextCursor back as cursor). Ids, statuses and times only: never an address, a correction's values or an archive's link.",
        querystring: query,
        response: {
          200: {
            type: 'object',
            required: ['items'],
            description: 'A page of requests',
            properties: { items: { type: 'array', items: itemSchema }, nextCursor: { type: 'string', description: 'Present when there are more items' } },
          },
          ...errorResponses(400, 401, 429),
        },
      },
    },
    async (req) => {
      try {
        return await list.list(req.query);
      } catch (err) {
        if (err instanceof RequestListCursorError) throw new ApiError(400, 'invalid_input', `querystring/${err.message}`, 'querystring/cursor');
        throw err;
      }
    },
  );
}
