import { createAuth0Client, type Auth0Client } from '../../stores/auth0';
import { isVendorError, type VendorError } from '../../stores/errors';
import { startAuth0Sandbox } from '../../dev/sandboxes/auth0/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';
import { adminJson, armFault, caught, resetSandbox, stats, unpaced } from './helpers/sandboxAdmin';

const CLIENT_ID = 'lethe-test';
const CLIENT_SECRET = 'lethe-test-secret';
const DOMAIN = 'lethe-test.auth0.local';

let seq = 0;
const uniqueEmail = (prefix = 'person') => `${prefix}.${process.pid}.${Date.now()}.${seq++}@example.test`;

function clientFor(sandbox: RunningSandbox, overrides: Partial<Parameters<typeof createAuth0Client>[0]> = {}): Auth0Client {
  return createAuth0Client({ domain: DOMAIN, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: sandbox.url, ...overrides });
}

async function token(sandbox: RunningSandbox): Promise<string> {
  const res = await fetch(`${sandbox.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, audience: `https://${DOMAIN}/api/v2/` }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

function artifacts(sandbox: RunningSandbox, userId: string) {
  return adminJson<{ userExists: boolean; sessions: number; refreshTokens: number; grants: number }>(sandbox.url, 'GET', `users/${encodeURIComponent(userId)}/artifacts`);
}

function expectVendorError(err: unknown, type: VendorError['type']): VendorError {
  expect(isVendorError(err)).toBe(true);
  const e = err as VendorError;
  expect(e.vendor).toBe('auth0');
  expect(e.type).toBe(type);
  return e;
}

describe('Auth0 sandbox driven through stores/auth0 (real auth0 SDK)', () => {
  let sandbox: RunningSandbox;
  let auth0: Auth0Client;

  beforeAll(async () => {
    sandbox = await startAuth0Sandbox({ port: 0, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, rateLimitPerSecond: 10_000 });
    auth0 = clientFor(sandbox);
  });
  afterAll(() => sandbox.close());
  beforeEach(() => resetSandbox(sandbox.url, { keepData: true }));

  test('when a database user is created, then it is found by id, and by email through the lower-case form Auth0 stored', async () => {
    const email = uniqueEmail('Mixed.Case');
    const created = await auth0.createUser({ email, name: 'Ada Lovelace' });
    expect(created.userId).toMatch(/^auth0\|[0-9a-f]{24}$/);
    expect(created.email).toBe(email.toLowerCase());

    expect(await auth0.getUser(created.userId)).toMatchObject({ userId: created.userId, email: email.toLowerCase() });
    const found = async (e: string) => (await auth0.findUsersByEmail(e)).map(({ userId, matched }) => ({ userId, matched }));
    expect(await found(email.toLowerCase())).toEqual([{ userId: created.userId, matched: 'as_given' }]);
    expect(await found(email)).toEqual([{ userId: created.userId, matched: 'lower_case' }]);
    expect(await found(email.toUpperCase())).toEqual([{ userId: created.userId, matched: 'lower_case' }]);
  });

  test('when a user is deleted on an Enterprise tenant, then the user, its sessions, refresh tokens and grants are all gone', async () => {
    const enterprise = await startAuth0Sandbox({ port: 0, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, rateLimitPerSecond: 10_000, enterprise: true });
    try {
      await deletesEverything(enterprise, clientFor(enterprise));
    } finally {
      await enterprise.close();
    }
  });

  async function deletesEverything(sandbox: RunningSandbox, auth0: Auth0Client): Promise<void> {
    const email = uniqueEmail();
    const { userId } = await auth0.createUser({ email, name: 'Grace Hopper' });
    await adminJson(sandbox.url, 'POST', `users/${encodeURIComponent(userId)}/logins`, { clientId: 'mobile-app' });
    expect(await artifacts(sandbox, userId)).toEqual({ userExists: true, sessions: 2, refreshTokens: 2, grants: 2 });

    expect(await auth0.deleteUser(userId)).toEqual({ outcome: 'deleted', notAvailable: [] });

    expect(await auth0.getUser(userId)).toBeNull();
    expect(await auth0.findUsersByEmail(email)).toEqual([]);
    // The sandbox keeps these apart from the user, so only explicit revocation clears them.
    expect(await artifacts(sandbox, userId)).toEqual({ userExists: false, sessions: 0, refreshTokens: 0, grants: 0 });
    const s = await stats(sandbox.url);
    expect(s.statuses['DELETE /api/v2/users/{id}/sessions']).toEqual({ '202': 1 });
    expect(s.statuses['DELETE /api/v2/users/{id}/refresh-tokens']).toEqual({ '202': 1 });
    expect(s.statuses['DELETE /api/v2/grants']).toEqual({ '204': 1 });
    expect(s.statuses['DELETE /api/v2/users/{id}']).toEqual({ '204': 1 });
  }

  test('when a user is deleted twice, then the second delete succeeds as already_gone', async () => {
    const { userId } = await auth0.createUser({ email: uniqueEmail(), name: 'Twice' });
    expect((await auth0.deleteUser(userId)).outcome).toBe('deleted');
    expect((await auth0.deleteUser(userId)).outcome).toBe('already_gone');
  });

  test('when a user never existed, then deleting it succeeds as already_gone', async () => {
    expect((await auth0.deleteUser('auth0|000000000000000000000000')).outcome).toBe('already_gone');
  });

  test('when the same email is created twice in one connection, then Auth0 answers 409 and the client says invalid_input', async () => {
    const email = uniqueEmail();
    await auth0.createUser({ email, name: 'First' });
    const err = expectVendorError(await caught(() => auth0.createUser({ email, name: 'Second' })), 'invalid_input');
    expect(err.status).toBe(409);
    expect(err.vendorCode).toBe('auth0_idp_error');
    expect(err.message).not.toContain(email);
    expect(err.message).not.toContain('Second');
  });

  test('when the client secret is wrong, then calls fail with type unauthorized', async () => {
    const wrong = clientFor(sandbox, { clientSecret: 'not-the-secret' });
    const err = expectVendorError(await caught(() => wrong.getUser('auth0|abc')), 'unauthorized');
    expect(err.status).toBe(401);
    expect(err.vendorCode).toBe('access_denied');
    expect(err.retryable).toBe(false);
  });

  test('when credentials are wrong on the token endpoint, then Auth0 answers 401 access_denied', async () => {
    const res = await fetch(`${sandbox.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: 'nope' }).toString(),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'access_denied', error_description: 'Unauthorized' });
  });

  test('when the token endpoint is asked correctly, then it issues a bearer token for a day', async () => {
    const res = await fetch(`${sandbox.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }).toString(),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 86400, scope: expect.stringContaining('delete:users') });
  });

  test('when a Management API call has no or an unknown bearer token, then Auth0 answers 401 with its error body', async () => {
    const none = await fetch(`${sandbox.url}/api/v2/users-by-email?email=x%40example.test`);
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Missing authentication' });
    const unknown = await fetch(`${sandbox.url}/api/v2/users-by-email?email=x%40example.test`, { headers: { authorization: 'Bearer forged' } });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ statusCode: 401, error: 'Unauthorized', message: 'Invalid token' });
  });

  test('when a missing user is fetched, then Auth0 answers 404 inexistent_user and the client returns null', async () => {
    const bearer = await token(sandbox);
    const res = await fetch(`${sandbox.url}/api/v2/users/${encodeURIComponent('auth0|missing')}`, { headers: { authorization: `Bearer ${bearer}` } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'The user does not exist.', errorCode: 'inexistent_user' });
    expect(await auth0.getUser('auth0|missing')).toBeNull();
  });

  test('when a user is created over raw HTTP, then Auth0 answers 201 with its user shape', async () => {
    const bearer = await token(sandbox);
    const res = await fetch(`${sandbox.url}/api/v2/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection: 'Username-Password-Authentication', email: uniqueEmail(), password: 'x', name: 'Raw' }),
    });
    expect(res.status).toBe(201);
    const user = (await res.json()) as Record<string, unknown>;
    expect(user).toMatchObject({ user_id: expect.stringMatching(/^auth0\|/), name: 'Raw', email_verified: false, created_at: expect.any(String), updated_at: expect.any(String) });
    expect(user.identities).toEqual([expect.objectContaining({ provider: 'auth0', connection: 'Username-Password-Authentication', isSocial: false })]);
    const missingConnection = await fetch(`${sandbox.url}/api/v2/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: uniqueEmail() }),
    });
    expect(missingConnection.status).toBe(400);
    expect(await missingConnection.json()).toMatchObject({ statusCode: 400, error: 'Bad Request', errorCode: 'invalid_body' });
  });

  test('when every Management API response is sent, then it carries the rate-limit headers', async () => {
    const bearer = await token(sandbox);
    const res = await fetch(`${sandbox.url}/api/v2/users-by-email?email=nobody%40example.test`, { headers: { authorization: `Bearer ${bearer}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit')).toBe('10000');
    expect(Number(res.headers.get('x-ratelimit-remaining'))).toBeGreaterThanOrEqual(0);
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
  });

  test('when the sandbox fails with 500, then the client reports unavailable and recovers on the next call', async () => {
    const { userId } = await auth0.createUser({ email: uniqueEmail(), name: 'Flaky' });
    await armFault(sandbox.url, { mode: '500', count: 1, pathPrefix: '/api/v2/' });
    const err = expectVendorError(await caught(() => auth0.getUser(userId)), 'unavailable');
    expect(err.status).toBe(500);
    expect(err.retryable).toBe(true);
    expect(await auth0.getUser(userId)).toMatchObject({ userId });
  });

  test('when the sandbox throttles once, then the SDK does not retry and the client reports retry-after', async () => {
    const { userId } = await auth0.createUser({ email: uniqueEmail(), name: 'Throttled' });
    await resetSandbox(sandbox.url, { keepData: true });
    await armFault(sandbox.url, { mode: '429', count: 1, retryAfterSeconds: 7, pathPrefix: '/api/v2/users/' });
    const err = expectVendorError(await caught(() => auth0.getUser(userId)), 'rate_limited');
    expect(err.retryAfterMs).toBe(7000);
    // One request only: with the SDK's default retries the fault would have been absorbed.
    expect((await stats(sandbox.url)).routes['GET /api/v2/users/{id}']).toBe(1);
  });

  test('when the sandbox hangs past the client timeout, then the client reports unavailable', async () => {
    const impatient = clientFor(sandbox, { timeoutMs: 200 });
    await impatient.findUsersByEmail(uniqueEmail()); // fetch the token before the hang is armed
    await armFault(sandbox.url, { mode: 'hang', count: 1, hangMs: 5_000, pathPrefix: '/api/v2/' });
    const err = expectVendorError(await caught(() => impatient.getUser('auth0|slow')), 'unavailable');
    expect(err.vendorCode).toBe('timeout');
  });

  test('when nothing listens at the base URL, then the client reports unavailable', async () => {
    const closed = await startAuth0Sandbox({ port: 0, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    await closed.close();
    const err = expectVendorError(await caught(() => clientFor(closed).getUser('auth0|x')), 'unavailable');
    expect(err.message).toContain('getUser');
  });
});

describe('Auth0 sandbox rate limit', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startAuth0Sandbox({ port: 0, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, rateLimitPerSecond: 3 });
  });
  afterAll(() => sandbox.close());

  test('when the limit is exceeded, then Auth0 answers 429 with x-ratelimit-* and retry-after headers', async () => {
    const bearer = await token(sandbox);
    // Ten at once cannot all fit: even split across two one-second windows, at most six pass.
    const responses = await Promise.all(Array.from({ length: 10 }, () => fetch(`${sandbox.url}/api/v2/users/${encodeURIComponent('auth0|x')}`, { headers: { authorization: `Bearer ${bearer}` } })));
    const throttled = responses.filter((r) => r.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(4);
    const r = throttled[0];
    expect(r.headers.get('x-ratelimit-limit')).toBe('3');
    expect(r.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(r.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await r.json()).toEqual({ statusCode: 429, error: 'Too Many Requests', message: 'Global limit has been reached', errorCode: 'too_many_requests' });
  });

  test('when the limit is spent, then a token comes back a limit-th of a second later, not at the next whole second (Auth0 refills a bucket)', async () => {
    await resetSandbox(sandbox.url);
    const bearer = await token(sandbox);
    const get = () => fetch(`${sandbox.url}/api/v2/users/${encodeURIComponent('auth0|x')}`, { headers: { authorization: `Bearer ${bearer}` } }).then((r) => r.status);
    const first = await Promise.all(Array.from({ length: 4 }, get));
    expect(first.sort()).toEqual([404, 404, 404, 429]);
    // One token is back after 333 ms (3 a second). A window would give back all three at once,
    // and only at the second's end: both of the next pair would pass, or neither.
    await new Promise((r) => setTimeout(r, 400));
    expect((await Promise.all([get(), get()])).sort()).toEqual([404, 429]);
  });

  test('when the client is throttled, then it reports rate_limited with retryAfterMs', async () => {
    await resetSandbox(sandbox.url);
    // Unpaced: the default pace waits a near reset out, and the burst would all succeed.
    const auth0 = clientFor(sandbox, { pace: unpaced() });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => auth0.getUser('auth0|nobody')));
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    expect(rejected.length).toBeGreaterThanOrEqual(4);
    for (const err of rejected) {
      const e = expectVendorError(err, 'rate_limited');
      expect(e.status).toBe(429);
      expect(e.retryAfterMs).toBeGreaterThan(0);
      expect(e.retryAfterMs).toBeLessThanOrEqual(1000);
      expect(e.vendorCode).toBe('too_many_requests');
    }
  });
});
