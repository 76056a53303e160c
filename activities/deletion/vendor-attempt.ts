/**
 * What the vendor activities share: an attempt that keeps heartbeating while a call waits for
 * the vendor's rate-limit window (stores/vendorPace.ts; Recurly's is a minute, longer than the
 * activities' heartbeat timeout), the memory a retried attempt gets back from the one before
 * it, and a throttled attempt's retry spread over the vendor's window.
 */
import { activityInfo, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { isVendorError } from '../../stores/errors';
import { isHeld } from '../../stores/holds';
import { FailureType } from '../../contract';
import type { VENDOR_WINDOW_MS } from '../../stores/vendorPace';
import { rateLimited } from '../failures';

const HEARTBEAT_EVERY_MS = 10_000;

/** The heartbeat details of the attempt before this one, or undefined (a first attempt, or outside an activity). */
export function lastDetails<T extends object>(): T | undefined {
  try {
    const d = activityInfo().heartbeatDetails as T | undefined;
    return d && typeof d === 'object' ? d : undefined;
  } catch {
    return undefined;
  }
}

/** Records `details()` now (for the next attempt); a no-op outside an activity. */
export function record(details: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // called directly, not as an activity (a test)
  }
}

/**
 * Runs `fn` heartbeating `details()` every few seconds, so an attempt waiting for a vendor's
 * window is not taken for a dead one. A throttled attempt that gives up (the reset was too far
 * to wait in place) is retried after the reset plus a random point inside the next window:
 * attempts throttled together come back spread over it, not at the same second.
 */
export async function vendorAttempt<T>(vendor: keyof typeof VENDOR_WINDOW_MS, details: () => unknown, fn: () => Promise<T>): Promise<T> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    ctx = undefined;
  }
  const timer = ctx ? setInterval(() => ctx.heartbeat(details()), HEARTBEAT_EVERY_MS) : undefined;
  try {
    return await fn();
  } catch (err) {
    if (isVendorError(err) && err.type === 'rate_limited') {
      record(details());
      throw rateLimited(vendor, `${vendor} ${err.status ?? ''} rate limited (${err.operation})`, err.retryAfterMs);
    }
    throw err;
  } finally {
    if (timer) clearInterval(timer);
  }
}

/**
 * Refuses the attempt when a legal hold is on the account (CONTRACT §7). The workflow stops a
 * store's next call once the hold's signal arrives, but an attempt already running, or retried by
 * Temporal inside its budget, would go on writing to the vendor: a Recurly attempt retrying a 500
 * redacted a held account once the vendor recovered. The hold's row is written before the signal
 * is sent, so every attempt that starts after the hold sees it here, before any write. Its own
 * type (not the blob store's `Held`): the workflow waits for the release instead of showing the
 * store blocked with the storage account's playbook (workflows/stores.ts).
 */
export async function refuseWhileHeld(db: Knex, accountId: string): Promise<void> {
  if (await isHeld(db, accountId)) {
    throw ApplicationFailure.create({
      type: FailureType.LegalHold,
      nonRetryable: true,
      message: 'a legal hold is on this account: nothing more is deleted until it is released (POST /v1/holds/{holdId}/release)',
    });
  }
}
