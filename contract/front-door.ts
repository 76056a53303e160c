/**
 * The front door's contract (CONTRACT §6): a request that waits for the person's confirmation
 * by a link mailed to the account's address on file. Ids and times only: the address and the
 * link's secret never travel through Temporal (the activities read and write them in Lethe's
 * own tables, sealed or hashed).
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

export const VERIFICATION_WORKFLOW_PREFIX = 'verify-';
/** One verification per public request; its id is also the requestId the deletion takes. */
export const verificationWorkflowId = (verificationId: string): string => `${VERIFICATION_WORKFLOW_PREFIX}${verificationId}`;

/** Who asked: the privacy page or public API (`web`), a mail to the privacy address (`email`), or staff asking for mail verification. */
export type VerificationChannel = 'web' | 'email' | 'api' | 'phone' | 'support' | 'in_app';

export interface VerificationInput {
  verificationId: string;
  /** What the person asked for: a deletion, or a copy of their data (CONTRACT §6, §8). */
  kind: 'deletion' | 'access';
  channel: VerificationChannel;
  firstContactAt: string;
  /** When the link stops working (LETHE_VERIFICATION_TTL after the first contact). */
  expiresAt: string;
  /** When the one reminder goes, if the link is still unused (absent: none). */
  reminderAt?: string;
}

/**
 * received → awaiting_confirmation → confirmed | expired | locked; or, refused before any link
 * was sent: no_account (no mail at all, unless it came by mail), ambiguous (case twins),
 * needs_operator (the address changed within 72 hours).
 */
export type VerificationStatus = 'received' | 'awaiting_confirmation' | 'no_account' | 'ambiguous' | 'needs_operator' | 'confirmed' | 'expired' | 'locked';

export const OPEN_VERIFICATION: readonly VerificationStatus[] = ['received', 'awaiting_confirmation'];

export interface VerificationOutcome {
  verificationId: string;
  status: VerificationStatus;
  requestId?: string;
  reminded: boolean;
}

/** Sent by the API once the person confirmed and the deletion was filed. */
export const verificationConfirmedSignal = defineSignal<[{ requestId: string }]>('verificationConfirmed');
export const verificationStatusQuery = defineQuery<VerificationOutcome>('verificationStatus');

/** What a notice to the person is about (activities/front-door/notices.ts). */
export type PersonNotice =
  | { kind: 'acknowledgement'; requestId: string; accountId: string; deadlineAt: string }
  | { kind: 'completion'; requestId: string; accountId: string; completedAt: string; stores: { name: string; outcome: string }[] };

/** Attempts of a notice to the person before it is given up (and its address erased). */
export const NOTICE_ATTEMPTS = 8;

/** A request's status as the API shows it: a deletion's, or one still waiting for the person. */
export const REQUEST_STATUSES = ['pending', 'running', 'blocked', 'completed', 'failed', 'skipped', 'awaiting_confirmation', 'needs_operator', 'expired', 'locked', 'held'] as const;
