/**
 * The blocked-store model in an access request (as a deletion's, workflows/waits.ts): while
 * Recurly answers 500 to everything, the database, Auth0 and media are gathered and Recurly
 * shows `blocked` with its reason; once Recurly recovers, the store's own retry cadence
 * (LETHE_STORE_RETRY_EVERY) takes it up and the archive is written with the billing record.
 */
import { startWorld, type TestWorld } from '../support/stack';
import { startApi, type TestApi } from '../support/api';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { sandboxUrls } from '../support/stores';
import { until } from '../support/until';
import { armFault } from '../sandboxes/helpers/sandboxAdmin';
import { seedAccount } from '../../dev/seed/fixtures';

describe('an access request with a store that refuses', () => {
  let world: TestWorld;
  let api: TestApi;
  const rand = rngFor(__filename);
  beforeAll(async () => {
    // Short bounds: a failing store shows blocked after 2 s and is tried again every 3 s.
    world = await startWorld({ env: { LETHE_STORE_ATTEMPT_BUDGET: '4s', LETHE_BLOCK_AFTER: '2s', LETHE_BLOCK_AFTER_TRANSIENT: '2s', LETHE_STORE_RETRY_EVERY: '3s' } });
    api = await startApi(world);
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  test('when Recurly answers 500 to everything, then the other stores are gathered, Recurly shows blocked, and once it recovers the archive is ready with the billing record', async () => {
    const seed = seedDepsOf(world);
    const a = await seedAccount(seed, { media: 3, auth0: 'linked', subscriptions: [{ state: 'active' }] }, rand);
    const recurly = sandboxUrls(seed).recurly;
    // Only this account's Recurly paths fail: the sandbox is shared with the other test files.
    const mine = `/accounts/code-${a.recurlyAccountCode}`;
    await armFault(recurly, { mode: '500', count: 100_000, pathPrefix: mine });
    let requestId = '';
    try {
      const filed = await api.request('POST', '/v1/access-requests', { body: { accountId: a.id, channel: 'support' } });
      expect(filed.status).toBe(202);
      requestId = filed.body.requestId;
      const blocked = await until(
        'Recurly blocked while the other stores are done',
        async () => {
          const r = await api.request('GET', `/v1/access-requests/${requestId}`);
          const by = Object.fromEntries((r.body.stores ?? []).map((s: { name: string; status: string }) => [s.name, s.status]));
          return r.body.status === 'blocked' && by.recurly === 'blocked' && by.database === 'done' && by.auth0 === 'done' && by.media === 'done' ? r.body : undefined;
        },
        90_000,
      );
      expect(blocked.blocked).toEqual([expect.objectContaining({ store: 'recurly', reason: expect.stringMatching(/recurly.*500/i) })]);
    } finally {
      await fetch(`${recurly}/__sandbox/faults?pathPrefix=${encodeURIComponent(mine)}`, { method: 'DELETE' });
    }
    const ready = await until(
      'the archive once Recurly recovers',
      async () => {
        const r = await api.request('GET', `/v1/access-requests/${requestId}`);
        return r.body.status === 'ready' ? r.body : undefined;
      },
      90_000,
    );
    expect(ready.blocked).toBeUndefined();
    const row = await world.deps.db('lethe.access_requests').where({ request_id: requestId }).first('counts');
    expect(row.counts.recurly).toEqual({ accounts: 1, subscriptions: 1, invoices: 0 });
  }, 240_000);
});
