/**
 * Two things Recurly documents that the sandbox keeps per site (node_modules/recurly/openapi/
 * api.yaml): the `Idempotency-Key` replay cache ("Idempotent Requests") and a production site's
 * GET limit over a sliding five-minute window ("Rate Limits").
 */
import type { ServerResponse } from 'node:http';
import type { RateDecision } from '../common/rateLimiter';

/** "Recurly stores the response for 1 hour." */
export const IDEMPOTENCY_TTL_MS = 60 * 60_000;

interface Stored {
  status: number;
  contentType?: string;
  body: string;
  at: number;
}

export class IdempotencyCache {
  private readonly done = new Map<string, Stored>();
  private readonly inFlight = new Set<string>();
  /** Responses replayed since the last reset (for tests). */
  replays = 0;

  clear(): void {
    this.done.clear();
    this.inFlight.clear();
    this.replays = 0;
  }

  lookup(key: string, now: number): Stored | 'in_flight' | undefined {
    if (this.inFlight.has(key)) return 'in_flight';
    const hit = this.done.get(key);
    if (hit && now - hit.at > IDEMPOTENCY_TTL_MS) {
      this.done.delete(key);
      return undefined;
    }
    return hit;
  }

  /**
   * Runs the request under `key`, keeping the response it writes. "429 Too Many Requests
   * responses are intentionally not cached" (nor are 409s, which say another is in flight).
   */
  async record(key: string, res: ServerResponse, run: () => Promise<void> | void): Promise<void> {
    this.inFlight.add(key);
    // Recurly finishes a request whose client went away (a timeout, a dropped connection) and
    // keeps its response for the resend, which is the case the header exists for. The sandbox's
    // writers skip a destroyed response, so while the request runs it is shown as open to them:
    // the response is kept here, and what is written goes nowhere.
    let destroyed = res.destroyed;
    Object.defineProperty(res, 'destroyed', {
      configurable: true,
      enumerable: true,
      get: () => false,
      set: (v: boolean) => {
        destroyed = v;
      },
    });
    const restore = () => Object.defineProperty(res, 'destroyed', { configurable: true, enumerable: true, writable: true, value: destroyed });
    const end = res.end.bind(res) as (...args: unknown[]) => unknown;
    res.end = ((...args: unknown[]) => {
      const chunk = args[0];
      const body = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
      if (res.statusCode !== 429 && res.statusCode !== 409) {
        const type = res.getHeader('content-type');
        this.done.set(key, { status: res.statusCode, contentType: typeof type === 'string' ? type : undefined, body, at: Date.now() });
      }
      this.inFlight.delete(key);
      // Node's own writing sees the connection as it is.
      restore();
      return end(...args);
    }) as typeof res.end;
    try {
      await run();
    } finally {
      if (Object.getOwnPropertyDescriptor(res, 'destroyed')?.get) restore();
      this.inFlight.delete(key);
    }
  }
}

/**
 * `limit` requests in any `windowMs` (a production site: 5,000 GETs in five minutes, "a
 * production site could make 4,000 requests within one minute ... so long as the site made less
 * than 1,000 requests during the prior 4 minutes"). The headers say what is left of the window
 * now, and `reset` is when the oldest counted request leaves it (when a request is next sure to
 * be allowed): the sandbox's reading of "the time at which the request count will be reset".
 */
export class SlidingWindowLimiter {
  private times: number[] = [];

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  reset(): void {
    this.times = [];
  }

  /** Counts a request when allowed. */
  take(): RateDecision {
    return this.decide(true);
  }

  /** What the headers say without counting (writes on a production site). */
  peek(): RateDecision {
    return { ...this.decide(false), allowed: true };
  }

  private decide(count: boolean): RateDecision {
    const now = this.now();
    while (this.times.length && this.times[0] <= now - this.windowMs) this.times.shift();
    const allowed = this.times.length < this.limit;
    if (allowed && count) this.times.push(now);
    const oldest = this.times[0] ?? now;
    const resetAt = oldest + this.windowMs;
    return {
      allowed,
      limit: this.limit,
      remaining: Math.max(0, this.limit - this.times.length),
      resetAtSeconds: Math.ceil(resetAt / 1000),
      retryAfterSeconds: Math.max(1, Math.ceil((resetAt - now) / 1000)),
    };
  }
}
