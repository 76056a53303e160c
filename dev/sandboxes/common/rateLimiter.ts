/**
 * The vendors' two documented limiters, behind one interface. Recurly counts requests in a
 * window (node_modules/recurly/openapi/api.yaml, "Rate Limits": a sliding five-minute window of
 * five times the per-minute limit). The sandbox counts fixed one-minute windows aligned to the
 * epoch: the same sustained rate, stricter to a burst, and `resetAtSeconds` exact and the same
 * for every caller. Auth0 keeps a token bucket
 * per endpoint group ("Management API Endpoint Rate Limits", auth0.com/docs/troubleshoot/
 * customer-support/operational-policies/rate-limit-policy: "for each 60/y seconds, one additional
 * request is added to the bucket ... until the bucket contains the maximum permitted number").
 */
export interface RateLimiter {
  readonly limit: number;
  readonly windowMs: number;
  setLimit(limit: number): void;
  reset(): void;
  take(): RateDecision;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix seconds at which the current window ends and the count starts again. */
  resetAtSeconds: number;
  /** Whole seconds to wait before a retry can succeed; at least 1. */
  retryAfterSeconds: number;
}

export class FixedWindowRateLimiter implements RateLimiter {
  private windowStart = 0;
  private used = 0;

  constructor(
    private limitPerWindow: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    assertLimit(limitPerWindow);
    if (!Number.isInteger(windowMs) || windowMs <= 0) throw new RangeError('windowMs must be a positive integer');
  }

  get limit(): number {
    return this.limitPerWindow;
  }

  setLimit(limit: number): void {
    assertLimit(limit);
    this.limitPerWindow = limit;
  }

  reset(): void {
    this.windowStart = 0;
    this.used = 0;
  }

  take(): RateDecision {
    const now = this.now();
    const start = Math.floor(now / this.windowMs) * this.windowMs;
    if (start !== this.windowStart) {
      this.windowStart = start;
      this.used = 0;
    }
    const end = start + this.windowMs;
    const allowed = this.used < this.limitPerWindow;
    if (allowed) this.used += 1;
    return {
      allowed,
      limit: this.limitPerWindow,
      remaining: Math.max(0, this.limitPerWindow - this.used),
      resetAtSeconds: Math.ceil(end / 1000),
      retryAfterSeconds: Math.max(1, Math.ceil((end - now) / 1000)),
    };
  }
}

/**
 * Auth0's bucket: `limit` requests at most, refilled continuously at `limit` per window (the
 * sustained rate, 16/s for a self-service production tenant). The bucket's size is the
 * sustained rate: Auth0 documents "burst capability" above it without a figure, so the sandbox
 * takes the strictest reading. The headers say what the bucket holds: `remaining` the whole
 * requests in it, `reset` when it is full again.
 */
export class TokenBucketRateLimiter implements RateLimiter {
  private tokens: number;
  private at: number;

  constructor(
    private size: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    assertLimit(size);
    if (!Number.isInteger(windowMs) || windowMs <= 0) throw new RangeError('windowMs must be a positive integer');
    this.tokens = size;
    this.at = now();
  }

  get limit(): number {
    return this.size;
  }

  setLimit(limit: number): void {
    assertLimit(limit);
    this.size = limit;
  }

  reset(): void {
    this.tokens = this.size;
    this.at = this.now();
  }

  take(): RateDecision {
    const now = this.now();
    const msPerToken = this.windowMs / this.size;
    this.tokens = Math.min(this.size, this.tokens + (now - this.at) / msPerToken);
    this.at = now;
    const allowed = this.tokens >= 1;
    if (allowed) this.tokens -= 1;
    return {
      allowed,
      limit: this.size,
      remaining: Math.floor(this.tokens),
      resetAtSeconds: Math.ceil((now + (this.size - this.tokens) * msPerToken) / 1000),
      retryAfterSeconds: Math.max(1, Math.ceil(((1 - this.tokens) * msPerToken) / 1000)),
    };
  }
}

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit <= 0) throw new RangeError('rate limit must be a positive integer');
}
