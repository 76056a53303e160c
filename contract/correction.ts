/**
 * What crosses the boundaries of a correction request (CONTRACT §8, docs/correction.md): the
 * fields, stores and statuses, the workflow's id, input, progress, receipt, signals and query.
 * The API, the workflow and the activities import them from here. Names and ids only: the new
 * values never travel through Temporal (they are sealed in lethe.correction_requests).
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { BlockPolicy } from './deletion';

/** The fields a correction may change (CONTRACT §8), as the application's `accounts` columns name them. */
export const CORRECTION_FIELDS = ['full_name', 'phone', 'email', 'address_line1', 'address_line2', 'city', 'region', 'postal_code', 'country'] as const;
export type CorrectionField = (typeof CORRECTION_FIELDS)[number];
export const ADDRESS_FIELDS: readonly CorrectionField[] = ['address_line1', 'address_line2', 'city', 'region', 'postal_code', 'country'];

export const CORRECTION_STORES = ['database', 'auth0', 'recurly'] as const;
export type CorrectionStore = (typeof CORRECTION_STORES)[number];

/**
 * Where each field goes besides the database: Auth0 keeps a user's `name`, `phone_number` and
 * `email` (Management API "Update a user"); Recurly an account's `first_name`/`last_name`,
 * `email` and `address` with its `phone` (api.yaml `AccountUpdate`, `Address`).
 */
export const FIELDS_IN: Record<CorrectionStore, readonly CorrectionField[]> = {
  database: CORRECTION_FIELDS,
  auth0: ['full_name', 'phone', 'email'],
  recurly: CORRECTION_FIELDS,
};

export type CorrectionStatus = 'pending' | 'running' | 'awaiting_confirmation' | 'blocked' | 'completed' | 'refused' | 'failed';
export const CORRECTION_STATUSES: readonly CorrectionStatus[] = ['pending', 'running', 'awaiting_confirmation', 'blocked', 'completed', 'refused', 'failed'];
/** Where a new email address stands: mailed, confirmed, applied, or not (expired, refused). */
export type CorrectionEmailStatus = 'awaiting_confirmation' | 'confirmed' | 'expired' | 'applied' | 'refused';

/** The workflow's id: the request's, so a repeated start is the same request. */
export const correctionWorkflowId = (requestId: string): string => `correction-${requestId.toLowerCase()}`;

/** The failure type of a refusal: the account may not be changed (held, being deleted, gone) or the address is another's. */
export const CORRECTION_REFUSED = 'CorrectionRefused';

export interface CorrectionInput {
  requestId: string;
  accountId: string;
  /** Names only; the values are sealed in lethe.correction_requests. */
  fields: CorrectionField[];
  /** With a new email: when its link stops working. */
  emailExpiresAt?: string;
  blockPolicy: BlockPolicy;
}

/** What one store's part of a correction did (names only). */
export interface CorrectionStoreResult {
  /** `absent`: the store holds nothing of this account (no Auth0 user, no Recurly account). */
  outcome: 'applied' | 'absent';
  fields: CorrectionField[];
}

export interface CorrectionStoreProgress {
  store: CorrectionStore;
  status: 'pending' | 'running' | 'retrying' | 'blocked' | 'completed' | 'skipped';
  /** The fields this store gets, and those applied and read back so far. */
  fields: CorrectionField[];
  applied: CorrectionField[];
  attempts: number;
  detail?: string;
  /** While failing: since when (the start of its first failed attempt). */
  since?: string;
}

export interface CorrectionReceipt {
  requestId: string;
  accountId: string;
  completedAt: string;
  /** Per store: the fields applied and read back, or why none were. Names, never values. */
  stores: { store: CorrectionStore; applied: CorrectionField[]; outcome: 'applied' | 'absent' | 'nothing_to_apply' }[];
  /** Fields asked for and applied nowhere, with why (an email not confirmed in time). */
  notApplied: { field: CorrectionField; reason: string }[];
}

export interface CorrectionProgress {
  requestId: string;
  accountId: string;
  status: CorrectionStatus;
  email?: CorrectionEmailStatus;
  stores: CorrectionStoreProgress[];
  reason?: string;
  receipt?: CorrectionReceipt;
}

/** Sent by the API when the person confirmed the new address's link. */
export const correctionEmailConfirmedSignal = defineSignal('correctionEmailConfirmed');
/** An operator's retry: every failing store is tried again now. */
export const correctionRetrySignal = defineSignal('correctionRetry');
export const correctionProgressQuery = defineQuery<CorrectionProgress>('correctionProgress');

/** Where a request's sealed values live in lethe.correction_requests: opening needs the same request and column. */
export const correctionContext = (requestId: string, column: 'changes' | 'subject'): string => `lethe.correction_requests:${requestId.toLowerCase()}:${column}`;
