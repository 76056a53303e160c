/**
 * `POST /v1/inbound-email`: mail to the privacy address as a mail provider's inbound hook
 * delivers it, raw RFC 5322 (`Content-Type: message/rfc822`), behind a token of role `inbound`
 * (or admin). The same path as the SMTP listener (client/inbound.ts).
 */
import type { FastifyInstance } from 'fastify';
import { INBOUND_LIMIT_BYTES, InboundMailError } from '../../../mail/inbound';
import type { Inbound } from '../../inbound';
import { ApiError } from '../errors';
import { errorResponses } from '../schemas';

export function registerInboundRoutes(app: FastifyInstance, deps: { inbound: Inbound }): void {
  void app.register(async (scope) => {
    scope.addContentTypeParser('message/rfc822', { parseAs: 'buffer', bodyLimit: INBOUND_LIMIT_BYTES }, (_req, body, done) => done(null, body));
    scope.post(
      '/v1/inbound-email',
      {
        bodyLimit: INBOUND_LIMIT_BYTES,
        config: { role: 'admin', alsoRole: 'inbound' },
        schema: {
          operationId: 'receiveInboundEmail',
          tags: ['public'],
          summary: 'Mail to the privacy address, as raw RFC 5322',
          description:
            'A mail provider’s inbound hook posts each message to the privacy address here (Content-Type: message/rfc822), with a token of role `inbound` (or admin). A person’s mail becomes a request verified by a link mailed to the account’s address on file; auto-replies, bounces and list mail are ignored (RFC 3834) and never answered.',
          response: {
            202: {
              type: 'object',
              required: ['outcome'],
              properties: { outcome: { type: 'string', enum: ['filed', 'ignored'] }, reason: { type: 'string', description: 'Why it is ignored: a robot’s mail' } },
            },
            ...errorResponses(400, 401, 413, 415, 429),
          },
        },
      },
      async (req, reply) => {
        if (!Buffer.isBuffer(req.body)) throw new ApiError(415, 'unsupported_media_type', 'body must be the raw message, Content-Type: message/rfc822', 'body');
        try {
          return reply.code(202).send(await deps.inbound.receive(req.body, { via: 'http' }));
        } catch (err) {
          if (err instanceof InboundMailError) throw new ApiError(400, 'invalid_input', `body: ${err.message}`, 'body');
          throw err;
        }
      },
    );
  });
}
