/**
 * The HTTP shell both vendor sandboxes share: the `/__sandbox/` admin API, per-route stats,
 * fault injection and rate limiting, in front of a vendor's own routes. Vendors decide only
 * what their API answers and how their error bodies look.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_BODY_LIMIT_BYTES, RequestBodyError, isPlainObject, readJsonBody } from './body';
import { FaultInjector, FaultSpecError, parseFaultSpec } from './faults';
import { FixedWindowRateLimiter, TokenBucketRateLimiter, type RateDecision, type RateLimiter } from './rateLimiter';
import { matchRoute, routeKey, type Route } from './router';
import { RequestStats } from './stats';

export const ADMIN_PREFIX = '/__sandbox/';

export type ErrorKind = 'internal_error' | 'rate_limited' | 'route_not_found' | 'payload_too_large' | 'malformed_body';

export interface SandboxContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: URL;
  path: string;
  params: Record<string, string>;
  readJson(): Promise<unknown>;
}

export type Handler = (ctx: SandboxContext) => Promise<void> | void;

export interface VendorApp {
  vendor: string;
  routes: Route<Handler>[];
  /** Extra admin routes; patterns are full paths under /__sandbox/. */
  adminRoutes?: Route<Handler>[];
  /** Which requests count against the rate limit (Auth0 limits only its Management API). */
  isRateLimited(path: string): boolean;
  /** Writes the vendor's own error body for failures the shell produces. */
  sendError(res: ServerResponse, status: number, kind: ErrorKind, message: string, rate?: RateDecision): void;
  resetState(): void;
  bodyLimitBytes?: number;
}

export interface ShellOptions {
  port?: number;
  host?: string;
  rateLimit: number;
  /** A token bucket's size when it differs from `rateLimit` (Auth0's plans name a burst); the limit by default. */
  rateBurst?: number;
  rateWindowMs: number;
  /** How the vendor counts (dev/sandboxes/common/rateLimiter.ts): Recurly by window, Auth0 by bucket. */
  rateModel: 'fixed-window' | 'token-bucket';
}

export interface RunningSandbox {
  url: string;
  port: number;
  close(): Promise<void>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, contentType = 'application/json; charset=utf-8'): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', contentType);
  res.setHeader('content-length', Buffer.byteLength(payload));
  res.end(payload);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = status;
  res.end();
}

export function setRateHeaders(res: ServerResponse, rate: RateDecision): void {
  res.setHeader('x-ratelimit-limit', String(rate.limit));
  res.setHeader('x-ratelimit-remaining', String(rate.remaining));
  res.setHeader('x-ratelimit-reset', String(rate.resetAtSeconds));
}

class AdminInputError extends Error {
  readonly type = 'invalid_admin_request';
}

export async function startSandboxShell(app: VendorApp, opts: ShellOptions): Promise<RunningSandbox> {
  const faults = new FaultInjector();
  const stats = new RequestStats();
  const limiter: RateLimiter =
    opts.rateModel === 'token-bucket' ? new TokenBucketRateLimiter(opts.rateLimit, opts.rateWindowMs, Date.now, opts.rateBurst) : new FixedWindowRateLimiter(opts.rateLimit, opts.rateWindowMs);
  const bodyLimit = app.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const shutdown = new AbortController();

  const adminRoutes: Route<Handler>[] = [
    { method: 'GET', pattern: '/__sandbox/health', handler: ({ res }) => sendJson(res, 200, { ok: true, vendor: app.vendor }) },
    { method: 'GET', pattern: '/__sandbox/stats', handler: ({ res }) => sendJson(res, 200, stats.snapshot()) },
    // What is still armed, and since the last reset how many uses were armed and fired per mode.
    { method: 'GET', pattern: '/__sandbox/faults', handler: ({ res }) => sendJson(res, 200, { pending: faults.pending(), ...faults.counts() }) },
    {
      method: 'POST',
      pattern: '/__sandbox/faults',
      handler: async (ctx) => {
        const spec = parseFaultSpec(await ctx.readJson());
        faults.arm(spec);
        sendJson(ctx.res, 201, { armed: spec, pending: faults.pending() });
      },
    },
    {
      method: 'DELETE',
      pattern: '/__sandbox/faults',
      handler: ({ res, url }) => {
        faults.clear(url.searchParams.get('pathPrefix') ?? undefined);
        sendEmpty(res, 204);
      },
    },
    {
      method: 'PUT',
      pattern: '/__sandbox/rate-limit',
      handler: async (ctx) => {
        const body = await ctx.readJson();
        const limit = isPlainObject(body) ? body.limit : undefined;
        if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
          throw new AdminInputError('limit: expected a positive integer');
        }
        limiter.setLimit(limit);
        limiter.reset();
        sendJson(ctx.res, 200, { limit, windowMs: limiter.windowMs });
      },
    },
    {
      method: 'POST',
      pattern: '/__sandbox/reset',
      handler: async (ctx) => {
        const body = await ctx.readJson();
        const keepData = isPlainObject(body) && body.keepData === true;
        faults.reset();
        stats.reset();
        if (limiter instanceof TokenBucketRateLimiter) limiter.setLimit(opts.rateLimit, opts.rateBurst);
        else limiter.setLimit(opts.rateLimit);
        limiter.reset();
        if (!keepData) app.resetState();
        sendEmpty(ctx.res, 204);
      },
    },
    ...(app.adminRoutes ?? []),
  ];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://sandbox.local');
    const path = url.pathname;
    const readJson = () => readJsonBody(req, bodyLimit);

    if (path.startsWith(ADMIN_PREFIX)) {
      const match = matchRoute(adminRoutes, method, path);
      if (!match) return sendJson(res, 404, { error: { type: 'not_found', message: 'no such sandbox admin route' } });
      try {
        await match.route.handler({ req, res, method, url, path, params: match.params, readJson });
      } catch (err) {
        const known = err instanceof FaultSpecError || err instanceof AdminInputError || err instanceof RequestBodyError;
        sendJson(res, known ? 400 : 500, {
          error: { type: known ? 'invalid_request' : 'internal_error', message: known ? (err as Error).message : 'admin route failed' },
        });
      }
      return;
    }

    const match = matchRoute(app.routes, method, path);
    const key = match ? routeKey(match.route) : `${method} (unmatched)`;
    res.on('close', () => stats.record(key, res.headersSent ? res.statusCode : 0));

    const fault = faults.take(path);
    if (fault?.mode === '500') {
      return app.sendError(res, 500, 'internal_error', 'Injected fault: internal server error');
    }
    if (fault?.mode === '429') {
      const nowMs = Date.now();
      const rate: RateDecision = {
        allowed: false,
        limit: limiter.limit,
        remaining: 0,
        resetAtSeconds: Math.ceil(nowMs / 1000) + fault.retryAfterSeconds,
        retryAfterSeconds: fault.retryAfterSeconds,
      };
      setRateHeaders(res, rate);
      res.setHeader('retry-after', String(fault.retryAfterSeconds));
      return app.sendError(res, 429, 'rate_limited', 'Injected fault: too many requests', rate);
    }
    if (fault?.mode === 'hang') {
      const served = await delay(fault.hangMs, shutdown.signal, res);
      if (!served) return;
    }

    let rate: RateDecision | undefined;
    if (app.isRateLimited(path)) {
      rate = limiter.take();
      setRateHeaders(res, rate);
      if (!rate.allowed) {
        res.setHeader('retry-after', String(rate.retryAfterSeconds));
        return app.sendError(res, 429, 'rate_limited', 'rate limit reached', rate);
      }
    }

    if (!match) return app.sendError(res, 404, 'route_not_found', 'Not Found');
    try {
      await match.route.handler({ req, res, method, url, path, params: match.params, readJson });
    } catch (err) {
      if (err instanceof RequestBodyError) {
        const status = err.type === 'too_large' ? 413 : 400;
        return app.sendError(res, status, err.type === 'too_large' ? 'payload_too_large' : 'malformed_body', err.message);
      }
      app.sendError(res, 500, 'internal_error', 'internal error');
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendEmpty(res, 500);
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        shutdown.abort();
        server.close(() => resolve());
        // Held (hanging) and keep-alive connections would otherwise keep close() waiting.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Resolves true after `ms`, or false when the server shuts down or the client goes away. */
function delay(ms: number, signal: AbortSignal, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const done = (served: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      res.off('close', onClose);
      resolve(served);
    };
    const onAbort = () => done(false);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(!res.destroyed), ms);
    signal.addEventListener('abort', onAbort);
    res.on('close', onClose);
  });
}
