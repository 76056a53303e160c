/**
 * Turns stored records into Recurly v2021-02-25 JSON. Unset fields are left out rather than
 * sent as null, because api.yaml declares none of these properties nullable.
 */
import { createHash } from 'node:crypto';
import { isLive, type StoredAccount, type StoredBillingInfo, type StoredNote, type StoredInvoice, type StoredLineItem, type StoredShippingAddress, type StoredSubscription } from './store';

/** Recurly timestamps carry seconds, not milliseconds. */
export function recurlyTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function planId(code: string): string {
  return createHash('sha256').update(code).digest('hex').slice(0, 13);
}

function defined(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

function time(d: Date | undefined): string | undefined {
  return d ? recurlyTime(d) : undefined;
}

/** api.yaml `AccountNote`. */
export function renderNote(n: StoredNote): Record<string, unknown> {
  return { id: n.id, object: 'account_note', account_id: n.account_id, message: n.message, created_at: recurlyTime(n.created_at) };
}

/** api.yaml `BillingInfo`; the account's own `billing_info` is its primary payment method. */
export function renderBillingInfo(b: StoredBillingInfo, accountId: string, primary = true): Record<string, unknown> {
  return defined({
    id: b.id,
    object: 'billing_info',
    account_id: accountId,
    first_name: b.first_name,
    last_name: b.last_name,
    company: b.company,
    address: b.address,
    vat_number: b.vat_number,
    valid: true,
    payment_method: b.last_four ? defined({ object: 'credit_card', card_type: b.card_type, last_four: b.last_four, exp_month: b.exp_month, exp_year: b.exp_year }) : undefined,
    primary_payment_method: primary,
    backup_payment_method: false,
    created_at: recurlyTime(b.created_at),
    updated_at: recurlyTime(b.updated_at),
  });
}

function renderShippingAddress(s: StoredShippingAddress, accountId: string): Record<string, unknown> {
  return defined({
    id: s.id,
    object: 'shipping_address',
    account_id: accountId,
    nickname: s.nickname,
    first_name: s.first_name,
    last_name: s.last_name,
    company: s.company,
    email: s.email,
    phone: s.phone,
    street1: s.street1,
    street2: s.street2,
    city: s.city,
    region: s.region,
    postal_code: s.postal_code,
    country: s.country,
    created_at: recurlyTime(s.created_at),
    updated_at: recurlyTime(s.updated_at),
  });
}

export function renderAccount(a: StoredAccount, subs: StoredSubscription[], now: Date, invoices: StoredInvoice[] = []): Record<string, unknown> {
  const has = (state: string) => subs.some((s) => s.state === state);
  return defined({
    id: a.id,
    object: 'account',
    state: a.state,
    hosted_login_token: a.hosted_login_token,
    shipping_addresses: (a.shipping_addresses ?? []).map((s) => renderShippingAddress(s, a.id)),
    has_live_subscription: subs.some((s) => isLive(s, now)),
    has_active_subscription: has('active'),
    has_future_subscription: has('future'),
    has_canceled_subscription: has('canceled'),
    has_paused_subscription: has('paused'),
    has_past_due_invoice: invoices.some((i) => i.state === 'past_due'),
    created_at: recurlyTime(a.created_at),
    updated_at: recurlyTime(a.updated_at),
    deleted_at: time(a.deleted_at),
    code: a.code,
    username: a.username,
    email: a.email,
    preferred_locale: a.preferred_locale,
    preferred_time_zone: a.preferred_time_zone,
    cc_emails: a.cc_emails,
    first_name: a.first_name,
    last_name: a.last_name,
    company: a.company,
    vat_number: a.vat_number,
    tax_exempt: a.tax_exempt,
    parent_account_id: a.parent_account_id,
    bill_to: a.bill_to,
    address: a.address,
    billing_info: a.billing_info ? renderBillingInfo(a.billing_info, a.id) : undefined,
    custom_fields: (a.custom_fields ?? []).map((f) => ({ name: f.name, value: f.value })),
  });
}

const money = (n: number) => Math.round(n * 100) / 100;

export function renderLineItem(l: StoredLineItem, account: StoredAccount, invoice?: StoredInvoice): Record<string, unknown> {
  const amount = money(l.unit_amount * l.quantity) * (l.type === 'credit' ? -1 : 1);
  return defined({
    id: l.id,
    object: 'line_item',
    uuid: l.uuid,
    type: l.type,
    state: l.state,
    legacy_category: l.type === 'credit' ? 'credit' : 'charge',
    account: renderAccountMini(account),
    subscription_id: l.subscription_id,
    invoice_id: l.invoice_id,
    invoice_number: invoice?.number,
    origin: l.type === 'credit' ? 'credit' : 'one_time',
    currency: l.currency,
    amount,
    description: l.description,
    quantity: l.quantity,
    unit_amount: l.unit_amount,
    tax_inclusive: false,
    subtotal: amount,
    discount: 0,
    tax: 0,
    taxable: false,
    tax_exempt: false,
    created_at: recurlyTime(l.created_at),
    updated_at: recurlyTime(l.updated_at),
  });
}

export function renderInvoice(i: StoredInvoice, account: StoredAccount): Record<string, unknown> {
  return defined({
    id: i.id,
    uuid: i.uuid,
    object: 'invoice',
    type: 'charge',
    origin: i.subscription_ids.length ? 'termination' : 'purchase',
    state: i.state,
    account: renderAccountMini(account),
    subscription_ids: i.subscription_ids,
    number: i.number,
    collection_method: 'automatic',
    net_terms: 0,
    currency: i.currency,
    subtotal: money(i.total),
    tax: 0,
    total: money(i.total),
    paid: money(i.paid),
    balance: money(i.total - i.paid),
    created_at: recurlyTime(i.created_at),
    updated_at: recurlyTime(i.updated_at),
  });
}

export function renderAccountMini(a: StoredAccount): Record<string, unknown> {
  return defined({
    id: a.id,
    object: 'account',
    code: a.code,
    email: a.email,
    first_name: a.first_name,
    last_name: a.last_name,
    company: a.company,
    parent_account_id: a.parent_account_id,
    bill_to: a.bill_to,
  });
}

export function renderSubscription(s: StoredSubscription, account: StoredAccount): Record<string, unknown> {
  const subtotal = Math.round(s.unit_amount * s.quantity * 100) / 100;
  return defined({
    id: s.id,
    object: 'subscription',
    uuid: s.uuid,
    account: renderAccountMini(account),
    plan: { id: planId(s.plan_code), object: 'plan', code: s.plan_code, name: s.plan_code },
    state: s.state,
    coupon_redemptions: [],
    current_period_started_at: recurlyTime(s.current_period_started_at),
    current_period_ends_at: recurlyTime(s.current_period_ends_at),
    current_term_started_at: recurlyTime(s.current_period_started_at),
    current_term_ends_at: recurlyTime(s.current_period_ends_at),
    auto_renew: s.auto_renew,
    paused_at: time(s.paused_at),
    currency: s.currency,
    unit_amount: s.unit_amount,
    tax_inclusive: false,
    quantity: s.quantity,
    add_ons: [],
    add_ons_total: 0,
    subtotal,
    tax: 0,
    total: subtotal,
    collection_method: s.collection_method,
    net_terms: 0,
    custom_fields: [],
    created_at: recurlyTime(s.created_at),
    updated_at: recurlyTime(s.updated_at),
    activated_at: time(s.activated_at),
    canceled_at: time(s.canceled_at),
    expires_at: time(s.expires_at),
  });
}
