/**
 * Local stand-in for an Auth0 tenant: the client-credentials token endpoint and the parts of
 * the Management API v2 Lethe deletes through, answering with Auth0's own paths, status codes,
 * error bodies and rate-limit headers, so the real `auth0` SDK runs against it unchanged.
 *
 * Faithful by default, including what makes deletion hard (dev/sandboxes/README.md lists each
 * behaviour, its source and its switch): scopes checked against the token, the session layer
 * refused on a non-Enterprise tenant, account linking, exact-match users-by-email.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { isPlainObject, readFormOrJsonBody, RequestBodyError } from '../common/body';
import type { Route } from '../common/router';
import { sendEmpty, sendJson, startSandboxShell, type ErrorKind, type Handler, type RunningSandbox, type SandboxContext } from '../common/server';
import { Auth0Store, DEFAULT_CONNECTION, type Auth0User, type NewIdpUser, type NewUser, type UserPatch } from './store';

/**
 * The Management API's rate limit per subscription ("Rate limit configurations",
 * auth0.com/docs/troubleshoot/customer-support/operational-policies/rate-limit-policy/
 * rate-limit-configurations, the Management API table of each plan): a token bucket of `burst`
 * requests refilled at `perSecond`. Free: 2/s, burst 2; Enterprise production: 16/s, burst 50;
 * a non-production tenant: 2/s, burst 10.
 */
export const AUTH0_PLANS = {
  free: { perSecond: 2, burst: 2 },
  'enterprise-production': { perSecond: 16, burst: 50 },
  'non-production': { perSecond: 2, burst: 10 },
} as const;
export type Auth0Plan = keyof typeof AUTH0_PLANS;

/** How far the search index lags the writes by default: Auth0 names no figure ("a short period of time"). */
export const DEFAULT_SEARCH_LAG_MS = 1_000;

export interface Auth0SandboxOptions {
  port?: number;
  host?: string;
  clientId: string;
  clientSecret: string;
  /**
   * The Management API's sustained rate (requests per second); with `plan`, the plan's. Unset
   * with no plan: 16/s with a bucket of 16 (the sandbox's old default).
   */
  rateLimitPerSecond?: number;
  /** The subscription whose documented bucket (rate and burst) the sandbox keeps (AUTH0_PLANS). */
  plan?: Auth0Plan;
  /** The bucket's size; the plan's burst by default, else the rate. */
  rateBurst?: number;
  /** How long user search (`GET /api/v2/users?q=`) lags the writes (default DEFAULT_SEARCH_LAG_MS; 0: none). */
  searchLagMs?: number;
  tokenTtlSeconds?: number;
  /** The scopes of the client's grant, which every token it gets carries (default DEFAULT_GRANT_SCOPES). */
  scopes?: readonly string[];
  /** Check each call's scope against the token's, answering 403 `insufficient_scope` (default true). */
  checkScopes?: boolean;
  /**
   * The tenant's plan offers the session layer (default false). Auth0: "The Auth0 Management API
   * session management endpoints are available to customers on Enterprise plans"
   * (auth0.com/docs/manage-users/sessions/manage-user-sessions-with-auth0-management-api).
   */
  enterprise?: boolean;
  /** users-by-email matches the stored email exactly, as Auth0 does (default true); false: any letter case. */
  exactEmailMatch?: boolean;
}

/** What the client grant allows by default: everything Lethe calls, the session layer's scopes included. */
export const DEFAULT_GRANT_SCOPES: readonly string[] = [
  'read:users',
  'update:users',
  'delete:users',
  'create:users',
  'read:users_app_metadata',
  'read:grants',
  'delete:grants',
  'read:sessions',
  'delete:sessions',
  'read:refresh_tokens',
  'delete:refresh_tokens',
  'read:organizations',
  'create:organizations',
  'read:organization_members',
  'create:organization_members',
  'delete:organization_members',
  'read:authentication_methods',
  'create:authentication_methods',
  'delete:authentication_methods',
  'delete:guardian_enrollments',
];

/**
 * The scope each Management API route needs (any of), from Auth0's Management API reference
 * (also in the SDK's reference.md, e.g. identities.link: "a token ... containing the
 * `update:users` scope"; the session endpoints: read:sessions / delete:sessions).
 */
const SCOPES = {
  createUser: ['create:users'],
  readUsers: ['read:users'],
  deleteUser: ['delete:users'],
  updateUser: ['update:users'],
  readSessions: ['read:sessions'],
  deleteSessions: ['delete:sessions'],
  readRefreshTokens: ['read:refresh_tokens'],
  deleteRefreshTokens: ['delete:refresh_tokens'],
  readGrants: ['read:grants'],
  deleteGrants: ['delete:grants'],
  // "Get blocks by identifier" and "Unblock by identifier": read:users / update:users (Management API v2 reference).
  readBlocks: ['read:users'],
  deleteBlocks: ['update:users'],
  // Organizations ("Retrieve User's Organization Memberships": read:organizations; "Remove
  // Members From Organizations": delete:organization_members; Management API v2 reference).
  readOrganizations: ['read:organizations'],
  createOrganizations: ['create:organizations'],
  readOrganizationMembers: ['read:organization_members'],
  createOrganizationMembers: ['create:organization_members'],
  deleteOrganizationMembers: ['delete:organization_members'],
  // MFA ("Manage Authentication Methods with Management API"; get-enrollments: read:users;
  // delete-authenticators: delete:guardian_enrollments).
  readAuthMethods: ['read:authentication_methods'],
  createAuthMethods: ['create:authentication_methods'],
  deleteAuthMethods: ['delete:authentication_methods'],
  readEnrollments: ['read:users'],
  deleteAuthenticators: ['delete:guardian_enrollments'],
} as const;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The properties `POST /api/v2/users` and `POST /api/v2/users/{id}/identities` accept: the
 * auth0 SDK's `CreateUserRequestContent` and `LinkUserIdentityRequestContent`
 * (test/sandboxes/auth0-conformance.test.ts holds these lists to the SDK's types). Auth0's
 * schemas for both declare `additionalProperties: false`, and Auth0 refuses anything else with
 * 400 "Payload validation error: 'Additional properties not allowed: …'": a client sending a
 * misspelt or invented property must fail here as it would there.
 */
export const CREATE_USER_PROPERTIES: readonly string[] = [
  'email',
  'phone_number',
  'user_metadata',
  'blocked',
  'email_verified',
  'phone_verified',
  'app_metadata',
  'given_name',
  'family_name',
  'name',
  'nickname',
  'picture',
  'user_id',
  'connection',
  'password',
  'verify_email',
  'username',
];
/**
 * The properties `PATCH /api/v2/users/{id}` accepts: the auth0 SDK's `UpdateUserRequestContent`
 * (reference.md, users.update: "These are the attributes that can be updated at the root
 * level"), refused otherwise like the create's. The sandbox keeps the profile fields among
 * them (email, email_verified, name, nickname, given_name, family_name, phone_number) and
 * accepts the rest without keeping them.
 */
export const UPDATE_USER_PROPERTIES: readonly string[] = [
  'blocked',
  'email_verified',
  'email',
  'phone_number',
  'phone_verified',
  'user_metadata',
  'app_metadata',
  'given_name',
  'family_name',
  'name',
  'nickname',
  'picture',
  'verify_email',
  'verify_phone_number',
  'password',
  'connection',
  'client_id',
  'username',
];
/** E.164 as the SDK's `phone_number` asks ("following the E.164 recommendation"): a plus and at most 15 digits. */
const E164_RE = /^\+[1-9][0-9]{1,14}$/;
export const LINK_IDENTITY_PROPERTIES: readonly string[] = ['provider', 'connection_id', 'user_id', 'link_with'];

/** Auth0's answer to a body property its schema does not declare; undefined when there is none. */
function additionalProperty(body: Record<string, unknown>, allowed: readonly string[]): string | undefined {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  return extra.length > 0 ? `Payload validation error: 'Additional properties not allowed: ${extra.join(',')}'.` : undefined;
}

export async function startAuth0Sandbox(opts: Auth0SandboxOptions): Promise<RunningSandbox> {
  const store = new Auth0Store();
  const tokenTtlSeconds = opts.tokenTtlSeconds ?? 86_400;
  const grantScopes = opts.scopes ?? DEFAULT_GRANT_SCOPES;
  const checkScopes = opts.checkScopes ?? true;
  const enterprise = opts.enterprise ?? false;
  const exactEmailMatch = opts.exactEmailMatch ?? true;
  const searchLagMs = opts.searchLagMs ?? DEFAULT_SEARCH_LAG_MS;
  const plan = opts.plan ? AUTH0_PLANS[opts.plan] : undefined;
  const ratePerSecond = opts.rateLimitPerSecond ?? plan?.perSecond ?? 16;
  const rateBurst = opts.rateBurst ?? (opts.rateLimitPerSecond === undefined ? plan?.burst : undefined) ?? ratePerSecond;

  /**
   * A valid token first (401), then its scopes (403 `insufficient_scope`, Auth0's body:
   * "Insufficient scope, expected any of: …"), then, for the session layer, the tenant's plan.
   */
  const authed =
    (scopes: readonly string[], handler: Handler, opt: { sessionLayer?: boolean } = {}): Handler =>
    (ctx) => {
      const header = String(ctx.req.headers.authorization ?? '');
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (!m) return auth0Error(ctx.res, 401, 'Missing authentication');
      const state = store.tokenState(m[1]);
      if (state === 'expired') return auth0Error(ctx.res, 401, 'Expired token received for JSON Web Token validation', { attributes: { error: 'Expired token' } });
      if (state === 'unknown') return auth0Error(ctx.res, 401, 'Invalid token', { attributes: { error: 'Invalid token' } });
      if (checkScopes) {
        const held = store.tokenScopes(m[1]);
        if (!scopes.some((sc) => held.has(sc))) {
          return auth0Error(ctx.res, 403, `Insufficient scope, expected any of: ${scopes.join(',')}`, { errorCode: 'insufficient_scope' });
        }
      }
      if (opt.sessionLayer && !enterprise) {
        // The error code is the sandbox's choice: Auth0 documents the plan limit, not the body.
        return auth0Error(ctx.res, 403, 'The session management endpoints are available on Enterprise plans only.', { errorCode: 'operation_not_supported' });
      }
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
      access_token: store.issueToken(tokenTtlSeconds, grantScopes),
      scope: grantScopes.join(' '),
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

  const updateUser: Handler = async (ctx) => {
    const parsed = parseUserPatch(await ctx.readJson());
    if (typeof parsed === 'string') return auth0Error(ctx.res, 400, parsed, { errorCode: 'invalid_body' });
    const result = store.updateUser(ctx.params.id, parsed);
    if (result.ok) return sendJson(ctx.res, 200, renderUser(result.user));
    if (result.reason === 'not_found') return auth0Error(ctx.res, 404, 'The user does not exist.', { errorCode: 'inexistent_user' });
    return auth0Error(ctx.res, 400, 'The specified new email already exists');
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
    sendJson(
      ctx.res,
      200,
      store.findByEmail(email, exactEmailMatch).map((u) => project(renderUser(u), ctx.url)),
    );
  };

  const listUsers: Handler = (ctx) => {
    const sp = ctx.url.searchParams;
    const engine = sp.get('search_engine') ?? 'v3';
    if (engine !== 'v3' && engine !== 'v2') {
      return auth0Error(ctx.res, 400, "Query validation error: 'search_engine' must be v2 or v3.", { errorCode: 'invalid_query_string' });
    }
    const filter = parseQuery(sp.get('q') ?? '');
    if (!filter) {
      return auth0Error(ctx.res, 400, 'The sandbox only supports q=field:"value" terms joined by AND, over email, user_id and identities.{user_id,provider,connection}.', {
        errorCode: 'invalid_query_string',
      });
    }
    const perPage = clampInt(sp.get('per_page'), 50, 1, 100);
    const page = clampInt(sp.get('page'), 0, 0, 1000);
    // Search reads the lagging index, never the users themselves (see Auth0Store.searchable).
    const all = store
      .searchable(searchLagMs)
      .filter(filter)
      .sort((a, b) => a.created_at.localeCompare(b.created_at));
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

  const linkIdentity: Handler = async (ctx) => {
    const body = await ctx.readJson();
    if (!isPlainObject(body)) return auth0Error(ctx.res, 400, "Payload validation error: 'Expected type object but found type array or null'.", { errorCode: 'invalid_body' });
    const extra = additionalProperty(body, LINK_IDENTITY_PROPERTIES);
    if (extra) return auth0Error(ctx.res, 400, extra, { errorCode: 'invalid_body' });
    if (body.link_with !== undefined) {
      return auth0Error(ctx.res, 400, 'The sandbox links with provider and user_id only (a Management API token), not link_with.', { errorCode: 'invalid_body' });
    }
    const { provider, user_id: secondary } = body;
    if (typeof provider !== 'string' || provider === '') return auth0Error(ctx.res, 400, "Payload validation error: 'Missing required property: provider'.", { errorCode: 'invalid_body' });
    if ((typeof secondary !== 'string' && typeof secondary !== 'number') || secondary === '') {
      return auth0Error(ctx.res, 400, "Payload validation error: 'Missing required property: user_id'.", { errorCode: 'invalid_body' });
    }
    const result = store.linkUser(ctx.params.id, provider, String(secondary));
    if (result.ok) return sendJson(ctx.res, 201, JSON.parse(JSON.stringify(result.identities)));
    if (result.reason === 'primary_missing') return auth0Error(ctx.res, 404, 'The user does not exist.', { errorCode: 'inexistent_user' });
    const message =
      result.reason === 'same_user'
        ? 'Main identity and the new one are the same.'
        : result.reason === 'secondary_has_links'
          ? 'The secondary account has linked identities of its own.'
          : 'The secondary user does not exist.';
    return auth0Error(ctx.res, 400, message, { errorCode: 'invalid_body' });
  };

  const unlinkIdentity: Handler = (ctx) => {
    const result = store.unlinkUser(ctx.params.id, ctx.params.provider, ctx.params.userId);
    if (!result.ok) return auth0Error(ctx.res, 404, 'The user does not exist.', { errorCode: 'inexistent_user' });
    sendJson(ctx.res, 200, JSON.parse(JSON.stringify(result.identities)));
  };

  const identifierOf = (ctx: SandboxContext): string | undefined => {
    const identifier = ctx.url.searchParams.get('identifier');
    if (!identifier) auth0Error(ctx.res, 400, "Query validation error: 'Missing required property: identifier'.", { errorCode: 'invalid_query_string' });
    return identifier ?? undefined;
  };

  const listBlocks: Handler = (ctx) => {
    const identifier = identifierOf(ctx);
    if (identifier !== undefined) sendJson(ctx.res, 200, { blocked_for: store.blocksFor(identifier) });
  };

  const deleteBlocks: Handler = (ctx) => {
    const identifier = identifierOf(ctx);
    if (identifier === undefined) return;
    store.unblock(identifier);
    sendEmpty(ctx.res, 204);
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

  /** Offset paging as the SDK's list operations send it (`page`, `per_page`, `include_totals`, default true). */
  const paged = <T>(ctx: SandboxContext, key: string, all: T[]) => {
    const sp = ctx.url.searchParams;
    const perPage = clampInt(sp.get('per_page'), 50, 1, 100);
    const page = clampInt(sp.get('page'), 0, 0, 1000);
    const items = all.slice(page * perPage, page * perPage + perPage);
    if (sp.get('include_totals') === 'false') return sendJson(ctx.res, 200, items);
    sendJson(ctx.res, 200, { start: page * perPage, limit: perPage, total: all.length, [key]: items });
  };

  /** Checkpoint paging (`from`, `take`): `{ [key], next? }`, as organizations.list and members.list read it. */
  const checkpoint = <T extends { id?: string; user_id?: string }>(ctx: SandboxContext, key: string, all: T[]) => {
    const sp = ctx.url.searchParams;
    const take = clampInt(sp.get('take'), 50, 1, 100);
    const from = clampInt(sp.get('from'), 0, 0, Number.MAX_SAFE_INTEGER);
    const items = all.slice(from, from + take);
    sendJson(ctx.res, 200, { [key]: items, ...(from + take < all.length ? { next: String(from + take) } : {}) });
  };

  const renderOrg = (o: { id: string; name: string; display_name?: string }) => ({ id: o.id, name: o.name, ...(o.display_name ? { display_name: o.display_name } : {}) });

  const listOrganizations: Handler = (ctx) => checkpoint(ctx, 'organizations', [...store.organizations.values()].map(renderOrg));

  const createOrganization: Handler = async (ctx) => {
    const body = await ctx.readJson();
    if (!isPlainObject(body) || typeof body.name !== 'string' || !/^[a-z0-9_-]{1,50}$/.test(body.name)) {
      return auth0Error(ctx.res, 400, "Payload validation error: 'Missing required property: name'.", { errorCode: 'invalid_body' });
    }
    const org = store.createOrganization(body.name, typeof body.display_name === 'string' ? body.display_name : undefined);
    if (!org) return auth0Error(ctx.res, 409, 'An organization with this name already exists.', { errorCode: 'organization_conflict' });
    sendJson(ctx.res, 201, renderOrg(org));
  };

  const orgOf = (ctx: SandboxContext) => {
    const org = store.organizations.get(ctx.params.id);
    if (!org) auth0Error(ctx.res, 404, 'No organization found by that id or name', { errorCode: 'inexistent_organization' });
    return org;
  };

  const membersOf = async (ctx: SandboxContext): Promise<string[] | undefined> => {
    const body = await ctx.readJson();
    if (!isPlainObject(body) || !Array.isArray(body.members) || body.members.length === 0 || !body.members.every((m) => typeof m === 'string')) {
      auth0Error(ctx.res, 400, "Payload validation error: 'Missing required property: members'.", { errorCode: 'invalid_body' });
      return undefined;
    }
    return body.members as string[];
  };

  const listOrgMembers: Handler = (ctx) => {
    const org = orgOf(ctx);
    if (!org) return;
    // A deleted user's membership is listed by its id alone (see Auth0Store.deleteUser).
    const members = [...org.members].map((id) => {
      const u = store.users.get(id);
      return { user_id: id, ...(u?.email ? { email: u.email } : {}), ...(u ? { name: u.name } : {}) };
    });
    checkpoint(ctx, 'members', members);
  };

  const addOrgMembers: Handler = async (ctx) => {
    const org = orgOf(ctx);
    if (!org) return;
    const members = await membersOf(ctx);
    if (!members) return;
    for (const m of members) if (!store.users.has(m)) return auth0Error(ctx.res, 400, `User ${m} does not exist.`, { errorCode: 'invalid_body' });
    for (const m of members) org.members.add(m);
    sendEmpty(ctx.res, 204);
  };

  // "Remove Members From Organizations": 204; removes only the membership, not the user.
  const deleteOrgMembers: Handler = async (ctx) => {
    const org = orgOf(ctx);
    if (!org) return;
    const members = await membersOf(ctx);
    if (!members) return;
    for (const m of members) org.members.delete(m);
    sendEmpty(ctx.res, 204);
  };

  const listUserOrganizations: Handler = (ctx) => {
    if (requireUser(ctx)) paged(ctx, 'organizations', store.organizationsOf(ctx.params.id).map(renderOrg));
  };

  const listAuthMethods: Handler = (ctx) => {
    if (requireUser(ctx)) paged(ctx, 'authenticators', store.authMethodsOf(ctx.params.id));
  };

  const createAuthMethod: Handler = async (ctx) => {
    if (!requireUser(ctx)) return;
    const body = await ctx.readJson();
    const types = ['phone', 'email', 'totp', 'webauthn-roaming', 'passkey'];
    if (!isPlainObject(body) || typeof body.type !== 'string' || !types.includes(body.type)) {
      return auth0Error(ctx.res, 400, "Payload validation error: 'Missing required property: type'.", { errorCode: 'invalid_body' });
    }
    const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
    const m = store.addAuthMethod(ctx.params.id, { type: body.type, name: str('name'), phone_number: str('phone_number'), email: str('email') });
    sendJson(ctx.res, 201, { id: m.id, type: m.type, name: m.name, phone_number: m.phone_number, email: m.email, created_at: m.created_at });
  };

  const deleteAuthMethods: Handler = (ctx) => {
    if (!requireUser(ctx)) return;
    store.deleteAuthMethods(ctx.params.id);
    sendEmpty(ctx.res, 204);
  };

  // get-enrollments: "the first multi-factor authentication enrollment that a specific user has confirmed".
  const listEnrollments: Handler = (ctx) => {
    if (!requireUser(ctx)) return;
    const first = store.authMethodsOf(ctx.params.id).find((m) => m.confirmed);
    sendJson(ctx.res, 200, first ? [{ id: first.id, status: 'confirmed', type: first.type, name: first.name, phone_number: first.phone_number, enrolled_at: first.enrolled_at }] : []);
  };

  const routes: Route<Handler>[] = [
    { method: 'POST', pattern: '/oauth/token', handler: token },
    { method: 'POST', pattern: '/api/v2/users', handler: authed(SCOPES.createUser, createUser) },
    { method: 'GET', pattern: '/api/v2/users', handler: authed(SCOPES.readUsers, listUsers) },
    { method: 'GET', pattern: '/api/v2/users/{id}', handler: authed(SCOPES.readUsers, getUser) },
    { method: 'DELETE', pattern: '/api/v2/users/{id}', handler: authed(SCOPES.deleteUser, deleteUser) },
    { method: 'PATCH', pattern: '/api/v2/users/{id}', handler: authed(SCOPES.updateUser, updateUser) },
    { method: 'GET', pattern: '/api/v2/users-by-email', handler: authed(SCOPES.readUsers, usersByEmail) },
    { method: 'POST', pattern: '/api/v2/users/{id}/identities', handler: authed(SCOPES.updateUser, linkIdentity) },
    { method: 'DELETE', pattern: '/api/v2/users/{id}/identities/{provider}/{userId}', handler: authed(SCOPES.updateUser, unlinkIdentity) },
    { method: 'GET', pattern: '/api/v2/user-blocks', handler: authed(SCOPES.readBlocks, listBlocks) },
    { method: 'DELETE', pattern: '/api/v2/user-blocks', handler: authed(SCOPES.deleteBlocks, deleteBlocks) },
    { method: 'GET', pattern: '/api/v2/users/{id}/sessions', handler: authed(SCOPES.readSessions, listSessions, { sessionLayer: true }) },
    { method: 'DELETE', pattern: '/api/v2/users/{id}/sessions', handler: authed(SCOPES.deleteSessions, deleteSessions, { sessionLayer: true }) },
    { method: 'GET', pattern: '/api/v2/users/{id}/refresh-tokens', handler: authed(SCOPES.readRefreshTokens, listRefreshTokens, { sessionLayer: true }) },
    { method: 'DELETE', pattern: '/api/v2/users/{id}/refresh-tokens', handler: authed(SCOPES.deleteRefreshTokens, deleteRefreshTokens, { sessionLayer: true }) },
    { method: 'GET', pattern: '/api/v2/grants', handler: authed(SCOPES.readGrants, listGrants) },
    { method: 'DELETE', pattern: '/api/v2/grants', handler: authed(SCOPES.deleteGrants, deleteGrantsByUser) },
    { method: 'DELETE', pattern: '/api/v2/grants/{id}', handler: authed(SCOPES.deleteGrants, deleteGrant) },
    { method: 'GET', pattern: '/api/v2/organizations', handler: authed(SCOPES.readOrganizations, listOrganizations) },
    { method: 'POST', pattern: '/api/v2/organizations', handler: authed(SCOPES.createOrganizations, createOrganization) },
    { method: 'GET', pattern: '/api/v2/organizations/{id}/members', handler: authed(SCOPES.readOrganizationMembers, listOrgMembers) },
    { method: 'POST', pattern: '/api/v2/organizations/{id}/members', handler: authed(SCOPES.createOrganizationMembers, addOrgMembers) },
    { method: 'DELETE', pattern: '/api/v2/organizations/{id}/members', handler: authed(SCOPES.deleteOrganizationMembers, deleteOrgMembers) },
    { method: 'GET', pattern: '/api/v2/users/{id}/organizations', handler: authed(SCOPES.readOrganizations, listUserOrganizations) },
    { method: 'GET', pattern: '/api/v2/users/{id}/authentication-methods', handler: authed(SCOPES.readAuthMethods, listAuthMethods) },
    { method: 'POST', pattern: '/api/v2/users/{id}/authentication-methods', handler: authed(SCOPES.createAuthMethods, createAuthMethod) },
    { method: 'DELETE', pattern: '/api/v2/users/{id}/authentication-methods', handler: authed(SCOPES.deleteAuthMethods, deleteAuthMethods) },
    { method: 'GET', pattern: '/api/v2/users/{id}/enrollments', handler: authed(SCOPES.readEnrollments, listEnrollments) },
    { method: 'DELETE', pattern: '/api/v2/users/{id}/authenticators', handler: authed(SCOPES.deleteAuthenticators, deleteAuthMethods) },
  ];

  const adminRoutes: Route<Handler>[] = [
    {
      // A social or enterprise user, as a login at its identity provider leaves it (the
      // Management API creates database and passwordless users only): the email keeps its case.
      method: 'POST',
      pattern: '/__sandbox/users',
      handler: async (ctx) => {
        const body = await ctx.readJson();
        if (!isPlainObject(body) || typeof body.connection !== 'string' || body.connection === '' || body.connection === DEFAULT_CONNECTION) {
          return sendJson(ctx.res, 400, { error: { type: 'invalid', message: 'connection: a social or enterprise connection name' } });
        }
        const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
        const input: NewIdpUser = {
          connection: body.connection,
          provider: str('provider'),
          email: str('email'),
          name: str('name'),
          user_id: str('user_id'),
          isSocial: typeof body.isSocial === 'boolean' ? body.isSocial : undefined,
        };
        const result = store.createIdpUser(input, opts.clientId);
        if (!result.ok) return sendJson(ctx.res, 409, { error: { type: 'conflict', message: 'user exists' } });
        sendJson(ctx.res, 201, renderUser(result.user));
      },
    },
    {
      // Every user (linked secondaries inside their primaries too) whose email equals `email`
      // in any letter case: what a test checks emptiness and bystanders with, looser than
      // users-by-email (exact), so nothing the Management API would hide counts as gone.
      method: 'GET',
      pattern: '/__sandbox/users',
      handler: (ctx) => {
        const email = (ctx.url.searchParams.get('email') ?? '').toLowerCase();
        if (!email) return sendJson(ctx.res, 400, { error: { type: 'invalid', message: 'email: required' } });
        const found = [...store.users.values()].filter(
          (u) => u.email?.toLowerCase() === email || u.identities.some((i) => typeof i.profileData?.email === 'string' && i.profileData.email.toLowerCase() === email),
        );
        // Orphaned linked database identities too (a primary deleted without unlinking them).
        const orphans = store.orphansWithEmail(email).map((o) => ({ user_id: o.user_id, email: o.email, orphanOf: o.orphanOf, identities: [] }));
        sendJson(ctx.res, 200, [...found.map((u) => renderUser(u)), ...orphans]);
      },
    },
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
      // Brute-force blocks on an identifier (failed logins from an IP), as Attack Protection leaves them.
      method: 'POST',
      pattern: '/__sandbox/user-blocks',
      handler: async (ctx) => {
        const body = await ctx.readJson();
        if (!isPlainObject(body) || typeof body.identifier !== 'string' || body.identifier === '') {
          return sendJson(ctx.res, 400, { error: { type: 'invalid', message: 'identifier: required' } });
        }
        store.addBlock({ identifier: body.identifier, ip: typeof body.ip === 'string' ? body.ip : '10.0.0.1', connection: typeof body.connection === 'string' ? body.connection : DEFAULT_CONNECTION });
        sendJson(ctx.res, 201, { blocked_for: store.blocksFor(body.identifier) });
      },
    },
    {
      // Blocks on an identifier in any letter case: what a test checks emptiness with.
      method: 'GET',
      pattern: '/__sandbox/user-blocks',
      handler: (ctx) => sendJson(ctx.res, 200, { blocked_for: store.blocksFor(ctx.url.searchParams.get('identifier') ?? '') }),
    },
    {
      // An organization with members, as a company's admin would set it up.
      method: 'POST',
      pattern: '/__sandbox/organizations',
      handler: async (ctx) => {
        const body = await ctx.readJson();
        if (!isPlainObject(body) || typeof body.name !== 'string') return sendJson(ctx.res, 400, { error: { type: 'invalid', message: 'name: required' } });
        const org = store.createOrganization(body.name);
        if (!org) return sendJson(ctx.res, 409, { error: { type: 'conflict', message: 'organization exists' } });
        for (const m of Array.isArray(body.members) ? body.members : []) if (typeof m === 'string') org.members.add(m);
        sendJson(ctx.res, 201, { id: org.id, name: org.name, members: [...org.members] });
      },
    },
    {
      // Every member id of an organization, deleted users' included.
      method: 'GET',
      pattern: '/__sandbox/organizations/{id}',
      handler: (ctx) => {
        const org = store.organizations.get(ctx.params.id);
        if (!org) return sendJson(ctx.res, 404, { error: { type: 'not_found', message: 'no such organization' } });
        sendJson(ctx.res, 200, { id: org.id, name: org.name, members: [...org.members] });
      },
    },
    {
      // An MFA enrolment (a confirmed authentication method), as the user's own enrolment leaves it.
      method: 'POST',
      pattern: '/__sandbox/users/{id}/authentication-methods',
      handler: async (ctx) => {
        if (!store.users.has(ctx.params.id)) return sendJson(ctx.res, 404, { error: { type: 'not_found', message: 'no such user' } });
        const body = await ctx.readJson();
        const type = isPlainObject(body) && typeof body.type === 'string' ? body.type : 'phone';
        const m = store.addAuthMethod(ctx.params.id, { type, ...(type === 'phone' ? { phone_number: '+15555550123' } : {}) });
        sendJson(ctx.res, 201, m);
      },
    },
    {
      // Readable after the user is gone, which the Management API cannot offer.
      method: 'GET',
      pattern: '/__sandbox/users/{id}/artifacts',
      handler: (ctx) => sendJson(ctx.res, 200, artifactCounts(store, ctx.params.id)),
    },
    {
      // Also readable after the user is gone.
      method: 'GET',
      pattern: '/__sandbox/users/{id}/beside',
      handler: (ctx) => sendJson(ctx.res, 200, besideCounts(store, ctx.params.id)),
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
    { port: opts.port, host: opts.host, rateLimit: ratePerSecond, rateBurst, rateWindowMs: 1000, rateModel: 'token-bucket' },
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

/** What sits beside the user record: its MFA authentication methods and the organizations naming it as a member. */
function besideCounts(store: Auth0Store, userId: string) {
  return {
    userExists: store.users.has(userId),
    authenticationMethods: store.authMethodsOf(userId).length,
    organizations: store.organizationsOf(userId).map((o) => o.id),
  };
}

function auth0Error(res: ServerResponse, status: number, message: string, extra: { errorCode?: string; attributes?: Record<string, unknown> } = {}): void {
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
  const wanted = new Set(
    fields
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean),
  );
  const include = url.searchParams.get('include_fields') !== 'false';
  return Object.fromEntries(Object.entries(user).filter(([k]) => wanted.has(k) === include));
}

/** Returns the new user, or Auth0's validation message (which never echoes the values). */
function parseNewUser(body: unknown): NewUser | string {
  if (!isPlainObject(body)) return "Payload validation error: 'Expected type object but found type array or null'.";
  const extra = additionalProperty(body, CREATE_USER_PROPERTIES);
  if (extra) return extra;
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

/** The changes of a `PATCH /api/v2/users/{id}`, or Auth0's validation message (never echoing a value). */
function parseUserPatch(body: unknown): UserPatch | string {
  if (!isPlainObject(body)) return "Payload validation error: 'Expected type object but found type array or null'.";
  const extra = additionalProperty(body, UPDATE_USER_PROPERTIES);
  if (extra) return extra;
  const nullableStrings = ['email', 'name', 'nickname', 'given_name', 'family_name', 'phone_number'] as const;
  for (const key of nullableStrings) {
    if (body[key] !== undefined && body[key] !== null && typeof body[key] !== 'string') return `Payload validation error: 'Expected type string' on property ${key}.`;
  }
  if (typeof body.email === 'string' && !EMAIL_RE.test(body.email)) {
    return "Payload validation error: 'Object didn't pass validation for format email' on property email (Email address of this user).";
  }
  if (typeof body.phone_number === 'string' && !E164_RE.test(body.phone_number)) {
    return "Payload validation error: 'String does not match pattern' on property phone_number (The user's phone number (following the E.164 recommendation)).";
  }
  if (body.email_verified !== undefined && typeof body.email_verified !== 'boolean') return "Payload validation error: 'Expected type boolean' on property email_verified.";
  const patch: UserPatch = {};
  for (const key of nullableStrings) if (body[key] !== undefined) patch[key] = body[key] as string | null;
  if (typeof body.email_verified === 'boolean') patch.email_verified = body.email_verified;
  return patch;
}

/**
 * The small subset of user search v3's Lucene syntax worth having here: all users, or
 * `field:value` terms joined by AND, exact match. `identities.*` matches any identity of the
 * user, linked secondaries included (how a linked identity's primary is found).
 */
function parseQuery(q: string): ((u: Auth0User) => boolean) | undefined {
  const trimmed = q.trim();
  if (trimmed === '') return () => true;
  const terms: ((u: Auth0User) => boolean)[] = [];
  for (const part of trimmed.split(/\s+AND\s+/)) {
    const m = /^(email|user_id|identities\.user_id|identities\.provider|identities\.connection):(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))$/.exec(part.trim());
    if (!m) return undefined;
    const value = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
    const field = m[1];
    if (field === 'email') terms.push((u) => u.email?.toLowerCase() === value.toLowerCase());
    else if (field === 'user_id') terms.push((u) => u.user_id === value);
    else {
      const key = field.slice('identities.'.length) as 'user_id' | 'provider' | 'connection';
      terms.push((u) => u.identities.some((i) => String(i[key]) === value));
    }
  }
  return (u) => terms.every((t) => t(u));
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
