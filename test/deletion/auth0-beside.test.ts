/**
 * Auth0 data beside the user record (issue 36, item 3), on the real stack and the sandbox's
 * default behaviour (dev/sandboxes/README.md): a person's MFA enrolment goes with the user (Auth0
 * documents it), their organization membership is removed by Lethe (Auth0 documents no removal
 * with the user) before the user is deleted; a bystander whose account email differs only in
 * letter case, in the same organization and with an enrolment of their own, keeps both. Read
 * through the sandbox's own endpoints (`/__sandbox/users/{id}/beside`, readable after the
 * user is gone, and `/__sandbox/organizations/{id}`), never through Lethe's lookups.
 *
 * The bystander's Auth0 login sits under another address: a twin whose login is under the shared
 * address stops the deletion for a person to decide (test/deletion/auth0-case.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { deletionWorld } from '../support/deletions';
import { bystanderOf, expectEmpty, storesOf } from '../support/stores';
import { seedAccount } from '../../dev/seed/fixtures';
import { deletionWorkflowId, type Receipt } from '../../contract';

interface Artifacts {
  userExists: boolean;
  authenticationMethods: number;
  organizations: string[];
}

describe('Auth0 data beside the user record', () => {
  const t = deletionWorld(__filename);
  const sandbox = () => t.world.config.auth0.baseUrl!;
  const beside = async (userId: string): Promise<Artifacts> => (await (await fetch(`${sandbox()}/__sandbox/users/${encodeURIComponent(userId)}/beside`)).json()) as Artifacts;
  const members = async (orgId: string): Promise<string[]> => ((await (await fetch(`${sandbox()}/__sandbox/organizations/${orgId}`)).json()) as { members: string[] }).members;

  test('when the person has an MFA enrolment and an organization membership, then both are gone with the user, and a case-twin bystander in the same organization keeps their membership and enrolment', async () => {
    const tag = randomUUID().replace(/-/g, '').slice(0, 12);
    const a = await seedAccount(t.seed, { email: `mfa.${tag}@example.test`, media: 1, emailOnlySupportRequests: 0 }, t.rand);
    const b = await seedAccount(t.seed, { email: `MFA.${tag}@Example.test`, auth0: 'none', media: 1, emailOnlySupportRequests: 0 }, t.rand);
    const twinLogin = await t.seed.auth0.createUser({ email: `mfa.twin.${tag}@example.test`, name: 'Twin Login' });
    await t.seed.db('accounts').where({ id: b.id }).update({ auth0_user_id: twinLogin.userId });
    const person = a.auth0UserId!;
    // Through the real SDK: both enrol a phone, and the company puts both in one organization.
    await t.seed.auth0.enrolPhone(person, '+15555550101');
    await t.seed.auth0.enrolPhone(twinLogin.userId, '+15555550102');
    const org = await t.seed.auth0.createOrganization(`acme-${tag}`, [person, twinLogin.userId]);
    expect(await beside(person)).toMatchObject({ userExists: true, authenticationMethods: 1, organizations: [org] });
    const twin = { ...b, auth0UserId: twinLogin.userId };
    const before = await bystanderOf(t.seed, twin, [a]);

    await t.deletions.start({ accountId: a.id, channel: 'support', requestedBy: 'auth0-beside' });
    const receipt: Receipt = await t.world.withWorker(() => t.world.client.workflow.getHandle(deletionWorkflowId(a.id)).result());

    expect(receipt.stores?.auth0).toMatchObject({ outcome: 'verified', verification: { clean: true } });
    // The person: no user, no authentication method (deleted with the user), no membership.
    expect(await beside(person)).toEqual({ userExists: false, authenticationMethods: 0, organizations: [] });
    // The bystander: still a member, still enrolled, and otherwise untouched.
    expect(await members(org)).toEqual([twinLogin.userId]);
    expect(await beside(twinLogin.userId)).toEqual({ userExists: true, authenticationMethods: 1, organizations: [org] });
    expect(await bystanderOf(t.seed, twin, [a])).toEqual(before);
    expectEmpty(await storesOf(t.seed, a, { excludeIds: [b.id] }));
  });
});
