/**
 * The vendor calls one deletion makes, pinned (issue 37): a deletion of each common shape makes
 * exactly the calls listed here, counted by the sandboxes (stores of this test's own, so no
 * other test's calls are in the counts), so a later change cannot quietly add one. The shapes:
 * one Auth0 database user with no linked identity, on a tenant without the Enterprise session
 * layer (the sandbox's default, and most tenants'); a Recurly account with one live
 * subscription. Why each call is made, and why the others are not, is in
 * activities/deletion/auth0.ts and activities/deletion/recurly.ts.
 *
 * The counts include the one read-back of each vendor store, right after its deletion (Recurly's
 * is the deletion's own last read, handed over): the final read-back before the receipt reads a vendor again only when that read is older than
 * FRESH_VENDOR_READ_MS (contract/deletion.ts), which it never is here. A second deletion in the same worker shows what
 * a process learns once (the tenant's session layer) is not asked again.
 */
import { startWorld, type TestWorld } from '../support/stack';
import { startPrivateStores, type PrivateStores } from '../support/private-stores';
import { stats } from '../sandboxes/helpers/sandboxAdmin';
import { expectEmpty, storesOf } from '../support/stores';
import { rng, seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { createIntake } from '../../client/intake';
import type { Receipt } from '../../contract';

/** Answers per route (every status, 429s excluded: the limiter pushing back is not a call a deletion needs). */
async function calls(url: string): Promise<Record<string, number>> {
  const s = await stats(url);
  return Object.fromEntries(
    Object.entries(s.statuses)
      .filter(([route]) => !route.startsWith('POST /oauth/token'))
      .map(([route, byStatus]) => [route, Object.entries(byStatus).reduce((a, [status, n]) => a + (status === '429' ? 0 : n), 0)]),
  );
}

const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(
    Object.keys(after)
      .map((route) => [route, after[route] - (before[route] ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .sort(([a], [b]) => a.localeCompare(b)),
  );

const total = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

describe('calls per deletion, pinned', () => {
  let stores: PrivateStores;
  let world: TestWorld;
  let seed: SeedDeps;
  beforeAll(async () => {
    stores = await startPrivateStores();
    world = await startWorld({ env: stores.env });
    seed = { ...world.deps, recurlySandboxUrl: stores.recurly.url };
  });
  afterAll(async () => {
    await world?.close();
    await stores?.close();
  });

  async function deleteAndCount(seedNo: number, subscriptions: { state: 'active' | 'expired' }[] = [{ state: 'active' }]) {
    const a = await seedAccount(seed, { media: 1, auth0: 'linked', subscriptions }, rng(seedNo));
    const before = { auth0: await calls(stores.auth0.url), recurly: await calls(stores.recurly.url) };
    const deletions = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
    const started = await deletions.start({ accountId: a.id, channel: 'support' });
    const receipt: Receipt = await world.client.workflow.getHandle(started.workflowId).result();
    expect(receipt.verification.clean).toBe(true);
    expectEmpty(await storesOf(seed, a));
    return {
      receipt,
      auth0: diff(await calls(stores.auth0.url), before.auth0),
      recurly: diff(await calls(stores.recurly.url), before.recurly),
    };
  }

  test('when one Auth0 user and a Recurly account with one live subscription are deleted, then each vendor gets exactly the calls listed', async () => {
    const first = await deleteAndCount(3701);
    const second = await deleteAndCount(3702);

    // Auth0, a deletion in a process that has learned what the tenant offers: the deletion finds
    // the user by its address (users-by-email; the captured id is among the answers), searches the
    // address in other letter cases (only search can), revokes the grants, deletes the user and
    // removes the address's brute-force blocks; the read-back reads the address back
    // (users-by-email) and its blocks. Nothing for the session layer: this tenant refuses it, as
    // the first deletion's calls told the process.
    const auth0 = {
      'GET /api/v2/users-by-email': 1 + 1,
      'GET /api/v2/users': 1,
      'DELETE /api/v2/grants': 1,
      'DELETE /api/v2/users/{id}': 1,
      'DELETE /api/v2/user-blocks': 1,
      'GET /api/v2/user-blocks': 1,
    };
    expect(second.auth0).toEqual(Object.fromEntries(Object.entries(auth0).sort(([a], [b]) => a.localeCompare(b))));
    expect(total(second.auth0)).toBe(7);
    // The first deletion in a process learns the session layer from its two calls' 403s, and
    // whether the tenant has organizations from one listing (this one has none: no user is asked
    // for memberships, then or after; activities/deletion/auth0.ts removeMemberships).
    expect(first.auth0).toEqual(
      Object.fromEntries(
        Object.entries({ ...auth0, 'DELETE /api/v2/users/{id}/sessions': 1, 'DELETE /api/v2/users/{id}/refresh-tokens': 1, 'GET /api/v2/organizations': 1 }).sort(([a], [b]) => a.localeCompare(b)),
      ),
    );
    expect(first.receipt.counts.auth0).toMatchObject({ usersDeleted: 1, notAvailable: ['refresh_tokens', 'sessions'] });
    expect(second.receipt.counts.auth0).toMatchObject({ usersDeleted: 1, notAvailable: ['refresh_tokens', 'sessions'] });
    expect(second.receipt.stores?.auth0).toMatchObject({ outcome: 'verified', verification: { clean: true, remaining: { users: 0, userBlocks: 0 }, notAvailable: ['sessions', 'refresh_tokens'] } });

    // Recurly, a sandbox site (every request counts): the account read once for what it holds and
    // what blocks its redaction, the live subscriptions listed (the account says it has one) and
    // ended, its notes listed (nothing in the account says whether it has any), the redaction
    // asked for, and read after it was accepted until it shows redacted: that read is the
    // read-back's own (the activity hands it over, contract OwnReadBack), so none follows.
    const recurly = {
      'GET /accounts/{account_id}': 1 + 1,
      'GET /accounts/{account_id}/subscriptions': 1,
      'DELETE /subscriptions/{subscription_id}': 1,
      'GET /accounts/{account_id}/notes': 1,
      'PUT /accounts/{account_id}/redact': 1,
    };
    for (const d of [first, second]) expect(d.recurly).toEqual(Object.fromEntries(Object.entries(recurly).sort(([a], [b]) => a.localeCompare(b))));
    expect(total(second.recurly)).toBe(6);

    // An account whose subscriptions have all ended: its read says it has no live one
    // (api.yaml `has_live_subscription`), so none is listed.
    const ended = await deleteAndCount(3703, [{ state: 'expired' }]);
    const { 'GET /accounts/{account_id}/subscriptions': _listed, 'DELETE /subscriptions/{subscription_id}': _ended, ...withoutSubscriptions } = recurly;
    expect(ended.recurly).toEqual(Object.fromEntries(Object.entries(withoutSubscriptions).sort(([a], [b]) => a.localeCompare(b))));
    expect(ended.auth0).toEqual(second.auth0);
  }, 300_000);
});
