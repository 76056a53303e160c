/**
 * The redactor every log line of Lethe passes (the worker's and the API's): known personal
 * fields are masked wherever they appear, and email addresses are masked in every string
 * (messages, error texts, stack traces). Lethe's own code logs ids only; this is the net
 * under what a library or a future change puts into a log line.
 */
import { types } from 'node:util';

export const REDACTED = '[redacted]';
export const EMAIL_REDACTED = '[email redacted]';

/**
 * Field names (compared lowercased, without `_` and `-`) whose values are personal data in
 * CONTRACT §2's tables or the vendors' records.
 */
const PERSONAL_FIELDS = new Set([
  'email',
  'emails',
  'fullname',
  'name',
  'firstname',
  'lastname',
  'givenname',
  'familyname',
  'nickname',
  'phone',
  'phonenumber',
  'city',
  'region',
  'postalcode',
  'zip',
  'country',
  'recipientemail',
  'ip',
  'ipaddress',
  'lastip',
  'useragent',
  'latitude',
  'longitude',
  'location',
  'body',
  'requestedby',
]);

const normalized = (key: string): string => key.toLowerCase().replace(/[_-]/g, '');

export function isPersonalField(key: string): boolean {
  const k = normalized(key);
  return PERSONAL_FIELDS.has(k) || k.startsWith('address') || k.endsWith('email');
}

// Deliberately broad: a false positive costs a masked word, a miss costs a leak.
const EMAIL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+/g;

export const scrub = (s: string): string => s.replace(EMAIL, EMAIL_REDACTED);

const MAX_DEPTH = 8;

/** A copy of `value` with personal fields masked and emails scrubbed; the input is not changed. */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrub(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  seen.add(value);
  // isNativeError, not instanceof: errors from the workflow sandbox come from another realm.
  if (types.isNativeError(value)) {
    // Kept as an Error so formatters still print name, message and stack.
    const copy = new Error(scrub(value.message));
    copy.name = value.name;
    copy.stack = value.stack === undefined ? undefined : scrub(value.stack);
    for (const [k, v] of Object.entries(value)) {
      if (k === 'name' || k === 'message' || k === 'stack' || k === 'cause') continue;
      (copy as unknown as Record<string, unknown>)[k] = isPersonalField(k) ? REDACTED : redact(v, depth + 1, seen);
    }
    // `cause` is non-enumerable on native errors and enumerable on Temporal's: handled once here.
    const cause = (value as { cause?: unknown }).cause;
    if (cause !== undefined) copy.cause = redact(cause, depth + 1, seen);
    return copy;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  if (value instanceof Date || ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isPersonalField(k) && v != null ? REDACTED : redact(v, depth + 1, seen);
  return out;
}
