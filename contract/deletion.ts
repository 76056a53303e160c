/**
 * The deletion workflow's contract: its input, progress, signals, queries, step names and
 * receipt. Ids, times and counts only: everything here travels through Temporal's history.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';

/** Where a request reached the company; `inactivity` is the sweep's own. */
export const CHANNELS = ['api', 'email', 'phone', 'support', 'in_app', 'inactivity'] as const;
export type Channel = (typeof CHANNELS)[number];
/** The channels a caller may name (the API, the CLI); `inactivity` is refused from callers. */
export const REQUEST_CHANNELS = ['api', 'email', 'phone', 'support', 'in_app'] as const satisfies readonly Channel[];
export type RequestChannel = (typeof REQUEST_CHANNELS)[number];

export interface DeletionInput {
  requestId: string;
  accountId: string;
  channel: Channel;
  /** RFC 3339; the deadline counts from here. */
  receivedAt: string;
  deadlineAt: string;
  warningAt: string;
  requestedBy?: string;
  /** Set by the inactivity sweep: when the account was selected, for the re-check. */
  selectedAt?: string;
}

export interface StoreCounts {
  recurly?: { subscriptionsTerminated: number; accountRedacted: boolean; hadAccount: boolean };
  auth0?: { usersDeleted: number; alreadyGone: number };
  media?: {
    blobsDeleted: number;
    byContainer: Record<string, number>;
    listCalls: number;
    batchCalls: number;
    /** The attempt started from a heartbeated cursor (a worker died mid-way). */
    resumed: boolean;
    listCallsThisAttempt?: number;
  };
  database?: Record<string, number>;
}

export interface Verification {
  clean: boolean;
  blobsRemaining: number;
  softDeletedRemaining: number;
  rowsRemaining: Record<string, number>;
  auth0UsersRemaining: number;
  recurly: 'absent' | 'redacted' | 'present' | 'none';
  checkedAt: string;
}

/** What a completed deletion leaves behind: no personal data, only ids, times and counts. */
export interface Receipt {
  requestId: string;
  accountId: string;
  channel: Channel;
  channels: Channel[];
  receivedAt: string;
  deadlineAt: string;
  completedAt: string;
  overdue: boolean;
  passes: number;
  counts: StoreCounts;
  verification: Verification;
}

/** What a sweep's deletion returns when the re-check found the account no longer eligible. */
export interface SkippedDeletion {
  requestId: string;
  accountId: string;
  skipped: true;
  reason: string;
  skippedAt: string;
}

export const DELETION_STATUSES = ['pending', 'running', 'completed', 'failed', 'skipped'] as const;
export type DeletionStatus = (typeof DELETION_STATUSES)[number];
/** A request in one of these has ended; the others are still being worked on. */
export const FINISHED_STATUSES: readonly DeletionStatus[] = ['completed', 'failed', 'skipped'];

/** `recheck` appears only in deletions the inactivity sweep started (after `freeze`). */
export type StepName = 'freeze' | 'recheck' | 'recurly' | 'auth0' | 'media' | 'database' | 'verify' | 'receipt';
/** The steps of every deletion, in the order the progress query lists them. */
export const STEP_NAMES: StepName[] = ['freeze', 'recurly', 'auth0', 'media', 'database', 'verify', 'receipt'];

/**
 * Which step each activity serves: the names an operator sees in the `progress` query, the
 * API's status view and the worker's metrics. Activities not listed (the stack check, a
 * sweep's) are reported under their own activity type.
 */
export const STEP_OF_ACTIVITY: Readonly<Record<string, StepName>> = {
  freezeAccount: 'freeze',
  recheckEligibility: 'recheck',
  releaseAccount: 'recheck',
  deleteRecurlyAccount: 'recurly',
  deleteAuth0User: 'auth0',
  deleteMediaBlobs: 'media',
  deleteDatabaseRows: 'database',
  verifyDeletion: 'verify',
  writeReceipt: 'receipt',
};

export const stepOfActivity = (activityType: string): string => STEP_OF_ACTIVITY[activityType] ?? activityType;

/** One line per store, the same in the live progress and in a receipt read back later. */
export const stepSummary = {
  recurly: (r: NonNullable<StoreCounts['recurly']>): string => `${r.subscriptionsTerminated} subscriptions terminated, redacted: ${r.accountRedacted}`,
  auth0: (r: NonNullable<StoreCounts['auth0']>): string => `${r.usersDeleted} users deleted, ${r.alreadyGone} already gone`,
  media: (r: NonNullable<StoreCounts['media']>): string => `${r.blobsDeleted} blobs deleted`,
  database: (r: NonNullable<StoreCounts['database']>): string => `${Object.values(r).reduce((a, b) => a + b, 0)} rows deleted`,
  verify: (v: Verification): string => (v.clean ? 'every store is empty' : 'data remains; deleting again'),
};

export interface StepProgress {
  name: StepName;
  status: 'pending' | 'running' | 'completed' | 'failed' | 'skipped';
  runs: number;
  detail?: string;
  counts?: unknown;
}

export interface DeletionProgress {
  requestId: string;
  accountId: string;
  channel: Channel;
  channels: Channel[];
  status: DeletionStatus;
  receivedAt: string;
  deadlineAt: string;
  completedAt?: string;
  warning: boolean;
  overdue: boolean;
  passes: number;
  steps: StepProgress[];
  receipt?: Receipt;
  reason?: string;
}

export interface AdditionalRequest {
  channel: Channel;
  receivedAt: string;
  requestedBy?: string;
}

export const progressQuery = defineQuery<DeletionProgress>('progress');
/** Another channel asked for the same account: it joins this execution (one receipt). */
export const additionalRequestSignal = defineSignal<[AdditionalRequest]>('additionalRequest');

