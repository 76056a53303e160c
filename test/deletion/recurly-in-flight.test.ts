/**
 * Recurly's 409 for a write sent again while its first send is still in flight (api.yaml
 * "Idempotent Requests": "If a request with the same key is already in flight when a second
 * arrives, the server returns 409 Conflict with Recurly-Should-Retry: true and a Retry-After
 * header"), on the real stack and the shared sandbox (`/__sandbox/slow-writes` holds a write in
 * flight). Lethe gives up on the slow redaction (its request timeout), its retry sends the same
 * Idempotency-Key and meets 409s for longer than the adapter's own resends; the store must
 * treat that as the write still under way, not as a rejection, and end verified with the
 * redaction applied once.
 *
 * Why the same key meets itself: api.yaml keys an identical request by "same key, method, path,
 * and API key", not by body, so a body that changed between sends would be answered with the
 * first send's response too: Lethe's keys are derived from the request and its step
 * (stores/recurly.ts idempotencyKey), so a different body never reuses a key.
 */
import { startWorld, type TestWorld } from '../support/stack';
import { expectEmpty, storesOf } from '../support/stores';
import { rng, seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { adminJson, stats } from '../sandboxes/helpers/sandboxAdmin';
import { deletionServices, waitForView } from '../support/deletions';
import { deletionWorkflowId, type Receipt } from '../../contract';

describe('Recurly: a write still in flight when it is sent again', () => {
  let world: TestWorld;
  let seed: SeedDeps;
  let sandboxUrl: string;
  const rand = rng(36_409);

  beforeAll(async () => {
    sandboxUrl = process.env.RECURLY_BASE_URL!;
    world = await startWorld({ env: { LETHE_STORE_ATTEMPT_BUDGET: '90s', LETHE_BLOCK_AFTER: '60s', LETHE_BLOCK_AFTER_TRANSIENT: '60s', LETHE_STORE_RETRY_EVERY: '3s' } });
    seed = { ...world.deps, recurlySandboxUrl: sandboxUrl };
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  test('when the redaction is held in flight past Lethe’s timeout and its retries meet 409, then the redaction is applied once and the store ends verified, not failed', async () => {
    const a = await seedAccount(seed, { media: 1, subscriptions: [{ state: 'active' }] }, rand);
    const code = a.recurlyAccountCode!;
    const route = 'PUT /accounts/{account_id}/redact';
    const conflictsBefore = (await stats(sandboxUrl)).statuses[route]?.['409'] ?? 0;
    // Held 24 s: past the 15 s request timeout (stores/recurly.ts RECURLY_TIMEOUT_MS), and past
    // the retry's three resends a second apart, so a 409 reaches the store itself.
    await adminJson(sandboxUrl, 'POST', 'slow-writes', { pathPrefix: `/accounts/code-${code}/redact`, count: 1, delayMs: 24_000 });
    const { intake, reader } = deletionServices({ config: world.config, db: world.deps.db, temporal: world.client });

    const started = await intake.start({ accountId: a.id, channel: 'support', requestedBy: 'recurly-in-flight' });
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;

    // Recurly answered the resends 409 (the first still in flight) at least once.
    expect(((await stats(sandboxUrl)).statuses[route]?.['409'] ?? 0) - conflictsBefore).toBeGreaterThan(3);
    expect(receipt.stores?.recurly).toMatchObject({ outcome: 'verified', verification: { clean: true } });
    expect(receipt.verification.clean).toBe(true);
    const view = await waitForView(reader, started.requestId, (v) => v.status === 'completed', 'completed');
    expect(view.blocked ?? []).toEqual([]);
    // Applied once: the sandbox counts the redactions it carried out.
    expect(await adminJson<{ redactRequests: number; personalFields: string[] }>(sandboxUrl, 'GET', `accounts/${code}`)).toMatchObject({ redactRequests: 1, personalFields: [] });
    expectEmpty(await storesOf(seed, a));
  }, 180_000);
});
