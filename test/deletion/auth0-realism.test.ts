/**
 * Auth0 as it really is (issue 15), on the real stack through the sandbox's default, faithful
 * settings (scopes checked, no Enterprise plan, linking, exact-match users-by-email): a
 * person's stored id that is a linked secondary identity takes its primary user with it; a
 * tenant without the session layer still has its users deleted, and the receipt says what was
 * not available; a person with a social and a database login under one email loses both; and
 * nobody whose email differs only in letter case (whom Auth0 would not match) loses anything.
 */
import { randomUUID } from 'node:crypto';
import { deletionWorld } from '../support/deletions';
import { auth0UsersUnder, expectEmpty, storesOf } from '../support/stores';
import { fingerprint, seedAccount, type SeededAccount } from '../../dev/seed/fixtures';
import { deletionWorkflowId, type Receipt } from '../../contract';

describe('Auth0 as it really is', () => {
  const t = deletionWorld(__filename);

  /** A user as a login at a social provider leaves it: the email exactly as the provider sent it. */
  async function socialUser(connection: string, email: string): Promise<string> {
    const res = await fetch(`${t.world.config.auth0.baseUrl}/__sandbox/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ connection, email }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { user_id: string }).user_id;
  }

  async function deleteAccount(a: SeededAccount): Promise<Receipt> {
    await t.deletions.start({ accountId: a.id, channel: 'support', requestedBy: 'auth0-realism' });
    return t.world.withWorker(() => t.world.client.workflow.getHandle(deletionWorkflowId(a.id)).result());
  }

  test('when the stored Auth0 id is a secondary identity linked into another user, then it is unlinked and deleted on its own, the primary is deleted, and the receipt lists both', async () => {
    const a = await seedAccount(t.seed, { media: 2, loginEvents: 1, emailOnlySupportRequests: 0 }, t.rand);
    const bystander = await seedAccount(t.seed, { media: 2, emailOnlySupportRequests: 0 }, t.rand);
    const before = await fingerprint(t.seed, bystander);
    // The person later signed in with Google and the app linked the old login into it.
    const primaryEmail = `Linked.Primary.${a.id}@Gmail.test`;
    const primaryId = await socialUser('google-oauth2', primaryEmail);
    await t.seed.auth0.linkUser(primaryId, a.auth0UserId!);
    expect(await t.seed.auth0.getUser(a.auth0UserId!)).toBeNull();

    const receipt = await deleteAccount(a);

    // Through the sandbox's own endpoints: no user, and no orphaned database identity (which
    // deleting the primary alone leaves, and which a new sign-up with the email would meet).
    expect(await t.seed.auth0.getUser(primaryId)).toBeNull();
    expect(await t.seed.auth0.getUser(a.auth0UserId!)).toBeNull();
    expect(await auth0UsersUnder(t.world.config.auth0.baseUrl!, primaryEmail)).toEqual([]);
    expect(await auth0UsersUnder(t.world.config.auth0.baseUrl!, a.email)).toEqual([]);
    expect(receipt.counts.auth0).toMatchObject({ usersDeleted: 2, alreadyGone: 0, linkedPrimaries: 1, identitiesUnlinked: 1, userIds: [a.auth0UserId!, primaryId].sort() });
    expect(receipt.stores?.auth0).toMatchObject({ outcome: 'verified', verification: { clean: true, remaining: { users: 0 } } });
    expectEmpty(await storesOf(t.seed, a));
    expect(await fingerprint(t.seed, bystander)).toBe(before);
  });

  test('when the tenant has no session layer (not on an Enterprise plan), then the user is deleted anyway and the receipt says sessions and refresh tokens were not available', async () => {
    const a = await seedAccount(t.seed, { media: 1, emailOnlySupportRequests: 0 }, t.rand);
    // Had the 403 been taken for a refusal that needs a person, this would never finish.
    const receipt = await deleteAccount(a);
    expect(await t.seed.auth0.getUser(a.auth0UserId!)).toBeNull();
    expect(receipt.verification.clean).toBe(true);
    expect(receipt.counts.auth0).toMatchObject({ usersDeleted: 1, notAvailable: ['refresh_tokens', 'sessions'] });
    expect(receipt.stores?.auth0).toMatchObject({ outcome: 'verified', verification: { clean: true, notAvailable: ['sessions', 'refresh_tokens'] } });
  });

  // With another account holding the email in another letter case, a login found by the email is
  // not deleted at all: the Auth0 store blocks for a person (test/deletion/case-twins.test.ts,
  // test/deletion/auth0-case.test.ts).
  test('when a person has a social login with a mixed-case email and a database login under the same email, and other logins hold the address in other letter cases, then all are deleted (no other account holds the address) and the receipt is verified', async () => {
    const tag = randomUUID().replace(/-/g, '').slice(0, 12);
    const email = `Ann.Smith.${tag}@Example.test`;
    // Signed up with a password (Auth0 stored the email lower-cased), later also with Google,
    // which keeps the provider's case; the account knows the database user only.
    const person = await seedAccount(t.seed, { email, media: 2, loginEvents: 1, emailOnlySupportRequests: 0 }, t.rand);
    const socialId = await socialUser('google-oauth2', email);
    // Logins whose providers sent the address in other cases: users-by-email (exact) does not
    // match them, user search's email term does (issue 36 item 4); no other account holds the
    // address in any case, so they are this person's.
    const upperId = await socialUser('github', email.toUpperCase());
    const lowerId = await socialUser('github', email.toLowerCase());

    const receipt = await deleteAccount(person);

    for (const id of [person.auth0UserId!, socialId, upperId, lowerId]) expect(await t.seed.auth0.getUser(id)).toBeNull();
    expect(receipt.counts.auth0).toMatchObject({ usersDeleted: 4, foundByEmail: 3 });
    expect(receipt.verification.clean).toBe(true);
    expect(receipt.stores?.auth0).toMatchObject({ outcome: 'verified', verification: { clean: true, remaining: { users: 0 } } });
    // Through the stores' own paths: every user under the address in any case is gone.
    expectEmpty(await storesOf(t.seed, person));
  });
});
