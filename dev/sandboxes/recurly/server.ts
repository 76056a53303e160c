/**
 * Local stand-in for a Recurly site speaking API v3 (v2021-02-25): the account, subscription,
 * line item and invoice operations Lethe uses, with Recurly's auth, error bodies, list
 * envelope, cursor pagination and rate-limit headers, so the real `recurly` SDK runs against it.
 *
 * Faithful by default (CONTRACT §4): redaction is asynchronous and refused while charges or
 * invoices are open, terminate bills unbilled usage unless `charge=false`, a future
 * subscription cannot be terminated. Each behaviour can be switched off (`behaviour` option,
 * `PUT /__sandbox/behaviour`) for a test about something else; see dev/sandboxes/README.md.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Route } from '../common/router';
import { sendEmpty, sendJson, startSandboxShell, type ErrorKind, type Handler, type RunningSandbox, type SandboxContext } from '../common/server';
import { parseAccountCreate, parseAdminInvoice, parseAdminSubscription, parseLineItemCreate, parseSubscriptionCreate, type AccountInput, type ParamError } from './input';
import { renderAccount, renderInvoice, renderLineItem, renderSubscription } from './render';
import { addMonths, isLive, recurlyId, RecurlyStore, type StoredAccount, type StoredSubscription, type SubscriptionState } from './store';

export interface RecurlySandboxOptions {
  port?: number;
  host?: string;
  apiKey: string;
  /** Recurly sandbox sites allow 400 requests per minute, all methods counted. */
  rateLimitPerMinute?: number;
  /** Departures from the faithful defaults, for focused tests. */
  behaviour?: Partial<RecurlyBehaviour>;
}

/** What makes the sandbox as hard to delete from as Recurly; each can be switched off. */
export interface RecurlyBehaviour {
  /**
   * `redact_account`: "Redaction is processed asynchronously" (200: "accepted for redaction").
   * The account keeps its personal fields this long after the 200; 0 redacts before answering.
   */
  redactionDelayMs: number;
  /**
   * `redact_account` 422: "The account must have no active subscriptions, uninvoiced charges, or
   * partially paid invoices". Off: only subscriptions refuse it.
   */
  openChargesBlockRedaction: boolean;
  /**
   * `terminate_subscription` 422 ("Cannot expire an inactive subscription.") for a `future`
   * subscription, which `cancel_subscription` turns `failed`. Off: a future one expires too.
   */
  futureNotTerminable: boolean;
  /**
   * `terminate_subscription` `charge` (default true): "current billing cycle unbilled usage is
   * billed on the final invoice". Off: unbilled usage is dropped whatever `charge` says.
   */
  chargeBillsUnbilledUsage: boolean;
}

/** Small enough to keep every deletion test quick, long enough that a read-back sees it pending. */
export const DEFAULT_REDACTION_DELAY_MS = 1500;

export const DEFAULT_RECURLY_BEHAVIOUR: RecurlyBehaviour = {
  redactionDelayMs: DEFAULT_REDACTION_DELAY_MS,
  openChargesBlockRedaction: true,
  futureNotTerminable: true,
  chargeBillsUnbilledUsage: true,
};

/** One API request as the sandbox received it (admin calls excluded). */
export interface RecordedRequest {
  method: string;
  route: string;
  path: string;
  query: Record<string, string>;
  at: string;
}

export const API_VERSION = 'v2021-02-25';
/**
 * The SDK parses error bodies only when the content type contains "application/json"
 * (BaseClient._errorFromResponse); api.yaml also declares application/json everywhere.
 */
const CONTENT_TYPE = 'application/json; charset=utf-8';
const SUPPORTED_ACCEPT = [`application/vnd.recurly.${API_VERSION}`, 'application/vnd.recurly.latest'];

type RecurlyErrorType = 'bad_request' | 'internal_server_error' | 'invalid_api_version' | 'not_found' | 'rate_limited' | 'unauthorized' | 'validation';

export async function startRecurlySandbox(opts: RecurlySandboxOptions): Promise<RunningSandbox> {
  const store = new RecurlyStore();
  const initialBehaviour: RecurlyBehaviour = { ...DEFAULT_RECURLY_BEHAVIOUR, ...opts.behaviour };
  let behaviour: RecurlyBehaviour = { ...initialBehaviour };
  const requests: RecordedRequest[] = [];

  const send = (res: ServerResponse, status: number, body: unknown) => sendJson(res, status, body, CONTENT_TYPE);
  const accountJson = (a: StoredAccount) => renderAccount(a, store.subscriptionsOf(a.id), new Date(), store.invoicesOf(a.id));
  const subscriptionJson = (s: StoredSubscription) => renderSubscription(s, store.accounts.get(s.account_id)!);

  const authed =
    (handler: Handler, route: string): Handler =>
    (ctx) => {
      decorate(ctx.res);
      store.settle(new Date());
      if (requests.length >= 10_000) requests.shift();
      requests.push({ method: ctx.method, route, path: ctx.path, query: Object.fromEntries(ctx.url.searchParams), at: new Date().toISOString() });
      const accept = String(ctx.req.headers.accept ?? '');
      // A Recurly media type naming another version is refused, as Recurly does; plain JSON or
      // no Accept is let through so outside tests can use a bare fetch.
      const m = /application\/vnd\.recurly\.([\w-]+?)(\+json)?(?:\s*[;,]|$)/.exec(accept);
      if (m && !SUPPORTED_ACCEPT.includes(`application/vnd.recurly.${m[1]}`)) {
        return send(ctx.res, 406, {
          error: {
            type: 'invalid_api_version',
            message: "That accept header isn't in the format we use to specify an API version. Try one of these instead:",
            acceptable_accept_headers: [`application/vnd.recurly.${API_VERSION}`],
          },
        });
      }
      const key = basicUser(String(ctx.req.headers.authorization ?? ''));
      if (key === undefined) {
        return recurlyError(ctx.res, 401, 'unauthorized', 'Please use an API key to authenticate (HTTP Basic, key as user name).');
      }
      if (key !== opts.apiKey) return recurlyError(ctx.res, 401, 'unauthorized', 'The API key provided is not valid.');
      return handler(ctx);
    };

  const requireAccount = (ctx: SandboxContext): StoredAccount | undefined => {
    const accountId = ctx.params.account_id;
    const account = store.findAccount(accountId);
    if (!account) {
      const message = accountId.startsWith('code-') ? `Couldn't find Account with code = ${accountId.slice('code-'.length)}` : `Couldn't find Account with id = ${accountId}`;
      recurlyError(ctx.res, 404, 'not_found', message);
    }
    return account;
  };

  const requireSubscription = (ctx: SandboxContext): StoredSubscription | undefined => {
    const id = ctx.params.subscription_id;
    const sub = store.findSubscription(id);
    if (!sub) {
      const message = id.startsWith('uuid-') ? `Couldn't find Subscription with uuid = ${id.slice('uuid-'.length)}` : `Couldn't find Subscription with id = ${id}`;
      recurlyError(ctx.res, 404, 'not_found', message);
    }
    return sub;
  };

  const newAccount = (input: AccountInput): StoredAccount => {
    const now = new Date();
    const b = input.billing_info;
    return store.addAccount({
      code: input.code,
      email: input.email,
      username: input.username,
      first_name: input.first_name,
      last_name: input.last_name,
      company: input.company,
      cc_emails: input.cc_emails,
      vat_number: input.vat_number,
      preferred_locale: input.preferred_locale,
      preferred_time_zone: input.preferred_time_zone,
      tax_exempt: input.tax_exempt ?? false,
      address: input.address,
      custom_fields: input.custom_fields?.length ? input.custom_fields : undefined,
      shipping_addresses: input.shipping_addresses?.length ? input.shipping_addresses.map((a) => ({ ...a, id: recurlyId(), created_at: now, updated_at: now })) : undefined,
      billing_info: b
        ? {
            id: recurlyId(),
            first_name: b.first_name,
            last_name: b.last_name,
            company: b.company,
            address: b.address,
            vat_number: b.vat_number,
            card_type: b.number ? 'Visa' : undefined,
            last_four: b.number ? b.number.slice(-4) : undefined,
            exp_month: b.month ? Number(b.month) : undefined,
            exp_year: b.year ? Number(b.year) : undefined,
            created_at: now,
            updated_at: now,
          }
        : undefined,
    });
  };

  const createAccount: Handler = async (ctx) => {
    const parsed = parseAccountCreate(await ctx.readJson());
    if (!parsed.ok) return validationError(ctx.res, parsed.errors);
    if (store.findAccountByCode(parsed.value.code)) {
      return validationError(ctx.res, [{ param: 'code', message: 'has already been taken' }]);
    }
    send(ctx.res, 201, accountJson(newAccount(parsed.value)));
  };

  const getAccount: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (account) send(ctx.res, 200, accountJson(account));
  };

  const deactivateAccount: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    if (ctx.url.searchParams.has('redact')) {
      return recurlyError(ctx.res, 400, 'bad_request', 'The sandbox does not model redact on deactivation; use PUT /accounts/{account_id}/redact.');
    }
    if (account.state === 'inactive') {
      return recurlyError(ctx.res, 422, 'validation', 'Account is already inactive.');
    }
    const now = new Date();
    account.state = 'inactive';
    account.deleted_at = now;
    account.updated_at = now;
    delete account.billing_info;
    // Deactivation cancels what is running; canceled subscriptions stay paid through.
    for (const s of store.subscriptionsOf(account.id)) {
      if (s.state === 'active' || s.state === 'paused') {
        s.state = 'canceled';
        s.canceled_at = now;
        s.expires_at = s.current_period_ends_at;
        s.updated_at = now;
      } else if (s.state === 'future') {
        s.state = 'expired';
        s.expires_at = now;
        s.updated_at = now;
      }
    }
    send(ctx.res, 200, accountJson(account));
  };

  /**
   * `redact_account`: refused (422) while the account has live subscriptions (Recurly's own
   * `has_live_subscription`: active, canceled, future or paused), uninvoiced charges or
   * partially paid invoices; otherwise accepted (200) and processed asynchronously.
   */
  const redactAccount: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    const now = new Date();
    if (account.redacted_at && !account.redaction_due_at) {
      account.redact_requests += 1;
      return send(ctx.res, 200, accountJson(account));
    }
    if (store.subscriptionsOf(account.id).some((s) => isLive(s, now))) {
      return recurlyError(ctx.res, 422, 'validation', 'Account cannot be redacted while it has live subscriptions; terminate them first.', [
        { param: 'subscriptions', message: 'has live subscriptions' },
      ]);
    }
    const open = store.openCharges(account.id);
    if (behaviour.openChargesBlockRedaction && (open.lineItems > 0 || open.invoices > 0)) {
      const params: ParamError[] = [];
      if (open.lineItems > 0) params.push({ param: 'line_items', message: `has ${open.lineItems} uninvoiced charge${open.lineItems === 1 ? '' : 's'}` });
      if (open.invoices > 0) params.push({ param: 'invoices', message: `has ${open.invoices} open or partially paid invoice${open.invoices === 1 ? '' : 's'}` });
      return recurlyError(ctx.res, 422, 'validation', 'Account cannot be redacted while it has uninvoiced charges or partially paid invoices.', params);
    }
    account.redact_requests += 1;
    if (!account.redaction_due_at) {
      if (behaviour.redactionDelayMs <= 0) store.redact(account, now);
      else account.redaction_due_at = new Date(now.getTime() + behaviour.redactionDelayMs);
    }
    // "Account has been accepted for redaction and will be processed asynchronously": the body
    // is the account as it is now, personal fields and all.
    send(ctx.res, 200, accountJson(account));
  };

  const listAccountSubscriptions: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    const sp = ctx.url.searchParams;
    const limit = sp.has('limit') ? Number(sp.get('limit')) : 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
      return recurlyError(ctx.res, 400, 'bad_request', 'limit must be an integer between 1 and 200.');
    }
    const order = sp.get('order') ?? 'desc';
    const sort = sp.get('sort') ?? 'created_at';
    if ((order !== 'asc' && order !== 'desc') || (sort !== 'created_at' && sort !== 'updated_at')) {
      return recurlyError(ctx.res, 400, 'bad_request', 'order must be asc or desc; sort must be created_at or updated_at.');
    }
    const state = sp.get('state');
    const states = ['active', 'canceled', 'expired', 'future', 'in_trial', 'live'];
    if (state !== null && !states.includes(state)) {
      return recurlyError(ctx.res, 400, 'bad_request', `state must be one of ${states.join(', ')}.`);
    }
    let offset = 0;
    const cursor = sp.get('cursor');
    if (cursor !== null) {
      offset = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (!Number.isInteger(offset) || offset < 0) return recurlyError(ctx.res, 400, 'bad_request', 'cursor is invalid.');
    }
    const begin = sp.get('begin_time') ? new Date(sp.get('begin_time')!) : undefined;
    const end = sp.get('end_time') ? new Date(sp.get('end_time')!) : undefined;
    const ids = sp.get('ids')?.split(',').filter(Boolean);

    let subs = store.subscriptionsOf(account.id);
    if (ids) subs = subs.filter((s) => ids.includes(s.id));
    else {
      if (state) subs = subs.filter((s) => matchesStateFilter(s, state));
      const at = (s: StoredSubscription) => (sort === 'updated_at' ? s.updated_at : s.created_at).getTime();
      if (begin) subs = subs.filter((s) => at(s) >= begin.getTime());
      if (end) subs = subs.filter((s) => at(s) <= end.getTime());
      subs.sort((a, b) => (at(a) - at(b) || a.seq - b.seq) * (order === 'asc' ? 1 : -1));
    }
    const page = ids ? subs : subs.slice(offset, offset + limit);
    const hasMore = !ids && offset + limit < subs.length;
    let next: string | null = null;
    if (hasMore) {
      const q = new URLSearchParams(sp);
      q.set('cursor', Buffer.from(String(offset + limit)).toString('base64url'));
      q.set('limit', String(limit));
      next = `${ctx.path}?${q.toString()}`;
    }
    // `next: null` is what Recurly (and its clients' fixtures) send on the last page.
    send(ctx.res, 200, { object: 'list', has_more: hasMore, next, data: page.map(subscriptionJson) });
  };

  const createSubscription: Handler = async (ctx) => {
    const parsed = parseSubscriptionCreate(await ctx.readJson());
    if (!parsed.ok) return validationError(ctx.res, parsed.errors);
    const input = parsed.value;
    let account = store.findAccountByCode(input.account.code);
    if (account && account.state === 'inactive') {
      return validationError(ctx.res, [{ param: 'account', message: 'is closed' }]);
    }
    account ??= newAccount(input.account);
    const now = new Date();
    const future = input.starts_at !== undefined && input.starts_at.getTime() > now.getTime();
    const start = future ? input.starts_at! : now;
    const sub = store.addSubscription({
      account_id: account.id,
      plan_code: input.plan_code,
      state: future ? 'future' : 'active',
      currency: input.currency,
      unit_amount: input.unit_amount ?? 10,
      quantity: input.quantity ?? 1,
      auto_renew: input.auto_renew ?? true,
      collection_method: input.collection_method ?? 'automatic',
      current_period_started_at: start,
      current_period_ends_at: addMonths(start, 1),
      activated_at: future ? undefined : now,
    });
    send(ctx.res, 201, subscriptionJson(sub));
  };

  const getSubscription: Handler = (ctx) => {
    const sub = requireSubscription(ctx);
    if (sub) send(ctx.res, 200, subscriptionJson(sub));
  };

  /** `terminate_subscription` (DELETE /subscriptions/{id}), with its `refund` and `charge` parameters. */
  const terminateSubscription: Handler = (ctx) => {
    const sub = requireSubscription(ctx);
    if (!sub) return;
    const sp = ctx.url.searchParams;
    const refund = sp.get('refund') ?? 'none';
    const charge = sp.get('charge') ?? 'true';
    const invalid = [...(['full', 'partial', 'none'].includes(refund) ? [] : ['refund']), ...(['true', 'false'].includes(charge) ? [] : ['charge'])];
    if (invalid.length) {
      // api.yaml's 422 example: "Please provide valid values for these parameters: refund."
      return recurlyError(
        ctx.res,
        422,
        'validation',
        `Please provide valid values for these parameters: ${invalid.join(', ')}.`,
        invalid.map((param) => ({ param, message: 'is invalid' })),
      );
    }
    if (sub.state === 'expired' || sub.state === 'failed' || (sub.state === 'future' && behaviour.futureNotTerminable)) {
      return recurlyError(ctx.res, 422, 'validation', 'Cannot expire an inactive subscription.', [{ param: 'state', message: `is ${sub.state}` }]);
    }
    const now = new Date();
    if (sub.unbilled_usage && charge === 'true' && behaviour.chargeBillsUnbilledUsage) {
      // Billed on a final invoice, which is open until collected: it blocks redaction.
      store.addInvoice({ account_id: sub.account_id, state: 'pending', currency: sub.currency, total: sub.unbilled_usage, paid: 0, subscription_ids: [sub.id] });
    }
    // charge=false: "a negative usage record ... will zero out the final invoice line items".
    sub.unbilled_usage = 0;
    sub.state = 'expired';
    sub.expires_at = now;
    sub.updated_at = now;
    send(ctx.res, 200, subscriptionJson(sub));
  };

  const cancelSubscription: Handler = async (ctx) => {
    const sub = requireSubscription(ctx);
    if (!sub) return;
    const body = await ctx.readJson();
    const timeframe = (body as { timeframe?: unknown } | undefined)?.timeframe;
    if (timeframe !== undefined && timeframe !== 'term_end' && timeframe !== 'bill_date') {
      return validationError(ctx.res, [{ param: 'timeframe', message: 'is not included in the list' }]);
    }
    if (sub.state !== 'active' && sub.state !== 'paused' && sub.state !== 'future') {
      return recurlyError(ctx.res, 422, 'validation', 'Only active and future subscriptions can be canceled.', [{ param: 'state', message: `is ${sub.state}` }]);
    }
    const now = new Date();
    if (sub.state === 'future') {
      // cancel_subscription: "When a future subscription (`state=future`) is canceled it becomes
      // failed `state=failed` and cannot be reactivated."
      sub.state = 'failed';
      sub.canceled_at = now;
      sub.expires_at = now;
      sub.updated_at = now;
      return send(ctx.res, 200, subscriptionJson(sub));
    }
    sub.state = 'canceled';
    sub.canceled_at = now;
    sub.expires_at = sub.current_period_ends_at;
    sub.updated_at = now;
    send(ctx.res, 200, subscriptionJson(sub));
  };

  const createLineItem: Handler = async (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    const parsed = parseLineItemCreate(await ctx.readJson());
    if (!parsed.ok) return validationError(ctx.res, parsed.errors);
    const item = store.addLineItem({ account_id: account.id, state: 'pending', ...parsed.value });
    send(ctx.res, 201, renderLineItem(item, account));
  };

  const requireLineItem = (ctx: SandboxContext) => {
    const id = ctx.params.line_item_id;
    const item = id.startsWith('uuid-') ? [...store.lineItems.values()].find((l) => l.uuid === id.slice(5)) : store.lineItems.get(id);
    if (!item) recurlyError(ctx.res, 404, 'not_found', `Couldn't find LineItem with id = ${id}`);
    return item;
  };

  const getLineItem: Handler = (ctx) => {
    const item = requireLineItem(ctx);
    if (item) send(ctx.res, 200, renderLineItem(item, store.accounts.get(item.account_id)!, item.invoice_id ? store.invoices.get(item.invoice_id) : undefined));
  };

  /** `remove_line_item`: 204, or 422 "Only pending line items can be deleted." */
  const removeLineItem: Handler = (ctx) => {
    const item = requireLineItem(ctx);
    if (!item) return;
    if (item.state !== 'pending') {
      return recurlyError(ctx.res, 422, 'validation', 'Only pending line items can be deleted.', [{ param: 'state', message: `is ${item.state}` }]);
    }
    store.lineItems.delete(item.id);
    sendEmpty(ctx.res, 204);
  };

  const listAccountLineItems: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    const sp = ctx.url.searchParams;
    const state = sp.get('state');
    const type = sp.get('type');
    if ((state !== null && state !== 'pending' && state !== 'invoiced') || (type !== null && type !== 'charge' && type !== 'credit')) {
      return recurlyError(ctx.res, 400, 'bad_request', 'state must be pending or invoiced; type must be charge or credit.');
    }
    let items = store.lineItemsOf(account.id);
    if (state) items = items.filter((l) => l.state === state);
    if (type) items = items.filter((l) => l.type === type);
    listPage(ctx, items, (l) => renderLineItem(l, account, l.invoice_id ? store.invoices.get(l.invoice_id) : undefined));
  };

  const listAccountInvoices: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    const state = ctx.url.searchParams.get('state');
    if (state !== null && !['pending', 'processing', 'past_due', 'paid', 'failed', 'open', 'closed', 'voided'].includes(state)) {
      return recurlyError(ctx.res, 400, 'bad_request', 'state is not a valid invoice state.');
    }
    let invoices = store.invoicesOf(account.id);
    if (state) invoices = invoices.filter((i) => i.state === state);
    listPage(ctx, invoices, (i) => renderInvoice(i, account));
  };

  /** Recurly's list envelope and cursor paging, as for subscriptions (limit, order, sort). */
  function listPage<T extends { seq: number; created_at: Date; updated_at: Date; id: string }>(ctx: SandboxContext, all: T[], render: (t: T) => unknown): void {
    const sp = ctx.url.searchParams;
    const limit = sp.has('limit') ? Number(sp.get('limit')) : 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) return recurlyError(ctx.res, 400, 'bad_request', 'limit must be an integer between 1 and 200.');
    const order = sp.get('order') ?? 'desc';
    const sort = sp.get('sort') ?? 'created_at';
    if ((order !== 'asc' && order !== 'desc') || (sort !== 'created_at' && sort !== 'updated_at')) {
      return recurlyError(ctx.res, 400, 'bad_request', 'order must be asc or desc; sort must be created_at or updated_at.');
    }
    let offset = 0;
    const cursor = sp.get('cursor');
    if (cursor !== null) {
      offset = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
      if (!Number.isInteger(offset) || offset < 0) return recurlyError(ctx.res, 400, 'bad_request', 'cursor is invalid.');
    }
    const ids = sp.get('ids')?.split(',').filter(Boolean);
    let items = all;
    if (ids) items = items.filter((t) => ids.includes(t.id));
    const at = (t: T) => (sort === 'updated_at' ? t.updated_at : t.created_at).getTime();
    items = [...items].sort((a, b) => (at(a) - at(b) || a.seq - b.seq) * (order === 'asc' ? 1 : -1));
    const page = items.slice(offset, offset + limit);
    const hasMore = offset + limit < items.length;
    let next: string | null = null;
    if (hasMore) {
      const q = new URLSearchParams(sp);
      q.set('cursor', Buffer.from(String(offset + limit)).toString('base64url'));
      q.set('limit', String(limit));
      next = `${ctx.path}?${q.toString()}`;
    }
    send(ctx.res, 200, { object: 'list', has_more: hasMore, next, data: page.map(render) });
  }

  const adminCreateInvoice: Handler = async (ctx) => {
    const parsed = parseAdminInvoice(await ctx.readJson());
    if (!parsed.ok) return sendJson(ctx.res, 400, { error: { type: 'invalid_request', message: describe(parsed.errors), params: parsed.errors } });
    const account = store.findAccountByCode(parsed.value.accountCode);
    if (!account) return sendJson(ctx.res, 404, { error: { type: 'not_found', message: `no account with code ${parsed.value.accountCode}` } });
    const { state, total, paid, currency } = parsed.value;
    const inv = store.addInvoice({ account_id: account.id, state, total, paid, currency, subscription_ids: [] });
    sendJson(ctx.res, 201, renderInvoice(inv, account), CONTENT_TYPE);
  };

  const adminUpdateInvoice: Handler = async (ctx) => {
    const inv = store.invoices.get(ctx.params.invoice_id);
    if (!inv) return sendJson(ctx.res, 404, { error: { type: 'not_found', message: 'no such invoice' } });
    const body = (await ctx.readJson()) as { state?: unknown; paid?: unknown } | undefined;
    if (typeof body?.state === 'string') inv.state = body.state as typeof inv.state;
    if (typeof body?.paid === 'number') inv.paid = body.paid;
    inv.updated_at = new Date();
    sendJson(ctx.res, 200, renderInvoice(inv, store.accounts.get(inv.account_id)!), CONTENT_TYPE);
  };

  /** Where an account's redaction stands, which the API does not say (ids and counts only). */
  const adminAccountState: Handler = (ctx) => {
    store.settle(new Date());
    const account = store.findAccountByCode(ctx.params.code);
    if (!account) return sendJson(ctx.res, 404, { error: { type: 'not_found', message: 'no such account' } });
    sendJson(ctx.res, 200, {
      id: account.id,
      code: account.code,
      redactRequests: account.redact_requests,
      redactionPending: account.redaction_due_at !== undefined,
      redactionDueAt: account.redaction_due_at?.toISOString() ?? null,
      redactedAt: account.redacted_at && !account.redaction_due_at ? account.redacted_at.toISOString() : null,
      openCharges: store.openCharges(account.id),
      subscriptions: store.subscriptionsOf(account.id).map((s) => ({ id: s.id, state: s.state, unbilledUsage: s.unbilled_usage ?? 0 })),
    });
  };

  const adminGetBehaviour: Handler = (ctx) => sendJson(ctx.res, 200, behaviour);
  const adminPutBehaviour: Handler = async (ctx) => {
    const body = await ctx.readJson();
    const next = { ...behaviour };
    const errors: string[] = [];
    for (const [key, value] of Object.entries((body ?? {}) as Record<string, unknown>)) {
      if (!(key in DEFAULT_RECURLY_BEHAVIOUR)) errors.push(`unknown behaviour ${key}`);
      else if (typeof value !== typeof DEFAULT_RECURLY_BEHAVIOUR[key as keyof RecurlyBehaviour] || (typeof value === 'number' && (!Number.isInteger(value) || value < 0)))
        errors.push(`bad value for ${key}`);
      else (next as unknown as Record<string, unknown>)[key] = value;
    }
    if (errors.length) return sendJson(ctx.res, 400, { error: { type: 'invalid_request', message: errors.join('; ') } });
    behaviour = next;
    sendJson(ctx.res, 200, behaviour);
  };

  const adminCreateSubscription: Handler = async (ctx) => {
    const parsed = parseAdminSubscription(await ctx.readJson());
    if (!parsed.ok) return sendJson(ctx.res, 400, { error: { type: 'invalid_request', message: describe(parsed.errors), params: parsed.errors } });
    const input = parsed.value;
    const account = store.findAccountByCode(input.accountCode);
    if (!account) return sendJson(ctx.res, 404, { error: { type: 'not_found', message: `no account with code ${input.accountCode}` } });
    const now = new Date();
    const startedAt = input.currentPeriodStartedAt ?? (input.state === 'future' ? new Date(now.getTime() + 86_400_000) : input.currentPeriodEndsAt ? addMonths(input.currentPeriodEndsAt, -1) : now);
    const endsAt = input.currentPeriodEndsAt ?? addMonths(startedAt, 1);
    const state: SubscriptionState = input.state;
    const sub = store.addSubscription({
      account_id: account.id,
      plan_code: input.planCode,
      state,
      currency: input.currency,
      unit_amount: 10,
      quantity: 1,
      auto_renew: state === 'active' || state === 'future',
      collection_method: 'automatic',
      current_period_started_at: startedAt,
      current_period_ends_at: endsAt,
      activated_at: state === 'future' || state === 'failed' ? undefined : startedAt,
      canceled_at: state === 'canceled' ? now : undefined,
      expires_at: state === 'canceled' || state === 'expired' ? endsAt : undefined,
      paused_at: state === 'paused' ? now : undefined,
      unbilled_usage: input.unbilledUsage,
    });
    sendJson(ctx.res, 201, subscriptionJson(sub), CONTENT_TYPE);
  };

  const api: [string, string, Handler][] = [
    ['POST', '/accounts', createAccount],
    ['GET', '/accounts/{account_id}', getAccount],
    ['DELETE', '/accounts/{account_id}', deactivateAccount],
    ['PUT', '/accounts/{account_id}/redact', redactAccount],
    ['GET', '/accounts/{account_id}/subscriptions', listAccountSubscriptions],
    ['GET', '/accounts/{account_id}/line_items', listAccountLineItems],
    ['POST', '/accounts/{account_id}/line_items', createLineItem],
    ['GET', '/accounts/{account_id}/invoices', listAccountInvoices],
    ['GET', '/line_items/{line_item_id}', getLineItem],
    ['DELETE', '/line_items/{line_item_id}', removeLineItem],
    ['POST', '/subscriptions', createSubscription],
    ['GET', '/subscriptions/{subscription_id}', getSubscription],
    ['DELETE', '/subscriptions/{subscription_id}', terminateSubscription],
    ['PUT', '/subscriptions/{subscription_id}/cancel', cancelSubscription],
  ];
  const routes: Route<Handler>[] = api.map(([method, pattern, handler]) => ({ method, pattern, handler: authed(handler, `${method} ${pattern}`) }));

  return startSandboxShell(
    {
      vendor: 'recurly',
      routes,
      adminRoutes: [
        { method: 'POST', pattern: '/__sandbox/subscriptions', handler: adminCreateSubscription },
        { method: 'POST', pattern: '/__sandbox/invoices', handler: adminCreateInvoice },
        { method: 'PUT', pattern: '/__sandbox/invoices/{invoice_id}', handler: adminUpdateInvoice },
        { method: 'GET', pattern: '/__sandbox/accounts/{code}', handler: adminAccountState },
        { method: 'GET', pattern: '/__sandbox/behaviour', handler: adminGetBehaviour },
        { method: 'PUT', pattern: '/__sandbox/behaviour', handler: adminPutBehaviour },
        { method: 'GET', pattern: '/__sandbox/requests', handler: ({ res }) => sendJson(res, 200, { requests }) },
        {
          method: 'DELETE',
          pattern: '/__sandbox/requests',
          handler: ({ res }) => {
            requests.length = 0;
            sendEmpty(res, 204);
          },
        },
      ],
      isRateLimited: () => true,
      sendError: (res, status, kind, message) => {
        decorate(res);
        recurlyError(res, status, shellErrorType(kind), shellMessage(kind, message));
      },
      resetState: () => {
        store.reset();
        behaviour = { ...initialBehaviour };
        requests.length = 0;
      },
    },
    { port: opts.port, host: opts.host, rateLimit: opts.rateLimitPerMinute ?? 400, rateWindowMs: 60_000, rateModel: 'fixed-window' },
  );
}

/** Subscription `state` filter as documented for list_account_subscriptions. */
function matchesStateFilter(s: StoredSubscription, filter: string): boolean {
  if (filter === 'in_trial') return false;
  // Recurly's own "live" (active, canceled, future, in trial) differs from Lethe's contract.
  if (filter === 'live') return s.state === 'active' || s.state === 'canceled' || s.state === 'future';
  return s.state === filter;
}

function decorate(res: ServerResponse): void {
  if (res.headersSent) return;
  res.setHeader('recurly-version', `recurly.${API_VERSION}`);
  res.setHeader('x-request-id', randomBytes(10).toString('hex'));
}

function recurlyError(res: ServerResponse, status: number, type: RecurlyErrorType, message: string, params?: ParamError[]): void {
  sendJson(res, status, { error: { type, message, ...(params ? { params } : {}) } }, CONTENT_TYPE);
}

function validationError(res: ServerResponse, errors: ParamError[]): void {
  recurlyError(res, 422, 'validation', describe(errors), errors);
}

function describe(errors: ParamError[]): string {
  return errors.map((e) => `${humanize(e.param)} ${e.message}`).join(', ');
}

function humanize(param: string): string {
  const last = param.split('.').pop() ?? param;
  const words = last.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function shellErrorType(kind: ErrorKind): RecurlyErrorType {
  switch (kind) {
    case 'rate_limited':
      return 'rate_limited';
    case 'route_not_found':
      return 'not_found';
    case 'internal_error':
      return 'internal_server_error';
    case 'payload_too_large':
    case 'malformed_body':
      return 'bad_request';
  }
}

function shellMessage(kind: ErrorKind, message: string): string {
  if (kind === 'rate_limited') return 'You made too many API requests in the current window. Retry after the rate limit resets.';
  if (kind === 'route_not_found') return 'The requested resource was not found.';
  return message;
}

function basicUser(header: string): string | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  return i < 0 ? decoded : decoded.slice(0, i);
}
