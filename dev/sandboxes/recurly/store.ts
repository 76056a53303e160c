/**
 * The Recurly sandbox's in-memory site: accounts, subscriptions, line items and invoices, plus
 * the rules Lethe depends on, as api.yaml (node_modules/recurly/openapi/api.yaml) documents
 * them: when redaction is refused (`redact_account` 422: active subscriptions, uninvoiced
 * charges, partially paid invoices), what it clears (`redact_account`: "billing information,
 * shipping addresses, ... names, email addresses"), and that it happens asynchronously.
 */
import { randomBytes } from 'node:crypto';

export const SUBSCRIPTION_STATES = ['active', 'canceled', 'expired', 'failed', 'future', 'paused'] as const;
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

export interface Address {
  phone?: string;
  street1?: string;
  street2?: string;
  city?: string;
  region?: string;
  postal_code?: string;
  country?: string;
}

export interface StoredBillingInfo {
  id: string;
  first_name?: string;
  last_name?: string;
  company?: string;
  address?: Address;
  vat_number?: string;
  card_type?: string;
  last_four?: string;
  exp_month?: number;
  exp_year?: number;
  created_at: Date;
  updated_at: Date;
}

/**
 * The account fields `redact_account` documents it clears (api.yaml: "billing information,
 * shipping addresses, and transaction details such as names, email addresses, and payment card
 * data"). What the scope does not name stays by default (`RecurlyBehaviour.redactionDocumentedScopeOnly`):
 * `cc_emails`, custom fields, account notes and a wallet's other billing methods.
 */
export const REDACTION_CLEARS = ['email', 'username', 'first_name', 'last_name', 'company', 'vat_number', 'address', 'billing_info', 'shipping_addresses'] as const;
/** Personal data outside the documented scope, on the account itself. */
export const REDACTION_KEEPS = ['cc_emails', 'custom_fields'] as const;
/** Every personal field of the account (for the admin view: names, never values). */
export const ACCOUNT_PII_FIELDS = [...REDACTION_CLEARS, ...REDACTION_KEEPS] as const;

/** api.yaml `AccountNote` (notes are free text a merchant's staff write about the customer). */
export interface StoredNote {
  id: string;
  account_id: string;
  message: string;
  created_at: Date;
  seq: number;
}

/** api.yaml `CustomField`. */
export interface CustomField {
  name: string;
  value: string;
}

/** api.yaml `ShippingAddressCreate`'s fields (required: first_name, last_name, street1, city, postal_code, country), as taken and as kept. */
export interface ShippingAddressFields {
  nickname?: string;
  first_name: string;
  last_name: string;
  company?: string;
  email?: string;
  phone?: string;
  street1: string;
  street2?: string;
  city: string;
  region?: string;
  postal_code: string;
  country: string;
}

/** api.yaml `ShippingAddress` (the fields the sandbox keeps). */
export interface StoredShippingAddress extends ShippingAddressFields {
  id: string;
  created_at: Date;
  updated_at: Date;
}

export interface AccountPii {
  email?: string;
  username?: string;
  first_name?: string;
  last_name?: string;
  company?: string;
  cc_emails?: string;
  vat_number?: string;
  address?: Address;
  billing_info?: StoredBillingInfo;
  custom_fields?: CustomField[];
  shipping_addresses?: StoredShippingAddress[];
}

/** api.yaml `BillToEnum`: a child account pays for itself or relies on its parent. */
export type BillTo = 'self' | 'parent';

export interface StoredAccount extends AccountPii {
  id: string;
  code: string;
  state: 'active' | 'inactive';
  hosted_login_token: string;
  preferred_locale?: string;
  preferred_time_zone?: string;
  tax_exempt: boolean;
  /**
   * Account hierarchy (api.yaml `AccountCreate.parent_account_id`, `bill_to`): one level only,
   * "You cannot assign a parent account that itself has a parent account".
   */
  parent_account_id?: string;
  bill_to: BillTo;
  /**
   * A wallet's billing methods besides the primary one (`billing_info`, which the Account shows):
   * api.yaml `list_billing_infos`, `remove_a_billing_info`.
   */
  wallet?: StoredBillingInfo[];
  created_at: Date;
  updated_at: Date;
  deleted_at?: Date;
  redacted_at?: Date;
  /** A redaction accepted and not yet processed (`redact_account`: "processed asynchronously"). */
  redaction_due_at?: Date;
  /** How many times `PUT /accounts/{id}/redact` was accepted for this account. */
  redact_requests: number;
  seq: number;
}

export interface StoredSubscription {
  id: string;
  uuid: string;
  account_id: string;
  plan_code: string;
  state: SubscriptionState;
  currency: string;
  unit_amount: number;
  quantity: number;
  auto_renew: boolean;
  collection_method: 'automatic' | 'manual';
  current_period_started_at: Date;
  current_period_ends_at: Date;
  created_at: Date;
  updated_at: Date;
  activated_at?: Date;
  canceled_at?: Date;
  expires_at?: Date;
  paused_at?: Date;
  /**
   * Usage of a usage-based add-on logged in the current cycle and not billed yet: what
   * `terminate_subscription`'s `charge` parameter is about (default true: billed on a final
   * invoice; false: zeroed by a negative usage record).
   */
  unbilled_usage?: number;
  seq: number;
}

/** api.yaml `LineItem`: `pending` is an uninvoiced charge or credit. */
export interface StoredLineItem {
  id: string;
  uuid: string;
  account_id: string;
  type: 'charge' | 'credit';
  state: 'pending' | 'invoiced';
  currency: string;
  unit_amount: number;
  quantity: number;
  description?: string;
  subscription_id?: string;
  invoice_id?: string;
  created_at: Date;
  updated_at: Date;
  seq: number;
}

/** api.yaml `InvoiceStateEnum`. */
export const INVOICE_STATES = ['open', 'pending', 'processing', 'past_due', 'paid', 'closed', 'failed', 'voided'] as const;
export type InvoiceState = (typeof INVOICE_STATES)[number];
/** Invoices still collecting: with a balance in these states, redaction is refused. */
export const OPEN_INVOICE_STATES: readonly InvoiceState[] = ['open', 'pending', 'processing', 'past_due'];

export interface StoredInvoice {
  id: string;
  uuid: string;
  account_id: string;
  number: string;
  state: InvoiceState;
  currency: string;
  total: number;
  paid: number;
  subscription_ids: string[];
  created_at: Date;
  updated_at: Date;
  seq: number;
}

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** Recurly ids are 13 lower-case alphanumerics. */
export function recurlyId(): string {
  const bytes = randomBytes(13);
  let id = '';
  for (const b of bytes) id += BASE36[b % 36];
  return id;
}

export function addMonths(d: Date, months: number): Date {
  const r = new Date(d.getTime());
  r.setUTCMonth(r.getUTCMonth() + months);
  return r;
}

/**
 * Lethe's contract: active, future and paused are live; canceled is live while it is paid
 * through. The sandbox never expires canceled subscriptions on its own (Recurly does at period
 * end), so a test can hold one "canceled in the past" and prove it is not treated as live.
 */
export function isLive(sub: StoredSubscription, now: Date): boolean {
  if (sub.state === 'active' || sub.state === 'future' || sub.state === 'paused') return true;
  return sub.state === 'canceled' && sub.current_period_ends_at.getTime() > now.getTime();
}

export class RecurlyStore {
  private seq = 0;
  readonly accounts = new Map<string, StoredAccount>();
  readonly subscriptions = new Map<string, StoredSubscription>();
  readonly lineItems = new Map<string, StoredLineItem>();
  readonly invoices = new Map<string, StoredInvoice>();
  readonly notes = new Map<string, StoredNote>();
  private invoiceNumber = 1000;

  reset(): void {
    this.notes.clear();
    this.accounts.clear();
    this.subscriptions.clear();
    this.lineItems.clear();
    this.invoices.clear();
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  /** `account_id` is either the account's id or `code-<code>`, as in Recurly's paths. */
  findAccount(accountId: string): StoredAccount | undefined {
    if (accountId.startsWith('code-')) return this.findAccountByCode(accountId.slice('code-'.length));
    return this.accounts.get(accountId);
  }

  findAccountByCode(code: string): StoredAccount | undefined {
    for (const a of this.accounts.values()) if (a.code === code) return a;
    return undefined;
  }

  /** `subscription_id` is either the id or `uuid-<uuid>`. */
  findSubscription(subscriptionId: string): StoredSubscription | undefined {
    if (subscriptionId.startsWith('uuid-')) {
      const uuid = subscriptionId.slice('uuid-'.length);
      for (const s of this.subscriptions.values()) if (s.uuid === uuid) return s;
      return undefined;
    }
    return this.subscriptions.get(subscriptionId);
  }

  subscriptionsOf(accountId: string): StoredSubscription[] {
    return [...this.subscriptions.values()].filter((s) => s.account_id === accountId);
  }

  lineItemsOf(accountId: string): StoredLineItem[] {
    return [...this.lineItems.values()].filter((l) => l.account_id === accountId);
  }

  notesOf(accountId: string): StoredNote[] {
    return [...this.notes.values()].filter((n) => n.account_id === accountId);
  }

  addNote(accountId: string, message: string): StoredNote {
    const note: StoredNote = { id: recurlyId(), account_id: accountId, message, created_at: new Date(), seq: this.nextSeq() };
    this.notes.set(note.id, note);
    return note;
  }

  /** The account's children (`list_child_accounts`). */
  childrenOf(accountId: string): StoredAccount[] {
    return [...this.accounts.values()].filter((a) => a.parent_account_id === accountId);
  }

  /** Children still holding a billing relationship with the parent: active and not redacted. */
  openChildrenOf(accountId: string): StoredAccount[] {
    return this.childrenOf(accountId).filter((c) => c.state === 'active' && !c.redacted_at);
  }

  /** The primary billing method first, then the wallet's others (`list_billing_infos`). */
  billingInfosOf(account: StoredAccount): StoredBillingInfo[] {
    return [...(account.billing_info ? [account.billing_info] : []), ...(account.wallet ?? [])];
  }

  invoicesOf(accountId: string): StoredInvoice[] {
    return [...this.invoices.values()].filter((i) => i.account_id === accountId);
  }

  /** What keeps Recurly from redacting besides subscriptions (`redact_account` 422). */
  openCharges(accountId: string): { lineItems: number; invoices: number } {
    return {
      lineItems: this.lineItemsOf(accountId).filter((l) => l.state === 'pending' && l.type === 'charge').length,
      invoices: this.invoicesOf(accountId).filter((i) => OPEN_INVOICE_STATES.includes(i.state) && i.total - i.paid > 0).length,
    };
  }

  addLineItem(fields: Omit<StoredLineItem, 'id' | 'uuid' | 'created_at' | 'updated_at' | 'seq'>): StoredLineItem {
    const now = new Date();
    const item: StoredLineItem = { ...fields, id: recurlyId(), uuid: randomBytes(16).toString('hex'), created_at: now, updated_at: now, seq: this.nextSeq() };
    this.lineItems.set(item.id, item);
    return item;
  }

  addInvoice(fields: Omit<StoredInvoice, 'id' | 'uuid' | 'number' | 'created_at' | 'updated_at' | 'seq'>): StoredInvoice {
    const now = new Date();
    this.invoiceNumber += 1;
    const inv: StoredInvoice = {
      ...fields,
      id: recurlyId(),
      uuid: randomBytes(16).toString('hex'),
      number: String(this.invoiceNumber),
      created_at: now,
      updated_at: now,
      seq: this.nextSeq(),
    };
    this.invoices.set(inv.id, inv);
    return inv;
  }

  /**
   * Carries out the redactions whose time has come (Recurly's asynchronous processing).
   * `documentedScopeOnly`: clear what `redact_account` documents and nothing more.
   */
  settle(now: Date, documentedScopeOnly = true): void {
    for (const a of this.accounts.values()) {
      if (a.redaction_due_at && a.redaction_due_at.getTime() <= now.getTime()) this.redact(a, a.redaction_due_at, documentedScopeOnly);
    }
  }

  addAccount(fields: Omit<StoredAccount, 'id' | 'state' | 'hosted_login_token' | 'created_at' | 'updated_at' | 'seq' | 'redact_requests' | 'bill_to'> & { bill_to?: BillTo }): StoredAccount {
    const now = new Date();
    const account: StoredAccount = {
      ...fields,
      bill_to: fields.bill_to ?? 'self',
      id: recurlyId(),
      state: 'active',
      hosted_login_token: randomBytes(16).toString('hex'),
      created_at: now,
      updated_at: now,
      redact_requests: 0,
      seq: this.nextSeq(),
    };
    this.accounts.set(account.id, account);
    return account;
  }

  addSubscription(fields: Omit<StoredSubscription, 'id' | 'uuid' | 'created_at' | 'updated_at' | 'seq'>): StoredSubscription {
    const now = new Date();
    const sub: StoredSubscription = {
      ...fields,
      id: recurlyId(),
      uuid: randomBytes(16).toString('hex'),
      created_at: now,
      updated_at: now,
      seq: this.nextSeq(),
    };
    this.subscriptions.set(sub.id, sub);
    return sub;
  }

  redact(account: StoredAccount, now: Date, documentedScopeOnly = true): void {
    for (const field of REDACTION_CLEARS) delete account[field];
    if (!documentedScopeOnly) {
      for (const field of REDACTION_KEEPS) delete account[field];
      delete account.wallet;
      for (const n of this.notesOf(account.id)) this.notes.delete(n.id);
    }
    account.redacted_at = account.redacted_at ?? now;
    account.redaction_due_at = undefined;
    account.updated_at = now;
  }
}
