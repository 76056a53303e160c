/**
 * Recurly's documented edges (issue 36 items 7-9), on the real stack and the shared sandbox's
 * default behaviour (dev/sandboxes/README.md):
 * - redaction clears only what `redact_account` documents, so Lethe clears `cc_emails`, custom
 *   fields, account notes and a wallet's billing methods itself, and the person's data is gone;
 * - an account in a hierarchy (a child billed to its parent, a parent with open children) shows
 *   blocked with a reason naming that, not "0 uninvoiced charges, 0 open invoices";
 * - a write whose answer is lost is sent again under the same Idempotency-Key, and Recurly
 *   replays the first answer instead of applying it twice.
 *
 * Bounds short, as in recurly-realism.test.ts: a store refusing for 2 s shows blocked.
 */
import { startWorld, type TestWorld } from '../support/stack';
import { storesOf, expectEmpty } from '../support/stores';
import { fingerprint, rng, seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { adminJson } from '../sandboxes/helpers/sandboxAdmin';
import { deletionServices, waitForView } from '../support/deletions';
import { deletionWorkflowId, type Receipt } from '../../contract';

interface SandboxAccount {
  redactRequests: number;
  redactionPending: boolean;
  redactedAt: string | null;
  personalFields: string[];
  notes: number;
  billingInfos: number;
  parentAccountCode: string | null;
  billTo: string;
  childAccounts: string[];
  subscriptions: { id: string; state: string }[];
}
interface Recorded {
  method: string;
  route: string;
  path: string;
  idempotencyKey?: boolean;
}

describe('Recurly beyond the common case: redaction scope, account hierarchy, idempotent writes', () => {
  let world: TestWorld;
  let seed: SeedDeps;
  let sandboxUrl: string;
  let apiKey: string;
  const rand = rng(36_007);

  beforeAll(async () => {
    sandboxUrl = process.env.RECURLY_BASE_URL!;
    world = await startWorld({ env: { LETHE_STORE_ATTEMPT_BUDGET: '30s', LETHE_BLOCK_AFTER: '2s', LETHE_BLOCK_AFTER_TRANSIENT: '2s', LETHE_STORE_RETRY_EVERY: '3s' } });
    seed = { ...world.deps, recurlySandboxUrl: sandboxUrl };
    apiKey = world.config.recurly.apiKey;
    // The shared sandbox as the stack started it: redaction keeps what it does not document, hierarchy refuses it.
    expect(await adminJson<Record<string, unknown>>(sandboxUrl, 'GET', 'behaviour')).toMatchObject({ redactionDocumentedScopeOnly: true, hierarchyBlocksRedaction: true });
  }, 120_000);
  afterAll(async () => {
    await world?.close();
  });

  const services = () => deletionServices({ config: world.config, db: world.deps.db, temporal: world.client });
  const account = (code: string) => adminJson<SandboxAccount>(sandboxUrl, 'GET', `accounts/${code}`);
  const requestsFor = async (prefix: string) => (await adminJson<{ requests: Recorded[] }>(sandboxUrl, 'GET', 'requests')).requests.filter((r) => r.path.startsWith(prefix));
  /** Recurly's own API, as a merchant's other systems would write to it. */
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${sandboxUrl}${path}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(`${apiKey}:`).toString('base64')}`, accept: 'application/vnd.recurly.v2021-02-25', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
    return res.status === 204 ? undefined : ((await res.json()) as Record<string, unknown>);
  };

  test('when the account holds cc_emails, custom fields, notes and a wallet, which Recurly does not redact, then Lethe clears them first and every one is gone', async () => {
    const a = await seedAccount(seed, { media: 1, loginEvents: 1, subscriptions: [{ state: 'active' }] }, rand);
    const code = a.recurlyAccountCode!;
    await api('PUT', `/accounts/code-${code}`, {
      cc_emails: 'partner@example.test,accounts@example.test',
      custom_fields: [
        { name: 'nickname', value: 'Countess' },
        { name: 'referrer', value: 'a friend' },
      ],
    });
    await api('POST', `/accounts/code-${code}/notes`, { message: 'Called about a refund; prefers mornings.' });
    await api('POST', `/accounts/code-${code}/notes`, { message: 'Moved house, new address on file.' });
    await adminJson(sandboxUrl, 'POST', `accounts/${code}/billing_infos`, { firstName: 'Ada', lastName: 'Lovelace', lastFour: '4242' });
    await adminJson(sandboxUrl, 'POST', `accounts/${code}/billing_infos`, { firstName: 'Ada', lastName: 'Lovelace', lastFour: '0005' });
    // A bystander with the same kinds of data keeps all of it.
    const bystander = await seedAccount(seed, { media: 1, subscriptions: [{ state: 'active' }] }, rand);
    await api('PUT', `/accounts/code-${bystander.recurlyAccountCode}`, { cc_emails: 'other@example.test', custom_fields: [{ name: 'nickname', value: 'Bystander' }] });
    await api('POST', `/accounts/code-${bystander.recurlyAccountCode}/notes`, { message: 'A bystander note.' });
    const before = await fingerprint(seed, bystander);
    const bystanderBefore = await account(bystander.recurlyAccountCode!);
    expect(await account(code)).toMatchObject({ personalFields: expect.arrayContaining(['cc_emails', 'custom_fields']), notes: 2, billingInfos: 2 });

    const { intake } = services();
    await intake.start({ accountId: a.id, channel: 'support', requestedBy: 'recurly-scope-test' });
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;

    expect(receipt.verification.clean).toBe(true);
    expect(receipt.stores?.recurly).toMatchObject({ outcome: 'verified', verification: { clean: true, remaining: { account: 0 } } });
    expect(receipt.counts.recurly).toMatchObject({ accountRedacted: true, redactRequests: 1, fieldsCleared: ['cc_emails', 'custom_fields'], notesRemoved: 2, billingInfosRemoved: 2 });
    // Read through the sandbox's own view: nothing personal left, of any kind.
    expect(await account(code)).toMatchObject({ redactedAt: expect.any(String), redactionPending: false, personalFields: [], notes: 0, billingInfos: 0 });
    const shown = (await api('GET', `/accounts/code-${code}`))!;
    expect(JSON.stringify(shown)).not.toMatch(/partner@|accounts@|Countess|a friend/);
    expectEmpty(await storesOf(seed, a));
    expect(await fingerprint(seed, bystander)).toBe(before);
    expect(await account(bystander.recurlyAccountCode!)).toEqual(bystanderBefore);
  }, 120_000);

  test('when the account was already redacted outside Lethe, then the notes and billing methods redaction left are removed all the same', async () => {
    // No subscription: Recurly would refuse the redaction over a live one.
    const a = await seedAccount(seed, { media: 1, subscriptions: [] }, rand);
    const code = a.recurlyAccountCode!;
    await api('POST', `/accounts/code-${code}/notes`, { message: 'Asked us to forget them.' });
    await adminJson(sandboxUrl, 'POST', `accounts/${code}/billing_infos`, { firstName: 'Ada', lastName: 'Lovelace', lastFour: '4242' });
    await adminJson(sandboxUrl, 'POST', `accounts/${code}/billing_infos`, { firstName: 'Ada', lastName: 'Lovelace', lastFour: '0005' });
    await api('PUT', `/accounts/code-${code}/redact`);
    for (let i = 0; i < 40 && !(await account(code)).redactedAt; i++) await new Promise((r) => setTimeout(r, 250));
    expect(await account(code)).toMatchObject({ redactedAt: expect.any(String), personalFields: [], notes: 1, billingInfos: 1 });
    const { intake } = services();

    await intake.start({ accountId: a.id, channel: 'support', requestedBy: 'recurly-scope-test' });
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;

    expect(receipt.verification.clean).toBe(true);
    expect(receipt.counts.recurly).toMatchObject({ accountRedacted: true, notesRemoved: 1, billingInfosRemoved: 1 });
    expect(await account(code)).toMatchObject({ redactRequests: 1, personalFields: [], notes: 0, billingInfos: 0 });
    expectEmpty(await storesOf(seed, a));
  }, 120_000);

  test('when the account is a child billed to its parent, then Recurly shows blocked naming that and what to do, and nothing at Recurly was changed', async () => {
    const a = await seedAccount(seed, { media: 1, subscriptions: [{ state: 'active' }] }, rand);
    const code = a.recurlyAccountCode!;
    const parent = `parent-${code}`;
    await api('POST', '/accounts', { code: parent, company: 'Parent Holdings' });
    await api('PUT', `/accounts/code-${code}`, { parent_account_code: parent, bill_to: 'parent' });
    expect(await account(code)).toMatchObject({ parentAccountCode: parent, billTo: 'parent' });
    const { intake, reader } = services();

    const started = await intake.start({ accountId: a.id, channel: 'email', requestedBy: 'recurly-scope-test' });
    const blocked = await waitForView(reader, started.requestId, (v) => v.status === 'blocked' && (v.blocked ?? []).some((b) => b.store === 'recurly'), 'recurly blocked');
    const reason = blocked.blocked!.find((b) => b.store === 'recurly')!.reason;
    expect(reason).toMatch(/child billed to its parent account \(bill_to=parent\)/);
    expect(reason).toMatch(/bill itself \(bill_to=self\) or remove its parent/);
    expect(reason).not.toMatch(/uninvoiced/);
    // The action says the same cause, not the open charges of every other precondition.
    const action = blocked.blocked!.find((b) => b.store === 'recurly')!.action;
    expect(action).toMatch(/bill_to=self/);
    expect(action).not.toMatch(/charges or invoices are open/);
    // Stopped before any change: the subscription runs on, no redaction was asked for.
    const state = await account(code);
    expect(state).toMatchObject({ redactRequests: 0, redactedAt: null });
    expect(state.subscriptions.map((s) => s.state)).toEqual(['active']);
  }, 120_000);

  test('when the account is the parent of an open child account, then Recurly shows blocked naming the child, and once the child is detached a retry completes', async () => {
    const a = await seedAccount(seed, { media: 1, subscriptions: [{ state: 'active' }] }, rand);
    const code = a.recurlyAccountCode!;
    const child = `child-${code}`;
    await api('POST', '/accounts', { code: child, first_name: 'Family', last_name: 'Member', parent_account_code: code, bill_to: 'self' });
    expect(await account(code)).toMatchObject({ childAccounts: [child] });
    const { intake, reader, operator } = services();

    const started = await intake.start({ accountId: a.id, channel: 'email', requestedBy: 'recurly-scope-test' });
    const blocked = await waitForView(reader, started.requestId, (v) => v.status === 'blocked' && (v.blocked ?? []).some((b) => b.store === 'recurly'), 'recurly blocked');
    const reason = blocked.blocked!.find((b) => b.store === 'recurly')!.reason;
    expect(reason).toMatch(new RegExp(`1 open child account \\(${child}\\) billed through this parent: in Recurly, remove this account as their parent`));
    expect(reason).not.toMatch(/0 uninvoiced charges/);
    expect(blocked.blocked!.find((b) => b.store === 'recurly')!.action).toMatch(/open child accounts: remove this account as their parent/);
    expect(await account(code)).toMatchObject({ redactRequests: 0, redactedAt: null });

    // Someone at the company detaches the child in Recurly, then retries.
    await api('PUT', `/accounts/code-${child}`, { parent_account_code: '' });
    expect((await operator.retry(started.requestId, 'ops-on-call')).outcome).toBe('signalled');
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;
    expect(receipt.verification.clean).toBe(true);
    expect(await account(code)).toMatchObject({ redactRequests: 1, redactedAt: expect.any(String), personalFields: [] });
    // The child, someone else's account now, is untouched.
    expect(await account(child)).toMatchObject({ redactRequests: 0, personalFields: ['first_name', 'last_name'] });
    expectEmpty(await storesOf(seed, a));
  }, 180_000);

  test("when Recurly's answer to the redaction is lost, then the retry sends the same Idempotency-Key and the redaction is applied once", async () => {
    const a = await seedAccount(seed, { media: 1, subscriptions: [{ state: 'active' }] }, rand);
    const code = a.recurlyAccountCode!;
    await adminJson(sandboxUrl, 'POST', 'lose-responses', { pathPrefix: `/accounts/code-${code}/redact`, count: 1 });
    const { intake } = services();

    await intake.start({ accountId: a.id, channel: 'support', requestedBy: 'recurly-scope-test' });
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;

    expect(receipt.verification.clean).toBe(true);
    // Sent twice (the first answer lost on the way back), carried out once.
    const redacts = (await requestsFor(`/accounts/code-${code}`)).filter((r) => r.route === 'PUT /accounts/{account_id}/redact');
    expect(redacts).toHaveLength(2);
    expect(await account(code)).toMatchObject({ redactRequests: 1, redactedAt: expect.any(String), personalFields: [] });
    // Every write Lethe made carried a key.
    const subs = (await account(code)).subscriptions.map((s) => `/subscriptions/${s.id}`);
    const writes = (await adminJson<{ requests: Recorded[] }>(sandboxUrl, 'GET', 'requests')).requests.filter(
      (r) => r.method !== 'GET' && (r.path.startsWith(`/accounts/code-${code}/`) || subs.some((p) => r.path.startsWith(p))),
    );
    expect(writes.length).toBeGreaterThanOrEqual(3);
    expect(writes.every((w) => w.idempotencyKey === true)).toBe(true);
    expectEmpty(await storesOf(seed, a));
  }, 120_000);
});
