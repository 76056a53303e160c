/**
 * Turns stored records into Recurly v2021-02-25 JSON. Unset fields are left out rather than
 * sent as null, because api.yaml declares none of these properties nullable.
 */
import { createHash } from 'node:crypto';
import { isLive, type StoredAccount, type StoredBillingInfo, type StoredSubscription } from './store';

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

function renderBillingInfo(b: StoredBillingInfo, accountId: string): Record<string, unknown> {
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
    payment_method: b.last_four
      ? defined({ object: 'credit_card', card_type: b.card_type, last_four: b.last_four, exp_month: b.exp_month, exp_year: b.exp_year })
      : undefined,
    primary_payment_method: true,
    backup_payment_method: false,
    created_at: recurlyTime(b.created_at),
    updated_at: recurlyTime(b.updated_at),
  });
}

export function renderAccount(a: StoredAccount, subs: StoredSubscription[], now: Date): Record<string, unknown> {
  const has = (state: string) => subs.some((s) => s.state === state);
  return defined({
    id: a.id,
    object: 'account',
    state: a.state,
    hosted_login_token: a.hosted_login_token,
    shipping_addresses: [],
    has_live_subscription: subs.some((s) => isLive(s, now)),
    has_active_subscription: has('active'),
    has_future_subscription: has('future'),
    has_canceled_subscription: has('canceled'),
    has_paused_subscription: has('paused'),
    has_past_due_invoice: false,
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
    bill_to: 'self',
    address: a.address,
    billing_info: a.billing_info ? renderBillingInfo(a.billing_info, a.id) : undefined,
    custom_fields: [],
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
    bill_to: 'self',
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
