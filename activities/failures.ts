/**
 * Turns what the store adapters throw into Temporal failures with an explicit `type`, so the retry
 * policy and operators reason about kinds of trouble, never about class names (which bundling
 * changes). Messages carry ids and statuses only, never personal data.
 */
import { ApplicationFailure } from '@temporalio/common';
import { isVendorError } from '../stores/errors';
import { BlobStoreError } from '../stores/blobs';
import { FailureType } from '../contract';

export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.InvalidInput, message, nonRetryable: true });
}

export function toFailure(err: unknown, step: string): Error {
  if (err instanceof ApplicationFailure) return err;
  if (isVendorError(err)) {
    const where = `${step}: ${err.vendor} ${err.status ?? ''}`.trim();
    switch (err.type) {
      case 'rate_limited':
        // Honour Retry-After: the next attempt waits exactly as long as the vendor asked.
        return ApplicationFailure.create({
          type: FailureType.RateLimited,
          message: `${where} rate limited`,
          nextRetryDelay: err.retryAfterMs ?? undefined,
        });
      case 'invalid_input':
        return ApplicationFailure.create({ type: FailureType.InvalidInput, message: `${where} rejected the request: ${err.message}`, nonRetryable: true });
      case 'unauthorized':
        // Retryable: credentials get fixed by an operator while the deletion waits.
        return ApplicationFailure.create({ type: FailureType.Unauthorized, message: `${where} refused our credentials` });
      case 'precondition':
        return ApplicationFailure.create({ type: FailureType.Precondition, message: `${where} ${err.message}` });
      default:
        return ApplicationFailure.create({ type: FailureType.Unavailable, message: `${where} unavailable: ${err.message}` });
    }
  }
  if (err instanceof BlobStoreError) {
    return ApplicationFailure.create({
      type: err.type === 'unauthorized' ? FailureType.Unauthorized : FailureType.Unavailable,
      message: `${step}: ${err.message}`,
    });
  }
  const msg = (err as Error)?.message ?? String(err);
  return ApplicationFailure.create({ type: FailureType.Unavailable, message: `${step}: ${msg}` });
}

/** Runs an activity body and classifies whatever it throws. */
export async function classified<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err, step);
  }
}
