/**
 * Request-body validation for the Recurly sandbox, following the constraints in api.yaml
 * (AccountCreate, SubscriptionCreate). Failures come back as Recurly's validation params; the
 * messages name the field but never repeat the value, which may be personal data.
 */
import { isPlainObject } from '../common/body';
import { INVOICE_STATES, SUBSCRIPTION_STATES, type Address, type CustomField, type InvoiceState, type ShippingAddressFields, type SubscriptionState } from './store';

export interface ParamError {
  param: string;
  message: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: ParamError[] };

export interface AccountInput {
  code: string;
  email?: string;
  username?: string;
  first_name?: string;
  last_name?: string;
  company?: string;
  cc_emails?: string;
  vat_number?: string;
  preferred_locale?: string;
  preferred_time_zone?: string;
  tax_exempt?: boolean;
  address?: Address;
  custom_fields?: CustomField[];
  /** Account hierarchy (api.yaml `AccountCreate`): the parent by code or id, and who pays. */
  parent_account_code?: string;
  parent_account_id?: string;
  bill_to?: 'self' | 'parent';
  shipping_addresses?: ShippingAddressInput[];
  billing_info?: {
    first_name?: string;
    last_name?: string;
    company?: string;
    address?: Address;
    vat_number?: string;
    number?: string;
    month?: string;
    year?: string;
  };
}

/** api.yaml `ShippingAddressCreate`: the fields the store keeps (store.ts). */
export type ShippingAddressInput = ShippingAddressFields;

/** api.yaml `LineItemCreate` (required: currency, unit_amount, type). */
export interface LineItemInput {
  currency: string;
  unit_amount: number;
  type: 'charge' | 'credit';
  quantity: number;
  description?: string;
}

export interface AdminInvoiceInput {
  accountCode: string;
  state: InvoiceState;
  total: number;
  paid: number;
  currency: string;
}

export interface SubscriptionInput {
  plan_code: string;
  currency: string;
  account: AccountInput;
  unit_amount?: number;
  quantity?: number;
  auto_renew?: boolean;
  collection_method?: 'automatic' | 'manual';
  starts_at?: Date;
}

export interface AdminSubscriptionInput {
  accountCode: string;
  planCode: string;
  state: SubscriptionState;
  currency: string;
  currentPeriodStartedAt?: Date;
  currentPeriodEndsAt?: Date;
  unbilledUsage?: number;
}

const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** PlanCode in api.yaml. */
export const PLAN_CODE_RE = /^[a-z0-9_+-]+$/;

class Collector {
  readonly errors: ParamError[] = [];
  constructor(private readonly prefix: string) {}

  fail(param: string, message: string): undefined {
    this.errors.push({ param: this.prefix + param, message });
    return undefined;
  }

  str(obj: Record<string, unknown>, key: string, maxLength: number): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') return this.fail(key, 'must be a string');
    if (v.length > maxLength) return this.fail(key, `is too long (maximum is ${maxLength} characters)`);
    return v;
  }

  bool(obj: Record<string, unknown>, key: string): boolean | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') return this.fail(key, 'must be a boolean');
    return v;
  }

  address(obj: Record<string, unknown>, key: string): Address | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (!isPlainObject(v)) return this.fail(key, 'must be an object');
    const sub = new Collector(`${this.prefix}${key}.`);
    const address: Address = {
      phone: sub.str(v, 'phone', 30),
      street1: sub.str(v, 'street1', 50),
      street2: sub.str(v, 'street2', 50),
      city: sub.str(v, 'city', 255),
      region: sub.str(v, 'region', 255),
      postal_code: sub.str(v, 'postal_code', 20),
      country: sub.str(v, 'country', 50),
    };
    this.errors.push(...sub.errors);
    return dropUndefined(address);
  }
}

function dropUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

export function parseAccountCreate(body: unknown, prefix = ''): Parsed<AccountInput> {
  const c = new Collector(prefix);
  if (!isPlainObject(body)) {
    c.fail('account', 'must be an object');
    return { ok: false, errors: c.errors };
  }
  const code = c.str(body, 'code', 50);
  if (code === undefined || code.trim() === '') c.fail('code', "can't be blank");
  const email = c.str(body, 'email', 255);
  if (email !== undefined && !EMAIL_RE.test(email)) c.fail('email', 'is invalid');
  let billing: AccountInput['billing_info'];
  if (body.billing_info !== undefined && body.billing_info !== null) {
    if (!isPlainObject(body.billing_info)) c.fail('billing_info', 'must be an object');
    else {
      const b = new Collector(`${prefix}billing_info.`);
      const bi = body.billing_info;
      billing = dropUndefined({
        first_name: b.str(bi, 'first_name', 50),
        last_name: b.str(bi, 'last_name', 50),
        company: b.str(bi, 'company', 100),
        address: b.address(bi, 'address'),
        vat_number: b.str(bi, 'vat_number', 20),
        number: b.str(bi, 'number', 19),
        month: b.str(bi, 'month', 2),
        year: b.str(bi, 'year', 4),
      });
      c.errors.push(...b.errors);
    }
  }
  const value: AccountInput = dropUndefined({
    code: code ?? '',
    email,
    username: c.str(body, 'username', 255),
    first_name: c.str(body, 'first_name', 255),
    last_name: c.str(body, 'last_name', 255),
    company: c.str(body, 'company', 100),
    cc_emails: c.str(body, 'cc_emails', 255),
    vat_number: c.str(body, 'vat_number', 20),
    preferred_locale: c.str(body, 'preferred_locale', 5),
    preferred_time_zone: c.str(body, 'preferred_time_zone', 100),
    tax_exempt: c.bool(body, 'tax_exempt'),
    address: c.address(body, 'address'),
    custom_fields: customFields(c, body.custom_fields),
    parent_account_code: c.str(body, 'parent_account_code', 50),
    parent_account_id: c.str(body, 'parent_account_id', 13),
    bill_to: billTo(c, body.bill_to),
    shipping_addresses: shippingAddresses(c, body.shipping_addresses),
    billing_info: billing,
  });
  return c.errors.length ? { ok: false, errors: c.errors } : { ok: true, value };
}

/** api.yaml `BillToEnum`. */
function billTo(c: Collector, v: unknown): 'self' | 'parent' | undefined {
  if (v === undefined || v === null) return undefined;
  if (v !== 'self' && v !== 'parent') return c.fail('bill_to', 'is not included in the list');
  return v;
}

/**
 * api.yaml `AccountUpdate`, the fields the sandbox keeps. Custom fields keep their removals:
 * "To remove a field send the name with a null or empty value" (`CustomFields`), and an empty
 * `cc_emails` clears it.
 */
export interface AccountUpdateInput {
  email?: string;
  first_name?: string;
  last_name?: string;
  company?: string;
  cc_emails?: string;
  custom_fields?: { name: string; value: string | null }[];
  bill_to?: 'self' | 'parent';
  parent_account_code?: string;
  /**
   * api.yaml `AccountUpdate.address` (`Address`): the sandbox changes only the fields sent, an
   * empty string clearing one. The document does not say whether an update replaces the whole
   * address or merges it; Lethe's corrections send the whole address (docs/correction.md), so
   * either reading gives the same account.
   */
  address?: Address;
}

export function parseAccountUpdate(body: unknown): Parsed<AccountUpdateInput> {
  const c = new Collector('');
  if (!isPlainObject(body)) {
    c.fail('account', 'must be an object');
    return { ok: false, errors: c.errors };
  }
  const email = c.str(body, 'email', 255);
  if (email !== undefined && email !== '' && !EMAIL_RE.test(email)) c.fail('email', 'is invalid');
  let custom: AccountUpdateInput['custom_fields'];
  if (body.custom_fields !== undefined && body.custom_fields !== null) {
    if (!Array.isArray(body.custom_fields)) c.fail('custom_fields', 'must be an array');
    else {
      custom = [];
      body.custom_fields.forEach((f, i) => {
        if (!isPlainObject(f) || typeof f.name !== 'string' || !/^[a-z0-9_-]{1,50}$/i.test(f.name)) return void c.fail(`custom_fields.${i}.name`, 'is invalid');
        if (f.value !== null && f.value !== undefined && (typeof f.value !== 'string' || f.value.length > 255)) return void c.fail(`custom_fields.${i}.value`, 'is invalid');
        custom!.push({ name: f.name, value: typeof f.value === 'string' && f.value !== '' ? f.value : null });
      });
    }
  }
  const value: AccountUpdateInput = dropUndefined({
    email,
    first_name: c.str(body, 'first_name', 255),
    last_name: c.str(body, 'last_name', 255),
    company: c.str(body, 'company', 100),
    cc_emails: c.str(body, 'cc_emails', 255),
    custom_fields: custom,
    bill_to: billTo(c, body.bill_to),
    parent_account_code: c.str(body, 'parent_account_code', 50),
    address: c.address(body, 'address'),
  });
  return c.errors.length ? { ok: false, errors: c.errors } : { ok: true, value };
}

/** api.yaml `AccountNoteCreate` (required: message). */
export function parseNoteCreate(body: unknown): Parsed<{ message: string }> {
  const c = new Collector('');
  if (!isPlainObject(body)) {
    c.fail('note', 'must be an object');
    return { ok: false, errors: c.errors };
  }
  const message = c.str(body, 'message', 2048);
  if (message === undefined || message.trim() === '') c.fail('message', "can't be blank");
  return c.errors.length ? { ok: false, errors: c.errors } : { ok: true, value: { message: message! } };
}

/** api.yaml `CustomFields`: name matching /^[a-z0-9_-]+$/i (≤ 50), value ≤ 255. */
function customFields(c: Collector, v: unknown): CustomField[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return c.fail('custom_fields', 'must be an array');
  const out: CustomField[] = [];
  v.forEach((f, i) => {
    if (!isPlainObject(f) || typeof f.name !== 'string' || !/^[a-z0-9_-]{1,50}$/i.test(f.name)) return void c.fail(`custom_fields.${i}.name`, 'is invalid');
    if (f.value !== null && f.value !== undefined && (typeof f.value !== 'string' || f.value.length > 255)) return void c.fail(`custom_fields.${i}.value`, 'is invalid');
    // "To remove a field send the name with a null or empty value."
    if (typeof f.value === 'string' && f.value !== '') out.push({ name: f.name, value: f.value });
  });
  return out;
}

function shippingAddresses(c: Collector, v: unknown): ShippingAddressInput[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return c.fail('shipping_addresses', 'must be an array');
  const out: ShippingAddressInput[] = [];
  v.forEach((a, i) => {
    if (!isPlainObject(a)) return void c.fail(`shipping_addresses.${i}`, 'must be an object');
    const s = new Collector(`shipping_addresses.${i}.`);
    const req = (key: string, max: number) => {
      const val = s.str(a, key, max);
      if (val === undefined || val === '') s.fail(key, "can't be blank");
      return val ?? '';
    };
    const addr: ShippingAddressInput = dropUndefined({
      nickname: s.str(a, 'nickname', 255),
      first_name: req('first_name', 255),
      last_name: req('last_name', 255),
      company: s.str(a, 'company', 255),
      email: s.str(a, 'email', 255),
      phone: s.str(a, 'phone', 30),
      street1: req('street1', 255),
      street2: s.str(a, 'street2', 255),
      city: req('city', 255),
      region: s.str(a, 'region', 255),
      postal_code: req('postal_code', 20),
      country: req('country', 50),
    });
    c.errors.push(...s.errors);
    out.push(addr);
  });
  return out;
}

export function parseLineItemCreate(body: unknown): Parsed<LineItemInput> {
  const c = new Collector('');
  if (!isPlainObject(body)) {
    c.fail('line_item', 'must be an object');
    return { ok: false, errors: c.errors };
  }
  const currency = c.str(body, 'currency', 3);
  if (currency === undefined) c.fail('currency', "can't be blank");
  else if (!/^[A-Za-z]{3}$/.test(currency)) c.fail('currency', 'is invalid');
  const unitAmount = body.unit_amount;
  if (unitAmount === undefined || unitAmount === null) c.fail('unit_amount', "can't be blank");
  else if (typeof unitAmount !== 'number' || unitAmount < 0 || unitAmount > 99_999_999) c.fail('unit_amount', 'must be a number between 0 and 99999999');
  const type = body.type;
  if (type === undefined || type === null) c.fail('type', "can't be blank");
  else if (type !== 'charge' && type !== 'credit') c.fail('type', 'is not included in the list');
  const quantity = body.quantity ?? 1;
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1) c.fail('quantity', 'must be a positive integer');
  const description = c.str(body, 'description', 255);
  if (c.errors.length || !currency) return { ok: false, errors: c.errors };
  return {
    ok: true,
    value: dropUndefined({ currency: currency.toUpperCase(), unit_amount: unitAmount as number, type: type as 'charge' | 'credit', quantity: quantity as number, description }),
  };
}

/** The sandbox-only way to hold an invoice in any state (real ones come from billing). */
export function parseAdminInvoice(body: unknown): Parsed<AdminInvoiceInput> {
  const c = new Collector('');
  if (!isPlainObject(body)) {
    c.fail('body', 'must be an object');
    return { ok: false, errors: c.errors };
  }
  const accountCode = c.str(body, 'accountCode', 50);
  if (!accountCode) c.fail('accountCode', "can't be blank");
  const state = body.state ?? 'past_due';
  if (typeof state !== 'string' || !(INVOICE_STATES as readonly string[]).includes(state)) c.fail('state', `must be one of ${INVOICE_STATES.join(', ')}`);
  const total = body.total ?? 10;
  const paid = body.paid ?? 0;
  if (typeof total !== 'number' || total < 0) c.fail('total', 'must be a non-negative number');
  if (typeof paid !== 'number' || paid < 0) c.fail('paid', 'must be a non-negative number');
  const currency = (c.str(body, 'currency', 3) ?? 'USD').toUpperCase();
  if (c.errors.length || !accountCode) return { ok: false, errors: c.errors };
  return { ok: true, value: { accountCode, state: state as InvoiceState, total: total as number, paid: paid as number, currency } };
}

export function parseSubscriptionCreate(body: unknown): Parsed<SubscriptionInput> {
  const c = new Collector('');
  if (!isPlainObject(body)) {
    c.fail('subscription', 'must be an object');
    return { ok: false, errors: c.errors };
  }
  const planCode = c.str(body, 'plan_code', 50);
  if (planCode === undefined) c.fail('plan_code', "can't be blank");
  else if (!PLAN_CODE_RE.test(planCode)) c.fail('plan_code', 'is invalid');
  const currency = c.str(body, 'currency', 3);
  if (currency === undefined) c.fail('currency', "can't be blank");
  else if (!/^[A-Za-z]{3}$/.test(currency)) c.fail('currency', 'is invalid');
  let account: AccountInput | undefined;
  if (body.account === undefined || body.account === null) c.fail('account', "can't be blank");
  else {
    const parsed = parseAccountCreate(body.account, 'account.');
    if (parsed.ok) account = parsed.value;
    else c.errors.push(...parsed.errors);
  }
  const unitAmount = body.unit_amount;
  if (unitAmount !== undefined && (typeof unitAmount !== 'number' || unitAmount < 0 || unitAmount > 1_000_000)) {
    c.fail('unit_amount', 'must be a number between 0 and 1000000');
  }
  const quantity = body.quantity;
  if (quantity !== undefined && (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 0)) {
    c.fail('quantity', 'must be a non-negative integer');
  }
  const collection = body.collection_method;
  if (collection !== undefined && collection !== 'automatic' && collection !== 'manual') {
    c.fail('collection_method', 'is not included in the list');
  }
  let startsAt: Date | undefined;
  if (body.starts_at !== undefined) {
    startsAt = typeof body.starts_at === 'string' ? new Date(body.starts_at) : undefined;
    if (!startsAt || Number.isNaN(startsAt.getTime())) c.fail('starts_at', 'is not a valid date-time');
  }
  const autoRenew = c.bool(body, 'auto_renew');
  if (c.errors.length || !planCode || !currency || !account) return { ok: false, errors: c.errors };
  return {
    ok: true,
    value: {
      plan_code: planCode,
      currency: currency.toUpperCase(),
      account,
      unit_amount: unitAmount as number | undefined,
      quantity: quantity as number | undefined,
      auto_renew: autoRenew,
      collection_method: collection as 'automatic' | 'manual' | undefined,
      starts_at: startsAt,
    },
  };
}

/** The sandbox-only way to hold a subscription in any state, since SubscriptionCreate cannot. */
export function parseAdminSubscription(body: unknown): Parsed<AdminSubscriptionInput> {
  const c = new Collector('');
  if (!isPlainObject(body)) {
    c.fail('body', 'must be an object');
    return { ok: false, errors: c.errors };
  }
  const accountCode = c.str(body, 'accountCode', 50);
  if (!accountCode) c.fail('accountCode', "can't be blank");
  const planCode = c.str(body, 'planCode', 50) ?? 'lethe-basic';
  if (!PLAN_CODE_RE.test(planCode)) c.fail('planCode', 'is invalid');
  const state = body.state;
  if (typeof state !== 'string' || !(SUBSCRIPTION_STATES as readonly string[]).includes(state)) {
    c.fail('state', `must be one of ${SUBSCRIPTION_STATES.join(', ')}`);
  }
  const currency = (c.str(body, 'currency', 3) ?? 'USD').toUpperCase();
  const date = (key: string): Date | undefined => {
    const v = body[key];
    if (v === undefined || v === null) return undefined;
    const d = typeof v === 'string' ? new Date(v) : undefined;
    if (!d || Number.isNaN(d.getTime())) return c.fail(key, 'is not a valid date-time');
    return d;
  };
  const currentPeriodStartedAt = date('currentPeriodStartedAt');
  const currentPeriodEndsAt = date('currentPeriodEndsAt');
  const unbilledUsage = body.unbilledUsage;
  if (unbilledUsage !== undefined && (typeof unbilledUsage !== 'number' || unbilledUsage < 0)) c.fail('unbilledUsage', 'must be a non-negative number');
  if (c.errors.length || !accountCode) return { ok: false, errors: c.errors };
  return {
    ok: true,
    value: { accountCode, planCode, state: state as SubscriptionState, currency, currentPeriodStartedAt, currentPeriodEndsAt, unbilledUsage: unbilledUsage as number | undefined },
  };
}
