/**
 * Never the wrong person (issue 30): `accounts.email` is unique only as spelt, so `Bob@x` and
 * `bob@x` can be two people ("case twins", CONTRACT §2). Deleting one must not touch the other
 * in any store. Every bystander is checked through the stores' own paths (SQL over every
 * application table, the sandboxes' own endpoints, blob listings; test/support/stores.ts),
 * never through Lethe's lookups, which are what is under test.
 */
import { randomUUID } from 'node:crypto';
import { startWorld, type TestWorld } from '../support/stack';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { startApi, waitForStatus, type TestApi } from '../support/api';
import { auth0UserExists, auth0UsersUnder, bystanderOf, expectEmpty, sandboxUrls, storesOf } from '../support/stores';
import { seedAccount, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import { pruneDeletedEmailHashes } from '../../stores/subjects';
import { deletionWorkflowId, type Receipt } from '../../contract';
import { until } from '../support/until';

describe('case twins: deleting one person never touches another whose email differs only in letter case', () => {
  let world: TestWorld;
  let api: TestApi;
  let seed: SeedDeps;
  const rand = rngFor(__filename);

  beforeAll(async () => {
    // Short bounds: a refusing store shows blocked after 2 s and is tried again every 3 s.
    world = await startWorld({ env: { LETHE_STORE_ATTEMPT_BUDGET: '4s', LETHE_BLOCK_AFTER: '2s', LETHE_BLOCK_AFTER_TRANSIENT: '2s', LETHE_STORE_RETRY_EVERY: '3s' } });
    seed = seedDepsOf(world);
    api = await startApi(world);
  });
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  /** A pair of accounts whose emails differ only in letter case, and a third who shares with both. */
  async function twins(spec: { a: Parameters<typeof seedAccount>[1]; b: Parameters<typeof seedAccount>[1] }) {
    const local = `twin.${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const a = await seedAccount(seed, { emailOnlySupportRequests: 1, ...spec.a, email: spec.a.email ?? `${local[0].toUpperCase()}${local.slice(1)}@Example.test` }, rand);
    const b = await seedAccount(seed, { emailOnlySupportRequests: 1, ...spec.b, email: spec.b.email ?? `${local}@example.test` }, rand);
    const c = await seedAccount(seed, { media: 1, auth0: 'none', subscriptions: null, shares: 0, emailOnlySupportRequests: 0 }, rand);
    // A ticket from A's address exactly as spelt, before A had an account: A's, and only A's.
    await seed.db('support_requests').insert({ account_id: null, email: a.email, subject: 'exact spelling', body: 'hello', created_at: new Date() });
    // C shared a camera with both of them.
    const camera = (await seed.db('cameras').where({ account_id: c.id }).first('id')).id as string;
    await seed.db('shares').insert([
      { id: randomUUID(), account_id: c.id, camera_id: camera, recipient_email: a.email, created_at: new Date() },
      { id: randomUUID(), account_id: c.id, camera_id: camera, recipient_email: b.email, created_at: new Date() },
    ]);
    return { a, b, c };
  }

  const sharesOf = async (c: SeededAccount) => (await seed.db('shares').where({ account_id: c.id }).orderBy('recipient_email').select('recipient_email')).map((r) => r.recipient_email as string);
  /** Email-only tickets in each spelling, read with SQL. */
  const ticketsUnder = async (email: string) =>
    Object.fromEntries(
      (
        (await seed.db('support_requests').whereNull('account_id').whereRaw('lower(email) = lower(?)', [email]).groupBy('email').select('email').count({ n: '*' })) as { email: string; n: string }[]
      ).map((r) => [r.email, Number(r.n)]),
    );
  const workflowExists = (accountId: string) =>
    world.client.workflow
      .getHandle(deletionWorkflowId(accountId))
      .describe()
      .then(() => true)
      .catch(() => false);

  test('when a twin files by email, repeats it while the deletion runs and after it completed, then the intake refuses (409) and the other twin keeps everything', async () => {
    // A (Twin.x@Example.test) has its own Auth0 login (stored lower-cased by Auth0); B (twin.x@example.test) none.
    const { a, b, c } = await twins({ a: { auth0: 'linked', subscriptions: [{ state: 'active' }] }, b: { auth0: 'none', subscriptions: [{ state: 'active' }] } });
    const before = await bystanderOf(seed, b, [a]);
    expect((before.rows as Record<string, string[]>).accounts).toHaveLength(1);

    // Both live: the email names two accounts.
    const both = await api.request('POST', '/v1/deletion-requests', { body: { email: a.email, channel: 'email' } });
    expect(both.status).toBe(409);
    expect(both.body).toMatchObject({ error: 'ambiguous_email', field: 'body/email' });
    expect(both.body.message).toContain(a.id);
    expect(both.body.message).toContain(b.id);
    expect(both.body.message).toContain('accountId');
    expect(both.text).not.toContain(b.email);
    expect(await workflowExists(a.id)).toBe(false);
    expect(await workflowExists(b.id)).toBe(false);

    // Staff file A by id; Recurly refuses the redaction while a charge is open, so A's deletion
    // stays under way with its rows gone.
    const charge = await seed.recurly.createCharge({ accountCode: a.recurlyAccountCode!, amount: 5, description: 'uninvoiced' });
    const filed = await api.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'support', requestedBy: 'agent-7' } });
    expect(filed.status).toBe(202);
    await until('A rows deleted while Recurly refuses', async () => ((await seed.db('accounts').where({ id: a.id }).first()) ? undefined : true), 90_000, 250);

    const during = await api.request('POST', '/v1/deletion-requests', { body: { email: a.email, channel: 'email' } });
    expect(during.status).toBe(409);
    expect(during.body.error).toBe('ambiguous_email');
    // The other spelling is just as ambiguous.
    expect((await api.request('POST', '/v1/deletion-requests', { body: { email: b.email, channel: 'email' } })).status).toBe(409);
    expect(await workflowExists(b.id)).toBe(false);

    await seed.recurly.removeLineItem(charge.id);
    const done = await waitForStatus(api, filed.body.requestId, 120_000);
    expect(done.status).toBe('completed');

    const after = await api.request('POST', '/v1/deletion-requests', { body: { email: a.email, channel: 'email' } });
    expect(after.status).toBe(409);
    expect(after.body.message).toContain(a.id);
    expect(await workflowExists(b.id)).toBe(false);

    // B: every row, blob, login and billing record as before, through the stores' own paths.
    expect(await bystanderOf(seed, b, [a])).toEqual(before);
    // A: gone, by the exact spelling (B's rows hold a case variant of A's email).
    const left = await storesOf(seed, a, { rule: 'exact' });
    expect(left.blobs).toBe(0);
    expect(Object.entries(left.rows).filter(([, n]) => n > 0)).toEqual([]);
    expect(left.auth0ById).toBeNull();
    expect(left.recurly).toEqual({ redacted: true });
    // C's share to A went with A (A's address was A's data); C's share to B stays.
    expect(await sharesOf(c)).toEqual([b.email]);
  }, 240_000);

  test('when an account is deleted by id and its twin is a legacy account whose Auth0 login answers the same email, then Auth0 is blocked naming the twin by id and the twin keeps its login', async () => {
    // A is all lower case, with no Auth0 user of its own; B (Twin.x@) is legacy: a database
    // user Auth0 stores as twin.x@, which a lookup of A's email finds.
    const local = `twin.${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const { a, b } = await twins({
      a: { email: `${local}@example.test`, auth0: 'none', subscriptions: null },
      b: { email: `T${local.slice(1)}@example.test`, auth0: 'legacy', subscriptions: null },
    });
    const { auth0: auth0Url } = sandboxUrls(seed);
    const twinLogin = (await auth0UsersUnder(auth0Url, b.email)).map((u) => u.user_id);
    expect(twinLogin).toHaveLength(1);
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
    expect(entry.reason).toContain(twinLogin[0]);
    expect(JSON.stringify(blocked)).not.toContain(b.email);
    expect(JSON.stringify(blocked).toLowerCase()).not.toContain(local);

    // The other stores finish meanwhile; the twin's login is still there, by the sandbox's own account of it.
    await until(
      'the other stores verified',
      async () => {
        const v = (await api.request('GET', `/v1/deletion-requests/${filed.body.requestId}`)).body;
        return (v.stores ?? []).filter((s: { store: string; status: string }) => s.store !== 'auth0' && s.status === 'verified').length === 3 ? v : undefined;
      },
      90_000,
      250,
    );
    expect(await auth0UserExists(auth0Url, twinLogin[0])).toBe(true);
    expect(await bystanderOf(seed, b, [a])).toEqual(before);

    // Whose login it is cannot be told from the email: a person resolves it.
    const resolved = await api.request('POST', `/v1/deletion-requests/${filed.body.requestId}/resolve`, {
      body: { store: 'auth0', by: 'privacy-officer', justification: 'A never had an Auth0 login; the user belongs to the twin account' },
    });
    expect(resolved.status).toBe(202);
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;
    expect(receipt.stores?.auth0).toMatchObject({ outcome: 'resolved_outside_lethe' });
    expect(await auth0UserExists(auth0Url, twinLogin[0])).toBe(true);
    expect(await bystanderOf(seed, b, [a])).toEqual(before);
  }, 240_000);

  test("when a twin's email-only tickets differ only in case, then only the exact spelling is deleted and the rest is reported as ambiguous, counts only", async () => {
    const { a, b } = await twins({ a: { auth0: 'linked', subscriptions: null }, b: { auth0: 'none', subscriptions: null } });
    // Both twins' email-only tickets are upper-cased (fixtures): one spelling, two people.
    const upper = a.email.toUpperCase();
    expect(upper).toBe(b.email.toUpperCase());
    expect(await ticketsUnder(a.email)).toEqual({ [a.email]: 1, [upper]: 2 });
    const before = await bystanderOf(seed, b, [a]);

    const filed = await api.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'api' } });
    const done = await waitForStatus(api, filed.body.requestId, 120_000);
    expect(done.status).toBe('completed');
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;

    // SQL: A's exact ticket gone, the two upper-case ones (A's or B's: nobody can tell) kept.
    expect(await ticketsUnder(a.email)).toEqual({ [upper]: 2 });
    expect(receipt.counts.database!.support_requests).toBe(2); // A's own ticket by id, and the exact spelling
    expect(receipt.stores?.database?.verification?.clean).toBe(true);
    // C's share to B's spelling is ambiguous from A's side too: kept, counted.
    expect(receipt.stores?.database?.verification?.ambiguous).toEqual({ support_requests: 2, shares: 1 });
    expect(JSON.stringify(receipt).toLowerCase()).not.toContain(a.email.toLowerCase());
    expect(await bystanderOf(seed, b, [a])).toEqual(before);
  }, 180_000);

  test('when an account without a twin is deleted, then its email-only tickets and shares to it in any letter case go, and a repeat request by email answers with the request that deleted it', async () => {
    const a = await seedAccount(seed, { media: 2, emailOnlySupportRequests: 2, auth0: 'linked', subscriptions: null }, rand);
    const c = await seedAccount(seed, { media: 1, auth0: 'none', subscriptions: null, shares: 0, emailOnlySupportRequests: 0 }, rand);
    const camera = (await seed.db('cameras').where({ account_id: c.id }).first('id')).id as string;
    await seed.db('shares').insert({ id: randomUUID(), account_id: c.id, camera_id: camera, recipient_email: a.email.toUpperCase(), created_at: new Date() });
    const pre = await storesOf(seed, a);
    expect(pre.rows.support_requests).toBe(3);
    expect(pre.rows.shares).toBeGreaterThanOrEqual(2);

    const filed = await api.request('POST', '/v1/deletion-requests', { body: { email: a.email.toUpperCase(), channel: 'email' } });
    expect(filed.status).toBe(202);
    expect(filed.body.accountId).toBe(a.id);
    expect((await waitForStatus(api, filed.body.requestId, 120_000)).status).toBe('completed');
    expectEmpty(await storesOf(seed, a));
    expect(await sharesOf(c)).toEqual([]);

    const again = await api.request('POST', '/v1/deletion-requests', { body: { email: a.email, channel: 'email' } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ requestId: filed.body.requestId, accountId: a.id, status: 'completed' });

    // The hash that answered is kept for LETHE_TWIN_GUARD_DAYS after the completion, then pruned.
    const hashOf = () => world.deps.db('lethe.deleted_email_hashes').where({ account_id: a.id }).first('account_id');
    await pruneDeletedEmailHashes(world.deps.db, world.config.deletion.twinGuardDays);
    expect(await hashOf()).toBeDefined();
    await pruneDeletedEmailHashes(world.deps.db, world.config.deletion.twinGuardDays, new Date(Date.now() + (world.config.deletion.twinGuardDays + 1) * 86_400_000));
    expect(await hashOf()).toBeUndefined();
  }, 180_000);
});
