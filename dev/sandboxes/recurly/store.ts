/**
 * The Recurly sandbox's in-memory site: accounts and subscriptions, plus the rules Lethe
 * depends on (what counts as a live subscription, when redaction is refused, what it clears).
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

/** The account fields that identify a person; redaction removes every one of them. */
export const ACCOUNT_PII_FIELDS = [
  'email',
  'username',
  'first_name',
  'last_name',
  'company',
  'cc_emails',
  'vat_number',
  'address',
  'billing_info',
] as const;

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
}

export interface StoredAccount extends AccountPii {
  id: string;
  code: string;
  state: 'active' | 'inactive';
  hosted_login_token: string;
  preferred_locale?: string;
  preferred_time_zone?: string;
  tax_exempt: boolean;
  created_at: Date;
  updated_at: Date;
  deleted_at?: Date;
  redacted_at?: Date;
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

  reset(): void {
    this.accounts.clear();
    this.subscriptions.clear();
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

  addAccount(fields: Omit<StoredAccount, 'id' | 'state' | 'hosted_login_token' | 'created_at' | 'updated_at' | 'seq'>): StoredAccount {
    const now = new Date();
    const account: StoredAccount = {
      ...fields,
      id: recurlyId(),
      state: 'active',
      hosted_login_token: randomBytes(16).toString('hex'),
      created_at: now,
      updated_at: now,
      seq: this.nextSeq(),
    };
    this.accounts.set(account.id, account);
    return account;
  }

  addSubscription(
    fields: Omit<StoredSubscription, 'id' | 'uuid' | 'created_at' | 'updated_at' | 'seq'>,
  ): StoredSubscription {
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

  redact(account: StoredAccount, now: Date): void {
    for (const field of ACCOUNT_PII_FIELDS) delete account[field];
    account.redacted_at = account.redacted_at ?? now;
    account.updated_at = now;
  }
}
