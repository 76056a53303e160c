/**
 * The Auth0 sandbox's data beside the user record (issue 36, item 3; dev/sandboxes/README.md,
 * "What deleting an Auth0 user leaves"), driven through the real `auth0` SDK: MFA
 * authentication methods go with the user (Auth0 knowledge base, "Deleting Users Does Not
 * Delete Authenticators"), organization memberships stay naming the deleted user's id (no Auth0
 * document removes them with the user) until removed through the organization.
 */
import { ManagementClient } from 'auth0';
import { startAuth0Sandbox } from '../../dev/sandboxes/auth0/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';

const CLIENT_ID = 'lethe-beside';
const CLIENT_SECRET = 'lethe-beside-secret';
const DOMAIN = 'beside.auth0.test';

describe('Auth0 sandbox: MFA and organizations beside the user', () => {
  let sandbox: RunningSandbox;
  let mgmt: ManagementClient;
  const beside = async (id: string) =>
    (await (await fetch(`${sandbox.url}/__sandbox/users/${encodeURIComponent(id)}/beside`)).json()) as { userExists: boolean; authenticationMethods: number; organizations: string[] };

  beforeAll(async () => {
    sandbox = await startAuth0Sandbox({ port: 0, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, rateLimitPerSecond: 10_000 });
    const base = sandbox.url;
    mgmt = new ManagementClient({
      domain: DOMAIN,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      maxRetries: 0,
      fetch: (input, init) => {
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        const rebased = url.replace(`https://${DOMAIN}`, base);
        return typeof input === 'string' || input instanceof URL ? fetch(rebased, init) : fetch(new Request(rebased, input), init);
      },
    });
  });
  afterAll(async () => sandbox?.close());

  const newUser = async (local: string) =>
    (await mgmt.users.create({ connection: 'Username-Password-Authentication', email: `${local}.${Date.now().toString(36)}@example.test`, password: 'x-Password-1' })).user_id!;

  test('when a user with an MFA enrolment and an organization membership is deleted, then the enrolment is gone and the membership stays until removed through the organization', async () => {
    const ann = await newUser('ann');
    const bob = await newUser('bob');
    await mgmt.users.authenticationMethods.create(ann, { type: 'phone', phone_number: '+15555550100' });
    await mgmt.users.authenticationMethods.create(bob, { type: 'phone', phone_number: '+15555550101' });
    expect((await mgmt.users.authenticationMethods.list(ann)).data).toHaveLength(1);
    expect(await mgmt.users.enrollments.get(ann)).toEqual([expect.objectContaining({ status: 'confirmed', type: 'phone' })]);
    const org = (await mgmt.organizations.create({ name: `acme-${Date.now().toString(36)}` })).id!;
    await mgmt.organizations.members.create(org, { members: [ann, bob] });
    expect((await mgmt.users.organizations.list(ann)).data.map((o) => o.id)).toEqual([org]);

    await mgmt.users.delete(ann);

    expect(await beside(ann)).toEqual({ userExists: false, authenticationMethods: 0, organizations: [org] });
    // The organization still lists the deleted user's id; a per-user read no longer answers.
    expect((await mgmt.organizations.members.list(org)).data.map((m) => m.user_id).sort()).toEqual([ann, bob].sort());
    await expect(mgmt.users.organizations.list(ann)).rejects.toMatchObject({ statusCode: 404 });
    await mgmt.organizations.members.delete(org, { members: [ann] });
    expect(await beside(ann)).toEqual({ userExists: false, authenticationMethods: 0, organizations: [] });
    expect(await beside(bob)).toEqual({ userExists: true, authenticationMethods: 1, organizations: [org] });
  });

  test('when a living user’s authentication methods or authenticators are deleted, then none are left', async () => {
    const cy = await newUser('cy');
    await mgmt.users.authenticationMethods.create(cy, { type: 'phone', phone_number: '+15555550102' });
    await mgmt.users.authenticationMethods.deleteAll(cy);
    expect((await beside(cy)).authenticationMethods).toBe(0);
    await mgmt.users.authenticationMethods.create(cy, { type: 'email', email: 'cy@example.test' });
    await mgmt.users.authenticators.deleteAll(cy);
    expect((await beside(cy)).authenticationMethods).toBe(0);
    expect(await mgmt.users.enrollments.get(cy)).toEqual([]);
  });
});
