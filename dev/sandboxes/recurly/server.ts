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
import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Route } from '../common/router';
import { sendEmpty, sendJson, setRateHeaders, startSandboxShell, type ErrorKind, type Handler, type RunningSandbox, type SandboxContext } from '../common/server';
import {
  parseAccountCreate,
  parseAccountUpdate,
  parseAdminInvoice,
  parseAdminSubscription,
  parseLineItemCreate,
  parseNoteCreate,
  parseSubscriptionCreate,
  type AccountInput,
  type ParamError,
} from './input';
import { renderAccount, renderBillingInfo, renderInvoice, renderLineItem, renderNote, renderSubscription } from './render';
import { ACCOUNT_PII_FIELDS, addMonths, isLive, recurlyId, RecurlyStore, type StoredAccount, type StoredSubscription, type SubscriptionState } from './store';
import { IdempotencyCache, SlidingWindowLimiter } from './idempotency';

export interface RecurlySandboxOptions {
  port?: number;
  host?: string;
  apiKey: string;
  /**
   * api.yaml "Rate Limits": "Sandbox sites: 400 requests/min. All requests count towards the
   * rate limit. Production sites: 1,000 requests/min. Only GET requests count", "calculated over
   * a sliding 5 minute window". Default per kind: 400 sandbox, 1,000 production.
   */
  rateLimitPerMinute?: number;
  /** Which kind of Recurly site this stands in for (default `sandbox`). */
  siteKind?: 'sandbox' | 'production';
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
  /**
   * `redact_account` clears what it documents ("billing information, shipping addresses, and
   * transaction details such as names, email addresses, and payment card data") and nothing
   * more: `cc_emails`, custom fields, account notes and a wallet's other billing methods stay.
   * Off: redaction clears those too.
   */
  redactionDocumentedScopeOnly: boolean;
  /**
   * Account hierarchy (docs.recurly.com "Account hierarchy": a child billed to its parent has its
   * charges and invoices on the parent): `redact_account` answers 422 for a parent with open
   * (active, unredacted) child accounts and for a child with `bill_to=parent`. api.yaml's 422
   * lists "common reasons", not all; this is the sandbox's reading. Off: hierarchy is ignored.
   */
  hierarchyBlocksRedaction: boolean;
}

/** Small enough to keep every deletion test quick, long enough that a read-back sees it pending. */
export const DEFAULT_REDACTION_DELAY_MS = 1500;

export const DEFAULT_RECURLY_BEHAVIOUR: RecurlyBehaviour = {
  redactionDelayMs: DEFAULT_REDACTION_DELAY_MS,
  openChargesBlockRedaction: true,
  futureNotTerminable: true,
  chargeBillsUnbilledUsage: true,
  redactionDocumentedScopeOnly: true,
  hierarchyBlocksRedaction: true,
};

/** One API request as the sandbox received it (admin calls excluded). */
export interface RecordedRequest {
  method: string;
  route: string;
  path: string;
  query: Record<string, string>;
  at: string;
  /** Whether it carried an `Idempotency-Key` (never the key itself). */
  idempotencyKey?: boolean;
}

export const API_VERSION = 'v2021-02-25';
/**
 * The SDK parses error bodies only when the content type contains "application/json"
 * (BaseClient._errorFromResponse); api.yaml also declares application/json everywhere.
 */
const CONTENT_TYPE = 'application/json; charset=utf-8';
const SUPPORTED_ACCEPT = [`application/vnd.recurly.${API_VERSION}`, 'application/vnd.recurly.latest'];

type RecurlyErrorType = 'bad_request' | 'simultaneous_request' | 'internal_server_error' | 'invalid_api_version' | 'not_found' | 'rate_limited' | 'unauthorized' | 'validation';

export async function startRecurlySandbox(opts: RecurlySandboxOptions): Promise<RunningSandbox> {
  const store = new RecurlyStore();
  const initialBehaviour: RecurlyBehaviour = { ...DEFAULT_RECURLY_BEHAVIOUR, ...opts.behaviour };
  let behaviour: RecurlyBehaviour = { ...initialBehaviour };
  const requests: RecordedRequest[] = [];
  const siteKind = opts.siteKind ?? 'sandbox';
  const perMinute = opts.rateLimitPerMinute ?? (siteKind === 'production' ? 1_000 : 400);
  // A production site counts GETs only, over a sliding five-minute window (api.yaml "Rate
  // Limits"); a sandbox site counts everything, which the shell's limiter does.
  const getLimiter = new SlidingWindowLimiter(perMinute * 5, 5 * 60_000);
  const idempotency = new IdempotencyCache();
  /** Writes whose response is to be lost after they are applied (admin `lose-responses`). */
  let lose: { pathPrefix: string; count: number } | undefined;
  /**
   * Writes held `delayMs` before they are applied (admin `slow-writes`): still in flight under
   * their Idempotency-Key all that time, and applied even when the client gave up meanwhile, as
   * a server that received a request finishes it.
   */
  let slow: { pathPrefix: string; count: number; delayMs: number } | undefined;

  const send = (res: ServerResponse, status: number, body: unknown) => sendJson(res, status, body, CONTENT_TYPE);
  const accountJson = (a: StoredAccount) => renderAccount(a, store.subscriptionsOf(a.id), new Date(), store.invoicesOf(a.id));
  const subscriptionJson = (s: StoredSubscription) => renderSubscription(s, store.accounts.get(s.account_id)!);

  const authed =
    (handler: Handler, route: string): Handler =>
    (ctx) => {
      decorate(ctx.res);
      store.settle(new Date(), behaviour.redactionDocumentedScopeOnly);
      if (requests.length >= 10_000) requests.shift();
      requests.push({
        method: ctx.method,
        route,
        path: ctx.path,
        query: Object.fromEntries(ctx.url.searchParams),
        at: new Date().toISOString(),
        ...(ctx.method === 'GET' ? {} : { idempotencyKey: typeof ctx.req.headers['idempotency-key'] === 'string' }),
      });
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
      if (siteKind === 'production') {
        const rate = ctx.method === 'GET' ? getLimiter.take() : getLimiter.peek();
        setRateHeaders(ctx.res, rate);
        if (!rate.allowed) {
          ctx.res.setHeader('retry-after', String(rate.retryAfterSeconds));
          return recurlyError(ctx.res, 429, 'rate_limited', 'You made too many API requests in the current window. Retry after the rate limit resets.');
        }
      }
      const run = async () => {
        if (slow && slow.count > 0 && ctx.method !== 'GET' && ctx.path.startsWith(slow.pathPrefix)) {
          slow.count -= 1;
          const { delayMs } = slow;
          await new Promise((r) => setTimeout(r, delayMs));
        }
        loseResponseIfArmed(ctx);
        return handler(ctx);
      };
      const idemKey = ctx.req.headers['idempotency-key'];
      if (ctx.method === 'GET' || typeof idemKey !== 'string') return run();
      // api.yaml "Idempotent Requests": keys of 255 characters or fewer; an identical request
      // (same key, method, path and API key) within an hour replays the first response with
      // `Idempotency-Prior: true`; one still in flight is answered 409 with
      // `Recurly-Should-Retry: true` and a `Retry-After`.
      if (idemKey.length > 255) return recurlyError(ctx.res, 400, 'bad_request', 'Idempotency-Key must be 255 characters or fewer.');
      const cacheKey = createHash('sha256').update(`${key}\n${ctx.method}\n${ctx.path}\n${idemKey}`).digest('hex');
      const prior = idempotency.lookup(cacheKey, Date.now());
      if (prior === 'in_flight') {
        ctx.res.setHeader('recurly-should-retry', 'true');
        ctx.res.setHeader('retry-after', '1');
        return recurlyError(ctx.res, 409, 'simultaneous_request', 'A request with the same Idempotency-Key is already in progress.');
      }
      if (prior) {
        idempotency.replays += 1;
        ctx.res.statusCode = prior.status;
        ctx.res.setHeader('idempotency-prior', 'true');
        if (prior.contentType) ctx.res.setHeader('content-type', prior.contentType);
        ctx.res.setHeader('content-length', Buffer.byteLength(prior.body));
        ctx.res.end(prior.body);
        return;
      }
      return idempotency.record(cacheKey, ctx.res, run);
    };

  /** Applies the request, then drops the connection instead of answering (a response lost on the way back). */
  const loseResponseIfArmed = (ctx: SandboxContext) => {
    if (!lose || lose.count <= 0 || ctx.method === 'GET' || !ctx.path.startsWith(lose.pathPrefix)) return;
    lose.count -= 1;
    // Recurly keeps what it did (and, under an Idempotency-Key, the response to replay): only the
    // client is left without an answer.
    const inner = ctx.res.end.bind(ctx.res) as (...args: unknown[]) => unknown;
    ctx.res.end = ((...args: unknown[]) => {
      ctx.res.destroy();
      inner(...args);
      return ctx.res;
    }) as typeof ctx.res.end;
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

  /** The parent named on create (by id or code), or a validation error: one level only (api.yaml `AccountCreate.parent_account_id`). */
  const parentFor = (input: { parent_account_id?: string; parent_account_code?: string }): StoredAccount | ParamError | undefined => {
    const ref = input.parent_account_id ? input.parent_account_id : input.parent_account_code ? `code-${input.parent_account_code}` : undefined;
    if (!ref) return undefined;
    const parent = store.findAccount(ref);
    if (!parent) return { param: input.parent_account_id ? 'parent_account_id' : 'parent_account_code', message: 'is invalid' };
    if (parent.parent_account_id) return { param: 'parent_account_id', message: 'cannot be an account that itself has a parent' };
    return parent;
  };

  const newAccount = (input: AccountInput, parent?: StoredAccount): StoredAccount => {
    const now = new Date();
    const b = input.billing_info;
    return store.addAccount({
      parent_account_id: parent?.id,
      bill_to: parent ? (input.bill_to ?? 'self') : 'self',
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
    const parent = parentFor(parsed.value);
    if (parent && !('id' in parent)) return validationError(ctx.res, [parent]);
    send(ctx.res, 201, accountJson(newAccount(parsed.value, parent)));
  };

  /**
   * `update_account` (api.yaml `AccountUpdate`): the fields Lethe clears before redaction, and the
   * name, email and address (with its phone) a correction changes (docs/correction.md). Custom
   * fields change only when named; "To remove a field send the name with a null or empty value".
   */
  const updateAccount: Handler = async (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    const parsed = parseAccountUpdate(await ctx.readJson());
    if (!parsed.ok) return validationError(ctx.res, parsed.errors);
    const u = parsed.value;
    const set = (field: 'email' | 'first_name' | 'last_name' | 'company' | 'cc_emails', v: string | undefined) => {
      if (v === undefined) return;
      if (v === '') delete account[field];
      else account[field] = v;
    };
    set('email', u.email);
    set('first_name', u.first_name);
    set('last_name', u.last_name);
    set('company', u.company);
    set('cc_emails', u.cc_emails);
    if (u.custom_fields) {
      const fields = new Map((account.custom_fields ?? []).map((f) => [f.name, f.value]));
      for (const f of u.custom_fields) {
        if (f.value === null) fields.delete(f.name);
        else fields.set(f.name, f.value);
      }
      account.custom_fields = fields.size ? [...fields].map(([name, value]) => ({ name, value })) : undefined;
    }
    if (u.parent_account_code !== undefined) {
      if (u.parent_account_code === '') {
        delete account.parent_account_id;
        account.bill_to = 'self';
      } else {
        const parent = parentFor({ parent_account_code: u.parent_account_code });
        if (parent && !('id' in parent)) return validationError(ctx.res, [parent]);
        account.parent_account_id = parent?.id;
      }
    }
    if (u.bill_to !== undefined) account.bill_to = account.parent_account_id ? u.bill_to : 'self';
    if (u.address) {
      // Only the fields sent change; an empty one is cleared (see AccountUpdateInput.address).
      const address: Record<string, string> = { ...(account.address ?? {}) };
      for (const [k, v] of Object.entries(u.address)) {
        if (v === '') delete address[k];
        else if (typeof v === 'string') address[k] = v;
      }
      account.address = Object.keys(address).length ? address : undefined;
    }
    account.updated_at = new Date();
    send(ctx.res, 200, accountJson(account));
  };

  /** `list_child_accounts`: the accounts whose parent this is. */
  const listChildAccounts: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (account) listPage(ctx, store.childrenOf(account.id), accountJson);
  };

  const listAccountNotes: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (account)
      listPage(
        ctx,
        store.notesOf(account.id).map((n) => ({ ...n, updated_at: n.created_at })),
        renderNote,
      );
  };

  const createAccountNote: Handler = async (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    const parsed = parseNoteCreate(await ctx.readJson());
    if (!parsed.ok) return validationError(ctx.res, parsed.errors);
    send(ctx.res, 201, renderNote(store.addNote(account.id, parsed.value.message)));
  };

  /** `remove_account_note`: 204, or 404 "Incorrect site, account or note ID". */
  const removeAccountNote: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    const note = store.notes.get(ctx.params.account_note_id);
    if (!note || note.account_id !== account.id) return recurlyError(ctx.res, 404, 'not_found', `Couldn't find AccountNote with id = ${ctx.params.account_note_id}`);
    store.notes.delete(note.id);
    sendEmpty(ctx.res, 204);
  };

  /** `list_billing_infos`: the primary payment method and the wallet's others. */
  const listBillingInfos: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    const all = store.billingInfosOf(account).map((b, i) => ({ ...b, seq: i }));
    listPage(ctx, all, (b) => renderBillingInfo(b, account.id, b.id === account.billing_info?.id));
  };

  /**
   * `remove_a_billing_info`: 204; 404 for one the account does not hold; 422 "Billing info cannot
   * be deleted. Please set a new primary billing info before deleting this billing info" for the
   * primary while the wallet holds others.
   */
  const removeABillingInfo: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    const id = ctx.params.billing_info_id;
    if (account.billing_info?.id === id) {
      if ((account.wallet ?? []).length > 0) {
        return recurlyError(ctx.res, 422, 'validation', 'Billing info cannot be deleted. Please set a new primary billing info before deleting this billing info', [
          { param: 'primary_payment_method', message: 'is the primary payment method' },
        ]);
      }
      delete account.billing_info;
    } else {
      const i = (account.wallet ?? []).findIndex((b) => b.id === id);
      if (i < 0) return recurlyError(ctx.res, 404, 'not_found', `Couldn't find BillingInfo with id = ${id}`);
      account.wallet!.splice(i, 1);
      if (!account.wallet!.length) delete account.wallet;
    }
    account.updated_at = new Date();
    sendEmpty(ctx.res, 204);
  };

  /** `remove_billing_info`: the account's (primary) billing info; 404 "Account has no billing information". */
  const removeBillingInfo: Handler = (ctx) => {
    const account = requireAccount(ctx);
    if (!account) return;
    if (!account.billing_info) return recurlyError(ctx.res, 404, 'not_found', "Couldn't find BillingInfo for this account");
    delete account.billing_info;
    account.updated_at = new Date();
    sendEmpty(ctx.res, 204);
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
    if (behaviour.hierarchyBlocksRedaction) {
      const children = store.openChildrenOf(account.id);
      const params: ParamError[] = [];
      if (children.length) params.push({ param: 'child_accounts', message: `has ${children.length} open child account${children.length === 1 ? '' : 's'}` });
      if (account.parent_account_id && account.bill_to === 'parent') params.push({ param: 'bill_to', message: 'is parent: its charges and invoices are the parent account' + "'s" });
      if (params.length) return recurlyError(ctx.res, 422, 'validation', 'Account cannot be redacted while it is part of an account hierarchy.', params);
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
      if (behaviour.redactionDelayMs <= 0) store.redact(account, now, behaviour.redactionDocumentedScopeOnly);
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
    store.settle(new Date(), behaviour.redactionDocumentedScopeOnly);
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
      // What personal data the account still holds, by name: the fields, its notes and billing methods.
      personalFields: ACCOUNT_PII_FIELDS.filter((f) => {
        const v = account[f];
        return v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0);
      }),
      notes: store.notesOf(account.id).length,
      billingInfos: store.billingInfosOf(account).length,
      parentAccountCode: account.parent_account_id ? (store.accounts.get(account.parent_account_id)?.code ?? null) : null,
      billTo: account.bill_to,
      childAccounts: store.childrenOf(account.id).map((c) => c.code),
    });
  };

  /** Adds a billing method to an account's wallet (the sandbox takes no card data through the API). */
  const adminAddBillingInfo: Handler = async (ctx) => {
    const account = store.findAccountByCode(ctx.params.code);
    if (!account) return sendJson(ctx.res, 404, { error: { type: 'not_found', message: 'no such account' } });
    const body = ((await ctx.readJson()) ?? {}) as { firstName?: unknown; lastName?: unknown; lastFour?: unknown };
    const now = new Date();
    const b = {
      id: recurlyId(),
      first_name: typeof body.firstName === 'string' ? body.firstName : undefined,
      last_name: typeof body.lastName === 'string' ? body.lastName : undefined,
      card_type: 'Visa',
      last_four: typeof body.lastFour === 'string' ? body.lastFour : '1111',
      exp_month: 12,
      exp_year: 2030,
      created_at: now,
      updated_at: now,
    };
    // The first becomes the account's (primary) billing_info, the rest the wallet's others.
    if (!account.billing_info) account.billing_info = b;
    else (account.wallet ??= []).push(b);
    sendJson(ctx.res, 201, renderBillingInfo(b, account.id, account.billing_info.id === b.id), CONTENT_TYPE);
  };

  const adminSlowWrites: Handler = async (ctx) => {
    const body = (await ctx.readJson()) as { pathPrefix?: unknown; count?: unknown; delayMs?: unknown } | undefined;
    const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
    if (typeof body?.pathPrefix !== 'string' || !int(body.count) || !int(body.delayMs)) {
      return sendJson(ctx.res, 400, { error: { type: 'invalid_request', message: 'expected { pathPrefix: string, count: integer, delayMs: integer }' } });
    }
    slow = { pathPrefix: body.pathPrefix, count: body.count as number, delayMs: body.delayMs as number };
    sendJson(ctx.res, 201, slow);
  };

  const adminLoseResponses: Handler = async (ctx) => {
    const body = (await ctx.readJson()) as { pathPrefix?: unknown; count?: unknown } | undefined;
    if (typeof body?.pathPrefix !== 'string' || typeof body.count !== 'number' || !Number.isInteger(body.count) || body.count < 0) {
      return sendJson(ctx.res, 400, { error: { type: 'invalid_request', message: 'expected { pathPrefix: string, count: integer }' } });
    }
    lose = { pathPrefix: body.pathPrefix, count: body.count };
    sendJson(ctx.res, 201, lose);
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
    ['PUT', '/accounts/{account_id}', updateAccount],
    ['GET', '/accounts/{account_id}/accounts', listChildAccounts],
    ['GET', '/accounts/{account_id}/notes', listAccountNotes],
    ['POST', '/accounts/{account_id}/notes', createAccountNote],
    ['DELETE', '/accounts/{account_id}/notes/{account_note_id}', removeAccountNote],
    ['GET', '/accounts/{account_id}/billing_infos', listBillingInfos],
    ['DELETE', '/accounts/{account_id}/billing_infos/{billing_info_id}', removeABillingInfo],
    ['DELETE', '/accounts/{account_id}/billing_info', removeBillingInfo],
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
        { method: 'POST', pattern: '/__sandbox/accounts/{code}/billing_infos', handler: adminAddBillingInfo },
        { method: 'POST', pattern: '/__sandbox/lose-responses', handler: adminLoseResponses },
        { method: 'POST', pattern: '/__sandbox/slow-writes', handler: adminSlowWrites },
        { method: 'GET', pattern: '/__sandbox/idempotency', handler: ({ res }) => sendJson(res, 200, { replays: idempotency.replays }) },
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
      isRateLimited: () => siteKind === 'sandbox',
      sendError: (res, status, kind, message) => {
        decorate(res);
        recurlyError(res, status, shellErrorType(kind), shellMessage(kind, message));
      },
      resetState: () => {
        store.reset();
        behaviour = { ...initialBehaviour };
        requests.length = 0;
        idempotency.clear();
        getLimiter.reset();
        lose = undefined;
        slow = undefined;
      },
    },
    { port: opts.port, host: opts.host, rateLimit: perMinute, rateWindowMs: 60_000, rateModel: 'fixed-window' },
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
