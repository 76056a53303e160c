/**
 * The worker's logs carry ids, counts and failure types, never personal data. Lethe's own
 * code logs ids only; this logger is the net under it, for what a library or a future change
 * puts into log metadata: known personal fields are masked wherever they appear, and email
 * addresses are masked in every string (messages, error texts, stack traces).
 *
 * Installed as the Temporal Runtime's logger, so it sees SDK logs, workflow `log.*`, activity
 * `log.*`, and (forwarded) the native core's logs alike.
 */
import { DefaultLogger, makeTelemetryFilterString, Runtime, RuntimeOptions } from '@temporalio/worker';
import type { Logger, LogLevel, LogMetadata } from '@temporalio/common';
import { types } from 'node:util';

export const REDACTED = '[redacted]';
export const EMAIL_REDACTED = '[email redacted]';

/**
 * Field names (compared lowercased, without `_` and `-`) whose values are personal data in
 * CONTRACT §2's tables or the vendors' records.
 */
const PERSONAL_FIELDS = new Set([
  'email', 'emails', 'fullname', 'name', 'firstname', 'lastname', 'givenname', 'familyname', 'nickname',
  'phone', 'phonenumber', 'city', 'region', 'postalcode', 'zip', 'country',
  'recipientemail', 'ip', 'ipaddress', 'lastip', 'useragent', 'latitude', 'longitude', 'location',
  'body', 'requestedby',
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

export function createRedactingLogger(inner: Logger = new DefaultLogger(logLevelFromEnv())): Logger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) =>
    inner.log(level, scrub(message), meta === undefined ? undefined : (redact(meta) as LogMetadata));
  return {
    log,
    trace: (m, meta) => log('TRACE', m, meta),
    debug: (m, meta) => log('DEBUG', m, meta),
    info: (m, meta) => log('INFO', m, meta),
    warn: (m, meta) => log('WARN', m, meta),
    error: (m, meta) => log('ERROR', m, meta),
  };
}

function logLevelFromEnv(): LogLevel {
  const raw = (process.env.LETHE_LOG_LEVEL ?? '').toUpperCase();
  return (['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const).find((l) => l === raw) ?? 'INFO';
}

/**
 * Installs the process-wide Temporal Runtime with the redacting logger, before any connection
 * or worker exists (Runtime.install refuses afterwards). Other runtime options (metrics) are
 * passed through; the logger given, if any, is wrapped rather than replaced.
 */
export function installWorkerRuntime(options: RuntimeOptions = {}): Runtime {
  return Runtime.install({
    ...options,
    logger: createRedactingLogger(options.logger),
    telemetryOptions: {
      ...options.telemetryOptions,
      // Core's own logs are printed directly unless forwarded; forwarded, they pass the redactor.
      logging: options.telemetryOptions?.logging ?? { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} },
    },
  });
}
