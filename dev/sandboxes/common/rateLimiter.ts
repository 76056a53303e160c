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

/** What both limiters share: a positive limit per window, changeable while the sandbox runs. */
abstract class WindowedLimit implements RateLimiter {
  constructor(
    private current: number,
    readonly windowMs: number,
    protected readonly now: () => number = Date.now,
  ) {
    assertLimit(current);
    if (!Number.isInteger(windowMs) || windowMs <= 0) throw new RangeError('windowMs must be a positive integer');
  }

  get limit(): number {
    return this.current;
  }

  setLimit(limit: number): void {
    assertLimit(limit);
    this.current = limit;
  }

  abstract reset(): void;
  abstract take(): RateDecision;
}

export class FixedWindowRateLimiter extends WindowedLimit {
  private windowStart = 0;
  private used = 0;

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
    const allowed = this.used < this.limit;
    if (allowed) this.used += 1;
    return {
      allowed,
      limit: this.limit,
      remaining: Math.max(0, this.limit - this.used),
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
export class TokenBucketRateLimiter extends WindowedLimit {
  private tokens: number;
  private at: number;
  /**
   * The bucket's size, when it differs from the rate: Auth0's plans name a burst beside the
   * sustained rate (Enterprise production 16/s, burst 50; dev/sandboxes/auth0/server.ts
   * AUTH0_PLANS). `x-ratelimit-limit` is then the burst, as Auth0 documents the header ("the
   * maximum number of requests available in the current time frame").
   */
  private burst?: number;

  constructor(size: number, windowMs: number, now: () => number = Date.now, burst?: number) {
    super(size, windowMs, now);
    if (burst !== undefined) assertLimit(burst);
    this.burst = burst;
    this.tokens = burst ?? size;
    this.at = now();
  }

  private get size(): number {
    return this.burst ?? this.limit;
  }

  /** A new rate; the bucket's size becomes `burst`, or the rate when none is given. */
  setLimit(limit: number, burst?: number): void {
    super.setLimit(limit);
    if (burst !== undefined) assertLimit(burst);
    this.burst = burst;
  }

  reset(): void {
    this.tokens = this.size;
    this.at = this.now();
  }

  take(): RateDecision {
    const now = this.now();
    const msPerToken = this.windowMs / this.limit;
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
