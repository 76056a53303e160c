/**
 * The Auth0 sandbox behaves like Auth0 where it makes deletion hard (issue 15), and
 * stores/auth0 copes: scopes checked against the token, the session layer refused on a tenant
 * that is not on an Enterprise plan, linked accounts, exact-match users-by-email (issue 36:
 * unlinking, a primary deleted without unlinking, the lagging search index, brute-force
 * blocks, the plans' rate-limit buckets).
 */
import { createAuth0Client, type Auth0Client } from '../../stores/auth0';
import { isVendorError, type VendorError } from '../../stores/errors';
import { AUTH0_PLANS, DEFAULT_GRANT_SCOPES, startAuth0Sandbox, type Auth0SandboxOptions } from '../../dev/sandboxes/auth0/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';
import { adminJson, caught } from './helpers/sandboxAdmin';

const CLIENT_ID = 'lethe-test';
const CLIENT_SECRET = 'lethe-test-secret';
const DOMAIN = 'lethe-test.auth0.local';

let seq = 0;
const unique = () => `${process.pid}.${Date.now()}.${seq++}`;

const open: RunningSandbox[] = [];
/** The sandbox's default search lag, waited out where a test is not about it. */
const LAG_MS = 1_000;
async function sandboxWith(opts: Partial<Auth0SandboxOptions> = {}): Promise<{ sandbox: RunningSandbox; auth0: Auth0Client }> {
  const sandbox = await startAuth0Sandbox({ port: 0, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...(opts.plan ? {} : { rateLimitPerSecond: 10_000 }), ...opts });
  open.push(sandbox);
  return { sandbox, auth0: createAuth0Client({ domain: DOMAIN, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: sandbox.url }) };
}
afterAll(async () => {
  for (const s of open) await s.close();
});

async function bearer(sandbox: RunningSandbox): Promise<{ token: string; scope: string }> {
  const res = await fetch(`${sandbox.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, audience: `https://${DOMAIN}/api/v2/` }),
  });
  const body = (await res.json()) as { access_token: string; scope: string };
  return { token: body.access_token, scope: body.scope };
}

/** A user as a login at a social or enterprise provider leaves it (its email in the provider's case). */
async function idpUser(sandbox: RunningSandbox, connection: string, email: string): Promise<string> {
  return (await adminJson<{ user_id: string }>(sandbox.url, 'POST', 'users', { connection, email })).user_id;
}

const artifacts = (sandbox: RunningSandbox, userId: string) =>
  adminJson<{ userExists: boolean; sessions: number; refreshTokens: number; grants: number }>(sandbox.url, 'GET', `users/${encodeURIComponent(userId)}/artifacts`);

function expectVendorError(err: unknown, type: VendorError['type']): VendorError {
  expect(isVendorError(err)).toBe(true);
  expect((err as VendorError).type).toBe(type);
  return err as VendorError;
}

describe('scopes', () => {
  test('when the grant lacks delete:users, then Auth0 answers 403 insufficient_scope with its error body and the client says unauthorized', async () => {
    const { sandbox, auth0 } = await sandboxWith({ scopes: DEFAULT_GRANT_SCOPES.filter((s) => s !== 'delete:users') });
    const { token, scope } = await bearer(sandbox);
    expect(scope.split(' ')).not.toContain('delete:users');
    const { userId } = await auth0.createUser({ email: `scoped.${unique()}@example.test`, name: 'Scoped' });
    const res = await fetch(`${sandbox.url}/api/v2/users/${encodeURIComponent(userId)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ statusCode: 403, error: 'Forbidden', message: 'Insufficient scope, expected any of: delete:users', errorCode: 'insufficient_scope' });
    const err = expectVendorError(await caught(() => auth0.deleteUser(userId)), 'unauthorized');
    expect(err.vendorCode).toBe('insufficient_scope');
    expect(await auth0.getUser(userId)).not.toBeNull();
  });

  test('when scope checks are switched off, then the same grant may delete', async () => {
    const { auth0 } = await sandboxWith({ scopes: ['read:users', 'create:users'], checkScopes: false, enterprise: true });
    const { userId } = await auth0.createUser({ email: `unchecked.${unique()}@example.test`, name: 'Unchecked' });
    expect(await auth0.deleteUser(userId)).toEqual({ outcome: 'deleted', notAvailable: [] });
  });
});

describe('the session layer', () => {
  test('when the tenant is not on an Enterprise plan (the default), then sessions and refresh tokens answer 403, and the user is deleted anyway with both reported not available', async () => {
    const { sandbox, auth0 } = await sandboxWith();
    const { token } = await bearer(sandbox);
    const { userId } = await auth0.createUser({ email: `plan.${unique()}@example.test`, name: 'Plan' });
    for (const [method, path] of [
      ['DELETE', 'sessions'],
      ['GET', 'sessions'],
      ['DELETE', 'refresh-tokens'],
      ['GET', 'refresh-tokens'],
    ]) {
      const res = await fetch(`${sandbox.url}/api/v2/users/${encodeURIComponent(userId)}/${path}`, { method, headers: { authorization: `Bearer ${token}` } });
      expect([method, path, res.status]).toEqual([method, path, 403]);
      expect(await res.json()).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    }
    expect(await auth0.sessionLayerNotAvailable(userId)).toEqual(['sessions', 'refresh_tokens']);
    expect(await auth0.deleteUser(userId)).toEqual({ outcome: 'deleted', notAvailable: ['sessions', 'refresh_tokens'] });
    expect(await auth0.getUser(userId)).toBeNull();
    // What the tenant would not let Lethe revoke is still there; the grant is gone.
    expect(await artifacts(sandbox, userId)).toEqual({ userExists: false, sessions: 1, refreshTokens: 1, grants: 0 });
  });

  test("when an Enterprise tenant's grant lacks delete:sessions, then only sessions are not available and the rest is revoked", async () => {
    const { sandbox, auth0 } = await sandboxWith({ enterprise: true, scopes: DEFAULT_GRANT_SCOPES.filter((s) => s !== 'delete:sessions') });
    const { userId } = await auth0.createUser({ email: `nosess.${unique()}@example.test`, name: 'No sessions scope' });
    expect(await auth0.deleteUser(userId)).toEqual({ outcome: 'deleted', notAvailable: ['sessions'] });
    expect(await artifacts(sandbox, userId)).toEqual({ userExists: false, sessions: 1, refreshTokens: 0, grants: 0 });
  });
});

describe('linked accounts', () => {
  test('when a user is linked into a primary, then the secondary answers 404, the primary lists it, and search by identities.user_id finds the primary', async () => {
    const { sandbox, auth0 } = await sandboxWith();
    const primaryId = await idpUser(sandbox, 'google-oauth2', `Primary.${unique()}@Gmail.test`);
    const secondary = await auth0.createUser({ email: `secondary.${unique()}@example.test`, name: 'Secondary' });
    const local = secondary.userId.slice('auth0|'.length);

    const { token } = await bearer(sandbox);
    const res = await fetch(`${sandbox.url}/api/v2/users/${encodeURIComponent(primaryId)}/identities`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'auth0', user_id: local }),
    });
    expect(res.status).toBe(201);
    const identities = (await res.json()) as { provider: string; user_id: string; profileData?: { email?: string } }[];
    expect(identities.map((i) => i.provider)).toEqual(['google-oauth2', 'auth0']);
    expect(identities[1]).toMatchObject({ user_id: local, profileData: { email: secondary.email } });

    expect(await auth0.getUser(secondary.userId)).toBeNull();
    await new Promise((r) => setTimeout(r, LAG_MS + 50)); // search shows the link once the index has it
    const search = await fetch(`${sandbox.url}/api/v2/users?q=${encodeURIComponent(`identities.user_id:"${local}"`)}&search_engine=v3&include_totals=true`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(((await search.json()) as { users: { user_id: string }[] }).users.map((u) => u.user_id)).toEqual([primaryId]);
    expect(await auth0.findPrimaryOf(secondary.userId)).toMatchObject({ userId: primaryId });
  });

  test("when another provider's identity has the same local id, then findPrimaryOf does not take it for the linked one", async () => {
    const { sandbox, auth0 } = await sandboxWith();
    const local = `4711${Date.now()}`;
    const primaryId = await idpUser(sandbox, 'google-oauth2', `owner.${unique()}@example.test`);
    await adminJson(sandbox.url, 'POST', 'users', { connection: 'github', email: `other.${unique()}@example.test`, user_id: local });
    await auth0.linkUser(primaryId, `github|${local}`);
    // A twitter user with the same digits was never linked anywhere.
    await adminJson(sandbox.url, 'POST', 'users', { connection: 'twitter', email: `twitter.${unique()}@example.test`, user_id: local });
    await new Promise((r) => setTimeout(r, LAG_MS + 50));
    expect(await auth0.findPrimaryOf(`github|${local}`)).toMatchObject({ userId: primaryId });
    expect(await auth0.findPrimaryOf(`facebook|${local}`)).toBeNull();
  });

  test('when linking needs a scope the grant lacks, then Auth0 answers 403 insufficient_scope', async () => {
    const { sandbox, auth0 } = await sandboxWith({ scopes: DEFAULT_GRANT_SCOPES.filter((s) => s !== 'update:users') });
    const primaryId = await idpUser(sandbox, 'google-oauth2', `p.${unique()}@example.test`);
    const secondary = await auth0.createUser({ email: `s.${unique()}@example.test`, name: 'S' });
    const err = expectVendorError(await caught(() => auth0.linkUser(primaryId, secondary.userId)), 'unauthorized');
    expect(err.vendorCode).toBe('insufficient_scope');
  });
});

describe('users-by-email matches exactly', () => {
  test("when a social user keeps its provider's case and a database user was lower-cased, then each is found only by its stored spelling, and the client asks for both", async () => {
    const { sandbox, auth0 } = await sandboxWith();
    const email = `Ann.Smith.${unique()}@Example.test`;
    const socialId = await idpUser(sandbox, 'google-oauth2', email);
    const db = await auth0.createUser({ email, name: 'Ann Smith' });
    expect(db.email).toBe(email.toLowerCase());
    const { token } = await bearer(sandbox);
    const byEmail = async (e: string) =>
      ((await (await fetch(`${sandbox.url}/api/v2/users-by-email?email=${encodeURIComponent(e)}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { user_id: string }[]).map(
        (u) => u.user_id,
      );
    expect(await byEmail(email)).toEqual([socialId]);
    expect(await byEmail(email.toLowerCase())).toEqual([db.userId]);
    expect(await byEmail(email.toUpperCase())).toEqual([]);
    expect((await auth0.findUsersByEmail(email)).map(({ userId, matched }) => ({ userId, matched })).sort((a, b) => a.userId.localeCompare(b.userId))).toEqual(
      [
        { userId: socialId, matched: 'as_given' },
        { userId: db.userId, matched: 'lower_case' },
      ].sort((a, b) => a.userId.localeCompare(b.userId)),
    );
  });

  test("when a social user's provider sent the lower-case spelling, then the client does not take it for a mixed-case email", async () => {
    const { sandbox, auth0 } = await sandboxWith();
    const email = `Bea.Jones.${unique()}@Example.test`;
    await idpUser(sandbox, 'github', email.toLowerCase());
    expect(await auth0.findUsersByEmail(email)).toEqual([]);
  });

  test('when the vendor matched in any letter case, then the client still takes only users stored under the spelling it asked for', async () => {
    const { sandbox, auth0 } = await sandboxWith({ exactEmailMatch: false });
    const email = `Cy.Young.${unique()}@Example.test`;
    const mine = await idpUser(sandbox, 'google-oauth2', email);
    await idpUser(sandbox, 'github', email.toUpperCase());
    expect((await auth0.findUsersByEmail(email)).map(({ userId, matched }) => ({ userId, matched }))).toEqual([{ userId: mine, matched: 'as_given' }]);
  });
});

describe('issue 36: what Auth0 documents about linking, search, blocks and rate limits', () => {
  test('when a linked secondary is unlinked, then it is a standalone user again (no metadata) and the primary no longer lists it', async () => {
    const { sandbox, auth0 } = await sandboxWith();
    const primaryId = await idpUser(sandbox, 'google-oauth2', `p.${unique()}@example.test`);
    const secondary = await auth0.createUser({ email: `s.${unique()}@example.test`, name: 'S' });
    await auth0.linkUser(primaryId, secondary.userId);
    expect(await auth0.getUser(secondary.userId)).toBeNull();
    await auth0.unlinkIdentity(primaryId, 'auth0', secondary.userId.slice('auth0|'.length));
    expect(await auth0.getUser(secondary.userId)).toMatchObject({ userId: secondary.userId, email: secondary.email });
    expect((await auth0.getUser(primaryId))?.identities?.map((i) => i.provider)).toEqual(['google-oauth2']);
  });

  test('when a primary is deleted without unlinking its database identity, then that identity survives: the sandbox lists it and a new sign-up with its email conflicts', async () => {
    const { sandbox, auth0 } = await sandboxWith();
    const primaryId = await idpUser(sandbox, 'google-oauth2', `p.${unique()}@example.test`);
    const email = `orphan.${unique()}@example.test`;
    const secondary = await auth0.createUser({ email, name: 'S' });
    await auth0.linkUser(primaryId, secondary.userId);
    await auth0.deleteUser(primaryId);
    expect(await adminJson<{ user_id: string; orphanOf?: string }[]>(sandbox.url, 'GET', `users?email=${encodeURIComponent(email)}`)).toEqual([
      expect.objectContaining({ user_id: secondary.userId, orphanOf: primaryId }),
    ]);
    expect(await caught(() => auth0.createUser({ email, name: 'again' }))).toMatchObject({ status: 409 });
  });

  test('when a user is written, then search shows it only after the index lag, while get-by-id and users-by-email show it at once', async () => {
    const { sandbox, auth0 } = await sandboxWith({ searchLagMs: 800 });
    const email = `Lag.${unique()}@Example.test`;
    const id = await idpUser(sandbox, 'google-oauth2', email);
    expect(await auth0.getUser(id)).toMatchObject({ userId: id });
    expect((await auth0.findUsersByEmail(email)).map((u) => u.userId)).toEqual([id]);
    expect(await auth0.searchByEmail(email.toLowerCase())).toEqual([]);
    await new Promise((r) => setTimeout(r, 850));
    expect((await auth0.searchByEmail(email.toLowerCase())).map((u) => u.userId)).toEqual([id]);
    // Deleted: gone by id at once, still found by search until the index catches up.
    await auth0.deleteUser(id);
    expect(await auth0.getUser(id)).toBeNull();
    expect((await auth0.searchByEmail(email)).map((u) => u.userId)).toEqual([id]);
  });

  test('when a user with brute-force blocks on its email is deleted, then the blocks remain until unblocked by identifier', async () => {
    const { sandbox, auth0 } = await sandboxWith();
    const email = `blocked.${unique()}@example.test`;
    const user = await auth0.createUser({ email, name: 'B' });
    await adminJson(sandbox.url, 'POST', 'user-blocks', { identifier: email, ip: '10.1.2.3' });
    await auth0.deleteUser(user.userId);
    expect(await auth0.blocksOf(email)).toBe(1);
    await auth0.unblock(email);
    expect(await auth0.blocksOf(email)).toBe(0);
  });

  test.each(Object.entries(AUTH0_PLANS))('when the tenant is on the %s plan, then its bucket holds the burst and refills at the sustained rate', async (plan, { perSecond, burst }) => {
    const { sandbox } = await sandboxWith({ plan: plan as keyof typeof AUTH0_PLANS });
    const { token } = await bearer(sandbox);
    const get = () => fetch(`${sandbox.url}/api/v2/users/none`, { headers: { authorization: `Bearer ${token}` } });
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: burst + perSecond }, get));
    const elapsed = Date.now() - started;
    const served = answers.filter((r) => r.status !== 429).length;
    // The whole burst at once, and no more than what refilled at the sustained rate meanwhile.
    expect(served).toBeGreaterThanOrEqual(burst);
    expect(served).toBeLessThanOrEqual(burst + Math.ceil((elapsed * perSecond) / 1000) + 1);
    expect(answers[0].headers.get('x-ratelimit-limit')).toBe(String(burst));
    await new Promise((r) => setTimeout(r, Math.ceil(1000 / perSecond) + 30));
    expect((await get()).status).toBe(404);
  });
});
