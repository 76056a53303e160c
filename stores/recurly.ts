/**
 * Lethe's one module over Recurly (API v3): the real `recurly` SDK behind the few operations
 * deletion needs. Every failure leaves here as a VendorError with a `type`.
 */
import { createHash } from 'node:crypto';
import { Client, type Account, type Invoice, type LineItem, type Subscription } from 'recurly';
import { isVendorError, typeForStatus, VendorError, type VendorErrorType } from './errors';
import { FetchHttpAdapter, RecurlyTransportError } from './recurlyHttpAdapter';
import { recurlyPace, type VendorPace } from './vendorPace';

export interface RecurlyConfig {
  apiKey: string;
  /** Sandbox only: requests go here instead of https://v3.recurly.com. */
  baseUrl?: string;
  /** Per-request timeout (default RECURLY_TIMEOUT_MS); a timeout is reported as `unavailable`. */
  timeoutMs?: number;
  /** Page size when listing; 200 is Recurly's maximum. Tests lower it to exercise paging. */
  pageSize?: number;
  /** The site's region (the SDK's `region`: v3.recurly.com or v3.eu.recurly.com). */
  region?: 'us' | 'eu';
  /** Pacing by Recurly's rate-limit headers (stores/vendorPace.ts); one per process by default. */
  pace?: VendorPace;
  /**
   * The site's kind (api.yaml "Rate Limits"): a sandbox site counts every request against its
   * 400 a minute, a production site only GETs. On production, writes are not paced.
   */
  site?: 'sandbox' | 'production';
}

/**
 * Options of a write. `idempotencyScope` names the step making it (Lethe: the workflow run and
 * the activity, which a retried attempt shares and the workflow's next scheduling does not), so
 * the `Idempotency-Key` is the same for the same request of the same step: a retry after a lost
 * answer is replayed by Recurly rather than applied again (api.yaml "Idempotent Requests").
 */
export interface WriteOptions {
  idempotencyScope?: string;
}

export interface RecurlyAccount {
  id: string;
  code: string;
  state: string;
  /**
   * True when the account holds none of the personal-data fields redaction clears. Recurly
   * has no redaction flag, and redacts asynchronously, so this is what "redacted" can mean.
   */
  redacted: boolean;
  /** The names (never the values) of the personal fields still set; empty when redacted. */
  personalFields: string[];
  /**
   * What Recurly's redaction does not clear and Lethe must: `cc_emails` set, and the names of
   * the custom fields holding a value (api.yaml `redact_account` names neither).
   */
  ccEmails: boolean;
  customFields: string[];
  /** The account shows a billing method (its primary `billing_info`); a wallet may hold more. */
  hasBillingInfo: boolean;
  /** Account hierarchy: its parent's id, and who pays (`bill_to`: self or parent). */
  parentAccountId?: string;
  billTo?: string;
  /**
   * api.yaml `has_live_subscription`: "a subscription that is either active, canceled, future, or
   * paused". Every subscription Lethe ends is in one of those states (`isLive`), so false means
   * there is none to list. Unset when the answer did not say.
   */
  hasLiveSubscription?: boolean;
}

/** A child account (`list_child_accounts`), by code. */
export interface RecurlyChildAccount {
  code: string;
  state: string;
  /** It holds no personal field (redacted, or never had any). */
  redacted: boolean;
}

/** A stored billing method (`list_billing_infos`). */
export interface RecurlyBillingInfo {
  id: string;
  primary: boolean;
}

/** What keeps Recurly from redacting besides subscriptions (`redact_account` 422). */
export interface OpenCharges {
  /** Uninvoiced charges: line items in state `pending`. */
  lineItems: number;
  /** Invoices still collecting (pending, processing, past_due, open) with a balance. */
  invoices: number;
}

export interface RecurlySubscription {
  id: string;
  uuid?: string;
  state: string;
  planCode?: string;
  /** ISO 8601; plain strings so results cross Temporal's data converter unchanged. */
  currentPeriodEndsAt?: string;
}

export type RefundType = 'none' | 'partial' | 'full';

export interface RecurlyClient {
  getAccount(code: string): Promise<RecurlyAccount | null>;
  /** Live per Lethe's contract: active, future, paused, or canceled but paid through `now`. */
  listLiveSubscriptions(code: string, now: Date): Promise<RecurlySubscription[]>;
  /**
   * `terminate_subscription` with `charge=false`: unbilled usage is zeroed rather than billed on
   * a final invoice, which would itself be an open invoice blocking the redaction.
   */
  terminateSubscription(id: string, refund: RefundType, opts?: WriteOptions): Promise<'terminated' | 'already_expired' | 'already_gone'>;
  /** `cancel_subscription`: the documented end of a `future` subscription (it becomes `failed`). */
  cancelSubscription(id: string, opts?: WriteOptions): Promise<'canceled' | 'already_ended' | 'already_gone'>;
  /**
   * `update_account`: empties `cc_emails` and the named custom fields ("To remove a field send
   * the name with a null or empty value", api.yaml `CustomFields`).
   */
  clearAccountFields(code: string, fields: { ccEmails: boolean; customFields: string[] }, opts?: WriteOptions): Promise<'cleared' | 'already_gone'>;
  /** `list_account_notes`: the notes' ids. */
  listAccountNotes(code: string): Promise<string[]>;
  /** `remove_account_note`. */
  removeAccountNote(code: string, noteId: string, opts?: WriteOptions): Promise<'removed' | 'already_gone'>;
  /** `list_billing_infos`: every stored billing method (a wallet's, with its primary). */
  listBillingInfos(code: string): Promise<RecurlyBillingInfo[]>;
  /** `remove_a_billing_info` (422 for the primary while others remain: remove those first). */
  removeBillingInfo(code: string, billingInfoId: string, opts?: WriteOptions): Promise<'removed' | 'already_gone'>;
  /** `list_child_accounts`. */
  listChildAccounts(code: string): Promise<RecurlyChildAccount[]>;
  /** Uninvoiced charges and open invoices; zero for an account that does not exist. */
  openCharges(code: string): Promise<OpenCharges>;
  /**
   * `redact_account`: 'accepted' means Recurly took the request; the redaction itself happens
   * later ("processed asynchronously"). Throws VendorError 'precondition' on Recurly's 422.
   */
  redactAccount(code: string, opts?: WriteOptions): Promise<'accepted' | 'already_gone'>;
  /**
   * Access requests (docs/access.md), read only: the account as Recurly answers it, all its
   * subscriptions and invoices, as plain JSON (Recurly's names in the SDK's camelCase), without
   * payment tokens. Recurly returns a card's brand and last digits only, never its number.
   * Null when the account does not exist. api.yaml: `get_account`, `list_account_subscriptions`,
   * `list_account_invoices` (all states; paged by the SDK's `each()`).
   */
  exportAccount(code: string): Promise<{ account: Record<string, unknown>; subscriptions: Record<string, unknown>[]; invoices: Record<string, unknown>[] } | null>;
  /**
   * Corrections (docs/correction.md): the fields a correction may change, as Recurly holds them
   * (`get_account`), read back after `correctAccount`. Null when the account does not exist.
   */
  getProfile(code: string): Promise<RecurlyProfile | null>;
  /**
   * Corrections: `update_account` (api.yaml `AccountUpdate`) with `first_name`, `last_name`,
   * `email` and `address` (`Address`: street1, street2, city, region, postal_code, country,
   * phone). Fields not given are not sent; an empty string clears one. Throws VendorError
   * `not_found` for a missing account.
   */
  correctAccount(code: string, changes: Partial<Omit<RecurlyProfile, 'address'>> & { address?: RecurlyProfile['address'] }, opts?: WriteOptions): Promise<void>;
  /** For seeding and tests. */
  createAccount(input: NewAccount): Promise<{ id: string; code: string }>;
  /** For seeding and tests: an active subscription, creating the account if it is missing. */
  createSubscription(input: { accountCode: string; planCode: string; currency?: string }): Promise<RecurlySubscription>;
  /** For tests: an uninvoiced charge (`create_line_item`). */
  createCharge(input: { accountCode: string; amount: number; currency?: string; description?: string }): Promise<{ id: string }>;
  /** For tests: `remove_line_item` (only pending line items can be removed). */
  removeLineItem(id: string): Promise<void>;
}

export interface NewAccount {
  code: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  company?: string;
  ccEmails?: string;
  customFields?: { name: string; value: string }[];
  /** Account hierarchy: the parent's code, and whether the child bills to it. */
  parentAccountCode?: string;
  billTo?: 'self' | 'parent';
  shippingAddresses?: { firstName: string; lastName: string; street1: string; city: string; postalCode: string; country: string; email?: string; phone?: string }[];
  address?: { street1?: string; street2?: string; city?: string; region?: string; postalCode?: string; country?: string; phone?: string };
}

/** The fields of an account a correction changes (docs/correction.md), as Recurly holds them ('' when unset). */
export interface RecurlyProfile {
  firstName: string;
  lastName: string;
  email: string;
  address: { street1: string; street2: string; city: string; region: string; postalCode: string; country: string; phone: string };
}

/** Response metadata the SDK attaches to its errors (lib/recurly/Http.js). */
interface SdkResponse {
  status?: number;
  rateLimitReset?: Date | null;
}

/**
 * How long one Recurly request may take before it is abandoned as `unavailable` and retried.
 * test/deletion/deadline.test.ts builds its timings on this value and fails if it changes.
 */
export const RECURLY_TIMEOUT_MS = 15_000;

export function createRecurlyClient(cfg: RecurlyConfig): RecurlyClient {
  const client = new Client(cfg.apiKey, {
    region: cfg.region ?? 'us',
    httpAdapter: new FetchHttpAdapter({ baseUrl: cfg.baseUrl, timeoutMs: cfg.timeoutMs ?? RECURLY_TIMEOUT_MS, pace: cfg.pace ?? recurlyPace(), site: cfg.site ?? 'sandbox' }),
  });
  // The SDK takes `{ headers }` on every call (BaseClient ALLOWED_OPTIONS) though its types name
  // options only where a call has parameters: the same methods, typed with them.
  const withOptions = client as unknown as {
    updateAccount(id: string, body: object, o: object): Promise<Account>;
    redactAccount(id: string, o: object): Promise<Account>;
    removeAccountNote(id: string, noteId: string, o: object): Promise<unknown>;
    removeABillingInfo(id: string, billingInfoId: string, o: object): Promise<unknown>;
  };
  /** The SDK's per-call options carrying a write's Idempotency-Key (the adapter adds a random one where none is given). */
  const write = (opts: WriteOptions | undefined, request: string): { headers?: Record<string, string> } =>
    opts?.idempotencyScope ? { headers: { 'Idempotency-Key': idempotencyKey(opts.idempotencyScope, request) } } : {};
  const pageSize = cfg.pageSize ?? 200;

  async function call<T>(operation: string, subject: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classify(err, operation, subject);
    }
  }

  return {
    async getAccount(code) {
      try {
        const a = await call('getAccount', code, () => client.getAccount(`code-${code}`));
        const personalFields = personalFieldsOf(a);
        return compact({
          id: a.id ?? '',
          code: a.code ?? code,
          state: a.state ?? 'unknown',
          redacted: personalFields.length === 0,
          personalFields,
          ccEmails: personalFields.includes('cc_emails'),
          customFields: (a.customFields ?? []).filter((f) => f?.name && f.value !== undefined && f.value !== null && f.value !== '').map((f) => f.name!),
          hasBillingInfo: personalFields.includes('billing_info'),
          parentAccountId: a.parentAccountId || undefined,
          billTo: a.billTo || undefined,
          hasLiveSubscription: typeof a.hasLiveSubscription === 'boolean' ? a.hasLiveSubscription : undefined,
        });
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return null;
        throw err;
      }
    },

    async listLiveSubscriptions(code, now) {
      // Recurly's own `state=live` filter counts canceled subscriptions regardless of their
      // period and leaves paused ones out, so list everything and apply the contract here.
      const live: RecurlySubscription[] = [];
      try {
        await call('listLiveSubscriptions', code, async () => {
          const pager = client.listAccountSubscriptions(`code-${code}`, { params: { limit: pageSize } });
          for await (const sub of pager.each()) {
            if (isLive(sub, now)) live.push(summarize(sub));
          }
        });
      } catch (err) {
        // No account, no subscriptions: the caller treats the billing record as gone.
        if (isVendorError(err) && err.type === 'not_found') return [];
        throw err;
      }
      return live;
    },

    async terminateSubscription(id, refund, opts) {
      try {
        await call('terminateSubscription', id, () => client.terminateSubscription(id, { params: { refund, charge: false }, ...write(opts, `terminate ${id} ${refund}`) }));
        return 'terminated';
      } catch (err) {
        if (!isVendorError(err)) throw err;
        if (err.type === 'not_found') return 'already_gone';
        if (err.status === 422) {
          // Recurly refuses to terminate what has already ended; a repeat after a crash is success.
          const sub = await call('terminateSubscription.check', id, () => client.getSubscription(id));
          if (sub.state === 'expired' || sub.state === 'failed') return 'already_expired';
        }
        throw err;
      }
    },

    async cancelSubscription(id, opts) {
      try {
        await call('cancelSubscription', id, () => client.cancelSubscription(id, { body: {}, ...write(opts, `cancel ${id}`) }));
        return 'canceled';
      } catch (err) {
        if (!isVendorError(err)) throw err;
        if (err.type === 'not_found') return 'already_gone';
        if (err.status === 422) {
          // "Only active and future subscriptions can be canceled": one that has ended is done.
          const sub = await call('cancelSubscription.check', id, () => client.getSubscription(id));
          if (sub.state === 'expired' || sub.state === 'failed' || sub.state === 'canceled') return 'already_ended';
        }
        throw err;
      }
    },

    async openCharges(code) {
      const out: OpenCharges = { lineItems: 0, invoices: 0 };
      try {
        await call('openCharges', code, async () => {
          // list_account_line_items, state=pending: charges not on an invoice yet.
          const items = client.listAccountLineItems(`code-${code}`, { params: { limit: pageSize, state: 'pending', type: 'charge' } });
          for await (const li of items.each()) if (isOpenCharge(li)) out.lineItems++;
          // list_account_invoices: every state, judged here (a balance in a collecting state).
          const invoices = client.listAccountInvoices(`code-${code}`, { params: { limit: pageSize } });
          for await (const inv of invoices.each()) if (isOpenInvoice(inv)) out.invoices++;
        });
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return { lineItems: 0, invoices: 0 };
        throw err;
      }
      return out;
    },

    async redactAccount(code, opts) {
      try {
        await call('redactAccount', code, () => withOptions.redactAccount(`code-${code}`, write(opts, `redact ${code}`)));
        return 'accepted';
      } catch (err) {
        if (!isVendorError(err)) throw err;
        if (err.type === 'not_found') return 'already_gone';
        if (err.status === 422) {
          throw new VendorError({ vendor: 'recurly', type: 'precondition', operation: 'redactAccount', subject: code, status: 422, vendorCode: err.vendorCode });
        }
        throw err;
      }
    },

    async clearAccountFields(code, fields, opts) {
      const body = compact({
        ccEmails: fields.ccEmails ? '' : undefined,
        customFields: fields.customFields.length ? fields.customFields.map((name) => ({ name, value: '' })) : undefined,
      });
      try {
        await call('clearAccountFields', code, () => withOptions.updateAccount(`code-${code}`, body, write(opts, `update ${code} ${JSON.stringify(body)}`)));
        return 'cleared';
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return 'already_gone';
        throw err;
      }
    },

    async listAccountNotes(code) {
      const ids: string[] = [];
      try {
        // list_account_notes takes no `limit` (api.yaml): Recurly's default page, then `next`.
        await call('listAccountNotes', code, async () => {
          for await (const n of client.listAccountNotes(`code-${code}`).each()) if (n.id) ids.push(n.id);
        });
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return [];
        throw err;
      }
      return ids;
    },

    async removeAccountNote(code, noteId, opts) {
      try {
        await call('removeAccountNote', code, () => withOptions.removeAccountNote(`code-${code}`, noteId, write(opts, `remove note ${code} ${noteId}`)));
        return 'removed';
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return 'already_gone';
        throw err;
      }
    },

    async listBillingInfos(code) {
      const out: RecurlyBillingInfo[] = [];
      try {
        await call('listBillingInfos', code, async () => {
          for await (const b of client.listBillingInfos(`code-${code}`).each()) if (b.id) out.push({ id: b.id, primary: b.primaryPaymentMethod === true });
        });
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return [];
        throw err;
      }
      return out;
    },

    async removeBillingInfo(code, billingInfoId, opts) {
      try {
        await call('removeBillingInfo', code, () => withOptions.removeABillingInfo(`code-${code}`, billingInfoId, write(opts, `remove billing info ${code} ${billingInfoId}`)));
        return 'removed';
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return 'already_gone';
        throw err;
      }
    },

    async listChildAccounts(code) {
      const out: RecurlyChildAccount[] = [];
      try {
        await call('listChildAccounts', code, async () => {
          for await (const c of client.listChildAccounts(`code-${code}`, { params: { limit: pageSize } }).each()) {
            out.push({ code: c.code ?? '', state: c.state ?? 'unknown', redacted: personalFieldsOf(c).length === 0 });
          }
        });
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return [];
        throw err;
      }
      return out;
    },

    async exportAccount(code) {
      try {
        return await call('exportAccount', code, async () => {
          const account = plainJson(await client.getAccount(`code-${code}`));
          const subscriptions: Record<string, unknown>[] = [];
          for await (const sub of client.listAccountSubscriptions(`code-${code}`, { params: { limit: pageSize } }).each()) subscriptions.push(plainJson(sub));
          const invoices: Record<string, unknown>[] = [];
          for await (const inv of client.listAccountInvoices(`code-${code}`, { params: { limit: pageSize } }).each()) invoices.push(plainJson(inv));
          return { account, subscriptions, invoices };
        });
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return null;
        throw err;
      }
    },

    async getProfile(code) {
      try {
        const a = await call('getProfile', code, () => client.getAccount(`code-${code}`));
        const ad = a.address ?? {};
        return {
          firstName: a.firstName ?? '',
          lastName: a.lastName ?? '',
          email: a.email ?? '',
          address: {
            street1: ad.street1 ?? '',
            street2: ad.street2 ?? '',
            city: ad.city ?? '',
            region: ad.region ?? '',
            postalCode: ad.postalCode ?? '',
            country: ad.country ?? '',
            phone: ad.phone ?? '',
          },
        };
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return null;
        throw err;
      }
    },

    async correctAccount(code, changes, opts) {
      const body = compact({ firstName: changes.firstName, lastName: changes.lastName, email: changes.email, address: changes.address ? { ...changes.address } : undefined });
      await call('correctAccount', code, () => withOptions.updateAccount(`code-${code}`, body, write(opts, `correct ${code} ${JSON.stringify(body)}`)));
    },

    async createCharge(input) {
      const li = await call('createCharge', input.accountCode, () =>
        client.createLineItem(`code-${input.accountCode}`, compact({ currency: input.currency ?? 'USD', unitAmount: input.amount, type: 'charge', description: input.description })),
      );
      return { id: li.id ?? '' };
    },

    async removeLineItem(id) {
      await call('removeLineItem', id, () => client.removeLineItem(id));
    },

    async createAccount(input) {
      const a = await call('createAccount', input.code, () =>
        client.createAccount(
          // The SDK sends `undefined` as JSON null, which api.yaml does not allow: omit instead.
          compact({
            code: input.code,
            email: input.email,
            firstName: input.firstName,
            lastName: input.lastName,
            company: input.company,
            ccEmails: input.ccEmails,
            customFields: input.customFields,
            parentAccountCode: input.parentAccountCode,
            billTo: input.billTo,
            shippingAddresses: input.shippingAddresses?.map((a) => compact(a)),
            address: input.address ? compact(input.address) : undefined,
          }),
        ),
      );
      return { id: a.id ?? '', code: a.code ?? input.code };
    },

    async createSubscription(input) {
      const s = await call('createSubscription', input.accountCode, () =>
        client.createSubscription({ planCode: input.planCode, currency: input.currency ?? 'USD', account: { code: input.accountCode } }),
      );
      return summarize(s);
    },
  };
}

function isLive(sub: Subscription, now: Date): boolean {
  if (sub.state === 'active' || sub.state === 'future' || sub.state === 'paused') return true;
  if (sub.state !== 'canceled') return false;
  const ends = toDate(sub.currentPeriodEndsAt);
  // A canceled subscription without a period end is treated as paid through: the safe side.
  return ends === undefined || ends.getTime() > now.getTime();
}

function summarize(sub: Subscription): RecurlySubscription {
  const ends = toDate(sub.currentPeriodEndsAt);
  return compact({
    id: sub.id ?? '',
    uuid: sub.uuid ?? undefined,
    state: sub.state ?? 'unknown',
    planCode: sub.plan?.code ?? undefined,
    currentPeriodEndsAt: ends?.toISOString(),
  });
}

/** The SDK casts date-time fields to Date; be tolerant of strings as well. */
function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  if (typeof v === 'string') {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

/**
 * Which personal fields the account still holds, judged over what `redact_account` documents
 * it clears ("all personally identifiable information ... billing information, shipping
 * addresses, ... names, email addresses"): the account's own identity fields, `cc_emails`,
 * its address, billing info, shipping addresses and custom fields (free text a merchant may
 * fill with anything). Names only, never values.
 */
function personalFieldsOf(a: Account): string[] {
  const present = (v: unknown) => v !== undefined && v !== null && v !== '';
  const fields: string[] = [];
  const scalar: [string, unknown][] = [
    ['email', a.email],
    ['username', a.username],
    ['first_name', a.firstName],
    ['last_name', a.lastName],
    ['company', a.company],
    ['cc_emails', a.ccEmails],
    ['vat_number', a.vatNumber],
  ];
  for (const [name, v] of scalar) if (present(v)) fields.push(name);
  if (a.address && Object.values(a.address).some(present)) fields.push('address');
  if (present(a.billingInfo)) fields.push('billing_info');
  if ((a.shippingAddresses ?? []).length > 0) fields.push('shipping_addresses');
  if ((a.customFields ?? []).some((f) => present(f?.value))) fields.push('custom_fields');
  return fields;
}

/** An uninvoiced charge (a pending line item that would bill the person). */
function isOpenCharge(li: LineItem): boolean {
  return li.state === 'pending' && li.type !== 'credit';
}

/** An invoice Recurly is still collecting: it refuses redaction while one is partially paid or unpaid. */
function isOpenInvoice(inv: Invoice): boolean {
  const collecting = inv.state === 'pending' || inv.state === 'processing' || inv.state === 'past_due' || inv.state === 'open';
  return collecting && (inv.balance === undefined || inv.balance === null || inv.balance > 0);
}

/** Fields of Recurly's answers that are payment plumbing, not the person's data: never exported. */
const NOT_EXPORTED = new Set(['gatewayToken', 'gatewayCode', 'gatewayAttributes', 'billingAgreementId', 'firstSix', 'fraud', 'threeDSecureActionResultTokenId']);

/** An SDK resource as plain JSON, payment plumbing left out (exportAccount). */
function plainJson(resource: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(resource, (key, value: unknown) => (NOT_EXPORTED.has(key) ? undefined : value))) as Record<string, unknown>;
}

/**
 * A write's `Idempotency-Key`: the same for the same request of the same step, 64 hex characters
 * (api.yaml: 255 at most). Hashed, so no account code or id is readable in it.
 */
export function idempotencyKey(scope: string, request: string): string {
  return createHash('sha256').update(`${scope}\n${request}`).digest('hex');
}

function compact<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

function classify(err: unknown, operation: string, subject: string): VendorError {
  if (isVendorError(err)) return err;
  if (err instanceof RecurlyTransportError) {
    return new VendorError({ vendor: 'recurly', type: 'unavailable', operation, subject, vendorCode: err.reason });
  }
  const sdk = err as { getResponse?: () => SdkResponse | undefined; type?: unknown };
  const response = typeof sdk?.getResponse === 'function' ? sdk.getResponse() : undefined;
  if (!response) {
    // The SDK refuses some calls before sending (e.g. an empty path parameter): our input.
    const type: VendorErrorType = sdk?.getResponse ? 'invalid_input' : 'unavailable';
    return new VendorError({ vendor: 'recurly', type, operation, subject });
  }
  const status = response.status;
  const vendorCode = typeof sdk.type === 'string' && /^[a-z_-]+$/.test(sdk.type) ? sdk.type : undefined;
  // A 409 `simultaneous_request` is not a rejection: "a request with the same key is already in
  // flight" (api.yaml "Idempotent Requests"), i.e. this write's earlier send (one whose answer
  // Lethe gave up on) is still being carried out, and may well succeed. The adapter resends it a
  // few times after its Retry-After; past those it is retried like an outage, and the resend
  // after the first finished is answered with the first's response (Idempotency-Prior), never
  // applied twice. Taken for invalid input, it would stop the store as failed though the write
  // went through.
  const type = status === 409 && vendorCode === 'simultaneous_request' ? 'unavailable' : typeForStatus(status);
  // Recurly documents X-RateLimit-Reset for throttling; the SDK keeps it (and not Retry-After).
  const reset = response.rateLimitReset;
  const retryAfterMs = type === 'rate_limited' && reset instanceof Date ? Math.max(0, reset.getTime() - Date.now()) : undefined;
  return new VendorError({ vendor: 'recurly', type, operation, subject, status, retryAfterMs, vendorCode });
}
