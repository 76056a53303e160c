/**
 * Pacing by the vendor's own rate-limit headers, under the deployment-wide budget that
 * Temporal's task-queue rate holds (config/budget.ts, worker/worker.ts). That budget counts
 * activity tasks, not calls, so a burst of calls can still outrun the vendor's window; the
 * headers are the vendor's own word on it, and they count every client of the tenant (other
 * worker processes included), which no process-local counter could.
 *
 * Both vendors send `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` (unix
 * seconds): Auth0's Management API ("Rate limit policy", auth0.com/docs/troubleshoot/
 * customer-support/operational-policies/rate-limit-policy) and Recurly's API v3
 * (node_modules/recurly/openapi/api.yaml, "Rate Limits").
 *
 * - Before a call: when what remains of the window (less this process's calls still in flight)
 *   is at or below `reserve`, wait until the reset plus a random point inside the next window,
 *   so the waiters do not all come back at the same instant.
 * - A 429 whose reset is near (within `maxWaitMs`) is waited out the same way and the same call
 *   sent again, up to `resends` times: the calls the activity made before it keep their effect,
 *   instead of the attempt failing and a retry making them again. A far reset goes back to the
 *   caller as the 429 it is (Temporal retries the activity, with jitter over the window).
 *
 * The vendors give calls back differently, and the pace follows each vendor's documentation.
 * Recurly counts a window (`refill: 'window'`): its reset is when the count starts again. Auth0
 * keeps a token bucket (`refill: 'bucket'`; "Management API Endpoint Rate Limits": a request is
 * added back every 1/limit of the window until the bucket is full), so its `x-ratelimit-reset` is
 * when the bucket will be full, not when calls may go: waiting for it wastes the refill, and
 * taking it as a new window (the whole limit back at once) sends a burst into an empty bucket
 * (bench/RESULTS.md §3d: 0.79 429s a deletion). For a bucket the pace estimates what refilled
 * since the last answer and waits for one token, plus a random part of two more.
 */
import { VENDOR_WINDOW_MS } from '../config/budget';

export interface PaceOptions {
  /** The vendor's window: Auth0 limits per second, Recurly per minute. Jitter spreads over one window. */
  windowMs: number;
  /** Calls left to the rest of the deployment before this process waits for the reset. */
  reserve: number;
  /** Longest a call waits in place (before sending, or after a 429). */
  maxWaitMs: number;
  /** A throttled call is sent again at most this many times. */
  resends: number;
  /** Which requests the vendor's limit counts (Auth0 limits its Management API, not the token endpoint). */
  counts?: (url: string) => boolean;
  /** How the vendor gives calls back: all at the window's reset (default), or one at a time into a bucket. */
  refill?: 'window' | 'bucket';
  random?: () => number;
}

export interface PaceCounts {
  /** Calls that waited for the window's reset before being sent. */
  waits: number;
  waitedMs: number;
  /** 429 answers seen, and how many of those calls were sent again after the reset. */
  throttled: number;
  resent: number;
}

type HeaderGet = (name: string) => string | null | undefined;

export class VendorPace {
  private remaining?: number;
  private resetAtMs?: number;
  private limit?: number;
  private inFlight = 0;
  /** A bucket's tokens as of `tokensAt`, less this process's calls sent since (refill: 'bucket'). */
  private tokens?: number;
  private tokensAt = 0;
  /**
   * A bucket's refill, in tokens a millisecond, as the vendor's headers tell it. Auth0's plans
   * name a burst beside the sustained rate (Free 2/s burst 2, Enterprise production 16/s burst
   * 50; "Rate limit configurations"), and `x-ratelimit-limit` is the bucket's size, the burst:
   * refilling at limit/window would overspend a bucket larger than its rate. The reset (when the
   * bucket is full again) over the tokens missing gives the rate; the reset is in whole seconds,
   * so each figure errs low (slower, never into a 429), and the highest seen is the closest.
   */
  private refillPerMs?: number;
  readonly counts: PaceCounts = { waits: 0, waitedMs: 0, throttled: 0, resent: 0 };

  constructor(readonly opts: PaceOptions) {}

  private get bucket(): boolean {
    return this.opts.refill === 'bucket';
  }

  /**
   * Waits as long as `needed()` names a wait, each wait counted, all of them within maxWaitMs;
   * then `take()` counts the call, in the same tick as the last `needed()`: calls started
   * together must each see the others' share taken, or they all go into the same last token.
   */
  private async waitWhile(needed: () => number | undefined, take: () => void): Promise<void> {
    for (let waited = 0; ;) {
      const wait = needed();
      if (wait === undefined || waited + wait > this.opts.maxWaitMs) return take();
      waited += wait;
      this.counts.waits++;
      this.counts.waitedMs += wait;
      await sleep(wait);
    }
  }

  /** A bucket vendor: waits until the estimate holds a token beyond the reserve (within maxWaitMs), then takes it. */
  private async beforeBucketCall(): Promise<void> {
    const random = this.opts.random ?? Math.random;
    await this.waitWhile(
      () => {
        // Nothing heard from the vendor yet: one call at a time until the first answer's headers
        // say what the tenant's plan allows (a Free tenant's bucket holds 2; calls started
        // together at a worker's start would otherwise meet 429s).
        if (this.tokens === undefined && this.inFlight > 0) return FIRST_ANSWER_POLL_MS;
        if (this.tokens === undefined || this.limit === undefined) return undefined;
        const msPerToken = this.refillPerMs ? 1 / this.refillPerMs : this.opts.windowMs / this.limit;
        const now = Date.now();
        // Refilled since the last answer, never past what the bucket holds less the calls still in flight.
        this.tokens = Math.min(this.limit - this.inFlight, this.tokens + (now - this.tokensAt) / msPerToken);
        this.tokensAt = now;
        if (this.tokens >= 1 + this.opts.reserve) return undefined;
        return Math.ceil((1 + this.opts.reserve - this.tokens) * msPerToken + random() * 2 * msPerToken);
      },
      () => {
        this.inFlight++;
        if (this.tokens !== undefined) this.tokens -= 1;
      },
    );
  }

  /** Until the reset, then a random point inside the next window. */
  delayPast(resetAtMs: number): number {
    return throttledRetryDelay(resetAtMs - Date.now(), this.opts.windowMs, this.opts.random);
  }

  /**
   * Waits while the vendor says the window is (nearly) spent; then counts the call as in flight
   * and as spent from the window (until a response says what the vendor counted).
   */
  async beforeCall(): Promise<void> {
    if (this.bucket) return this.beforeBucketCall();
    // As many windows as it takes within maxWaitMs: a waiter that wakes into a window the others
    // have spent again waits again, rather than being sent into a 429.
    await this.waitWhile(
      () => {
        if (this.remaining === undefined || this.resetAtMs === undefined) return undefined;
        // A window that has rolled over starts from the limit the vendor last named, spent by
        // this process's own calls until a response says what the whole deployment spent. Calls
        // still in flight may reach the vendor in the new window, so they count against it.
        if (Date.now() >= this.resetAtMs) {
          if (this.limit === undefined) return undefined;
          const windows = Math.ceil((Date.now() - this.resetAtMs + 1) / this.opts.windowMs);
          this.resetAtMs += windows * this.opts.windowMs;
          this.remaining = this.limit - this.inFlight;
        }
        return this.remaining > this.opts.reserve ? undefined : this.delayPast(this.resetAtMs);
      },
      () => {
        this.inFlight++;
        if (this.remaining !== undefined) this.remaining--;
      },
    );
  }

  afterCall(get: HeaderGet | undefined): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    // A call that got no answer may still have been counted: keep the estimate's decrement.
    if (get) this.observe(get);
  }

  /** Keeps the latest window's figures: responses arrive out of order, the lowest remaining of a window wins. */
  observe(get: HeaderGet): void {
    const remaining = Number(get('x-ratelimit-remaining'));
    const reset = Number(get('x-ratelimit-reset'));
    if (!Number.isFinite(remaining) || !Number.isFinite(reset) || get('x-ratelimit-remaining') == null || get('x-ratelimit-reset') == null) return;
    const resetAtMs = reset * 1000;
    const limit = Number(get('x-ratelimit-limit'));
    if (get('x-ratelimit-limit') != null && Number.isFinite(limit) && limit > 0) this.limit = limit;
    if (this.bucket) {
      // The latest answer is the freshest count of the bucket; calls sent since are not in it yet.
      this.tokens = remaining - this.inFlight;
      this.tokensAt = Date.now();
      // `remaining` is rounded down, so more than missing - 1 tokens are short of full; the reset
      // is rounded up. Each figure is then a lower bound: keep the highest seen, until a 429 says otherwise.
      const missing = (this.limit ?? remaining) - remaining;
      const untilFull = resetAtMs - this.tokensAt;
      if (missing > 1 && untilFull > 0) this.refillPerMs = Math.max(this.refillPerMs ?? 0, (missing - 1) / untilFull);
      return;
    }
    // What the vendor counted when it answered, less this process's calls sent since and not yet answered.
    const left = remaining - this.inFlight;
    if (this.resetAtMs === undefined || resetAtMs > this.resetAtMs) {
      this.resetAtMs = resetAtMs;
      this.remaining = left;
    } else if (resetAtMs === this.resetAtMs) this.remaining = Math.min(this.remaining ?? left, left);
  }

  /** When a throttled call may be sent again (absolute ms), from the 429's own headers. */
  static resetOf(get: HeaderGet): number | undefined {
    const reset = Number(get('x-ratelimit-reset'));
    if (get('x-ratelimit-reset') != null && Number.isFinite(reset)) return reset * 1000;
    const after = Number(get('retry-after'));
    if (get('retry-after') != null && Number.isFinite(after)) return Date.now() + after * 1000;
    return undefined;
  }

  /**
   * Runs one HTTP exchange under the pace: `send` makes the request, `headers` reads a header
   * of its response, `status` its status. A 429 with a near reset is waited out and sent again.
   */
  async run<R>(send: () => Promise<R>, status: (r: R) => number, headers: (r: R) => HeaderGet): Promise<R> {
    for (let resends = 0; ; resends++) {
      await this.beforeCall();
      let res: R;
      try {
        res = await send();
      } catch (err) {
        this.afterCall(undefined);
        throw err;
      }
      const get = headers(res);
      this.afterCall(get);
      if (status(res) !== 429) return res;
      this.counts.throttled++;
      // The bucket refills slower than estimated (or the plan changed): halve the estimate, and
      // let the headers raise it again.
      if (this.bucket && this.refillPerMs) this.refillPerMs /= 2;
      if (this.bucket && this.tokens !== undefined) {
        // The 429 said the bucket is empty: the next beforeCall waits for a token (bounded by
        // maxWaitMs). A Retry-After the vendor named is kept to; one past maxWaitMs goes back
        // to the caller as the 429 it is.
        if (resends >= this.opts.resends) return res;
        const after = Number(get('retry-after'));
        if (get('retry-after') != null && Number.isFinite(after)) {
          const wait = throttledRetryDelay(after * 1000, this.opts.windowMs / (this.limit ?? 1), this.opts.random);
          if (wait > this.opts.maxWaitMs) return res;
          this.counts.waitedMs += wait;
          await sleep(wait);
        }
        this.counts.resent++;
        continue;
      }
      const reset = VendorPace.resetOf(get);
      if (reset === undefined || resends >= this.opts.resends) return res;
      const wait = this.delayPast(reset);
      if (wait > this.opts.maxWaitMs) return res;
      this.counts.resent++;
      this.counts.waitedMs += wait;
      await sleep(wait);
    }
  }

  /** `fetch` under the pace, for an SDK that takes a fetch of its own (Auth0's). */
  fetch(inner: typeof fetch): typeof fetch {
    return async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (this.opts.counts && !this.opts.counts(url)) return inner(input, init);
      // A Request's body can be read once: each send gets its own copy.
      const send = () => inner(input instanceof Request ? input.clone() : input, init);
      return this.run(
        send,
        (r) => r.status,
        (r) => (name) => r.headers.get(name),
      );
    };
  }
}

export { VENDOR_WINDOW_MS };

/**
 * How long a throttled call or attempt waits: until the vendor's reset (one window when it named
 * none), then a random point inside the next window, so calls throttled together come back spread
 * over it, not at the same instant. The pace, the vendor steps and `toFailure` all use this one.
 */
export function throttledRetryDelay(untilResetMs: number | undefined, windowMs: number, random: () => number = Math.random): number {
  // One millisecond more: a timer may fire a millisecond early, still inside the spent window.
  return Math.max(0, untilResetMs ?? windowMs) + 1 + Math.round(random() * windowMs);
}

/** Auth0's Management API limits are per second; a wait longer than a few windows belongs to Temporal's retry. */
export const auth0Pace = (random?: () => number): VendorPace =>
  new VendorPace({ windowMs: VENDOR_WINDOW_MS.auth0, reserve: 0, maxWaitMs: 2_500, resends: 3, refill: 'bucket', counts: (url) => new URL(url).pathname.startsWith('/api/v2/'), random });

/** Recurly's limit is per minute (api.yaml); a throttled call waits for the next minute rather than failing the attempt. */
export const recurlyPace = (random?: () => number): VendorPace => new VendorPace({ windowMs: VENDOR_WINDOW_MS.recurly, reserve: 4, maxWaitMs: 125_000, resends: 2, random });

/** How often a call waiting for the vendor's first answer looks again. */
const FIRST_ANSWER_POLL_MS = 20;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
