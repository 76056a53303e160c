import { createRecurlyClient, type RecurlyClient } from '../../stores/recurly';
import { isVendorError, type VendorError } from '../../stores/errors';
import { startRecurlySandbox } from '../../dev/sandboxes/recurly/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';
import { adminJson, armFault, caught, resetSandbox, stats, unpaced } from './helpers/sandboxAdmin';
import { loadConfig } from '../../config';
import { toFailure } from '../../activities/failures';
import { NEEDS_PERSON } from '../../contract';

const API_KEY = 'lethe-test-key';
/** Shorter than the stack's default so these tests stay quick; still asynchronous. */
const REDACTION_DELAY_MS = 400;
const ACCEPT = 'application/vnd.recurly.v2021-02-25';
const DAY = 86_400_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;
const uniqueCode = () => `acct-${process.pid}-${Date.now().toString(36)}-${seq++}`;

function basic(key: string): string {
  return `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
}

async function raw(sandbox: RunningSandbox, method: string, path: string, body?: unknown, key = API_KEY): Promise<Response> {
  return fetch(`${sandbox.url}${path}`, {
    method,
    headers: { authorization: basic(key), accept: ACCEPT, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

function seedSubscription(sandbox: RunningSandbox, accountCode: string, state: string, currentPeriodEndsAt?: Date) {
  return adminJson<{ id: string; state: string }>(sandbox.url, 'POST', 'subscriptions', {
    accountCode,
    planCode: 'timelapse-pro',
    state,
    ...(currentPeriodEndsAt ? { currentPeriodEndsAt: currentPeriodEndsAt.toISOString() } : {}),
  });
}

function expectVendorError(err: unknown, type: VendorError['type']): VendorError {
  expect(isVendorError(err)).toBe(true);
  const e = err as VendorError;
  expect(e.vendor).toBe('recurly');
  expect(e.type).toBe(type);
  return e;
}

const PII = {
  email: 'ada.lovelace@example.test',
  first_name: 'Ada',
  last_name: 'Lovelace',
  company: 'Analytical Engines',
  username: 'ada',
  address: { street1: '12 St James Sq', city: 'London', postal_code: 'SW1Y 4JH', country: 'GB', phone: '+44 20 0000 0000' },
  billing_info: { first_name: 'Ada', last_name: 'Lovelace', number: '4111111111111111', month: '12', year: '2030', address: { street1: '12 St James Sq', country: 'GB' } },
};

describe('Recurly sandbox driven through stores/recurly (real recurly SDK)', () => {
  let sandbox: RunningSandbox;
  let recurly: RecurlyClient;

  beforeAll(async () => {
    sandbox = await startRecurlySandbox({ port: 0, apiKey: API_KEY, rateLimitPerMinute: 100_000, behaviour: { redactionDelayMs: REDACTION_DELAY_MS } });
    // A small page size so listing crosses several pages through the SDK's pager.
    recurly = createRecurlyClient({ apiKey: API_KEY, baseUrl: sandbox.url, pageSize: 2 });
  });
  afterAll(() => sandbox.close());
  beforeEach(() => resetSandbox(sandbox.url, { keepData: true }));

  test('when an account is created, then it is found by code and holds its personal data', async () => {
    const code = uniqueCode();
    const created = await recurly.createAccount({ code, email: 'x@example.test', firstName: 'X', lastName: 'Y' });
    expect(created.id).toMatch(/^[0-9a-z]{13}$/);
    expect(await recurly.getAccount(code)).toEqual({
      id: created.id,
      code,
      state: 'active',
      redacted: false,
      personalFields: ['email', 'first_name', 'last_name'],
      ccEmails: false,
      customFields: [],
      hasBillingInfo: false,
      billTo: 'self',
      hasLiveSubscription: false,
    });

    const res = await raw(sandbox, 'GET', `/accounts/${created.id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ object: 'account', id: created.id, code, state: 'active', email: 'x@example.test', first_name: 'X', last_name: 'Y' });
  });

  test('when subscriptions exist in every state, then listLiveSubscriptions returns exactly the live ones', async () => {
    const code = uniqueCode();
    await recurly.createAccount({ code, email: 'live@example.test' });
    const now = new Date();
    const active = await recurly.createSubscription({ accountCode: code, planCode: 'timelapse-basic' });
    const future = await seedSubscription(sandbox, code, 'future');
    const paused = await seedSubscription(sandbox, code, 'paused');
    const paidThrough = await seedSubscription(sandbox, code, 'canceled', new Date(now.getTime() + 10 * DAY));
    await seedSubscription(sandbox, code, 'canceled', new Date(now.getTime() - DAY));
    await seedSubscription(sandbox, code, 'expired', new Date(now.getTime() - 5 * DAY));
    await seedSubscription(sandbox, code, 'failed');

    const live = await recurly.listLiveSubscriptions(code, now);

    expect(live.map((s) => s.id).sort()).toEqual([active.id, future.id, paused.id, paidThrough.id].sort());
    expect(live.find((s) => s.id === paidThrough.id)).toMatchObject({ state: 'canceled', planCode: 'timelapse-pro' });
    // Seven subscriptions at two per page: the pager had to follow `next` three times.
    expect((await stats(sandbox.url)).routes['GET /accounts/{account_id}/subscriptions']).toBe(4);
  });

  test('when a canceled subscription is paid through, then it stops counting as live once `now` passes its period end', async () => {
    const code = uniqueCode();
    await recurly.createAccount({ code });
    const ends = new Date(Date.now() + 3 * DAY);
    await seedSubscription(sandbox, code, 'canceled', ends);
    expect(await recurly.listLiveSubscriptions(code, new Date(ends.getTime() - 1000))).toHaveLength(1);
    expect(await recurly.listLiveSubscriptions(code, new Date(ends.getTime() + 1000))).toHaveLength(0);
  });

  test('when a live subscription exists, then redaction is refused as a precondition and nothing is cleared', async () => {
    const code = uniqueCode();
    expect((await raw(sandbox, 'POST', '/accounts', { code, ...PII })).status).toBe(201);
    await seedSubscription(sandbox, code, 'paused');

    const err = expectVendorError(await caught(() => recurly.redactAccount(code)), 'precondition');
    expect(err.status).toBe(422);
    expect(err.vendorCode).toBe('validation');
    expect(err.retryable).toBe(false);

    const res = await raw(sandbox, 'PUT', `/accounts/code-${code}/redact`);
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: { type: 'validation', message: expect.stringContaining('live subscriptions') } });
    expect(await recurly.getAccount(code)).toMatchObject({ redacted: false });
  });

  test('when live subscriptions are terminated, then redaction succeeds and the account no longer holds personal data', async () => {
    const code = uniqueCode();
    expect((await raw(sandbox, 'POST', '/accounts', { code, ...PII })).status).toBe(201);
    await recurly.createSubscription({ accountCode: code, planCode: 'timelapse-basic' });
    await seedSubscription(sandbox, code, 'canceled', new Date(Date.now() + 5 * DAY));

    for (const sub of await recurly.listLiveSubscriptions(code, new Date())) {
      expect(await recurly.terminateSubscription(sub.id, 'partial')).toBe('terminated');
    }
    expect(await recurly.listLiveSubscriptions(code, new Date())).toEqual([]);
    expect(await recurly.redactAccount(code)).toBe('accepted');
    // Accepted is not done: the personal fields stay until Recurly processes it.
    expect(await recurly.getAccount(code)).toMatchObject({ code, redacted: false });
    await sleep(REDACTION_DELAY_MS + 100);

    expect(await recurly.getAccount(code)).toMatchObject({ code, redacted: true, personalFields: [] });
    const account = (await (await raw(sandbox, 'GET', `/accounts/code-${code}`)).json()) as Record<string, unknown>;
    for (const field of ['email', 'first_name', 'last_name', 'company', 'username', 'address', 'billing_info', 'cc_emails', 'vat_number']) {
      expect(account[field] ?? null).toBeNull();
    }
    expect(JSON.stringify(account)).not.toMatch(/Ada|Lovelace|ada\.lovelace|London|4111/);
    const subs = (await (await raw(sandbox, 'GET', `/accounts/code-${code}/subscriptions`)).json()) as { data: { account: Record<string, unknown>; state: string }[] };
    expect(subs.data.every((s) => s.state === 'expired')).toBe(true);
    expect(JSON.stringify(subs)).not.toMatch(/Ada|Lovelace/);
    // Redaction is idempotent: a retry after a lost answer succeeds again.
    expect(await recurly.redactAccount(code)).toBe('accepted');
  });

  test('when redaction is accepted, then the account keeps its personal fields until it is processed, and asking again does not restart it', async () => {
    const code = uniqueCode();
    expect((await raw(sandbox, 'POST', '/accounts', { code, ...PII })).status).toBe(201);
    const res = await raw(sandbox, 'PUT', `/accounts/code-${code}/redact`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ code, email: PII.email, first_name: 'Ada' });
    expect(await adminJson(sandbox.url, 'GET', `accounts/${code}`)).toMatchObject({ redactRequests: 1, redactionPending: true, redactedAt: null });
    await sleep(REDACTION_DELAY_MS / 2);
    expect((await raw(sandbox, 'PUT', `/accounts/code-${code}/redact`)).status).toBe(200);
    await sleep(REDACTION_DELAY_MS / 2 + 100);
    // Done at the first request's time, not pushed back by the second.
    expect(await adminJson(sandbox.url, 'GET', `accounts/${code}`)).toMatchObject({ redactRequests: 2, redactionPending: false, redactedAt: expect.any(String) });
    expect(await recurly.getAccount(code)).toMatchObject({ redacted: true });
  });

  test('when the account has an uninvoiced charge or an open invoice, then redaction is refused with 422 until it is removed or paid', async () => {
    const code = uniqueCode();
    expect((await raw(sandbox, 'POST', '/accounts', { code, ...PII })).status).toBe(201);
    const charge = await recurly.createCharge({ accountCode: code, amount: 12.5, description: 'camera repair' });
    expect(await recurly.openCharges(code)).toEqual({ lineItems: 1, invoices: 0 });
    const refused = await raw(sandbox, 'PUT', `/accounts/code-${code}/redact`);
    expect(refused.status).toBe(422);
    expect(await refused.json()).toEqual({
      error: { type: 'validation', message: expect.stringContaining('uninvoiced charges'), params: [{ param: 'line_items', message: 'has 1 uninvoiced charge' }] },
    });
    expectVendorError(await caught(() => recurly.redactAccount(code)), 'precondition');

    await recurly.removeLineItem(charge.id);
    expect((await raw(sandbox, 'DELETE', `/line_items/${charge.id}`)).status).toBe(404);
    const invoice = await adminJson<{ id: string }>(sandbox.url, 'POST', 'invoices', { accountCode: code, state: 'past_due', total: 20, paid: 5 });
    expect(await recurly.openCharges(code)).toEqual({ lineItems: 0, invoices: 1 });
    expect((await raw(sandbox, 'PUT', `/accounts/code-${code}/redact`)).status).toBe(422);
    await adminJson(sandbox.url, 'PUT', `invoices/${invoice.id}`, { state: 'paid', paid: 20 });
    expect(await recurly.openCharges(code)).toEqual({ lineItems: 0, invoices: 0 });
    expect(await recurly.redactAccount(code)).toBe('accepted');
  });

  test('when openChargesBlockRedaction is switched off, then only subscriptions refuse redaction', async () => {
    const code = uniqueCode();
    await recurly.createAccount({ code, email: 'off@example.test' });
    await recurly.createCharge({ accountCode: code, amount: 1 });
    await adminJson(sandbox.url, 'PUT', 'behaviour', { openChargesBlockRedaction: false, redactionDelayMs: 0 });
    try {
      expect(await recurly.redactAccount(code)).toBe('accepted');
      expect(await recurly.getAccount(code)).toMatchObject({ redacted: true });
    } finally {
      await adminJson(sandbox.url, 'PUT', 'behaviour', { openChargesBlockRedaction: true, redactionDelayMs: REDACTION_DELAY_MS });
    }
  });

  test('when a subscription with unbilled usage is terminated with the default charge=true, then a final invoice blocks redaction; Lethe sends charge=false', async () => {
    const byDefault = uniqueCode();
    await recurly.createAccount({ code: byDefault });
    const s1 = await adminJson<{ id: string }>(sandbox.url, 'POST', 'subscriptions', { accountCode: byDefault, state: 'active', unbilledUsage: 7.25 });
    expect((await raw(sandbox, 'DELETE', `/subscriptions/${s1.id}`)).status).toBe(200);
    expect(await recurly.openCharges(byDefault)).toEqual({ lineItems: 0, invoices: 1 });
    expect((await raw(sandbox, 'PUT', `/accounts/code-${byDefault}/redact`)).status).toBe(422);

    const lethe = uniqueCode();
    await recurly.createAccount({ code: lethe });
    const s2 = await adminJson<{ id: string }>(sandbox.url, 'POST', 'subscriptions', { accountCode: lethe, state: 'active', unbilledUsage: 7.25 });
    expect(await recurly.terminateSubscription(s2.id, 'partial')).toBe('terminated');
    expect(await recurly.openCharges(lethe)).toEqual({ lineItems: 0, invoices: 0 });
    const { requests } = await adminJson<{ requests: { route: string; path: string; query: Record<string, string> }[] }>(sandbox.url, 'GET', 'requests');
    expect(requests.filter((r) => r.path === `/subscriptions/${s2.id}`)).toEqual([
      expect.objectContaining({ route: 'DELETE /subscriptions/{subscription_id}', query: { refund: 'partial', charge: 'false' } }),
    ]);
    expect((await raw(sandbox, 'DELETE', `/subscriptions/${s1.id}?charge=maybe`)).status).toBe(422);
  });

  test('when a subscription is future, then terminating it is refused and canceling it makes it failed (no longer live)', async () => {
    const code = uniqueCode();
    await recurly.createAccount({ code });
    const future = await seedSubscription(sandbox, code, 'future');
    const refused = await raw(sandbox, 'DELETE', `/subscriptions/${future.id}`);
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ error: { type: 'validation', message: 'Cannot expire an inactive subscription.' } });
    expect(await recurly.cancelSubscription(future.id)).toBe('canceled');
    expect(await recurly.listLiveSubscriptions(code, new Date())).toEqual([]);
    expect(((await (await raw(sandbox, 'GET', `/subscriptions/${future.id}`)).json()) as { state: string }).state).toBe('failed');
    expect(await recurly.cancelSubscription(future.id)).toBe('already_ended');
  });

  test('when the account has cc_emails, custom fields and shipping addresses, then redaction clears only the documented ones, and update_account clears the rest', async () => {
    const code = uniqueCode();
    await recurly.createAccount({
      code,
      ccEmails: 'partner@example.test',
      customFields: [{ name: 'nickname', value: 'Countess' }],
      shippingAddresses: [{ firstName: 'Ada', lastName: 'Lovelace', street1: '1 Ship St', city: 'Dover', postalCode: 'CT1', country: 'GB' }],
    });
    expect(await recurly.getAccount(code)).toMatchObject({ redacted: false, personalFields: ['cc_emails', 'shipping_addresses', 'custom_fields'], ccEmails: true, customFields: ['nickname'] });
    const shown = (await (await raw(sandbox, 'GET', `/accounts/code-${code}`)).json()) as Record<string, unknown>;
    expect(shown).toMatchObject({
      cc_emails: 'partner@example.test',
      custom_fields: [{ name: 'nickname', value: 'Countess' }],
      shipping_addresses: [expect.objectContaining({ street1: '1 Ship St' })],
    });
    expect(await recurly.redactAccount(code)).toBe('accepted');
    await sleep(REDACTION_DELAY_MS + 100);
    // api.yaml redact_account names shipping addresses, not cc_emails or custom fields.
    expect(await recurly.getAccount(code)).toMatchObject({ redacted: false, personalFields: ['cc_emails', 'custom_fields'] });
    expect(await recurly.clearAccountFields(code, { ccEmails: true, customFields: ['nickname'] })).toBe('cleared');
    expect(await recurly.getAccount(code)).toMatchObject({ redacted: true, personalFields: [] });
    const after = (await (await raw(sandbox, 'GET', `/accounts/code-${code}`)).json()) as Record<string, unknown>;
    expect(after).toMatchObject({ custom_fields: [], shipping_addresses: [] });
    expect(JSON.stringify(after)).not.toMatch(/partner@|Countess|Ship St/);
  });

  test('when a subscription has already ended, then terminating it succeeds as already_expired', async () => {
    const code = uniqueCode();
    await recurly.createAccount({ code });
    const sub = await recurly.createSubscription({ accountCode: code, planCode: 'timelapse-basic' });
    expect(await recurly.terminateSubscription(sub.id, 'none')).toBe('terminated');
    expect(await recurly.terminateSubscription(sub.id, 'none')).toBe('already_expired');
    const failed = await seedSubscription(sandbox, code, 'failed');
    expect(await recurly.terminateSubscription(failed.id, 'full')).toBe('already_expired');
  });

  test('when a subscription is unknown, then terminating it succeeds as already_gone', async () => {
    expect(await recurly.terminateSubscription('zzzzzzzzzzzzz', 'none')).toBe('already_gone');
  });

  test('when the account does not exist, then redact says already_gone, getAccount null and nothing is live', async () => {
    const code = uniqueCode();
    expect(await recurly.redactAccount(code)).toBe('already_gone');
    expect(await recurly.getAccount(code)).toBeNull();
    expect(await recurly.listLiveSubscriptions(code, new Date())).toEqual([]);
    const res = await raw(sandbox, 'GET', `/accounts/code-${code}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { type: 'not_found', message: `Couldn't find Account with code = ${code}` } });
  });

  test('when an account code is taken, then Recurly answers 422 validation and the client says invalid_input', async () => {
    const code = uniqueCode();
    await recurly.createAccount({ code, email: 'first@example.test' });
    const err = expectVendorError(await caught(() => recurly.createAccount({ code, email: 'second@example.test' })), 'invalid_input');
    expect(err.status).toBe(422);
    expect(err.message).not.toContain('second@example.test');
    const res = await raw(sandbox, 'POST', '/accounts', { code });
    expect(await res.json()).toEqual({
      error: { type: 'validation', message: 'Code has already been taken', params: [{ param: 'code', message: 'has already been taken' }] },
    });
  });

  test('when the API key is wrong, then Recurly answers 401 and the client says unauthorized', async () => {
    const wrong = createRecurlyClient({ apiKey: 'not-the-key', baseUrl: sandbox.url });
    const err = expectVendorError(await caught(() => wrong.getAccount('anything')), 'unauthorized');
    expect(err.status).toBe(401);
    const res = await raw(sandbox, 'GET', '/accounts/code-anything', undefined, 'not-the-key');
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { type: 'unauthorized', message: expect.any(String) } });
    const none = await fetch(`${sandbox.url}/accounts/code-anything`);
    expect(none.status).toBe(401);
  });

  test('when a response is sent, then it carries JSON content type, the API version and rate-limit headers', async () => {
    const res = await raw(sandbox, 'GET', `/accounts/code-${uniqueCode()}`);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('recurly-version')).toBe('recurly.v2021-02-25');
    expect(res.headers.get('x-ratelimit-limit')).toBe('100000');
    expect(res.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
  });

  test('when the Accept header names another API version, then Recurly answers 406', async () => {
    const res = await fetch(`${sandbox.url}/accounts/code-x`, { headers: { authorization: basic(API_KEY), accept: 'application/vnd.recurly.v2019-10-10' } });
    expect(res.status).toBe(406);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_api_version' } });
  });

  test('when a subscription is canceled, then it stays live until its period ends; deactivation makes the account inactive', async () => {
    const code = uniqueCode();
    await recurly.createAccount({ code });
    const sub = await recurly.createSubscription({ accountCode: code, planCode: 'timelapse-basic' });
    const canceled = await raw(sandbox, 'PUT', `/subscriptions/${sub.id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(await canceled.json()).toMatchObject({ object: 'subscription', id: sub.id, state: 'canceled' });
    expect(await recurly.listLiveSubscriptions(code, new Date())).toHaveLength(1);

    const deactivated = await raw(sandbox, 'DELETE', `/accounts/code-${code}`);
    expect(await deactivated.json()).toMatchObject({ state: 'inactive', deleted_at: expect.any(String) });
    expect(await recurly.getAccount(code)).toMatchObject({ state: 'inactive' });
    expect((await raw(sandbox, 'DELETE', `/accounts/code-${code}`)).status).toBe(422);
  });

  test('when the sandbox fails with 500, then the client reports unavailable', async () => {
    await armFault(sandbox.url, { mode: '500', count: 1 });
    const err = expectVendorError(await caught(() => recurly.getAccount('whatever')), 'unavailable');
    expect(err.status).toBe(500);
    expect(err.vendorCode).toBe('internal_server_error');
  });

  test('when the sandbox hangs past the client timeout, then the client reports unavailable', async () => {
    const impatient = createRecurlyClient({ apiKey: API_KEY, baseUrl: sandbox.url, timeoutMs: 200 });
    await armFault(sandbox.url, { mode: 'hang', count: 1, hangMs: 5_000 });
    const err = expectVendorError(await caught(() => impatient.getAccount('slow')), 'unavailable');
    expect(err.vendorCode).toBe('timeout');
  });
});

describe('Recurly region', () => {
  const realFetch = globalThis.fetch;
  afterEach(() => {
    globalThis.fetch = realFetch;
  });

  test('when the site is in the EU, then RECURLY_REGION=eu sends requests to v3.eu.recurly.com, and a key refused by the other region is unauthorized (needs a person)', async () => {
    const seen: string[] = [];
    globalThis.fetch = (async (input: string | URL | Request) => {
      seen.push(String(input));
      return new Response(JSON.stringify({ error: { type: 'unauthorized', message: 'Invalid API key' } }), { status: 401, headers: { 'content-type': 'application/json; charset=utf-8' } });
    }) as typeof fetch;
    const cfg = loadConfig({ ...process.env, RECURLY_REGION: 'eu', RECURLY_BASE_URL: '', LETHE_MODE: 'embedded' });
    expect(cfg.recurly.region).toBe('eu');
    const eu = createRecurlyClient({ apiKey: 'eu-key', region: cfg.recurly.region });
    const err = expectVendorError(await caught(() => eu.getAccount('someone')), 'unauthorized');
    expect(err.status).toBe(401);
    const us = createRecurlyClient({ apiKey: 'eu-key' });
    await caught(() => us.getAccount('someone'));
    expect(seen.map((u) => new URL(u).host)).toEqual(['v3.eu.recurly.com', 'v3.recurly.com']);
    // Unauthorized is a needs-a-person failure: retried on the slow cadence and shown blocked.
    expect(toFailure(err, 'recurly')).toMatchObject({ type: 'Unauthorized' });
    expect(NEEDS_PERSON).toContain('Unauthorized');
    expect(() => loadConfig({ ...process.env, RECURLY_REGION: 'mars' })).toThrow(/RECURLY_REGION/);
  });
});

describe('Recurly sandbox rate limit', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startRecurlySandbox({ port: 0, apiKey: API_KEY, rateLimitPerMinute: 3 });
  });
  afterAll(() => sandbox.close());
  beforeEach(() => resetSandbox(sandbox.url));

  test('when the limit is exceeded, then Recurly answers 429 rate_limited with x-ratelimit-* and retry-after', async () => {
    const responses = await Promise.all(Array.from({ length: 10 }, () => raw(sandbox, 'GET', '/accounts/code-x')));
    const throttled = responses.filter((r) => r.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(4);
    const r = throttled[0];
    expect(r.headers.get('x-ratelimit-limit')).toBe('3');
    expect(r.headers.get('x-ratelimit-remaining')).toBe('0');
    const reset = Number(r.headers.get('x-ratelimit-reset'));
    expect(reset).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
    expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 60);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await r.json()).toEqual({ error: { type: 'rate_limited', message: expect.any(String) } });
  });

  test('when the client is throttled, then it reports rate_limited with retryAfterMs from the reset time', async () => {
    // Unpaced: the default pace waits a near reset out, and the burst would wait instead of failing.
    const recurly = createRecurlyClient({ apiKey: API_KEY, baseUrl: sandbox.url, pace: unpaced() });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => recurly.getAccount('nobody')));
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    expect(rejected.length).toBeGreaterThanOrEqual(4);
    for (const err of rejected) {
      const e = expectVendorError(err, 'rate_limited');
      expect(e.status).toBe(429);
      expect(e.vendorCode).toBe('rate_limited');
      expect(e.retryAfterMs).toBeGreaterThanOrEqual(0);
      expect(e.retryAfterMs).toBeLessThanOrEqual(60_000);
    }
  });
});
