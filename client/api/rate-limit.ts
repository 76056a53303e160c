/**
 * Per-token rate limiting: a fixed one-minute window per key (a token's index, or the
 * caller's address when it has no valid token, so guessing tokens is throttled too). In
 * memory, per API process: behind N replicas the effective limit is N times this one.
 */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

/** `perMinute` requests per window (`windowMs`, default a minute: the front door counts addresses per hour). */
export function createRateLimiter(opts: { perMinute: number; windowMs?: number; now?: () => number }) {
  const windowMs = opts.windowMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const windows = new Map<string, { start: number; count: number }>();
  let lastSweep = now();

  return {
    hit(key: string): RateDecision {
      const t = now();
      // Forget finished windows now and then, so addresses that came once do not pile up.
      if (t - lastSweep > windowMs) {
        for (const [k, w] of windows) if (t - w.start >= windowMs) windows.delete(k);
        lastSweep = t;
      }
      let w = windows.get(key);
      if (!w || t - w.start >= windowMs) {
        w = { start: t, count: 0 };
        windows.set(key, w);
      }
      w.count++;
      const resetSeconds = Math.max(1, Math.ceil((w.start + windowMs - t) / 1000));
      return { allowed: w.count <= opts.perMinute, limit: opts.perMinute, remaining: Math.max(0, opts.perMinute - w.count), resetSeconds };
    },
  };
}
