/**
 * `/v1/deletion-requests`: file a request and read it (requester), list them, retry and resolve
 * (operator). Each change is written to the audit trail once it has been carried out.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Intake } from '../../intake';
import type { FrontDoor, VerificationView } from '../../front-door';
import type { RequestReader } from '../../requests';
import type { OperatorActions } from '../../operator';
import type { Store } from '../../../contract';
import type { ApiMetrics } from '../metrics';
import type { AuditTrail } from '../../audit';
import { ApiError } from '../errors';
import {
  DeletionRequestBody,
  ListQuery,
  deletionRequestBody,
  deletionViewSchema,
  errorResponses,
  listQuery,
  listSchema,
  actionsSchema,
  bulkRetryBody,
  bulkRetrySchema,
  resolveBody,
  retryBody,
  requestIdParams,
  startedSchema,
} from '../schemas';

/** The list's items with each store's recorded state (lethe.deletion_store_states), beside the contract's fields. */
const listWithStores = {
  ...listSchema,
  properties: {
    ...listSchema.properties,
    items: {
      ...listSchema.properties.items,
      items: {
        ...listSchema.properties.items.items,
        properties: {
          ...listSchema.properties.items.items.properties,
          stores: {
            type: 'array',
            description: "Each store's state as the deletion's workflow last recorded it (absent before the freeze)",
            items: {
              type: 'object',
              properties: {
                store: { type: 'string', enum: ['media', 'auth0', 'recurly', 'database'] },
                status: { type: 'string', enum: ['pending', 'running', 'retrying', 'blocked', 'verified', 'resolved'] },
              },
            },
          },
        },
      },
    },
  },
} as const;

export function registerDeletionRoutes(
  app: FastifyInstance,
  deps: {
    emailVerifiedTokens?: string[];
    intake: Intake;
    frontDoor: FrontDoor;
    requests: RequestReader;
    operator: OperatorActions;
    metrics: ApiMetrics;
    audit: AuditTrail;
    caller: (req: FastifyRequest) => string;
  },
): void {
  const { intake, frontDoor, requests, operator, metrics, audit } = deps;

  /** A request still waiting for the person (or refused before), shaped like a deletion's view. */
  const waiting = (v: VerificationView) => ({
    requestId: v.requestId,
    accountId: v.accountId,
    channel: v.channel,
    status: v.status,
    receivedAt: v.firstContactAt,
    firstContactAt: v.firstContactAt,
    verification: 'email',
    ...(v.status === 'awaiting_confirmation' && v.expiresAt ? { confirmBy: v.expiresAt } : {}),
    overdue: false,
    steps: [],
  });

  app.post<{ Body: DeletionRequestBody }>(
    '/v1/deletion-requests',
    {
      config: { countsDeletionRequests: true, role: 'requester' },
      schema: {
        operationId: 'createDeletionRequest',
        tags: ['deletions'],
        summary: 'File a deletion request',
        description:
          'Starts the deletion of one account (by id, or by an email that names exactly one account when letter case is ignored, counting deletions under way and those completed within LETHE_TWIN_GUARD_DAYS; an email that names more than one is refused with 409: file by accountId). A request for an account whose deletion is under way joins it and answers the same requestId (an earlier receivedAt moves the deadline earlier); one for an account Lethe already deleted answers 200 with the request that deleted it.',
        body: deletionRequestBody,
        response: {
          202: { ...startedSchema, description: 'Accepted; Location names the status resource' },
          200: { ...startedSchema, description: 'The account was already deleted by this request' },
          ...errorResponses(400, 401, 404, 409, 413, 415, 429, 503),
        },
      },
    },
    async (req, reply) => {
      const body = req.body;
      // A token configured to verify by mail never vouches for the person itself.
      if (deps.emailVerifiedTokens?.includes(deps.caller(req))) {
        if (body.verification === 'staff') {
          throw new ApiError(400, 'invalid_input', `body/verification: the token "${deps.caller(req)}" files requests verified by email only (LETHE_EMAIL_VERIFIED_TOKENS)`, 'body/verification');
        }
        body.verification = 'email';
      }
      if (body.verification === 'email') {
        // The person confirms by the link mailed to the account's address; nothing starts before.
        const accountId = await intake.accountFor({ ...body });
        const v = await frontDoor.fileForAccount({ accountId, channel: body.channel, requestedBy: body.requestedBy });
        await audit.record({
          actor: deps.caller(req),
          via: 'api',
          action: 'deletion_request.verification_sent',
          requestId: v.requestId,
          accountId,
          details: { channel: body.channel, verification: 'email' },
        });
        metrics.deletionRequest(body.channel, 'awaiting_confirmation');
        return reply
          .code(202)
          .header('location', `/v1/deletion-requests/${v.requestId}`)
          .send({ requestId: v.requestId, accountId, status: 'awaiting_confirmation', receivedAt: v.firstContactAt, ...(v.expiresAt ? { confirmBy: v.expiresAt } : {}), existing: false });
      }
      let started;
      try {
        started = await intake.start({ ...body });
      } catch (err) {
        // Refusals (400) are counted by the error handler, with the schema's.
        if ((err as { code?: string }).code === 'account_not_found') metrics.deletionRequest(body.channel, 'not_found');
        throw err;
      }
      const done = started.existing && started.status === 'completed';
      // The channel and the ids; never the email the request may have named the account by.
      await audit.record({
        actor: deps.caller(req),
        via: 'api',
        action: 'deletion_request.filed',
        requestId: started.requestId,
        accountId: started.accountId,
        // `staff`: the caller (this token, and requestedBy) vouches that the person asked.
        details: { channel: body.channel, existing: started.existing === true, verification: 'staff', ...(body.requestedBy ? { requestedBy: body.requestedBy } : {}) },
      });
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

  app.get<{ Params: { requestId: string }; Querystring: { live?: boolean } }>(
    '/v1/deletion-requests/:requestId',
    {
      config: { role: 'requester' },
      schema: {
        operationId: 'getDeletionRequest',
        tags: ['deletions'],
        summary: 'Status of one deletion request',
        description:
          "A running deletion's stores as its workflow recorded them in Lethe's tables (a failing store's reason is its failure type), joined with the PII-free receipt once completed; `live=true` asks the workflow itself (the vendor's reason, the attempts of a step being retried), as does a blocked request. From Lethe's records alone once the workflow history has expired.",
        params: requestIdParams,
        querystring: {
          type: 'object',
          properties: { live: { type: 'boolean', default: false, description: "Ask the running workflow for its live progress instead of Lethe's tables (slower: a worker answers)" } },
        },
        response: { 200: { ...deletionViewSchema, description: 'The request' }, ...errorResponses(400, 401, 404, 429) },
      },
    },
    async (req) => {
      const view = await requests.get(req.params.requestId, { live: req.query.live === true });
      if (view) return view;
      const v = await frontDoor.view(req.params.requestId);
      // Confirmed into a deletion already under way for the account: that deletion answers.
      const joined = v?.deletionRequestId ? await requests.get(v.deletionRequestId) : null;
      if (joined) return joined;
      if (v?.accountId) return waiting(v);
      if (!view) throw new ApiError(404, 'not_found', `no deletion request has id ${req.params.requestId}`, 'params/requestId');
      return view;
    },
  );

  app.get<{ Querystring: ListQuery }>(
    '/v1/deletion-requests',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'listDeletionRequests',
        tags: ['deletions'],
        summary: 'List deletion requests',
        description: 'Newest filed first; filter by status, channel and overdue; a page at a time (pass nextCursor back as cursor).',
        querystring: listQuery,
        response: { 200: { ...listWithStores, description: 'A page of requests' }, ...errorResponses(400, 401, 429) },
      },
    },
    async (req) => requests.list(req.query),
  );

  const view = async (requestId: string) => {
    const v = await requests.get(requestId);
    if (!v) throw new ApiError(404, 'not_found', `no deletion request has id ${requestId}`, 'params/requestId');
    return v;
  };

  app.post<{ Params: { requestId: string }; Body: { by?: string } | null }>(
    '/v1/deletion-requests/:requestId/retry',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'retryDeletionRequest',
        tags: ['deletions'],
        summary: 'Retry the blocked or failed stores of one request now',
        description:
          'A running deletion tries every store that is not yet verified at once; a failed or terminated one is resumed as a new run of the same request from what Lethe captured at the freeze. Recorded with who did it (`by`, default the token).',
        params: requestIdParams,
        body: retryBody,
        response: { 202: { ...deletionViewSchema, description: 'The request, after the retry was asked for' }, ...errorResponses(400, 401, 404, 409, 429) },
      },
    },
    async (req, reply) => {
      const r = await operator.retry(req.params.requestId, req.body?.by ?? deps.caller(req));
      await audit.record({ actor: deps.caller(req), via: 'api', action: 'deletion_request.retried', requestId: r.requestId, details: { actionId: r.actionId, outcome: r.outcome } });
      return reply.code(202).send(await view(req.params.requestId));
    },
  );

  app.post<{ Params: { requestId: string }; Body: { store: Store; justification: string; by: string } }>(
    '/v1/deletion-requests/:requestId/resolve',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'resolveDeletionStore',
        tags: ['deletions'],
        summary: 'Record that one store was dealt with outside Lethe',
        description:
          "For a store Lethe cannot finish (e.g. a legal hold on media): the operator states what was done and by whom. Only a store that is `blocked` now, as this request's status view shows it (`stores[].status`, `blocked[]`); any other store (pending, running, retrying, verified, resolved) or a request whose deletion is not running is refused with 409 naming the store and its state. The receipt shows the store as resolved outside Lethe, never as a verified deletion; the justification stays in the action trail, pruned with the audit trail (LETHE_AUDIT_RETENTION_DAYS).",
        params: requestIdParams,
        body: resolveBody,
        response: { 202: { ...deletionViewSchema, description: 'The request, after the resolution' }, ...errorResponses(400, 401, 404, 409, 429) },
      },
    },
    async (req, reply) => {
      const r = await operator.resolve(req.params.requestId, req.body.store, req.body.justification, req.body.by);
      // The justification is free text: it stays in the operator trail, which actionId names.
      await audit.record({ actor: deps.caller(req), via: 'api', action: 'deletion_request.resolved', requestId: r.requestId, details: { actionId: r.actionId, store: req.body.store } });
      return reply.code(202).send(await view(req.params.requestId));
    },
  );

  app.get<{ Params: { requestId: string } }>(
    '/v1/deletion-requests/:requestId/actions',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'listOperatorActions',
        tags: ['deletions'],
        summary: 'The operator actions taken on one request',
        params: requestIdParams,
        response: { 200: actionsSchema, ...errorResponses(400, 401, 404, 429) },
      },
    },
    async (req) => {
      await view(req.params.requestId);
      return { items: await operator.actionsOf(req.params.requestId) };
    },
  );

  app.post<{ Body: { status: 'blocked' | 'failed'; channel?: string; receivedBefore?: string; dryRun?: boolean; by?: string } }>(
    '/v1/deletion-requests/retry',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'retryDeletionRequests',
        tags: ['deletions'],
        summary: 'Retry every blocked or failed request matching a filter',
        description: 'A dry run (the default) counts and lists what would be retried; `dryRun: false` retries each (up to 1000 a call).',
        body: bulkRetryBody,
        response: { 200: bulkRetrySchema, ...errorResponses(400, 401, 429) },
      },
    },
    async (req) => {
      const { dryRun = true, by, ...filter } = req.body;
      const result = await operator.retryMatching(filter, { dryRun, by: by ?? deps.caller(req) });
      // A dry run changes nothing; each retry of a real run is its own entry as well.
      if (!dryRun) {
        for (const r of result.retried ?? []) {
          await audit.record({ actor: deps.caller(req), via: 'api', action: 'deletion_request.retried', requestId: r.requestId, details: { actionId: r.actionId, outcome: r.outcome } });
        }
        await audit.record({
          actor: deps.caller(req),
          via: 'api',
          action: 'deletion_requests.bulk_retried',
          details: { status: filter.status, ...(filter.channel ? { channel: filter.channel } : {}), matched: result.matched, retried: result.retried?.length ?? 0 },
        });
      }
      return result;
    },
  );
}
