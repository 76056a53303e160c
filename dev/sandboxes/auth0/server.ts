/**
 * Local stand-in for an Auth0 tenant: the client-credentials token endpoint and the parts of
 * the Management API v2 Lethe deletes through, answering with Auth0's own paths, status codes,
 * error bodies and rate-limit headers, so the real `auth0` SDK runs against it unchanged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { isPlainObject, readFormOrJsonBody, RequestBodyError } from '../common/body';
import type { Route } from '../common/router';
import {
  sendEmpty,
  sendJson,
  startSandboxShell,
  type ErrorKind,
  type Handler,
  type RunningSandbox,
  type SandboxContext,
} from '../common/server';
import { Auth0Store, DEFAULT_CONNECTION, type Auth0User, type NewUser } from './store';

export interface Auth0SandboxOptions {
  port?: number;
  host?: string;
  clientId: string;
  clientSecret: string;
  /** Auth0's Management API allows 16 requests per second on most plans. */
  rateLimitPerSecond?: number;
  tokenTtlSeconds?: number;
}

const TOKEN_SCOPE =
  'read:users update:users delete:users create:users read:users_app_metadata read:grants delete:grants';
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export async function startAuth0Sandbox(opts: Auth0SandboxOptions): Promise<RunningSandbox> {
  const store = new Auth0Store();
  const tokenTtlSeconds = opts.tokenTtlSeconds ?? 86_400;

  const authed = (handler: Handler): Handler => (ctx) => {
    const header = String(ctx.req.headers.authorization ?? '');
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) return auth0Error(ctx.res, 401, 'Missing authentication');
    const state = store.tokenState(m[1]);
    if (state === 'expired') return auth0Error(ctx.res, 401, 'Expired token received for JSON Web Token validation', { attributes: { error: 'Expired token' } });
    if (state === 'unknown') return auth0Error(ctx.res, 401, 'Invalid token', { attributes: { error: 'Invalid token' } });
    return handler(ctx);
  };

  const requireUser = (ctx: SandboxContext): Auth0User | undefined => {
    const user = store.users.get(ctx.params.id);
    if (!user) auth0Error(ctx.res, 404, 'The user does not exist.', { errorCode: 'inexistent_user' });
    return user;
  };

  const token: Handler = async ({ req, res }) => {
    let body: Record<string, unknown>;
    try {
      body = await readFormOrJsonBody(req);
    } catch (err) {
      // Oversized bodies fall through to the shell's 413, like every other route.
      if (err instanceof RequestBodyError && err.type === 'malformed') return oauthError(res, 400, 'invalid_request', err.message);
      throw err;
    }
    const grantType = body.grant_type;
    if (grantType !== 'client_credentials') {
      return oauthError(res, 403, 'unauthorized_client', `Grant type '${String(grantType ?? '')}' not allowed for the client.`);
    }
    const basic = parseBasic(String(req.headers.authorization ?? ''));
    const clientId = typeof body.client_id === 'string' ? body.client_id : basic?.user;
    const clientSecret = typeof body.client_secret === 'string' ? body.client_secret : basic?.password;
    if (clientId !== opts.clientId || clientSecret === undefined || !sameSecret(clientSecret, opts.clientSecret)) {
      return oauthError(res, 401, 'access_denied', 'Unauthorized');
    }
    sendJson(res, 200, {
      access_token: store.issueToken(tokenTtlSeconds),
      scope: TOKEN_SCOPE,
      expires_in: tokenTtlSeconds,
      token_type: 'Bearer',
    });
  };

  const createUser: Handler = async (ctx) => {
    const parsed = parseNewUser(await ctx.readJson());
    if (typeof parsed === 'string') return auth0Error(ctx.res, 400, parsed, { errorCode: 'invalid_body' });
    const result = store.createUser(parsed, opts.clientId);
    if (!result.ok) return auth0Error(ctx.res, 409, 'The user already exists.', { errorCode: 'auth0_idp_error' });
    sendJson(ctx.res, 201, renderUser(result.user));
  };

  const getUser: Handler = (ctx) => {
    const user = requireUser(ctx);
    if (user) sendJson(ctx.res, 200, project(renderUser(user), ctx.url));
  };

  const deleteUser: Handler = (ctx) => {
    // Auth0 answers 204 whether or not the user existed; callers cannot tell from this call.
    store.deleteUser(ctx.params.id);
    sendEmpty(ctx.res, 204);
  };

  const usersByEmail: Handler = (ctx) => {
    const email = ctx.url.searchParams.get('email');
    if (!email) {
      return auth0Error(ctx.res, 400, "Query validation error: 'Missing required property: email'.", { errorCode: 'invalid_query_string' });
    }
    sendJson(ctx.res, 200, store.findByEmail(email).map((u) => project(renderUser(u), ctx.url)));
  };

  const listUsers: Handler = (ctx) => {
    const sp = ctx.url.searchParams;
    const engine = sp.get('search_engine') ?? 'v3';
    if (engine !== 'v3' && engine !== 'v2') {
      return auth0Error(ctx.res, 400, "Query validation error: 'search_engine' must be v2 or v3.", { errorCode: 'invalid_query_string' });
    }
    const filter = parseQuery(sp.get('q') ?? '');
    if (!filter) {
      return auth0Error(ctx.res, 400, 'The sandbox only supports q=email:"..." or q=user_id:"..." queries.', { errorCode: 'invalid_query_string' });
    }
    const perPage = clampInt(sp.get('per_page'), 50, 1, 100);
    const page = clampInt(sp.get('page'), 0, 0, 1000);
    const all = [...store.users.values()].filter(filter).sort((a, b) => a.created_at.localeCompare(b.created_at));
    const users = all.slice(page * perPage, page * perPage + perPage).map((u) => project(renderUser(u), ctx.url));
    if (sp.get('include_totals') === 'true') {
      return sendJson(ctx.res, 200, { start: page * perPage, limit: perPage, length: users.length, total: all.length, users });
    }
    sendJson(ctx.res, 200, users);
  };

  const listSessions: Handler = (ctx) => {
    if (requireUser(ctx)) sendJson(ctx.res, 200, { sessions: store.sessionsOf(ctx.params.id) });
  };

  const deleteSessions: Handler = (ctx) => {
    if (!requireUser(ctx)) return;
    store.deleteSessions(ctx.params.id);
    sendEmpty(ctx.res, 202);
  };

  const listRefreshTokens: Handler = (ctx) => {
    if (requireUser(ctx)) sendJson(ctx.res, 200, { tokens: store.refreshTokensOf(ctx.params.id) });
  };

  const deleteRefreshTokens: Handler = (ctx) => {
    if (!requireUser(ctx)) return;
    store.deleteRefreshTokens(ctx.params.id);
    sendEmpty(ctx.res, 202);
  };

  const listGrants: Handler = (ctx) => {
    const userId = ctx.url.searchParams.get('user_id');
    sendJson(ctx.res, 200, userId ? store.grantsOf(userId) : store.allGrants());
  };

  const deleteGrantsByUser: Handler = (ctx) => {
    const userId = ctx.url.searchParams.get('user_id');
    if (!userId) {
      return auth0Error(ctx.res, 400, "Query validation error: 'Missing required property: user_id'.", { errorCode: 'invalid_query_string' });
    }
    store.deleteGrantsOfUser(userId);
    sendEmpty(ctx.res, 204);
  };

  const deleteGrant: Handler = (ctx) => {
    store.deleteGrant(ctx.params.id);
    sendEmpty(ctx.res, 204);
  };

  const routes: Route<Handler>[] = [
    { method: 'POST', pattern: '/oauth/token', handler: token },
    { method: 'POST', pattern: '/api/v2/users', handler: authed(createUser) },
    { method: 'GET', pattern: '/api/v2/users', handler: authed(listUsers) },
    { method: 'GET', pattern: '/api/v2/users/{id}', handler: authed(getUser) },
    { method: 'DELETE', pattern: '/api/v2/users/{id}', handler: authed(deleteUser) },
    { method: 'GET', pattern: '/api/v2/users-by-email', handler: authed(usersByEmail) },
    { method: 'GET', pattern: '/api/v2/users/{id}/sessions', handler: authed(listSessions) },
    { method: 'DELETE', pattern: '/api/v2/users/{id}/sessions', handler: authed(deleteSessions) },
    { method: 'GET', pattern: '/api/v2/users/{id}/refresh-tokens', handler: authed(listRefreshTokens) },
    { method: 'DELETE', pattern: '/api/v2/users/{id}/refresh-tokens', handler: authed(deleteRefreshTokens) },
    { method: 'GET', pattern: '/api/v2/grants', handler: authed(listGrants) },
    { method: 'DELETE', pattern: '/api/v2/grants', handler: authed(deleteGrantsByUser) },
    { method: 'DELETE', pattern: '/api/v2/grants/{id}', handler: authed(deleteGrant) },
  ];

  const adminRoutes: Route<Handler>[] = [
    {
      // Simulates another login, so a test can create artifacts beyond the one seeded at creation.
      method: 'POST',
      pattern: '/__sandbox/users/{id}/logins',
      handler: async (ctx) => {
        if (!store.users.has(ctx.params.id)) return sendJson(ctx.res, 404, { error: { type: 'not_found', message: 'no such user' } });
        const body = await ctx.readJson();
        const clientId = isPlainObject(body) && typeof body.clientId === 'string' ? body.clientId : opts.clientId;
        store.recordLogin(ctx.params.id, clientId);
        sendJson(ctx.res, 201, artifactCounts(store, ctx.params.id));
      },
    },
    {
      // Readable after the user is gone, which the Management API cannot offer.
      method: 'GET',
      pattern: '/__sandbox/users/{id}/artifacts',
      handler: (ctx) => sendJson(ctx.res, 200, artifactCounts(store, ctx.params.id)),
    },
  ];

  return startSandboxShell(
    {
      vendor: 'auth0',
      routes,
      adminRoutes,
      isRateLimited: (path) => path.startsWith('/api/v2/'),
      sendError: (res, status, kind) => auth0Error(res, status, shellMessage(kind), shellErrorCode(kind)),
      resetState: () => store.reset(),
    },
    { port: opts.port, host: opts.host, rateLimit: opts.rateLimitPerSecond ?? 16, rateWindowMs: 1000 },
  );
}

function artifactCounts(store: Auth0Store, userId: string) {
  return {
    userExists: store.users.has(userId),
    sessions: store.sessionsOf(userId).length,
    refreshTokens: store.refreshTokensOf(userId).length,
    grants: store.grantsOf(userId).length,
  };
}

function auth0Error(
  res: ServerResponse,
  status: number,
  message: string,
  extra: { errorCode?: string; attributes?: Record<string, unknown> } = {},
): void {
  sendJson(res, status, { statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, ...extra });
}

function oauthError(res: ServerResponse, status: number, error: string, description: string): void {
  sendJson(res, status, { error, error_description: description });
}

function shellMessage(kind: ErrorKind): string {
  switch (kind) {
    case 'rate_limited':
      return 'Global limit has been reached';
    case 'route_not_found':
      return 'Not Found';
    case 'payload_too_large':
      return 'Payload content length greater than maximum allowed';
    case 'malformed_body':
      return 'Invalid request payload JSON format';
    case 'internal_error':
      return 'Internal Server Error';
  }
}

function shellErrorCode(kind: ErrorKind): { errorCode?: string } {
  if (kind === 'rate_limited') return { errorCode: 'too_many_requests' };
  if (kind === 'malformed_body') return { errorCode: 'invalid_body' };
  return {};
}

function renderUser(u: Auth0User): Record<string, unknown> {
  return JSON.parse(JSON.stringify(u)) as Record<string, unknown>;
}

/** Auth0's `fields` / `include_fields` projection. */
function project(user: Record<string, unknown>, url: URL): Record<string, unknown> {
  const fields = url.searchParams.get('fields');
  if (!fields) return user;
  const wanted = new Set(fields.split(',').map((f) => f.trim()).filter(Boolean));
  const include = url.searchParams.get('include_fields') !== 'false';
  return Object.fromEntries(Object.entries(user).filter(([k]) => wanted.has(k) === include));
}

/** Returns the new user, or Auth0's validation message (which never echoes the values). */
function parseNewUser(body: unknown): NewUser | string {
  if (!isPlainObject(body)) return "Payload validation error: 'Expected type object but found type array or null'.";
  const { connection, email } = body;
  if (typeof connection !== 'string' || connection === '') {
    return "Payload validation error: 'Missing required property: connection'.";
  }
  if (email !== undefined && (typeof email !== 'string' || !EMAIL_RE.test(email))) {
    return "Payload validation error: 'Object didn't pass validation for format email' on property email (The user's email).";
  }
  if (email === undefined && connection === DEFAULT_CONNECTION) {
    return "Payload validation error: 'Missing required property: email'.";
  }
  const strings = ['name', 'nickname', 'given_name', 'family_name', 'password', 'user_id'] as const;
  for (const key of strings) {
    if (body[key] !== undefined && typeof body[key] !== 'string') {
      return `Payload validation error: 'Expected type string' on property ${key}.`;
    }
  }
  if (typeof body.user_id === 'string' && (body.user_id === '' || body.user_id.includes('|'))) {
    return "Payload validation error: 'String does not match pattern' on property user_id.";
  }
  const objects = ['app_metadata', 'user_metadata'] as const;
  for (const key of objects) {
    if (body[key] !== undefined && !isPlainObject(body[key])) {
      return `Payload validation error: 'Expected type object' on property ${key}.`;
    }
  }
  return {
    connection,
    email: email as string | undefined,
    name: body.name as string | undefined,
    nickname: body.nickname as string | undefined,
    given_name: body.given_name as string | undefined,
    family_name: body.family_name as string | undefined,
    user_id: body.user_id as string | undefined,
    email_verified: body.email_verified === true,
    blocked: typeof body.blocked === 'boolean' ? body.blocked : undefined,
    app_metadata: body.app_metadata as Record<string, unknown> | undefined,
    user_metadata: body.user_metadata as Record<string, unknown> | undefined,
  };
}

/** The small subset of Lucene syntax worth having here: all users, or one field, exact match. */
function parseQuery(q: string): ((u: Auth0User) => boolean) | undefined {
  const trimmed = q.trim();
  if (trimmed === '') return () => true;
  const m = /^(email|user_id):(?:"([^"]*)"|(\S+))$/.exec(trimmed);
  if (!m) return undefined;
  const value = m[2] ?? m[3];
  if (m[1] === 'email') return (u) => u.email?.toLowerCase() === value.toLowerCase();
  return (u) => u.user_id === value;
}

function clampInt(raw: string | null, fallback: number, min: number, max: number): number {
  const n = raw === null ? NaN : Number(raw);
  if (!Number.isInteger(n)) return fallback;
  return Math.min(max, Math.max(min, n));
}

function parseBasic(header: string): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { user: safeDecode(decoded.slice(0, i)), password: safeDecode(decoded.slice(i + 1)) };
}

/** RFC 6749 form-encodes Basic credentials; a stray "%" must not turn into a 500. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
