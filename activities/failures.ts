/**
 * Turns what the store adapters throw into Temporal failures with an explicit `type`, so the retry
 * policy and operators reason about kinds of trouble, never about class names (which bundling
 * changes). Messages carry ids and statuses only, never personal data.
 */
import { ApplicationFailure } from '@temporalio/common';
import { activityInfo } from '@temporalio/activity';
import { isVendorError } from '../stores/errors';
import { BlobStoreError } from '../stores/blobs';
import { FailureType } from '../contract';
import { throttledRetryDelay, VENDOR_WINDOW_MS } from '../stores/vendorPace';

export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.InvalidInput, message, nonRetryable: true });
}

/**
 * A throttled call's failure: retried after the vendor's reset plus a random point inside its
 * next window, so attempts throttled together come back spread over it. The one place a
 * rate-limited attempt's retry is computed (the vendor steps' attempts and `toFailure`).
 */
export function rateLimited(vendor: keyof typeof VENDOR_WINDOW_MS, message: string, retryAfterMs: number | undefined): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.RateLimited, message, nextRetryDelay: throttledRetryDelay(retryAfterMs, VENDOR_WINDOW_MS[vendor]) });
}

export function toFailure(err: unknown, step: string): Error {
  if (err instanceof ApplicationFailure) return err;
  if (isVendorError(err)) {
    const where = `${step}: ${err.vendor} ${err.status ?? ''}`.trim();
    switch (err.type) {
      case 'rate_limited':
        // Attempts throttled together must not all come back in the same second: after the
        // vendor's reset, at a random point of its next window (as the vendor steps do).
        return rateLimited(err.vendor, `${where} rate limited`, err.retryAfterMs);
      case 'invalid_input':
        return ApplicationFailure.create({ type: FailureType.InvalidInput, message: `${where} rejected the request: ${err.message}`, nonRetryable: true });
      case 'unauthorized':
        // Retryable: credentials get fixed by an operator while the deletion waits.
        return ApplicationFailure.create({ type: FailureType.Unauthorized, message: `${where} refused our credentials` });
      case 'precondition':
        return ApplicationFailure.create({ type: FailureType.Precondition, message: `${where} ${err.message}` });
      default:
        return ApplicationFailure.create({ type: FailureType.Unavailable, message: `${where} unavailable: ${err.message}`, nextRetryDelay: jitteredDelay() });
    }
  }
  if (err instanceof BlobStoreError) {
    const type = err.type === 'unauthorized' ? FailureType.Unauthorized : err.type === 'held' ? FailureType.Held : FailureType.Unavailable;
    return ApplicationFailure.create({ type, message: `${step}: ${err.message}`, ...(type === FailureType.Unavailable ? { nextRetryDelay: jitteredDelay() } : {}) });
  }
  const msg = (err as Error)?.message ?? String(err);
  return ApplicationFailure.create({ type: FailureType.Unavailable, message: `${step}: ${msg}`, nextRetryDelay: jitteredDelay() });
}

/**
 * Exponential backoff with full jitter for transient faults (1 s doubling per attempt, capped
 * at 5 minutes, then a random point below it): Temporal's own retry policy has no jitter, and
 * a vendor outage ends with every waiting attempt retrying at once. Outside an activity (a
 * direct call in a test) it is the first step's delay.
 */
export function jitteredDelay(): number {
  let attempt = 1;
  try {
    attempt = activityInfo().attempt;
  } catch {
    // not inside an activity: first attempt
  }
  const cap = Math.min(300_000, 1_000 * 2 ** Math.min(attempt - 1, 20));
  return Math.max(250, Math.round(Math.random() * cap));
}

/**
 * Runs an activity body and classifies whatever it throws. With `budgetMs`, a transient fault
 * that comes after the activity has been retrying that long (since its first attempt was
 * scheduled) ends the retries: the workflow takes over (the store shows `retrying`, then
 * `blocked`). For long activities whose single attempt may rightly take hours (media, rows),
 * where a schedule-to-close timeout would cut a healthy attempt short.
 */
export async function classified<T>(step: string, fn: () => Promise<T>, opts: { budgetMs?: number; details?: () => unknown[] | undefined } = {}): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    let failure = toFailure(err, step);
    if (opts.budgetMs !== undefined && failure instanceof ApplicationFailure && !failure.nonRetryable && Date.now() - activityInfo().scheduledTimestampMs > opts.budgetMs) {
      failure = ApplicationFailure.create({ type: failure.type ?? FailureType.Unavailable, message: `${failure.message} (retried for ${Math.round(opts.budgetMs / 1000)} s)`, nonRetryable: true });
    }
    const details = opts.details?.();
    if (details && failure instanceof ApplicationFailure) {
      // What the activity had done before it failed, for the workflow (the failure's details).
      const f = failure;
      failure = ApplicationFailure.create({
        type: f.type ?? undefined,
        message: f.message,
        nonRetryable: !!f.nonRetryable,
        nextRetryDelay: f.nextRetryDelay ?? undefined,
        category: f.category ?? undefined,
        details,
      });
    }
    throw failure;
  }
}
