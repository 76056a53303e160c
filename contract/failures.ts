/**
 * The kinds of trouble an activity reports, as the `type` of an ApplicationFailure: the retry
 * policy and operators reason about these names, never about class names (which bundling
 * changes). Messages carry ids and statuses only, never personal data.
 */
export const FailureType = {
  InvalidInput: 'InvalidInput',
  AccountNotFound: 'AccountNotFound',
  RateLimited: 'RateLimited',
  Unavailable: 'Unavailable',
  Unauthorized: 'Unauthorized',
  Precondition: 'Precondition',
  DataRemains: 'DataRemains',
  /** A blob under a legal hold or an immutability policy, or a lease Lethe cannot break. */
  Held: 'Held',
  /**
   * A legal hold on the account (CONTRACT §7), seen by a vendor attempt before its first write.
   * Not a refusal a person must clear at the store: the deletion waits for the hold's release,
   * so it is not in NEEDS_PERSON (it never turns a store `blocked`); the attempt throws it non-retryable.
   */
  LegalHold: 'LegalHold',
} as const;

export type FailureTypeName = (typeof FailureType)[keyof typeof FailureType];

/** Retrying cannot fix these: the workflow's retry policies stop at once. */
export const NON_RETRYABLE: string[] = [FailureType.InvalidInput, FailureType.AccountNotFound];

/**
 * Only a person can fix these (a precondition the vendor states, a permission, a hold): an
 * attempt stops at once, the store is retried on a slow cadence, and it shows as `blocked`.
 * Everything else (RateLimited, Unavailable, timeouts) is transient: retried with backoff.
 */
export const NEEDS_PERSON: string[] = [FailureType.Unauthorized, FailureType.Precondition, FailureType.Held];

/** The innermost failure's `type`, if it has one. */
export function failureTypeOf(err: unknown): string | undefined {
  let e = err as { cause?: unknown; type?: unknown } | undefined;
  while (e && e.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  return typeof e?.type === 'string' ? e.type : undefined;
}

/**
 * `Type: message` of the innermost cause of a failure (an ActivityFailure wraps the
 * activity's ApplicationFailure): what the progress query, the API and the CLI show.
 * Structural, so it works on both sides of the workflow sandbox.
 */
export function failureText(err: unknown): string {
  let e = err as { cause?: unknown; type?: unknown; name?: string; message?: string } | undefined;
  while (e && e.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  const type = typeof e?.type === 'string' && e.type ? e.type : (e?.name ?? 'Error');
  return `${type}: ${e?.message ?? String(err)}`;
}
