/**
 * A vendor step that fails part-way is retried without repeating the calls it had already
 * made: the Auth0 and Recurly activities carry what they found and which calls they finished in
 * their heartbeat details, which Temporal hands to the next attempt. Counted by the sandboxes
 * (stores of this test's own, so no other test's calls are in the counts).
 */
import { startWorld } from '../support/stack';
import { startPrivateStores, type PrivateStores } from '../support/private-stores';
import { adminJson, armFault, faultCounts, stats } from '../sandboxes/helpers/sandboxAdmin';
import { REDACTION_FIRST_READ_MS } from '../../activities/deletion/recurly';
import { expectEmpty, storesOf } from '../support/stores';
import { rng, seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { createIntake } from '../../client/intake';
import type { Receipt } from '../../contract';

/** Answers per route since the sandbox started (its stats), as `METHOD /pattern` → count of every status. */
async function calls(url: string): Promise<Record<string, number>> {
  const s = await stats(url);
  return Object.fromEntries(Object.entries(s.statuses).map(([route, byStatus]) => [route, Object.values(byStatus).reduce((a, b) => a + b, 0)]));
}

describe('vendor steps resume at the call level', () => {
  let stores: PrivateStores;
  beforeAll(async () => {
    stores = await startPrivateStores();
  });
  afterAll(async () => stores?.close());

  test('when Auth0 fails the grants call and Recurly the redaction, then the retried attempts make only the calls still to do', async () => {
    const world = await startWorld({ env: stores.env });
    try {
      const seed: SeedDeps = { ...world.deps, recurlySandboxUrl: stores.recurly.url };
      const a = await seedAccount(seed, { media: 1, auth0: 'linked', subscriptions: [{ state: 'active' }] }, rng(18));
      const before = { auth0: await calls(stores.auth0.url), recurly: await calls(stores.recurly.url) };
      // Each fails once, after the attempt has made the calls before it.
      await armFault(stores.auth0.url, { mode: '500', count: 1, pathPrefix: '/api/v2/grants' });
      await armFault(stores.recurly.url, { mode: '500', count: 1, pathPrefix: `/accounts/code-${a.recurlyAccountCode}/redact` });

      const deletions = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
      const started = await deletions.start({ accountId: a.id, channel: 'support' });
      const receipt: Receipt = await world.client.workflow.getHandle(started.workflowId).result();
      expect(receipt.verification.clean).toBe(true);
      expectEmpty(await storesOf(seed, a));
      expect((await faultCounts(stores.auth0.url)).fired['500']).toBe(1);
      expect((await faultCounts(stores.recurly.url)).fired['500']).toBe(1);

      const made = (vendor: 'auth0' | 'recurly', after: Record<string, number>, route: string) => (after[route] ?? 0) - (before[vendor][route] ?? 0);
      const auth0 = await calls(stores.auth0.url);
      // The failed grants call and its retry; everything before it once.
      expect(made('auth0', auth0, 'DELETE /api/v2/grants')).toBe(2);
      expect(made('auth0', auth0, 'DELETE /api/v2/users/{id}/sessions')).toBe(1);
      expect(made('auth0', auth0, 'DELETE /api/v2/users/{id}/refresh-tokens')).toBe(1);
      expect(made('auth0', auth0, 'DELETE /api/v2/users/{id}')).toBe(1);

      const recurly = await calls(stores.recurly.url);
      expect(made('recurly', recurly, 'PUT /accounts/{account_id}/redact')).toBe(2);
      expect(made('recurly', recurly, 'GET /accounts/{account_id}/subscriptions')).toBe(1);
      expect(made('recurly', recurly, 'DELETE /subscriptions/{subscription_id}')).toBe(1);
    } finally {
      await world.close();
    }
  }, 300_000);

  test('when Recurly has redacted by the first read-back, it is read back once after the wait; when it takes longer, the pending redaction is read again and never asked for twice', async () => {
    const world = await startWorld({ env: stores.env });
    try {
      const seed: SeedDeps = { ...world.deps, recurlySandboxUrl: stores.recurly.url };
      const deletions = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
      const deleteAndCount = async (seedNo: number) => {
        const a = await seedAccount(seed, { media: 1, auth0: 'linked', subscriptions: [{ state: 'active' }] }, rng(seedNo));
        const before = await calls(stores.recurly.url);
        const started = await deletions.start({ accountId: a.id, channel: 'support' });
        const receipt: Receipt = await world.client.workflow.getHandle(started.workflowId).result();
        expect(receipt.verification.clean).toBe(true);
        expectEmpty(await storesOf(seed, a));
        const after = await calls(stores.recurly.url);
        const made = Object.fromEntries(Object.keys(after).map((route) => [route, after[route] - (before[route] ?? 0)]));
        return { receipt, made, total: Object.values(made).reduce((x, y) => x + y, 0) };
      };

      // The sandbox's own delay (1.5 s) is inside the wait before the first read. Every call
      // that changes something is made once; the account is read at least twice (found, and read
      // back once redacted, a read the deletion hands over as the store's read-back). More reads
      // happen only when an attempt or the read-back is retried (a loaded machine), which is why
      // test/budget/call-counts.test.ts, on stores of its own, pins the calls a deletion costs.
      const quick = await deleteAndCount(181);
      expect(quick.made).toMatchObject({ 'GET /accounts/{account_id}/subscriptions': 1, 'DELETE /subscriptions/{subscription_id}': 1, 'PUT /accounts/{account_id}/redact': 1 });
      expect(quick.made['GET /accounts/{account_id}']).toBeGreaterThanOrEqual(2);
      expect(quick.receipt.counts.recurly).toMatchObject({ redactRequests: 1 });
      expect(quick.receipt.counts.recurly!.redactionWaitedMs).toBeGreaterThanOrEqual(REDACTION_FIRST_READ_MS);

      // A slower redaction is read back while pending, then done: still asked for once.
      await adminJson(stores.recurly.url, 'PUT', 'behaviour', { redactionDelayMs: 5_000 });
      const slow = await deleteAndCount(182);
      expect(slow.made['PUT /accounts/{account_id}/redact']).toBe(1);
      expect(slow.receipt.counts.recurly!.redactionChecks).toBeGreaterThanOrEqual(1);
      expect(slow.receipt.counts.recurly!.redactionWaitedMs).toBeGreaterThanOrEqual(5_000);
    } finally {
      await world.close();
    }
  }, 300_000);
});
