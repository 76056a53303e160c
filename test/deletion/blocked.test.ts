/**
 * No store holds back the others (issue 14), on the real stack: with one store refusing every
 * request (a vendor sandbox answering 500, Azurite stopped, PostgreSQL refusing a delete), the
 * other three are emptied, the request turns `blocked` naming that store, and once the store
 * recovers an operator's retry completes it with a verified receipt. Bystanders are untouched.
 *
 * The bounds are the deployment's settings, short here: an attempt's transient retries last
 * 4 s (LETHE_STORE_ATTEMPT_BUDGET), a store failing for 2 s shows blocked, and the slow cadence
 * (LETHE_STORE_RETRY_EVERY) is 10 minutes, so only the operator's retry can finish in time.
 */
import { randomUUID } from 'node:crypto';
import { startWorld, type TestWorld } from '../support/stack';
import { startPrivateStores, type PrivateStores } from '../support/private-stores';
import { armFault } from '../sandboxes/helpers/sandboxAdmin';
import { storesOf } from '../support/stores';
import { fingerprint, rng, seedAccount, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import type { DeletionView } from '../../client/requests';
import { deletionServices, waitForView } from '../support/deletions';
import { deletionWorkflowId, FRESH_VENDOR_READ_MS, STORES, type Receipt, type Store } from '../../contract';
import { until } from '../support/until';

describe('a refusing store does not hold back the others', () => {
  let stores: PrivateStores;
  let world: TestWorld;
  let seed: SeedDeps;
  const rand = rng(14_014);

  beforeAll(async () => {
    stores = await startPrivateStores();
    world = await startWorld({
      env: { ...stores.env, LETHE_STORE_ATTEMPT_BUDGET: '4s', LETHE_BLOCK_AFTER: '2s', LETHE_BLOCK_AFTER_TRANSIENT: '2s', LETHE_STORE_RETRY_EVERY: '10m' },
    });
    seed = { ...world.deps, recurlySandboxUrl: stores.recurly.url };
  }, 120_000);
  afterAll(async () => {
    await world?.close();
    await stores?.close();
  });

  const services = () => deletionServices({ config: world.config, db: world.deps.db, temporal: world.client });

  async function blockAndRecover(store: Store, refuse: (a: SeededAccount) => Promise<void>, recover: (a: SeededAccount) => Promise<void>, opts: { auth0?: 'legacy' } = {}): Promise<void> {
    const a = await seedAccount(seed, { media: 20, snapshots: 2, orphanBlobs: 1, loginEvents: 2, shares: 1, supportRequests: 1, ...opts }, rand);
    const bystander = await seedAccount(seed, { media: 5, loginEvents: 1 }, rand);
    const before = await fingerprint(seed, bystander);
    const { intake, reader, operator } = services();
    await refuse(a);
    try {
      const started = await intake.start({ accountId: a.id, channel: 'support', requestedBy: 'blocked-test' });
      // Another store may pass through blocked on the way (the test's bounds are seconds, and
      // Recurly's redaction takes about as long): what matters is this one, and where all settle.
      const blocked = await waitForView(reader, started.requestId, (v) => v.status === 'blocked' && (v.blocked ?? []).some((b) => b.store === store), `${store} blocked`);
      expect(blocked.blocked).toContainEqual(expect.objectContaining({ store, reason: expect.any(String), since: expect.any(String), action: expect.any(String) }));
      // The other three finish while this one stays blocked (on a loaded machine they may still
      // be running when it is first shown blocked), and really are empty.
      const othersOf = (v: DeletionView) => (v.stores ?? []).filter((s) => s.store !== store);
      const settled = await waitForView(
        reader,
        started.requestId,
        (v) => othersOf(v).every((s) => s.status === 'verified') || v.status !== 'blocked',
        `the other stores verified while ${store} is blocked`,
      );
      expect(settled.status).toBe('blocked');
      expect(settled.blocked).toEqual([expect.objectContaining({ store })]);
      const others = othersOf(settled);
      expect(others).toHaveLength(3);
      expect(others.map((s) => [s.store, s.status])).toEqual(others.map((s) => [s.store, 'verified']));
      // Read each store that works (the refusing one would refuse the test as well).
      if (store !== 'media') {
        let blobs = 0;
        for (const c of seed.blobs.containers) for await (const _ of seed.blobs.container(c).listBlobsFlat({ prefix: `accounts/${a.id}/`, includeSnapshots: true })) blobs++;
        expect(blobs).toBe(0);
      }
      if (store !== 'auth0') expect([a.auth0UserId ? await seed.auth0.getUser(a.auth0UserId) : null, await seed.auth0.findUsersByEmail(a.email)]).toEqual([null, []]);
      if (store !== 'recurly') {
        const acct = await seed.recurly.getAccount(a.recurlyAccountCode!);
        expect(acct === null || acct.redacted).toBe(true);
      }
      if (store !== 'database') {
        expect(await world.deps.db('accounts').where({ id: a.id }).first()).toBeUndefined();
        // The row is gone but the deletion runs: a repeat by email finds it through the captured
        // subject (keyed hash) and joins it, rather than answering "no account has this email".
        const again = await intake.start({ email: a.email.toUpperCase(), channel: 'email' });
        expect(again.requestId).toBe(started.requestId);
      }
      // The stored request follows the workflow through an activity: a moment later.
      const listed = await until(
        'the request listed as blocked',
        async () => {
          const l = await reader.list({ status: 'blocked', limit: 200 });
          return l.items.some((i) => i.requestId === started.requestId) ? l : undefined;
        },
        30_000,
      );
      expect(listed.items.map((i) => i.requestId)).toContain(started.requestId);
    } finally {
      await recover(a);
    }
    const list = (await reader.list({ status: 'blocked', limit: 200 })).items.filter((i) => i.accountId === a.id);
    const requestId = list[0]!.requestId;
    const retried = await operator.retry(requestId, 'ops-on-call');
    expect(retried.outcome).toBe('signalled');
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;
    expect(receipt.verification.clean).toBe(true);
    expect(receipt.stores?.[store]).toMatchObject({ outcome: 'verified', verification: { clean: true } });
    const after = await storesOf(seed, a);
    expect(after.blobs).toBe(0);
    expect(Object.values(after.rows).every((n) => n === 0)).toBe(true);
    expect([after.auth0ById, after.auth0ByEmail]).toEqual([null, []]);
    expect(after.recurly === null || after.recurly.redacted).toBe(true);
    expect(await fingerprint(seed, bystander)).toBe(before);
    expect((await operator.actionsOf(requestId)).map((x) => [x.action, x.by])).toEqual([['retry', 'ops-on-call']]);
  }

  const clearFaults = (url: string) => fetch(`${url}/__sandbox/faults`, { method: 'DELETE' });

  test('when Recurly answers 500 to everything, then media, Auth0 and the rows are deleted, Recurly shows blocked, and a retry after it recovers completes', async () => {
    await blockAndRecover(
      'recurly',
      () => armFault(stores.recurly.url, { mode: '500', count: 100_000 }),
      async () => void (await clearFaults(stores.recurly.url)),
    );
  }, 240_000);

  test('when a blob is uploaded under the account after media was verified, while Recurly is blocked, then the final read-back deletes it before the receipt, and the bystander is untouched', async () => {
    const a = await seedAccount(seed, { media: 6, loginEvents: 1 }, rand);
    const bystander = await seedAccount(seed, { media: 3, loginEvents: 1 }, rand);
    const before = await fingerprint(seed, bystander);
    const { intake, reader, operator } = services();
    await armFault(stores.recurly.url, { mode: '500', count: 100_000 });
    let uploadedAt = 0;
    let mediaCount = 0;
    try {
      const started = await intake.start({ accountId: a.id, channel: 'support', requestedBy: 'blocked-test' });
      const v = await waitForView(
        reader,
        started.requestId,
        (x) => x.status === 'blocked' && (x.stores ?? []).every((st) => (st.store === 'recurly' ? st.status === 'blocked' : st.status === 'verified')),
        'media, auth0 and the rows verified while Recurly is blocked',
      );
      mediaCount = Number(/(\d+) blobs deleted/.exec(v.steps.find((st) => st.name === 'media')?.detail ?? '')?.[1]);
      expect(mediaCount).toBeGreaterThan(0);
      // An upload through a URL issued before the freeze, landing after media was read back empty.
      await seed.blobs.container('media').getBlockBlobClient(`accounts/${a.id}/cameras/late/upload.jpg`).upload('late', 4);
      uploadedAt = Date.now();
    } finally {
      await clearFaults(stores.recurly.url);
    }
    const [listed] = (await reader.list({ status: 'blocked', limit: 200 })).items.filter((i) => i.accountId === a.id);
    await operator.retry(listed!.requestId, 'ops-on-call');
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;
    let left = 0;
    for (const c of seed.blobs.containers) for await (const _ of seed.blobs.container(c).listBlobsFlat({ prefix: `accounts/${a.id}/`, includeSnapshots: true })) left++;
    expect(left).toBe(0);
    expect(receipt.counts.media?.blobsDeleted).toBe(mediaCount + 1);
    expect(Date.parse(receipt.stores!.media.verification!.checkedAt)).toBeGreaterThan(uploadedAt);
    expect(Date.parse(receipt.stores!.database.verification!.checkedAt)).toBeGreaterThan(uploadedAt);
    // Auth0's own read, seconds old, is not repeated (FRESH_VENDOR_READ_MS): the receipt's
    // checkedAt is the oldest store's last read, and says so.
    const lastReads = STORES.map((s) => receipt.stores![s].verification!.checkedAt).sort();
    expect(receipt.verification.checkedAt).toBe(lastReads[0]);
    expect(Date.parse(receipt.completedAt) - Date.parse(lastReads[0])).toBeLessThan(FRESH_VENDOR_READ_MS);
    expect(receipt.verification.clean).toBe(true);
    expect(await fingerprint(seed, bystander)).toBe(before);
  }, 240_000);

  test('when Auth0 answers 500 to everything, then the other stores finish and Auth0 shows blocked until a retry after it recovers', async () => {
    await blockAndRecover(
      'auth0',
      () => armFault(stores.auth0.url, { mode: '500', count: 100_000, pathPrefix: '/api/v2/users' }),
      async () => void (await clearFaults(stores.auth0.url)),
    );
  }, 240_000);

  test('when Auth0 answers 500 to everything and the account is a legacy one (its login found by email), then the freeze does not wait for Auth0: the other stores finish and Auth0 shows blocked until a retry', async () => {
    await blockAndRecover(
      'auth0',
      () => armFault(stores.auth0.url, { mode: '500', count: 100_000, pathPrefix: '/api/v2/users' }),
      async () => void (await clearFaults(stores.auth0.url)),
      { auth0: 'legacy' },
    );
  }, 240_000);

  test('when Azurite is stopped, then the vendors and the rows finish and media shows blocked until a retry after it is back', async () => {
    await blockAndRecover(
      'media',
      () => stores.azurite.stop(),
      () => stores.azurite.start(),
    );
  }, 240_000);

  test("when PostgreSQL refuses to delete the account's rows, then media and the vendors finish and the database shows blocked until a retry after it is fixed", async () => {
    const trigger = `lethe_test_refuse_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    await blockAndRecover(
      'database',
      async (a) => {
        await world.deps.db.raw(`create function ${trigger}() returns trigger language plpgsql as $$ begin raise exception 'refused by test'; end $$`);
        await world.deps.db.raw(`create trigger ${trigger} before delete on login_events for each row when (old.account_id = '${a.id}') execute function ${trigger}()`);
      },
      async () => {
        await world.deps.db.raw(`drop trigger if exists ${trigger} on login_events`);
        await world.deps.db.raw(`drop function if exists ${trigger}()`);
      },
    );
  }, 240_000);

  test('when a blocked deletion is terminated anyway, then a new request for the account id resumes it from what the freeze captured and lands on the same request', async () => {
    const a = await seedAccount(seed, { media: 5, loginEvents: 1 }, rand);
    const { intake, reader, operator } = services();
    await armFault(stores.recurly.url, { mode: '500', count: 100_000 });
    let requestId: string;
    try {
      const started = await intake.start({ accountId: a.id, channel: 'email' });
      requestId = started.requestId;
      await waitForView(reader, requestId, (v) => v.status === 'blocked', 'recurly blocked');
      // The account row is gone by now (the database store finished): only the capture remains.
      expect(await world.deps.db('accounts').where({ id: a.id }).first()).toBeUndefined();
      await world.client.workflow.getHandle(deletionWorkflowId(a.id)).terminate('operator stopped it by mistake');
      await waitForView(reader, requestId, (v) => v.status === 'failed', 'the terminated run seen as failed');
    } finally {
      await clearFaults(stores.recurly.url);
    }
    const again = await intake.start({ accountId: a.id, channel: 'phone' });
    expect(again.requestId).toBe(requestId);
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;
    expect(receipt.requestId).toBe(requestId);
    expect(receipt.verification.clean).toBe(true);
    const after = await storesOf(seed, a);
    expect(after.blobs).toBe(0);
    expect(after.recurly === null || after.recurly.redacted).toBe(true);
    // Nothing left to retry: the operator is told so.
    await expect(operator.retry(requestId, 'ops-on-call')).rejects.toThrow(/completed/);
  }, 240_000);
});
