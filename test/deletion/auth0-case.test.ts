/**
 * Auth0's letter case and what sits beside the user record (issue 36, items 3 and 4), on the
 * shared stack's sandbox at its defaults. users-by-email is case-sensitive while user search's
 * `email:` term is not (auth0 SDK `ListUsersByEmailRequestParameters.email`: "case-sensitive";
 * Auth0 "User Search Query Syntax"), so a login a provider stored as `John@X` for an account
 * filed as `john@x` is found only by search. It is this person's when no other account holds
 * the address in any case, and another person may own it when one does: then Auth0 blocks for
 * a person, naming the other account by id. Brute-force blocks are kept per identifier (the
 * email), not per user, and outlive the user: they are removed by the identifier. Every
 * bystander is read through the sandbox's own endpoints (test/support/stores.ts).
 */
import { randomUUID } from 'node:crypto';
import { startWorld, type TestWorld } from '../support/stack';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { startApi, type TestApi } from '../support/api';
import { auth0UserExists, auth0UsersUnder, bystanderOf, expectEmpty, sandboxUrls, storesOf } from '../support/stores';
import { seedAccount, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import { deletionWorkflowId, type Receipt } from '../../contract';
import { until } from '../support/until';

describe('Auth0: letter case, user blocks and tenant logs', () => {
  let world: TestWorld;
  let api: TestApi;
  let seed: SeedDeps;
  let auth0Url: string;
  const rand = rngFor(__filename);

  beforeAll(async () => {
    // Short bounds: a refusing store shows blocked after 2 s and is tried again every 3 s.
    world = await startWorld({ env: { LETHE_STORE_ATTEMPT_BUDGET: '4s', LETHE_BLOCK_AFTER: '2s', LETHE_BLOCK_AFTER_TRANSIENT: '2s', LETHE_STORE_RETRY_EVERY: '3s' } });
    seed = seedDepsOf(world);
    api = await startApi(world);
    auth0Url = sandboxUrls(seed).auth0;
  });
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  const tag = () => randomUUID().replace(/-/g, '').slice(0, 12);

  /** A login at a social provider: the email exactly as the provider sent it. */
  async function socialUser(connection: string, email: string): Promise<string> {
    const res = await fetch(`${auth0Url}/__sandbox/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ connection, email }) });
    expect(res.status).toBe(201);
    return ((await res.json()) as { user_id: string }).user_id;
  }

  async function deleteAccount(a: SeededAccount): Promise<Receipt> {
    const filed = await api.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'api' } });
    expect(filed.status).toBe(202);
    return world.client.workflow.getHandle(deletionWorkflowId(a.id)).result();
  }

  test('when an account filed as john@x has a social login stored as John@X, and no other account holds the address in any case, then the social login is found by search and deleted', async () => {
    const email = `john.${tag()}@example.test`;
    const person = await seedAccount(seed, { email, media: 1, emailOnlySupportRequests: 0, subscriptions: null }, rand);
    const mixed = `J${email.slice(1, email.indexOf('@'))}@Example.test`;
    const socialId = await socialUser('google-oauth2', mixed);
    // A bystander under another address, untouched.
    const other = await seedAccount(seed, { media: 1, emailOnlySupportRequests: 0, subscriptions: null }, rand);
    const before = await bystanderOf(seed, other, [person]);

    const receipt = await deleteAccount(person);

    expect(await auth0UserExists(auth0Url, socialId)).toBe(false);
    expect(await auth0UsersUnder(auth0Url, email)).toEqual([]);
    expect(receipt.counts.auth0).toMatchObject({ usersDeleted: 2, foundByEmail: 1, userIds: [person.auth0UserId!, socialId].sort() });
    expect(receipt.stores?.auth0).toMatchObject({ outcome: 'verified', verification: { clean: true, remaining: { users: 0 } } });
    expectEmpty(await storesOf(seed, person));
    expect(await bystanderOf(seed, other, [person])).toEqual(before);
  });

  test('when another account holds the address in another letter case, then a login found only by search is not deleted: Auth0 is blocked naming that account, and both logins stay', async () => {
    // A (lower case) has its own database login, captured by id; B (Ann.…) has no Auth0 login
    // of its own; a social login stored as ANN.… may be either's.
    const local = `ann.${tag()}`;
    const a = await seedAccount(seed, { email: `${local}@example.test`, media: 1, emailOnlySupportRequests: 0, subscriptions: null }, rand);
    const b = await seedAccount(seed, { email: `A${local.slice(1)}@example.test`, auth0: 'none', media: 1, emailOnlySupportRequests: 0, subscriptions: null }, rand);
    const socialId = await socialUser('github', `${local.toUpperCase()}@EXAMPLE.TEST`);
    const before = await bystanderOf(seed, b, [a]);

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
    expect(entry.reason).toContain(b.id);
    expect(entry.reason).toContain(socialId);
    expect(JSON.stringify(blocked).toLowerCase()).not.toContain(local);
    // Nothing was deleted at Auth0, by the sandbox's own account of it.
    expect(await auth0UserExists(auth0Url, socialId)).toBe(true);
    expect(await auth0UserExists(auth0Url, a.auth0UserId!)).toBe(true);
    expect((await auth0UsersUnder(auth0Url, b.email)).map((u) => u.user_id).sort()).toEqual([a.auth0UserId!, socialId].sort());
    expect(await bystanderOf(seed, b, [a])).toEqual(before);
  });

  test("when the person's email carries brute-force blocks, then they are removed by identifier and read back, and the receipt says when the tenant logs expire", async () => {
    const email = `blocked.${tag()}@example.test`;
    const person = await seedAccount(seed, { email, media: 1, emailOnlySupportRequests: 0, subscriptions: null }, rand);
    const otherEmail = `other.${tag()}@example.test`;
    for (const ip of ['10.0.0.1', '10.0.0.2']) {
      await fetch(`${auth0Url}/__sandbox/user-blocks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ identifier: email, ip }) });
    }
    await fetch(`${auth0Url}/__sandbox/user-blocks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ identifier: otherEmail }) });
    const blocksOf = async (identifier: string) =>
      ((await (await fetch(`${auth0Url}/__sandbox/user-blocks?identifier=${encodeURIComponent(identifier)}`)).json()) as { blocked_for: unknown[] }).blocked_for.length;
    expect(await blocksOf(email)).toBe(2);

    const receipt = await deleteAccount(person);

    expect(await blocksOf(email)).toBe(0);
    expect(await blocksOf(otherEmail)).toBe(1);
    expect(receipt.stores?.auth0).toMatchObject({ outcome: 'verified', verification: { clean: true, remaining: { users: 0, userBlocks: 0 } } });
    // Logs cannot be deleted: gone by the end of today plus the retention (30 days by default).
    const today = new Date();
    const expected = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 31)).toISOString().slice(0, 10);
    expect(receipt.counts.auth0?.tenantLogsExpireBy).toBe(expected);
  });
});
