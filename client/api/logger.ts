/**
 * The API's logs: one line per request with method, route pattern, status and duration, and
 * errors by type and message. Never a header, a body, a query string or a path parameter:
 * tokens travel in headers, emails in bodies, and ids in paths. Every line also passes the
 * same redactor as the worker's logs, the net under what a library might log.
 */
import pino from 'pino';
import { FastifyReply, FastifyRequest, LogController } from 'fastify';
import { redact, scrub } from '../../logging/redact';

export function createApiLogger(opts: { level?: string; destination?: pino.DestinationStream } = {}): pino.Logger {
  const level = opts.level ?? (process.env.LETHE_LOG_LEVEL || 'info').toLowerCase();
  return pino(
    {
      level,
      base: { service: 'lethe-api' },
      // pino's own header redaction as well, should a request object ever reach a log call.
      redact: { paths: ['req.headers.authorization', 'request.headers.authorization', 'headers.authorization'], censor: '[redacted]' },
      formatters: { log: (obj) => redact(obj) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          const clean = args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<typeof method>;
          method.apply(this, clean);
        },
      },
    },
    opts.destination ?? pino.destination(2),
  );
}

/** The route's pattern (`/v1/deletion-requests/:requestId`), never the URL with its ids. */
export const routeOf = (req: FastifyRequest): string => req.routeOptions?.url ?? 'unmatched';

/** Fastify's own request lines replaced by lines that carry no personal data. */
export class RedactingLogController extends LogController {
  incomingRequest(): void {}

  routeNotFound(): void {}

  requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const line = { method: req.method, route: routeOf(req), status: reply.statusCode, ms: Math.round(reply.elapsedTime) };
    if (error) reply.log.error({ ...line, error: errorSummary(error) }, 'request failed');
    else reply.log.info(line, 'request');
  }

  defaultErrorLog(error: Error, req: FastifyRequest, reply: FastifyReply): void {
    reply.log.error({ method: req.method, route: routeOf(req), error: errorSummary(error) }, 'request error');
  }
}

interface ErrorSummary {
  /** The error's class name (under `type`: the log redactor takes every `name` for a person's). */
  type: string;
  code?: string | number;
  message: string;
  /** What it wraps: the SDK's "Failed to start Workflow" says nothing without the gRPC status under it. */
  cause?: ErrorSummary;
}

/** Type, code and message of an error and of what it wraps (3 deep); stacks stay out (they can quote inputs). */
export function errorSummary(err: unknown, depth = 0): ErrorSummary {
  const e = err as { name?: string; code?: string | number; message?: string; cause?: unknown };
  const cause = depth < 3 && e?.cause ? { cause: errorSummary(e.cause, depth + 1) } : {};
  return { type: e?.name ?? 'Error', ...(e?.code !== undefined ? { code: e.code } : {}), message: scrub(String(e?.message ?? err)), ...cause };
}
