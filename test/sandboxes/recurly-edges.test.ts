/**
 * The Recurly sandbox's documented edges (issue 36 items 7-9), through stores/recurly and raw
 * HTTP: what redaction leaves (cc_emails, custom fields, notes, a wallet's other billing
 * methods) and the calls that clear it; account hierarchy; `Idempotency-Key` replay; and the two
 * kinds of site's rate limits (api.yaml "Rate Limits", "Idempotent Requests").
 */
import { createRecurlyClient, type RecurlyClient } from '../../stores/recurly';
import { startRecurlySandbox } from '../../dev/sandboxes/recurly/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';
import { VendorPace } from '../../stores/vendorPace';
import { adminJson, caught } from './helpers/sandboxAdmin';
import { isVendorError, type VendorError } from '../../stores/errors';
import { vendorBudget } from '../../config/budget';

const API_KEY = 'lethe-edges-key';
const ACCEPT = 'application/vnd.recurly.v2021-02-25';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;
const uniqueCode = () => `edge-${process.pid}-${Date.now().toString(36)}-${seq++}`;

async function raw(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from(`${API_KEY}:`).toString('base64')}`, accept: ACCEPT, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

interface AdminAccount {
  redactRequests: number;
  personalFields: string[];
  notes: number;
  billingInfos: number;
  childAccounts: string[];
}

describe('Recurly sandbox: redaction scope, hierarchy, idempotency (a sandbox site)', () => {
  let sandbox: RunningSandbox;
  let recurly: RecurlyClient;
  const state = (code: string) => adminJson<AdminAccount>(sandbox.url, 'GET', `accounts/${code}`);

  beforeAll(async () => {
    sandbox = await startRecurlySandbox({ port: 0, apiKey: API_KEY, rateLimitPerMinute: 100_000, behaviour: { redactionDelayMs: 0 } });
    recurly = createRecurlyClient({ apiKey: API_KEY, baseUrl: sandbox.url, pageSize: 2 });
  });
  afterAll(async () => sandbox?.close());

  test('when an account is redacted, then its notes and its wallet stay, and remove_account_note and remove_a_billing_info (primary last) clear them', async () => {
    const code = uniqueCode();
    await recurly.createAccount({ code, email: 'wallet@example.test' });
    for (const message of ['first note', 'second note', 'third note']) expect((await raw(sandbox.url, 'POST', `/accounts/code-${code}/notes`, { message })).status).toBe(201);
    for (const lastFour of ['4242', '0005']) await adminJson(sandbox.url, 'POST', `accounts/${code}/billing_infos`, { firstName: 'Wal', lastName: 'Let', lastFour });
    expect(await recurly.getAccount(code)).toMatchObject({ hasBillingInfo: true });
    const infos = await recurly.listBillingInfos(code);
    expect(infos.map((b) => b.primary).sort()).toEqual([false, true]);
    const primary = infos.find((b) => b.primary)!;
    const other = infos.find((b) => !b.primary)!;
    // Recurly refuses the primary while another remains.
    const refused = (await caught(() => recurly.removeBillingInfo(code, primary.id))) as VendorError;
    expect(isVendorError(refused) && refused.status).toBe(422);

    expect(await recurly.redactAccount(code)).toBe('accepted');
    // Redaction took the primary billing info (documented); the wallet's other and the notes stay.
    expect(await state(code)).toMatchObject({ personalFields: [], notes: 3, billingInfos: 1 });

    const notes = await recurly.listAccountNotes(code);
    expect(notes).toHaveLength(3);
    for (const id of notes) expect(await recurly.removeAccountNote(code, id)).toBe('removed');
    expect(await recurly.removeAccountNote(code, notes[0])).toBe('already_gone');
    expect(await recurly.removeBillingInfo(code, other.id)).toBe('removed');
    expect(await recurly.removeBillingInfo(code, other.id)).toBe('already_gone');
    expect(await state(code)).toMatchObject({ personalFields: [], notes: 0, billingInfos: 0 });
  });

  test('when an account has a parent or open children, then redaction is refused (422) and list_child_accounts names the children', async () => {
    const parent = uniqueCode();
    const child = uniqueCode();
    await recurly.createAccount({ code: parent, company: 'Parent Co' });
    await recurly.createAccount({ code: child, firstName: 'Kid', parentAccountCode: parent, billTo: 'parent' });
    expect(await recurly.getAccount(child)).toMatchObject({ billTo: 'parent', parentAccountId: expect.any(String) });
    expect(await recurly.listChildAccounts(parent)).toEqual([{ code: child, state: 'active', redacted: false }]);
    // One level only (api.yaml AccountCreate.parent_account_id).
    const grandchild = await raw(sandbox.url, 'POST', '/accounts', { code: uniqueCode(), parent_account_code: child });
    expect(grandchild.status).toBe(422);

    for (const code of [parent, child]) {
      const err = (await caught(() => recurly.redactAccount(code))) as VendorError;
      expect(err).toMatchObject({ type: 'precondition', status: 422 });
    }
    const body = (await (await raw(sandbox.url, 'PUT', `/accounts/code-${parent}/redact`)).json()) as { error: { params: { param: string }[] } };
    expect(body.error.params.map((p) => p.param)).toEqual(['child_accounts']);

    // Detached, both may be redacted.
    expect((await raw(sandbox.url, 'PUT', `/accounts/code-${child}`, { parent_account_code: '' })).status).toBe(200);
    expect(await recurly.listChildAccounts(parent)).toEqual([]);
    expect(await recurly.redactAccount(parent)).toBe('accepted');
    expect(await recurly.redactAccount(child)).toBe('accepted');
  });

  test('when a write is sent again with the same Idempotency-Key, then the first response is replayed (Idempotency-Prior) and applied once', async () => {
    const code = uniqueCode();
    await recurly.createAccount({ code, email: 'idem@example.test' });
    const key = 'lethe-test-key-1';
    const first = await raw(sandbox.url, 'PUT', `/accounts/code-${code}/redact`, undefined, { 'idempotency-key': key });
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotency-prior')).toBeNull();
    const firstBody = await first.text();
    const again = await raw(sandbox.url, 'PUT', `/accounts/code-${code}/redact`, undefined, { 'idempotency-key': key });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotency-prior')).toBe('true');
    expect(await again.text()).toBe(firstBody);
    expect(await state(code)).toMatchObject({ redactRequests: 1 });
    // Another key is another request; a key over 255 characters is refused.
    expect((await raw(sandbox.url, 'PUT', `/accounts/code-${code}/redact`, undefined, { 'idempotency-key': 'another' })).status).toBe(200);
    expect(await state(code)).toMatchObject({ redactRequests: 2 });
    expect((await raw(sandbox.url, 'PUT', `/accounts/code-${code}/redact`, undefined, { 'idempotency-key': 'k'.repeat(256) })).status).toBe(400);
  });

  test('when the client writes with the same step scope twice, then it sends the same key and Recurly applies it once; without a scope each write is its own', async () => {
    const code = uniqueCode();
    await recurly.createAccount({ code, email: 'scope@example.test' });
    expect(await recurly.redactAccount(code, { idempotencyScope: 'wf/run/7' })).toBe('accepted');
    expect(await recurly.redactAccount(code, { idempotencyScope: 'wf/run/7' })).toBe('accepted');
    expect(await state(code)).toMatchObject({ redactRequests: 1 });
    expect(await recurly.redactAccount(code, { idempotencyScope: 'wf/run/8' })).toBe('accepted');
    expect(await recurly.redactAccount(code)).toBe('accepted');
    expect(await state(code)).toMatchObject({ redactRequests: 3 });
    const { replays } = await adminJson<{ replays: number }>(sandbox.url, 'GET', 'idempotency');
    expect(replays).toBeGreaterThanOrEqual(1);
  });
});

describe('Recurly rate limits by the kind of site (api.yaml "Rate Limits")', () => {
  const closing: RunningSandbox[] = [];
  afterAll(async () => Promise.all(closing.map((s) => s.close())));

  test("when the site is a production site, then Lethe's budget spends 1,000 GETs a minute at a deletion's GETs", () => {
    expect(vendorBudget({}).recurly).toMatchObject({ callsPerSecond: 400 / 60, callsPerDeletion: 6 });
    expect(vendorBudget({ RECURLY_SITE_KIND: 'production' }).recurly).toMatchObject({ callsPerSecond: 1_000 / 60, callsPerDeletion: 4 });
    expect(vendorBudget({ RECURLY_SITE_KIND: 'production', LETHE_RECURLY_RATE_PER_MINUTE: '2000' }).recurly.callsPerSecond).toBeCloseTo(2_000 / 60, 6);
  });

  test('when the site is a sandbox site, then writes count toward the limit like reads', async () => {
    const sandbox = await startRecurlySandbox({ port: 0, apiKey: API_KEY, rateLimitPerMinute: 50, siteKind: 'sandbox' });
    closing.push(sandbox);
    const a = await raw(sandbox.url, 'POST', '/accounts', { code: uniqueCode() });
    const b = await raw(sandbox.url, 'POST', '/accounts', { code: uniqueCode() });
    expect(Number(b.headers.get('x-ratelimit-remaining'))).toBe(Number(a.headers.get('x-ratelimit-remaining')) - 1);
  });

  test('when the site is a production site, then only GETs count, over five minutes of the per-minute limit', async () => {
    const sandbox = await startRecurlySandbox({ port: 0, apiKey: API_KEY, rateLimitPerMinute: 2, siteKind: 'production' });
    closing.push(sandbox);
    const code = uniqueCode();
    const created = await raw(sandbox.url, 'POST', '/accounts', { code });
    expect(created.status).toBe(201);
    expect(created.headers.get('x-ratelimit-remaining')).toBe('10');
    for (let i = 0; i < 10; i++) expect((await raw(sandbox.url, 'GET', `/accounts/code-${code}`)).status).toBe(200);
    const throttled = await raw(sandbox.url, 'GET', `/accounts/code-${code}`);
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000 + 200);
    // Writes go on.
    expect((await raw(sandbox.url, 'PUT', `/accounts/code-${code}`, { cc_emails: '' })).status).toBe(200);
  });

  test("when Lethe's client talks to a production site whose GET window is nearly spent, then its writes are sent at once, not held for the window", async () => {
    const sandbox = await startRecurlySandbox({ port: 0, apiKey: API_KEY, rateLimitPerMinute: 2, siteKind: 'production', behaviour: { redactionDelayMs: 0 } });
    closing.push(sandbox);
    // A pace that would wait out the whole window (five minutes here) before a counted call.
    const pace = new VendorPace({ windowMs: 60_000, reserve: 4, maxWaitMs: 600_000, resends: 0 });
    const client = createRecurlyClient({ apiKey: API_KEY, baseUrl: sandbox.url, pace, site: 'production' });
    const code = uniqueCode();
    await client.createAccount({ code, email: 'prod@example.test', ccEmails: 'cc@example.test' });
    for (let i = 0; i < 6; i++) await client.getAccount(code); // 10 - 6 = 4 left: at the reserve
    const t0 = Date.now();
    expect(await client.clearAccountFields(code, { ccEmails: true, customFields: [] })).toBe('cleared');
    expect(await client.redactAccount(code)).toBe('accepted');
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(pace.counts.waits).toBe(0);
    await sleep(10);
  }, 20_000);
});
