/**
 * `/v1/correction-requests` (CONTRACT §8, docs/correction.md): an operator files a correction the
 * person asked support for, reads it back, and retries a store that keeps failing; and the two
 * pages of the link mailed to a new email address (no token: the link is the proof), in their own
 * scope that alone parses HTML forms.
 *
 * The pages follow the front door's (client/api/routes/privacy.ts): `GET /corrections/confirm`
 * only shows a button (mail scanners open links on their own), `POST` confirms, and the form
 * carries a CSRF token that must equal a SameSite=Strict, HttpOnly cookie (double submit).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import type { AuditTrail } from '../../audit';
import { CorrectionLinkError, type CorrectionRequestBody, type CorrectionService } from '../../corrections';
import { CORRECTION_FIELDS, CORRECTION_STATUSES, CORRECTION_STORES, type CorrectionStatus } from '../../../contract/correction';
import { EMAIL_PATTERN, identifierSchema, uuidSchema as uuid } from '../../validation';
import { REQUEST_CHANNELS } from '../../../contract';
import { PAGE_HEADERS, esc, page } from '../../pages/layout';
import { createRateLimiter } from '../rate-limit';
import { ApiError } from '../errors';
import { errorResponses } from '../schemas';
import type { ApiMetrics } from '../metrics';

const EMAIL = new RegExp(EMAIL_PATTERN);
const CSRF_COOKIE = 'lethe_correction_csrf';
const time = { type: 'string', format: 'date-time' } as const;
const fieldName = { type: 'string', enum: [...CORRECTION_FIELDS] } as const;

const requestBody = {
  type: 'object',
  additionalProperties: false,
  required: ['accountId', 'changes', 'channel'],
  properties: {
    accountId: { ...uuid, description: 'The account to correct' },
    changes: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      description:
        'The new values, by field: applied to the database, the Auth0 user (name, phone, email) and the Recurly account (name, email, address and phone). `null` clears phone, address_line2 or region. A new email is applied only after the person confirms a link mailed to it.',
      properties: Object.fromEntries(CORRECTION_FIELDS.map((f) => [f, { type: ['string', 'null'], maxLength: 320 }])),
    },
    channel: { type: 'string', enum: [...REQUEST_CHANNELS], description: 'Where the person asked' },
    requestedBy: identifierSchema('Who filed it (a staff id)'),
  },
} as const;

const storeSchema = {
  type: 'object',
  properties: {
    store: { type: 'string', enum: [...CORRECTION_STORES] },
    status: { type: 'string' },
    fields: { type: 'array', items: fieldName },
    applied: { type: 'array', items: fieldName },
    attempts: { type: 'integer' },
    detail: { type: 'string' },
    since: time,
  },
} as const;

const viewSchema = {
  type: 'object',
  required: ['requestId', 'accountId', 'status', 'fields', 'receivedAt'],
  properties: {
    requestId: uuid,
    accountId: uuid,
    channel: { type: 'string' },
    status: { type: 'string', enum: [...CORRECTION_STATUSES] },
    fields: { type: 'array', items: fieldName, description: 'The fields asked for, by name (never their values)' },
    receivedAt: time,
    completedAt: time,
    email: { type: 'object', properties: { status: { type: 'string' }, confirmBy: time } },
    stores: { type: 'array', items: storeSchema },
    blocked: { type: 'array', items: { type: 'object', properties: { store: { type: 'string' }, reason: { type: 'string' }, since: time } } },
    reason: { type: 'string' },
    receipt: {
      type: 'object',
      description: 'Which fields were applied and read back in which store: names only',
      properties: {
        requestId: uuid,
        accountId: uuid,
        completedAt: time,
        stores: { type: 'array', items: { type: 'object', properties: { store: { type: 'string' }, applied: { type: 'array', items: fieldName }, outcome: { type: 'string' } } } },
        notApplied: { type: 'array', items: { type: 'object', properties: { field: fieldName, reason: { type: 'string' } } } },
      },
    },
  },
} as const;

const params = { type: 'object', required: ['requestId'], properties: { requestId: { ...uuid, description: 'The requestId answered by POST /v1/correction-requests' } } } as const;

export function registerCorrectionRoutes(
  app: FastifyInstance,
  deps: { corrections: CorrectionService; audit: AuditTrail; metrics: ApiMetrics; caller: (req: FastifyRequest) => string; publicPerClientPerMinute: number },
): void {
  const { corrections, audit } = deps;

  app.post<{ Body: CorrectionRequestBody }>(
    '/v1/correction-requests',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'createCorrectionRequest',
        tags: ['corrections'],
        summary: 'File a correction request',
        description:
          'Corrects the account’s name, phone, address or email in the database, at Auth0 and at Recurly, each read back. Refused: an unknown account (404), a deleted one (410), one under a legal hold or being deleted (409), a new email another account holds in any letter case (409, naming that account by id).',
        body: requestBody,
        response: {
          202: {
            type: 'object',
            required: ['requestId', 'status'],
            properties: { requestId: uuid, accountId: uuid, status: { type: 'string', enum: [...CORRECTION_STATUSES] }, receivedAt: time, fields: { type: 'array', items: fieldName } },
          },
          ...errorResponses(400, 401, 404, 409, 410, 413, 415, 429, 503),
        },
      },
    },
    async (req, reply) => {
      const filed = await corrections.file(req.body, EMAIL);
      deps.metrics.requestFiled('correction');
      await audit.record({
        actor: deps.caller(req),
        via: 'api',
        action: 'correction_request.filed',
        requestId: filed.requestId,
        accountId: filed.accountId,
        details: { channel: req.body.channel, fields: filed.fields, ...(req.body.requestedBy ? { requestedBy: req.body.requestedBy } : {}) },
      });
      return reply.code(202).header('location', `/v1/correction-requests/${filed.requestId}`).send(filed);
    },
  );

  app.get<{ Querystring: { status?: CorrectionStatus; accountId?: string; limit?: number } }>(
    '/v1/correction-requests',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'listCorrectionRequests',
        tags: ['corrections'],
        summary: 'Correction requests, newest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { status: { type: 'string', enum: [...CORRECTION_STATUSES] }, accountId: uuid, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        },
        response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: viewSchema } } }, ...errorResponses(400, 401, 429, 503) },
      },
    },
    async (req) => ({ items: await corrections.list(req.query) }),
  );

  app.get<{ Params: { requestId: string } }>(
    '/v1/correction-requests/:requestId',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'getCorrectionRequest',
        tags: ['corrections'],
        summary: 'A correction request, its stores and its receipt',
        params,
        response: { 200: viewSchema, ...errorResponses(400, 401, 404, 429, 503) },
      },
    },
    async (req) => {
      const v = await corrections.view(req.params.requestId);
      if (!v) throw new ApiError(404, 'not_found', `params/requestId: no correction request ${req.params.requestId}`, 'params/requestId');
      return v;
    },
  );

  app.post<{ Params: { requestId: string } }>(
    '/v1/correction-requests/:requestId/retry',
    {
      config: { role: 'operator' },
      schema: {
        operationId: 'retryCorrectionRequest',
        tags: ['corrections'],
        summary: 'Try the failing stores of a correction again now',
        params,
        response: { 202: viewSchema, ...errorResponses(400, 401, 404, 409, 429, 503) },
      },
    },
    async (req, reply) => {
      const v = await corrections.retry(req.params.requestId);
      if (!v) throw new ApiError(404, 'not_found', `params/requestId: no correction request ${req.params.requestId}`, 'params/requestId');
      await audit.record({ actor: deps.caller(req), via: 'api', action: 'correction_request.retried', requestId: v.requestId, accountId: v.accountId });
      return reply.code(202).send(v);
    },
  );

  // The new address's link: two pages, no token (the link's secret is the proof), forms parsed here only.
  void app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 4096 });
    const perClient = createRateLimiter({ perMinute: deps.publicPerClientPerMinute });
    const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).headers(PAGE_HEADERS).send(body);
    const csrfFor = (reply: FastifyReply): string => {
      const token = randomBytes(24).toString('base64url');
      void reply.header('set-cookie', `${CSRF_COOKIE}=${token}; Path=/corrections; HttpOnly; SameSite=Strict; Max-Age=86400${reply.request.protocol === 'https' ? '; Secure' : ''}`);
      return token;
    };
    const csrfOk = (req: FastifyRequest, sent: unknown): boolean => {
      const cookie = new RegExp(`(?:^|;\\s*)${CSRF_COOKIE}=([A-Za-z0-9_-]+)`).exec(req.headers.cookie ?? '')?.[1];
      if (!cookie || typeof sent !== 'string' || sent.length !== cookie.length) return false;
      return timingSafeEqual(Buffer.from(cookie), Buffer.from(sent));
    };
    const problem = (reply: FastifyReply, err: unknown) => {
      if (err instanceof CorrectionLinkError) {
        const titles = { invalid: 'This link does not work', expired: 'This link has expired', used: 'This link was already used' } as const;
        return html(reply, err.problem === 'invalid' ? 400 : 410, page({ title: titles[err.problem], body: `<p class="error" role="alert">${esc(err.message)}</p>` }));
      }
      reply.log.error({ error: (err as Error).name }, 'correction confirmation failed');
      return html(reply, 503, page({ title: 'Please try again', body: '<p class="error" role="alert">We could not record your confirmation just now. Open the link again in a few minutes.</p>' }));
    };
    const slowDown = (reply: FastifyReply, req: FastifyRequest) => {
      const d = perClient.hit(`client:${req.ip}`);
      if (d.allowed) return false;
      void reply.header('retry-after', d.resetSeconds);
      void html(reply, 429, page({ title: 'Please wait', body: '<p class="error" role="alert">Too many tries. Please wait a few minutes and open the link again.</p>' }));
      return true;
    };

    scope.get<{ Querystring: { token?: string } }>('/corrections/confirm', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      if (slowDown(reply, req)) return reply;
      const token = typeof req.query.token === 'string' ? req.query.token : '';
      try {
        const link = await corrections.inspectLink(token);
        return html(
          reply,
          200,
          page({
            title: 'Confirm your new email address',
            body: `
<p>Pressing <strong>Confirm</strong> makes this address your account’s email address, for signing in and for billing.</p>
<p>This link works until ${esc(new Date(link.expiresAt).toUTCString())}.</p>
<form method="post" action="/corrections/confirm">
<input type="hidden" name="token" value="${esc(token)}">
<input type="hidden" name="csrf" value="${esc(csrfFor(reply))}">
<button type="submit">Confirm the new address</button>
</form>
<p class="hint">Did not ask for this? Close this page: nothing changes without your confirmation.</p>`,
          }),
        );
      } catch (err) {
        return problem(reply, err);
      }
    });

    scope.post<{ Body: { token?: unknown; csrf?: unknown } }>('/corrections/confirm', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      if (slowDown(reply, req)) return reply;
      const body = (req.body ?? {}) as { token?: unknown; csrf?: unknown };
      if (!csrfOk(req, body.csrf)) {
        return html(
          reply,
          403,
          page({
            title: 'Please confirm again',
            body: '<p class="error" role="alert">This page had expired or the request came from another site. Open the link from the mail again and confirm.</p>',
          }),
        );
      }
      try {
        const done = await corrections.confirmLink(typeof body.token === 'string' ? body.token : '');
        await audit.record({ actor: 'the-person', via: 'api', action: 'correction_request.email_confirmed', requestId: done.requestId, accountId: done.accountId, details: { verification: 'email' } });
        return html(
          reply,
          200,
          page({
            title: 'Your new address is confirmed',
            body: `<p class="notice done">Thank you: we are changing your account’s email address to this one now.</p>
<p>Your reference: <code class="ref" id="reference">${esc(done.requestId)}</code></p>`,
          }),
        );
      } catch (err) {
        return problem(reply, err);
      }
    });
  });
}
