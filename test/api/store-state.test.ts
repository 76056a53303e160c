/**
 * Each deletion's per-store state in Lethe's own tables (issues 33 and 37), on the real stack:
 * the workflow records every store's state on each change (activities/deletion/state.ts), a
 * blocked store with its failure type and since (never the vendor's text), the episode of it
 * blocked, and at the end every store verified; the status route answers a running deletion from
 * those tables, and asks the workflow only with `live=true`.
 *
 * Recurly is private to this file (its own sandbox): its refusals are the real kinds, an open
 * charge (Recurly refuses redaction while one exists: needs a person, blocked after 2 s) and an
 * outage (500s: retried, shown `retrying`, blocked only after 10 minutes).
 */
import { startWorld, type TestWorld } from '../support/stack';
import { startApi, type JsonBody, type TestApi } from '../support/api';
import { startPrivateStores, type PrivateStores } from '../support/private-stores';
import { armFault } from '../sandboxes/helpers/sandboxAdmin';
import { until } from '../support/until';
import { rng, seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { deletionWorkflowId, type Store } from '../../contract';

interface StateRow {
  store: Store;
  state: string;
  attempts: number;
  reason_code: string | null;
  action: string | null;
  since: Date | null;
  seq: string;
}

describe('per-store state in Lethe tables', () => {
  let stores: PrivateStores;
  let world: TestWorld;
  let seed: SeedDeps;
  let api: TestApi;
  const rand = rng(33_012);

  beforeAll(async () => {
    stores = await startPrivateStores();
    world = await startWorld({
      env: { ...stores.env, LETHE_STORE_ATTEMPT_BUDGET: '3s', LETHE_BLOCK_AFTER: '2s', LETHE_BLOCK_AFTER_TRANSIENT: '10m', LETHE_STORE_RETRY_EVERY: '3s' },
    });
    seed = { ...world.deps, recurlySandboxUrl: stores.recurly.url };
    api = await startApi(world);
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await world?.close();
    await stores?.close();
  });

  const statesOf = async (requestId: string): Promise<Record<string, StateRow>> =>
    Object.fromEntries(((await world.deps.db('lethe.deletion_store_states').where({ request_id: requestId })) as StateRow[]).map((r) => [r.store, r]));
  const rowOf = async (requestId: string) => world.deps.db('lethe.deletion_requests').where({ request_id: requestId }).first();
  const view = async (requestId: string, live = false): Promise<JsonBody> => (await api.request('GET', `/v1/deletion-requests/${requestId}${live ? '?live=true' : ''}`)).body;
  const file = async (accountId: string): Promise<string> => {
    const filed = await api.request('POST', '/v1/deletion-requests', { body: { accountId, channel: 'support', requestedBy: 'desk-33' } });
    expect(filed.status).toBe(202);
    return filed.body.requestId;
  };

  test('when Recurly refuses until a charge is settled, then the tables show it blocked with its reason code and since, and every store verified at the end', async () => {
    const a = await seedAccount(seed, { media: 3, loginEvents: 1 }, rand);
    const charge = await seed.recurly.createCharge({ accountCode: a.recurlyAccountCode!, amount: 15, description: 'replacement camera mount' });
    const requestId = await file(a.id);

    const blocked = await until(
      'recurly blocked in lethe.deletion_store_states, the other stores verified',
      async () => {
        const s = await statesOf(requestId);
        return s.recurly?.state === 'blocked' && (['media', 'auth0', 'database'] as const).every((x) => s[x]?.state === 'verified') ? s : undefined;
      },
      90_000,
      250,
    );
    expect(blocked.recurly).toMatchObject({ reason_code: 'Precondition', action: expect.stringContaining('settle or void them in Recurly') });
    expect(blocked.recurly.attempts).toBeGreaterThanOrEqual(1);
    expect(blocked.recurly.since).toBeInstanceOf(Date);
    expect(blocked.media).toMatchObject({ reason_code: null, since: null });
    expect((await rowOf(requestId)).status).toBe('blocked');
    // The list answers each item's stores from the same table.
    const listed = (await api.request('GET', '/v1/deletion-requests?status=blocked&limit=200')).body.items.find((i: { requestId: string }) => i.requestId === requestId);
    expect(listed.stores).toEqual([
      { store: 'media', status: 'verified' },
      { store: 'auth0', status: 'verified' },
      { store: 'recurly', status: 'blocked' },
      { store: 'database', status: 'verified' },
    ]);
    // The episode, for the overview's "blocked by store over time".
    const episodes = await world.deps.db('lethe.deletion_store_blocks').where({ request_id: requestId });
    expect(episodes).toEqual([expect.objectContaining({ store: 'recurly', reason_code: 'Precondition', since: blocked.recurly.since, ended_at: null })]);
    // Ids, states and failure types only: the vendor's words and the person's data are not kept.
    const kept = JSON.stringify(Object.values(blocked));
    expect(kept).not.toContain(a.email);
    expect(kept).not.toContain(a.recurlyAccountCode!);
    expect(kept).not.toContain(charge.id);
    // The status view of a blocked request still says what the vendor said (the live query).
    const v = await view(requestId);
    expect(v).toMatchObject({ status: 'blocked', blocked: [expect.objectContaining({ store: 'recurly', reason: expect.stringMatching(/charge|invoice/i) })] });

    await seed.recurly.removeLineItem(charge.id);
    expect((await api.request('POST', `/v1/deletion-requests/${requestId}/retry`, { body: { by: 'ops-33' } })).status).toBe(202);
    const done = await until('the request completed', async () => ((await rowOf(requestId))?.status === 'completed' ? true : undefined), 90_000, 250);
    expect(done).toBe(true);
    const end = await until(
      'every store verified in the tables',
      async () => {
        const s = await statesOf(requestId);
        return Object.keys(s).length === 4 && Object.values(s).every((x) => x.state === 'verified') ? s : undefined;
      },
      30_000,
      250,
    );
    expect(Object.values(end).every((x) => x.reason_code === null && x.since === null)).toBe(true);
    const [episode] = await world.deps.db('lethe.deletion_store_blocks').where({ request_id: requestId });
    expect(episode.ended_at).toBeInstanceOf(Date);
    // The closed run's view shows the stores from the tables too (its progress is not asked for).
    await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result();
    expect((await view(requestId)).stores.map((s: { status: string }) => s.status)).toEqual(['verified', 'verified', 'verified', 'verified']);
  }, 240_000);

  test('when a deletion is running, then the status route answers from the tables (and from the workflow only with live=true), and an older record never overwrites a newer one', async () => {
    const a = await seedAccount(seed, { media: 2, loginEvents: 1 }, rand);
    // Recurly is out (500s) for this account only: retried, `retrying`, the request `running`.
    await armFault(stores.recurly.url, { mode: '500', count: 100_000, pathPrefix: `/accounts/code-${a.recurlyAccountCode}` });
    try {
      const requestId = await file(a.id);
      await until('recurly retrying in the tables', async () => ((await statesOf(requestId)).recurly?.state === 'retrying' ? true : undefined), 90_000, 250);
      const s = await statesOf(requestId);
      // Unavailable, or Timeout when the attempt's budget ran out before the adapter said so.
      expect(['Unavailable', 'Timeout']).toContain(s.recurly.reason_code);

      const fromTables = await view(requestId);
      expect(fromTables).toMatchObject({ status: 'running', source: 'tables' });
      expect(fromTables.stores.find((x: { store: string }) => x.store === 'recurly')).toMatchObject({ status: 'retrying', reason: s.recurly.reason_code });

      // A record written with a higher sequence than the workflow's next: the route shows it, and
      // the workflow's later records (a retry asked for now) leave it as it is.
      await world.deps.db('lethe.deletion_store_states').where({ request_id: requestId, store: 'recurly' }).update({ attempts: 4242, seq: '9000000000000000' });
      expect((await api.request('POST', `/v1/deletion-requests/${requestId}/retry`, { body: { by: 'ops-33' } })).status).toBe(202);
      const live = await until(
        'the workflow counted the retried attempt',
        async () => {
          const l = await view(requestId, true);
          return l.stores?.find((x: { store: string }) => x.store === 'recurly')?.attempts > s.recurly.attempts ? l : undefined;
        },
        30_000,
        250,
      );
      const recurlyLive = live.stores.find((x: { store: string }) => x.store === 'recurly');
      expect(recurlyLive.attempts).toBeLessThan(4242);
      // Live: the vendor's words, not the code.
      expect(recurlyLive.reason).not.toBe(s.recurly.reason_code);
      const table = (await view(requestId)).stores.find((x: { store: string }) => x.store === 'recurly');
      expect(table).toMatchObject({ attempts: 4242, status: 'retrying' });
      expect((await statesOf(requestId)).recurly.attempts).toBe(4242);
    } finally {
      await fetch(`${stores.recurly.url}/__sandbox/faults`, { method: 'DELETE' });
    }
  }, 180_000);
});
