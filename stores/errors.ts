/**
 * The one error type Lethe's vendor clients throw. Callers branch on `type` (a string), never
 * on class names, which bundling changes. Messages hold the operation, ids, status and the
 * vendor's machine-readable code only: never an email, a name, or the vendor's own message,
 * which can echo what we sent.
 */
export type VendorName = 'auth0' | 'recurly';

export type VendorErrorType =
  /** The vendor throttled us; wait `retryAfterMs` when known. */
  | 'rate_limited'
  /** 5xx, network failure or timeout: worth retrying. */
  | 'unavailable'
  /** The vendor rejected what we sent (400, 409, 422 other than a precondition). */
  | 'invalid_input'
  /** 401/403: our credentials or their scopes are wrong. */
  | 'unauthorized'
  | 'not_found'
  /** The vendor refuses the operation in the record's current state (Recurly redact with live subscriptions). */
  | 'precondition';

export interface VendorErrorDetails {
  vendor: VendorName;
  type: VendorErrorType;
  /** The client operation, e.g. "deleteUser". */
  operation: string;
  status?: number;
  retryAfterMs?: number;
  /** The vendor's machine code (Auth0 `errorCode`, Recurly `error.type`), never its message. */
  vendorCode?: string;
  /** An id the operation was about (user id, account code, subscription id); never an email. */
  subject?: string;
}

export class VendorError extends Error {
  readonly vendor: VendorName;
  readonly type: VendorErrorType;
  readonly operation: string;
  readonly status?: number;
  readonly retryAfterMs?: number;
  readonly vendorCode?: string;

  constructor(d: VendorErrorDetails) {
    super(describe(d));
    this.name = 'VendorError';
    this.vendor = d.vendor;
    this.type = d.type;
    this.operation = d.operation;
    this.status = d.status;
    this.retryAfterMs = d.retryAfterMs;
    this.vendorCode = d.vendorCode;
  }

  /** Whether waiting and trying again can succeed without a human. */
  get retryable(): boolean {
    return this.type === 'rate_limited' || this.type === 'unavailable';
  }
}

function describe(d: VendorErrorDetails): string {
  const subject = d.subject ? `(${d.subject})` : '';
  const status = d.status !== undefined ? ` HTTP ${d.status}` : '';
  const code = d.vendorCode ? ` [${d.vendorCode}]` : '';
  const wait = d.retryAfterMs !== undefined ? `, retry after ${d.retryAfterMs} ms` : '';
  return `${d.vendor} ${d.operation}${subject} failed: ${d.type}${status}${code}${wait}`;
}

/** Shape check that survives two copies of this module (bundles, jest module registries). */
export function isVendorError(err: unknown): err is VendorError {
  return err instanceof VendorError || (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'VendorError' && typeof (err as { type?: unknown }).type === 'string');
}

/** Classification shared by both vendors; each may override a status (Recurly redact's 422). */
export function typeForStatus(status: number | undefined): VendorErrorType {
  if (status === undefined || status === 408 || status >= 500) return 'unavailable';
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 404) return 'not_found';
  return 'invalid_input';
}

/**
 * How long the vendor asked us to wait: `Retry-After` (seconds or an HTTP date) first, else
 * `X-RateLimit-Reset` (unix seconds). Undefined when neither says.
 */
export function retryAfterMsFrom(header: (name: string) => string | null | undefined, now: number = Date.now()): number | undefined {
  const retryAfter = header('retry-after');
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter.trim())) return Number(retryAfter.trim()) * 1000;
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const reset = header('x-ratelimit-reset');
  if (reset && /^\d+$/.test(reset.trim())) return Math.max(0, Number(reset.trim()) * 1000 - now);
  return undefined;
}
