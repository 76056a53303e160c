/**
 * Fixed-window rate limiter. Windows are aligned to the epoch so `resetAtSeconds` is exact
 * and the same for every caller, like the vendors' `x-ratelimit-reset` (unix seconds).
 */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix seconds at which the current window ends and the count starts again. */
  resetAtSeconds: number;
  /** Whole seconds to wait before a retry can succeed; at least 1. */
  retryAfterSeconds: number;
}

export class FixedWindowRateLimiter {
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

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit <= 0) throw new RangeError('rate limit must be a positive integer');
}
