/**
 * Recurly as Recurly documents it (issue 15), on the real stack and through the shared
 * sandbox's default, faithful behaviour (dev/sandboxes/README.md): redaction is accepted and
 * carried out later (api.yaml `redact_account`), refused while a charge or an invoice is open,
 * a `future` subscription cannot be terminated, and terminating bills unbilled usage unless
 * `charge=false`.
 *
 * Bounds short, as in blocked.test.ts: a store refusing for 2 s shows blocked. A refusal only a
 * person can fix is retried on the slow cadence (3 s here), and the status turns `blocked` at
 * the first retry past the bound.
 */
import { startWorld, type TestWorld } from '../support/stack';
import { storesOf, expectEmpty } from '../support/stores';
import { fingerprint, rng, seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { adminJson } from '../sandboxes/helpers/sandboxAdmin';
import { deletionServices, waitForView } from '../support/deletions';
import { deletionWorkflowId, type Receipt } from '../../contract';
import { REDACTION_FIRST_READ_MS } from '../../activities/deletion/recurly';

interface SandboxAccountState {
  redactRequests: number;
  redactionPending: boolean;
  redactedAt: string | null;
  openCharges: { lineItems: number; invoices: number };
  subscriptions: { id: string; state: string; unbilledUsage: number }[];
}
interface Recorded {
  route: string;
  path: string;
  query: Record<string, string>;
}

describe('Recurly as documented: asynchronous redaction, open charges, charge=false, future subscriptions', () => {
  let world: TestWorld;
  let seed: SeedDeps;
  let sandboxUrl: string;
  const rand = rng(15_015);

  beforeAll(async () => {
    sandboxUrl = process.env.RECURLY_BASE_URL!;
    world = await startWorld({ env: { LETHE_STORE_ATTEMPT_BUDGET: '30s', LETHE_BLOCK_AFTER: '2s', LETHE_BLOCK_AFTER_TRANSIENT: '2s', LETHE_STORE_RETRY_EVERY: '3s' } });
    seed = { ...world.deps, recurlySandboxUrl: sandboxUrl };
    // The shared sandbox runs as the stack started it: faithful, with its default delay.
    const behaviour = await adminJson<Record<string, unknown>>(sandboxUrl, 'GET', 'behaviour');
    expect(behaviour).toEqual({
      redactionDelayMs: expect.any(Number),
      openChargesBlockRedaction: true,
      futureNotTerminable: true,
      chargeBillsUnbilledUsage: true,
      redactionDocumentedScopeOnly: true,
      hierarchyBlocksRedaction: true,
    });
    expect(behaviour.redactionDelayMs).toBeGreaterThanOrEqual(1000);
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  const services = () => deletionServices({ config: world.config, db: world.deps.db, temporal: world.client });
  const accountState = (code: string) => adminJson<SandboxAccountState>(sandboxUrl, 'GET', `accounts/${code}`);
  const requestsFor = async (paths: (p: string) => boolean) => (await adminJson<{ requests: Recorded[] }>(sandboxUrl, 'GET', 'requests')).requests.filter((r) => paths(r.path));

  test('when Recurly redacts seconds after accepting, then Lethe waits for it without asking again, terminates with charge=false, cancels the future subscription, and the receipt is verified', async () => {
    const a = await seedAccount(seed, { media: 3, loginEvents: 1, subscriptions: [{ state: 'active' }, { state: 'future' }] }, rand);
    const code = a.recurlyAccountCode!;
    // Usage logged this cycle: terminating with the default charge=true would bill it on an
    // open final invoice, which Recurly would then refuse to redact around.
    const metered = await adminJson<{ id: string }>(sandboxUrl, 'POST', 'subscriptions', { accountCode: code, state: 'active', unbilledUsage: 4.2 });
    const bystander = await seedAccount(seed, { media: 2 }, rand);
    const before = await fingerprint(seed, bystander);
    const { intake } = services();

    const started = await intake.start({ accountId: a.id, channel: 'support', requestedBy: 'realism-test' });
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;

    expect(receipt.requestId).toBe(started.requestId);
    expect(receipt.verification.clean).toBe(true);
    expect(receipt.stores?.recurly).toMatchObject({ outcome: 'verified', verification: { clean: true, remaining: { account: 0 } } });
    // It waited out Recurly's pending phase: the account was first read back a while after the
    // redaction was accepted (not polled at once: every read spends Recurly's budget), and the
    // redaction was asked for once. Reads while still pending: test/budget/resume.test.ts.
    expect(receipt.counts.recurly).toMatchObject({ subscriptionsTerminated: 2, subscriptionsCanceled: 1, accountRedacted: true, hadAccount: true, redactRequests: 1 });
    expect(receipt.counts.recurly!.redactionWaitedMs).toBeGreaterThanOrEqual(REDACTION_FIRST_READ_MS);
    const state = await accountState(code);
    expect(state).toMatchObject({ redactRequests: 1, redactionPending: false, redactedAt: expect.any(String), openCharges: { lineItems: 0, invoices: 0 } });
    expect(state.subscriptions.map((s) => s.state).sort()).toEqual(['expired', 'expired', 'failed']);

    // The shared sandbox serves every test file: only this person's subscriptions count.
    const mine = new Set(state.subscriptions.map((sub) => `/subscriptions/${sub.id}`));
    const subs = await requestsFor((p) => [...mine].some((m) => p === m || p.startsWith(`${m}/`)));
    const terminations = subs.filter((r) => r.route === 'DELETE /subscriptions/{subscription_id}');
    expect(terminations).toHaveLength(2);
    for (const t of terminations) expect(t.query).toEqual({ refund: 'none', charge: 'false' });
    expect(terminations.map((t) => t.path)).toContain(`/subscriptions/${metered.id}`);
    expect(subs.filter((r) => r.route === 'PUT /subscriptions/{subscription_id}/cancel')).toHaveLength(1);

    expectEmpty(await storesOf(seed, a));
    expect(await fingerprint(seed, bystander)).toBe(before);
  }, 120_000);

  test('when the person has an uninvoiced charge, then Recurly shows blocked naming it while everything else is deleted, and a retry after the charge is removed completes', async () => {
    const a = await seedAccount(seed, { media: 4, loginEvents: 1, shares: 1 }, rand);
    const code = a.recurlyAccountCode!;
    const charge = await seed.recurly.createCharge({ accountCode: code, amount: 15, description: 'replacement camera mount' });
    const { intake, reader, operator } = services();

    const started = await intake.start({ accountId: a.id, channel: 'email', requestedBy: 'realism-test' });
    const blocked = await waitForView(reader, started.requestId, (v) => v.status === 'blocked', 'recurly blocked');
    expect(blocked.blocked).toEqual([
      expect.objectContaining({
        store: 'recurly',
        reason: expect.stringMatching(/Precondition.*1 uninvoiced charge \(line items\), 0 open or partially paid invoices/),
        action: expect.stringContaining('charges or invoices'),
      }),
    ]);
    // The others finish while Recurly stays blocked (they may still be running when it is first shown blocked).
    const settled = await waitForView(
      reader,
      started.requestId,
      (v) => v.status !== 'blocked' || (v.stores ?? []).filter((s) => s.store !== 'recurly').every((s) => s.status === 'verified'),
      'the other stores verified',
    );
    expect(settled.status).toBe('blocked');
    const others = (settled.stores ?? []).filter((s) => s.store !== 'recurly');
    expect(others).toHaveLength(3);
    expect(others.map((s) => [s.store, s.status])).toEqual(others.map((s) => [s.store, 'verified']));
    const during = await storesOf(seed, a);
    expect(during.blobs).toBe(0);
    expect([during.auth0ById, during.auth0ByEmail]).toEqual([null, []]);
    expect(Object.values(during.rows).every((n) => n === 0)).toBe(true);
    // Still the person's billing record: refused, not redacted, not asked to redact again.
    expect(during.recurly).toMatchObject({ redacted: false });
    expect(await accountState(code)).toMatchObject({ redactRequests: 0, openCharges: { lineItems: 1, invoices: 0 } });
    // Blocked, and it stays blocked while the charge is there (attempt after attempt): waited
    // for by attempts rather than a fixed sleep, since jittered waits and a loaded machine stretch them.
    const still = await waitForView(
      reader,
      started.requestId,
      (v) => v.status !== 'blocked' || (v.stores?.find((s) => s.store === 'recurly')?.attempts ?? 0) >= 3,
      'three Recurly attempts while blocked',
    );
    expect(still?.status).toBe('blocked');
    expect(still?.stores?.find((s) => s.store === 'recurly')?.attempts).toBeGreaterThanOrEqual(3);

    // Someone settles it at Recurly (here: removes the charge), then retries.
    await seed.recurly.removeLineItem(charge.id);
    expect((await operator.retry(started.requestId, 'ops-on-call')).outcome).toBe('signalled');
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;
    expect(receipt.verification.clean).toBe(true);
    expect(receipt.stores?.recurly).toMatchObject({ outcome: 'verified', verification: { clean: true } });
    expect(receipt.counts.recurly).toMatchObject({ accountRedacted: true, redactRequests: 1 });
    expect(await accountState(code)).toMatchObject({ redactRequests: 1, redactedAt: expect.any(String) });
    expectEmpty(await storesOf(seed, a));
  }, 180_000);
});
