/**
 * The Auth0 adapter drops an access token the tenant stopped honouring (a 401 from the
 * Management API) and asks for a fresh one, once: a refused cached token must not fail every
 * call until the expiry the token endpoint announced (24 h), and wrong credentials must still
 * end in one classified error rather than a loop.
 */
import { createAuth0Client } from '../../stores/auth0';
import { startAuth0Sandbox } from '../../dev/sandboxes/auth0/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';
import { isVendorError, type VendorError } from '../../stores/errors';
import { caught, resetSandbox, stats } from '../sandboxes/helpers/sandboxAdmin';

const CLIENT_ID = 'lethe-token-test';
const CLIENT_SECRET = 'lethe-token-test-secret';
const DOMAIN = 'lethe-token-test.auth0.local';

describe('the Auth0 adapter and its cached access token', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startAuth0Sandbox({ port: 0, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, rateLimitPerSecond: 10_000 });
  });
  afterAll(() => sandbox.close());

  test('when the tenant forgets the token the adapter cached, then the next call fetches a new token and succeeds', async () => {
    const auth0 = createAuth0Client({ domain: DOMAIN, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: sandbox.url });
    const before = await auth0.createUser({ email: `token.before.${Date.now()}@example.test`, name: 'Before' });
    expect(await auth0.getUser(before.userId)).toMatchObject({ userId: before.userId });

    // Every token the sandbox issued is gone, as after a restart or a revoked grant.
    await resetSandbox(sandbox.url);
    const after = await auth0.createUser({ email: `token.after.${Date.now()}@example.test`, name: 'After' });
    expect(await auth0.getUser(after.userId)).toMatchObject({ userId: after.userId });
    // The old token was refused once, then a new one was issued and used.
    const s = await stats(sandbox.url);
    expect(s.statuses['POST /api/v2/users']).toEqual({ 401: 1, 201: 1 });
    expect(s.statuses['POST /oauth/token']).toEqual({ 200: 1 });
  });

  test('when the credentials themselves are wrong, then the call ends in one unauthorized error, not a loop', async () => {
    await resetSandbox(sandbox.url);
    const auth0 = createAuth0Client({ domain: DOMAIN, clientId: CLIENT_ID, clientSecret: 'not-the-secret', baseUrl: sandbox.url });
    const err = (await caught(() => auth0.getUser('auth0|000000000000000000000000'))) as VendorError;
    expect(isVendorError(err)).toBe(true);
    expect(err.type).toBe('unauthorized');
    // Two token requests at most (the first call and its one retry), each refused.
    const s = await stats(sandbox.url);
    expect(s.statuses['POST /oauth/token']?.[401]).toBeLessThanOrEqual(2);
    expect(s.routes['GET /api/v2/users/{id}'] ?? 0).toBe(0);
  });
});
