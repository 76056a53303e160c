/**
 * `/v1/access-requests` (CONTRACT §8, docs/access.md): file a request for a copy of a person's
 * data and read it back, with the roles of the deletion routes (requester), and an operator's
 * retry of its failing stores (operator, as the deletion's retry). The links to the archive are
 * mailed to the account's address on file and never answered here.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { accessRequestBody, AccessRequestError, type AccessRequestBody, type AccessService } from '../../access';
import type { ApiMetrics } from '../metrics';
import type { AuditTrail } from '../../audit';
import { ApiError } from '../errors';
import { errorResponses, requestIdParams, retryBody } from '../schemas';

const time = { type: 'string', format: 'date-time' } as const;
const uuid = { type: 'string', format: 'uuid' } as const;
const STATUSES = ['pending', 'running', 'blocked', 'ready', 'expired', 'cancelled', 'failed'] as const;

export const accessViewSchema = {
  type: 'object',
  required: ['requestId', 'accountId', 'status', 'receivedAt', 'deadlineAt'],
  properties: {
    requestId: uuid,
    accountId: uuid,
    channel: { type: 'string' },
    status: {
      type: 'string',
      enum: [...STATUSES],
      description:
        '`ready`: the archive is written and its links mailed, until `archive.expiresAt`; `expired`: the archive was deleted at its expiry; `cancelled`: the account is being deleted, and the archive with it',
    },
    receivedAt: time,
    deadlineAt: time,
    completedAt: { ...time, description: 'When the archive was ready' },
    overdue: { type: 'boolean' },
    requestedBy: { type: 'string' },
    existing: { type: 'boolean', description: 'True when an access request for the account was already open: this is that request' },
    stores: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', enum: ['database', 'auth0', 'recurly', 'media'] },
          status: { type: 'string', enum: ['pending', 'running', 'retrying', 'blocked', 'done'] },
          attempts: { type: 'integer' },
          reason: { type: 'string' },
          since: time,
          counts: { type: 'object', additionalProperties: { type: 'integer' } },
        },
      },
    },
    blocked: { type: 'array', items: { type: 'object', properties: { store: { type: 'string' }, reason: { type: 'string' }, since: time } } },
    receipt: {
      type: 'object',
      description: 'Once the archive is ready: per store (database, auth0, recurly, media), what was gathered, as counts; no personal data',
      properties: { counts: { type: 'object', additionalProperties: { type: 'object', additionalProperties: { type: 'integer' } } } },
    },
    reason: { type: 'string', description: 'Why a `failed` request failed (Lethe’s own words), where known' },
    archive: {
      type: 'object',
      description: 'The archive: how many parts, their size, when the links expire (and the archive is deleted). Never a link.',
      properties: { parts: { type: 'integer' }, bytes: { type: 'integer' }, expiresAt: time, deletedAt: time },
    },
  },
} as const;

/** The service's refusals as the API's errors (the body's field named). */
function asApiError(err: unknown): unknown {
  if (!(err instanceof AccessRequestError)) return err;
  const status = err.code === 'account_not_found' || err.code === 'not_found' ? 404 : err.code === 'ambiguous_email' || err.code === 'deletion_in_progress' || err.code === 'conflict' ? 409 : 400;
  const field = err.field ? `body/${err.field}` : undefined;
  return new ApiError(status, err.code, field && !err.message.startsWith(err.field!) ? `${field}: ${err.message}` : field ? `body/${err.message}` : err.message, field);
}

export function registerAccessRoutes(app: FastifyInstance, deps: { access: AccessService; metrics: ApiMetrics; audit: AuditTrail; caller: (req: FastifyRequest) => string }): void {
  const { access, metrics, audit } = deps;

  app.post<{ Body: AccessRequestBody }>(
    '/v1/access-requests',
    {
      config: { role: 'requester' },
      schema: {
        operationId: 'createAccessRequest',
        tags: ['access'],
        summary: 'File a request for a copy of a person’s data',
        description:
          "Gathers everything Lethe's stores hold about one account (by id, or by an email that names exactly one account when letter case is ignored, as for deletions; 409 for an ambiguous one) into a ZIP archive, and mails read-only links to the account's address on file (docs/access.md). A second request while one is open answers that one. 409 while the account is being deleted.",
        body: accessRequestBody,
        response: { 202: { ...accessViewSchema, description: 'Accepted; Location names the status resource' }, ...errorResponses(400, 401, 404, 409, 413, 415, 429, 503) },
      },
    },
    async (req, reply) => {
      const filed = await access.file({ ...req.body }).catch((err: unknown) => {
        throw asApiError(err);
      });
      // The channel and the ids; never the email the request may have named the account by.
      await audit.record({
        actor: deps.caller(req),
        via: 'api',
        action: 'access_request.filed',
        requestId: filed.requestId,
        accountId: filed.accountId,
        details: { channel: req.body.channel, existing: filed.existing, verification: 'staff', ...(req.body.requestedBy ? { requestedBy: req.body.requestedBy } : {}) },
      });
      if (!filed.existing) metrics.requestFiled('access');
      return reply.code(202).header('location', `/v1/access-requests/${filed.requestId}`).send(filed);
    },
  );

  app.get<{ Params: { requestId: string } }>(
    '/v1/access-requests/:requestId',
    {
      config: { role: 'requester' },
      schema: {
        operationId: 'getAccessRequest',
        tags: ['access'],
        summary: 'Status of one access request',
        description: 'Each store’s gathering while it runs (with what blocks it), then the archive’s parts, size and expiry. The links are never answered: they went to the account’s address.',
        params: requestIdParams,
        response: { 200: { ...accessViewSchema, description: 'The request' }, ...errorResponses(400, 401, 404, 429) },
      },
    },
    async (req) => {
      const v = await access.get(req.params.requestId);
      if (!v) throw new ApiError(404, 'not_found', `no access request has id ${req.params.requestId}`, 'params/requestId');
      return v;
    },
  );

  app.post<{ Params: { requestId: string }; Body: { by?: string } | null }>(
    '/v1/access-requests/:requestId/retry',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'retryAccessRequest',
        tags: ['access'],
        summary: 'Retry the blocked or failed stores of one access request now',
        description:
          'As the deletion’s retry: a request still gathering or writing tries every failing store (and the archive) at once; a failed or terminated one is started again as a new run of the same request, which gathers everything afresh. 409 for a request that is ready, expired or cancelled, or whose account is being deleted. Recorded with who did it (`by`, default the token).',
        params: requestIdParams,
        body: retryBody,
        response: { 202: { ...accessViewSchema, description: 'The request, after the retry was asked for' }, ...errorResponses(400, 401, 404, 409, 429) },
      },
    },
    async (req, reply) => {
      const r = await access.retry(req.params.requestId, req.body?.by ?? deps.caller(req)).catch((err: unknown) => {
        throw asApiError(err);
      });
      await audit.record({
        actor: deps.caller(req),
        via: 'api',
        action: 'access_request.retried',
        requestId: r.view.requestId,
        accountId: r.view.accountId,
        details: { actionId: r.actionId, outcome: r.outcome },
      });
      return reply.code(202).send(r.view);
    },
  );
}
