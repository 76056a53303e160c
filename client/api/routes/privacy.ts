/**
 * The front door's routes (CONTRACT §6), served without a token: the privacy page, the public
 * request API other front ends call, and the confirmation link's two pages. Registered in their
 * own scope, which alone parses HTML forms (the JSON API still refuses any other body).
 *
 * A person asks for one of two things (`type`): the deletion of their account, or a copy of their
 * data (an access request). Both are verified the same way; the mail and the pages say which.
 *
 * - Every public request gets the same answer, whether or not an account has the address (the
 *   lookup happens later, in the workflow), so neither the answer nor its timing says who is a
 *   customer.
 * - Limits: per client address a minute, per email address an hour (whoever sends it), each a
 *   429 with Retry-After.
 * - CSRF: the forms carry a token that must equal a SameSite=Strict, HttpOnly cookie set with the
 *   page (double submit), so another site cannot post them in a visitor's browser.
 * - `GET /privacy/confirm` only shows a button: mail scanners open links on their own.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import type { Config } from '../../../config';
import type { FrontDoor, PublicRequestType } from '../../front-door';
import { LinkError, PUBLIC_REQUEST_TYPES } from '../../front-door';
import { AccessRequestError } from '../../access';
import { DeletionRequestError } from '../../intake';
import { createRateLimiter } from '../rate-limit';
import type { AuditTrail } from '../../audit';
import type { ApiMetrics } from '../metrics';
import { EMAIL_PATTERN } from '../../validation';
import { PAGE_HEADERS, STYLE } from '../../../client/pages/layout';
import { checkYourMail, confirmed, confirmForm, copyConfirmed, linkProblem, privacyForm } from '../../../client/pages/privacy';
import { emailLookupKey } from '../../../stores/subjects';

const CSRF_COOKIE = 'lethe_csrf';
const EMAIL = new RegExp(EMAIL_PATTERN);
const PUBLIC_ANSWER = 'If an account uses this address, we have sent it a link to confirm the request. Nothing happens until it is confirmed.';

export function registerPrivacyRoutes(
  app: FastifyInstance,
  deps: {
    config: Pick<Config, 'frontDoor' | 'deletion'>;
    frontDoor: FrontDoor;
    audit: AuditTrail;
    /** Counts a confirmed copy in lethe_requests_total{type="access"}, as the access route counts its filings (when the server passes it). */
    metrics?: Pick<ApiMetrics, 'requestFiled'>;
  },
): void {
  const { config, frontDoor } = deps;
  const perClient = createRateLimiter({ perMinute: config.frontDoor.publicPerClientPerMinute });
  const perAddress = createRateLimiter({ perMinute: config.frontDoor.publicPerAddressPerHour, windowMs: 3_600_000 });
  const pageOpts = { linkTtlMs: config.frontDoor.verificationTtlMs, deadlineHours: config.deletion.deadlineHours };

  void app.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: 4096 });

    const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).headers(PAGE_HEADERS).send(body);

    /** A fresh CSRF token, set as the cookie the form must echo. */
    const csrfFor = (reply: FastifyReply): string => {
      const token = randomBytes(24).toString('base64url');
      void reply.header('set-cookie', `${CSRF_COOKIE}=${token}; Path=/privacy; HttpOnly; SameSite=Strict; Max-Age=86400${reply.request.protocol === 'https' ? '; Secure' : ''}`);
      return token;
    };
    const csrfOk = (req: FastifyRequest, sent: unknown): boolean => {
      const cookie = /(?:^|;\s*)lethe_csrf=([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? '')?.[1];
      if (!cookie || typeof sent !== 'string' || sent.length !== cookie.length) return false;
      return timingSafeEqual(Buffer.from(cookie), Buffer.from(sent));
    };
    /** 429 with Retry-After when over a limit; each key is counted whatever the outcome. */
    const limited = (reply: FastifyReply, keys: { client: string; email?: string }): { retryAfter: number } | undefined => {
      const c = perClient.hit(`client:${keys.client}`);
      // Keyed by a digest: the limiter's memory holds no address.
      const a = keys.email ? perAddress.hit(`email:${createHash('sha256').update(emailLookupKey(keys.email)).digest('base64url')}`) : undefined;
      const over = [c, a].filter((d) => d && !d.allowed);
      if (!over.length) return undefined;
      const retryAfter = Math.max(...over.map((d) => d!.resetSeconds));
      void reply.header('retry-after', retryAfter);
      return { retryAfter };
    };

    scope.get('/privacy/assets/style.css', { config: { public: true }, schema: { hide: true } }, async (_req, reply) =>
      reply.headers({ 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=3600' }).send(STYLE),
    );

    scope.get('/privacy', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => html(reply, 200, privacyForm({ csrf: csrfFor(reply), ...pageOpts })));

    scope.post<{ Body: { email?: unknown; type?: unknown; csrf?: unknown } }>('/privacy', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      const body = (req.body ?? {}) as { email?: unknown; type?: unknown; csrf?: unknown };
      const email = typeof body.email === 'string' ? body.email.trim() : '';
      // A form without `type` is the page as it was before it offered a copy: a deletion.
      const type = body.type === undefined ? 'deletion' : PUBLIC_REQUEST_TYPES.find((t) => t === body.type);
      const again = { csrf: csrfFor(reply), email, ...(type ? { type } : {}), ...pageOpts };
      if (!csrfOk(req, body.csrf)) return html(reply, 403, privacyForm({ ...again, error: 'This form had expired or came from another site. Please send it again.' }));
      if (limited(reply, { client: req.ip, email: EMAIL.test(email) ? email : undefined })) {
        return html(reply, 429, privacyForm({ ...again, error: 'Too many requests. Please wait a few minutes and try again.' }));
      }
      if (!EMAIL.test(email) || email.length > 320) return html(reply, 400, privacyForm({ ...again, error: 'Enter the email address your account uses, like name@example.com.' }));
      if (!type) return html(reply, 400, privacyForm({ ...again, typeError: 'Choose what you want: a copy of your data, or the deletion of your account.' }));
      await frontDoor.file({ email, channel: 'web', kind: type });
      return html(reply, 200, checkYourMail(pageOpts));
    });

    scope.post<{ Body: { email: string; type: PublicRequestType } }>(
      '/v1/public/requests',
      {
        config: { public: true },
        schema: {
          operationId: 'createPublicRequest',
          tags: ['public'],
          summary: 'A request from the person (no token)',
          description:
            'The person asks for the deletion of their account (`deletion`) or a copy of their data (`access`, an access request: its download link is mailed to the address on file). Lethe mails the account that uses this address a link to confirm; nothing happens before. The answer is the same whether or not an account uses the address. Limited per client a minute and per address an hour (429 with Retry-After).',
          security: [],
          body: {
            type: 'object',
            additionalProperties: false,
            required: ['email', 'type'],
            properties: {
              email: { type: 'string', minLength: 3, maxLength: 320, pattern: EMAIL_PATTERN, description: 'The address the account uses' },
              type: { type: 'string', enum: [...PUBLIC_REQUEST_TYPES], description: 'What the person asks for: `deletion`, or `access` (a copy of their data)' },
            },
          },
          response: {
            202: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } },
            400: { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } } },
            429: { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' } } },
          },
        },
      },
      async (req, reply) => {
        const over = limited(reply, { client: req.ip, email: req.body.email });
        if (over) return reply.code(429).send({ error: 'rate_limited', message: `too many requests; retry after ${over.retryAfter} s` });
        await frontDoor.file({ email: req.body.email.trim(), channel: 'web', kind: req.body.type });
        return reply.code(202).send({ message: PUBLIC_ANSWER });
      },
    );

    scope.get<{ Querystring: { token?: string } }>('/privacy/confirm', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      if (limited(reply, { client: req.ip })) return html(reply, 429, linkProblem({ title: 'Please wait', message: 'Too many tries. Please wait a few minutes and open the link again.' }));
      const token = typeof req.query.token === 'string' ? req.query.token : '';
      try {
        const v = await frontDoor.inspect(token);
        return html(reply, 200, confirmForm({ token, csrf: csrfFor(reply), kind: v.kind, expiresAt: v.expiresAt, deadlineHours: config.deletion.deadlineHours }));
      } catch (err) {
        return problem(reply, err);
      }
    });

    scope.post<{ Body: { token?: unknown; csrf?: unknown } }>('/privacy/confirm', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      const body = (req.body ?? {}) as { token?: unknown; csrf?: unknown };
      const token = typeof body.token === 'string' ? body.token : '';
      if (limited(reply, { client: req.ip })) return html(reply, 429, linkProblem({ title: 'Please wait', message: 'Too many tries. Please wait a few minutes and try again.' }));
      if (!csrfOk(req, body.csrf)) {
        return html(reply, 403, linkProblem({ title: 'Please confirm again', message: 'This page had expired or the request came from another site. Open the link from the mail again and confirm.' }));
      }
      try {
        const started = await frontDoor.confirm(token);
        if (started.kind === 'access') {
          // As the access route records a filing (ids and the channel), with the person's mailbox as its verification.
          await deps.audit.record({
            actor: 'the-person',
            via: 'api',
            action: 'access_request.filed',
            requestId: started.requestId,
            accountId: started.accountId,
            details: { verification: 'email', existing: started.existing },
          });
          if (!started.existing) deps.metrics?.requestFiled('access');
          return html(reply, 200, copyConfirmed({ requestId: started.requestId, deadlineAt: started.deadlineAt, existing: started.existing }));
        }
        await deps.audit.record({
          actor: 'the-person',
          via: 'api',
          action: 'deletion_request.confirmed',
          requestId: started.requestId,
          accountId: started.accountId,
          details: { verification: 'email', existing: started.existing },
        });
        return html(reply, 200, confirmed({ requestId: started.requestId, deadlineAt: started.deadlineAt, existing: started.existing }));
      } catch (err) {
        return problem(reply, err);
      }
    });

    function problem(reply: FastifyReply, err: unknown) {
      if (err instanceof LinkError) {
        const titles = { invalid: 'This link does not work', expired: 'This link has expired', used: 'This link was already used', locked: 'This request is locked' } as const;
        return html(reply, err.problem === 'invalid' ? 400 : 410, linkProblem({ title: titles[err.problem], message: err.message, requestId: err.requestId }));
      }
      if (err instanceof DeletionRequestError) return html(reply, 410, linkProblem({ title: 'Nothing left to delete', message: err.message }));
      if (err instanceof AccessRequestError && err.code === 'deletion_in_progress') {
        return html(reply, 409, linkProblem({ title: 'No copy can be made now', message: 'Your account is being deleted, so there is nothing left to copy. We mail you when the deletion is done.' }));
      }
      if (err instanceof AccessRequestError && err.code === 'account_not_found') {
        return html(reply, 410, linkProblem({ title: 'No copy can be made', message: 'The account was deleted since the request was made: we keep nothing of it to copy.' }));
      }
      reply.log.error({ error: (err as Error).name }, 'confirmation failed');
      return html(reply, 503, linkProblem({ title: 'Please try again', message: 'We could not record your confirmation just now. Nothing was lost: open the link again in a few minutes.' }));
    }
  });
}
