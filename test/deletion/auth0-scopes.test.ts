/**
 * A client grant short of one scope (issue 36, item 6): Auth0's 403 names only the scope that
 * call lacked ("Insufficient scope, expected any of: delete:grants"), so an operator fixing the
 * grant one refusal at a time meets the next one on the next deletion. The blocked reason names
 * every scope Lethe needs. On an Auth0 sandbox of the test's own (the shared one grants all),
 * at its defaults but for the grant.
 */
import { startWorld, type TestWorld } from '../support/stack';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { startApi, type TestApi } from '../support/api';
import { auth0UserExists } from '../support/stores';
import { seedAccount } from '../../dev/seed/fixtures';
import { DEFAULT_GRANT_SCOPES, startAuth0Sandbox } from '../../dev/sandboxes/auth0/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';
import { AUTH0_SCOPES, AUTH0_SESSION_SCOPES } from '../../stores/auth0';
import { until } from '../support/until';

describe('Auth0 client grant without delete:grants', () => {
  let sandbox: RunningSandbox;
  let world: TestWorld;
  let api: TestApi;
  const rand = rngFor(__filename);

  beforeAll(async () => {
    sandbox = await startAuth0Sandbox({
      port: 0,
      clientId: process.env.AUTH0_CLIENT_ID ?? 'lethe-dev',
      clientSecret: process.env.AUTH0_CLIENT_SECRET ?? 'lethe-dev-secret',
      rateLimitPerSecond: 10_000,
      scopes: DEFAULT_GRANT_SCOPES.filter((s) => s !== 'delete:grants'),
    });
    world = await startWorld({ env: { AUTH0_BASE_URL: sandbox.url, LETHE_STORE_ATTEMPT_BUDGET: '4s', LETHE_BLOCK_AFTER: '2s', LETHE_BLOCK_AFTER_TRANSIENT: '2s', LETHE_STORE_RETRY_EVERY: '3s' } });
    api = await startApi(world);
  });
  afterAll(async () => {
    await api?.close();
    await world?.close();
    await sandbox?.close();
  });

  test('when the grant lacks delete:grants, then Auth0 is blocked with a reason naming every scope Lethe needs, and the user is not deleted', async () => {
    const a = await seedAccount(seedDepsOf(world), { media: 1, emailOnlySupportRequests: 0, subscriptions: null }, rand);
    const filed = await api.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'api' } });
    expect(filed.status).toBe(202);
    const blocked = await until(
      'auth0 blocked',
      async () => {
        const v = (await api.request('GET', `/v1/deletion-requests/${filed.body.requestId}`)).body;
        return v.status === 'blocked' && v.blocked?.some((x: { store: string }) => x.store === 'auth0') ? v : undefined;
      },
      90_000,
      250,
    );
    const entry = blocked.blocked.find((x: { store: string }) => x.store === 'auth0');
    for (const scope of AUTH0_SCOPES) expect(entry.reason).toContain(scope);
    // The action names them too, the session layer's included (workflows/stores.ts actionFor).
    for (const scope of [...AUTH0_SCOPES, ...AUTH0_SESSION_SCOPES]) expect(entry.action).toContain(scope);
    expect(entry.reason).toContain('insufficient_scope');
    // Grants are revoked before the user is deleted: the refusal came first, the user stays.
    expect(await auth0UserExists(sandbox.url, a.auth0UserId!)).toBe(true);
  });
});
