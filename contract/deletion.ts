/**
 * The deletion workflow's contract: its input, progress, signals, queries, step names and
 * receipt. Ids, times and counts only: everything here travels through Temporal's history.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { isUuid } from './ids';

/** Where a request reached the company; `inactivity` is the sweep's own. */
export const CHANNELS = ['api', 'email', 'phone', 'support', 'in_app', 'web', 'inactivity'] as const;
export type Channel = (typeof CHANNELS)[number];
/** The channels a caller may name (the API, the CLI); `inactivity` is refused from callers. */
export const REQUEST_CHANNELS = ['api', 'email', 'phone', 'support', 'in_app'] as const satisfies readonly Channel[];
export type RequestChannel = (typeof REQUEST_CHANNELS)[number];

/**
 * Temporal task-queue priority keys (1 runs first; the server's default is 3). A person's request
 * must not queue behind the sweep: a first sweep can select hundreds of thousands of accounts,
 * and its deletions' tasks would otherwise sit ahead of a request filed after them on the same
 * rate-limited vendor queues. Activities inherit their workflow's key. Server 1.29 orders by it
 * only with `matching.useNewMatcher` (dev/stack/temporal.ts, docs/temporal-dynamicconfig.yaml).
 */
export const DELETION_PRIORITY = { request: 1, sweep: 4 } as const;

export const deletionPriorityKey = (channel: Channel): number => (channel === 'inactivity' ? DELETION_PRIORITY.sweep : DELETION_PRIORITY.request);

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
  /** The deployment's bounds for refusing stores (LETHE_BLOCK_*); BLOCK_POLICY when absent. */
  blockPolicy?: BlockPolicy;
  /**
   * A request the person confirmed by mail (CONTRACT §6): when they first asked. `receivedAt` is
   * the confirmation, from which the deadline counts; this is kept for reports.
   */
  firstContactAt?: string;
}

/**
 * What is wrong with a deletion's input, or undefined. The intake validates requests before it
 * starts a run; this guards a run started by other means (the Temporal CLI or Web UI), which
 * would otherwise run with a deadline of NaN, or fail its workflow task on every attempt.
 */
export function deletionInputProblems(input: unknown): string | undefined {
  const i = (input ?? {}) as Partial<Record<keyof DeletionInput, unknown>>;
  const problems: string[] = [];
  const time = (k: 'receivedAt' | 'deadlineAt' | 'warningAt' | 'selectedAt', required: boolean) => {
    const v = i[k];
    if (v === undefined && !required) return;
    if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) problems.push(`${k} must be an RFC 3339 time, got ${JSON.stringify(v ?? null).slice(0, 40)}`);
  };
  if (!isUuid(i.requestId)) problems.push('requestId must be a UUID');
  if (!isUuid(i.accountId)) problems.push('accountId must be a UUID');
  if (!CHANNELS.includes(i.channel as Channel)) problems.push(`channel must be one of ${CHANNELS.join(', ')}`);
  time('receivedAt', true);
  time('deadlineAt', true);
  time('warningAt', true);
  time('selectedAt', false);
  return problems.length ? `invalid deletion input: ${problems.join('; ')}` : undefined;
}

export interface StoreCounts {
  recurly?: {
    subscriptionsTerminated: number;
    accountRedacted: boolean;
    hadAccount: boolean;
    subscriptionsCanceled?: number;
    redactRequests?: number;
    redactionChecks?: number;
    redactionWaitedMs?: number;
    /** Fields outside redaction's documented scope that Lethe cleared first (`cc_emails`, `custom_fields`). */
    fieldsCleared?: string[];
    /** Account notes removed (`remove_account_note`). */
    notesRemoved?: number;
    /** A wallet's billing methods removed (`remove_a_billing_info`). */
    billingInfosRemoved?: number;
  };
  auth0?: {
    usersDeleted: number;
    alreadyGone: number;
    linkedPrimaries?: number;
    foundByEmail?: number;
    notAvailable?: string[];
    /** Every Auth0 user id this run deleted (linked secondaries, unlinked first, included); ids only. */
    userIds?: string[];
    /** Secondary identities unlinked from their primary, each then deleted as its own user. */
    identitiesUnlinked?: number;
    /** Auth0's tenant logs cannot be deleted through the API; the date (UTC) by which the plan's retention has removed them. */
    tenantLogsExpireBy?: string;
  };
  media?: {
    blobsDeleted: number;
    byContainer: Record<string, number>;
    listCalls: number;
    batchCalls: number;
    /** The attempt started from a heartbeated cursor (a worker died mid-way). */
    resumed: boolean;
    listCallsThisAttempt?: number;
    /** Soft-deleted snapshots and versions removed for good (`deletetype=permanent`), where the account allows it. */
    softDeletedPurged?: number;
    /** Blob leases broken (Lease Blob `break`) so their blobs could be deleted. */
    leasesBroken?: number;
    /**
     * A worker died mid-deletion and the next attempt resumed from its last heartbeat: blobs it
     * deleted after that heartbeat are counted by no one, so `blobsDeleted` is a lower bound.
     */
    atLeast?: boolean;
  };
  database?: Record<string, number>;
}

/**
 * A media deletion's progress, as its activity heartbeats it and as a failed one reports it
 * (its failure's details). Carried across the activity's attempts; the workflow adds a failed
 * activity's part to the receipt's counts, so blobs deleted before a hold or a timeout are
 * counted once the store is deleted in a later activity.
 */
export interface MediaCursor {
  containerIndex: number;
  /** The listing continuation token of the page to redo (none in a failure's details). */
  token?: string;
  byContainer: Record<string, number>;
  listCalls: number;
  batchCalls: number;
  /** Soft-deleted snapshots and versions purged, leases broken (optional in cursors heartbeated before they were kept). */
  purged?: number;
  leasesBroken?: number;
}

/** The receipt's media counts for what a cursor says was deleted. */
export function mediaCountsOf(c: MediaCursor, resumed: boolean): NonNullable<StoreCounts['media']> {
  return {
    blobsDeleted: Object.values(c.byContainer).reduce((a, b) => a + b, 0),
    byContainer: { ...c.byContainer },
    listCalls: c.listCalls,
    batchCalls: c.batchCalls,
    resumed,
    softDeletedPurged: c.purged ?? 0,
    leasesBroken: c.leasesBroken ?? 0,
  };
}

/** A media cursor from a failure's details or a timeout's last heartbeat, if it holds one. */
export function isMediaCursor(x: unknown): x is MediaCursor {
  const c = x as MediaCursor | undefined;
  return !!c && typeof c === 'object' && typeof c.byContainer === 'object' && c.byContainer !== null && typeof c.listCalls === 'number' && typeof c.batchCalls === 'number';
}

/**
 * What a failed Recurly activity had ended before it failed (its failure's details): the next
 * attempt finds no live subscription to count, so the workflow adds these to the receipt.
 */
export interface RecurlyDone {
  recurlyTerminated: number;
  recurlyCanceled: number;
}

export function isRecurlyDone(x: unknown): x is RecurlyDone {
  const d = x as RecurlyDone | undefined;
  return !!d && typeof d === 'object' && typeof d.recurlyTerminated === 'number' && typeof d.recurlyCanceled === 'number';
}

export interface Verification {
  clean: boolean;
  blobsRemaining: number;
  softDeletedRemaining: number;
  rowsRemaining: Record<string, number>;
  auth0UsersRemaining: number;
  recurly: 'absent' | 'redacted' | 'present' | 'none';
  /** The oldest of the stores' last reads (the final read-back before the receipt); each store's own is `stores[s].verification.checkedAt`. */
  checkedAt: string;
  /** Gone from the stores' live data, still held by the vendor until a date (soft-deleted blobs awaiting Azure's purge). */
  pending?: { store: Store; what: string; until?: string }[];
}

/** What a completed deletion leaves behind: no personal data, only ids, times and counts. */
export interface Receipt {
  /** Per store: verified empty, or resolved outside Lethe by an operator (never both). Absent in receipts written before stores ran apart. */
  stores?: Record<Store, { outcome: 'verified' | 'resolved_outside_lethe'; verification?: StoreVerification; resolution?: StoreProgress['resolution'] }>;
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

/** The four stores a person's data lives in (CONTRACT §5 `blocked[].store`). */
export const STORES = ['media', 'auth0', 'recurly', 'database'] as const;
export type Store = (typeof STORES)[number];

/**
 * The final read-back (workflows/deletion.ts) reads a vendor store again only when its own
 * read-back is older than this. That read exists for a store read long before the receipt
 * (Recurly blocked for a week leaving Auth0 last read a week earlier); a vendor read minutes ago
 * is as recent as the final read would be when the vendors' read-back queues are paced, and each
 * vendor call counts against the rate that paces every deletion (issue 37). Media and the
 * database, where things do reappear (an upload through an issued URL, a new ticket) and no
 * vendor budget is spent, are always read again.
 */
export const FRESH_VENDOR_READ_MS = 10 * 60_000;

/**
 * What a deletion activity may hand over beside its counts: its own last read of the store,
 * when that read is the one the read-back would make (Recurly's redaction wait reads the account
 * until it shows redacted, the same read and judgement as `readRecurly`). The workflow takes it
 * as the store's read-back instead of reading again (issue 37); never part of the receipt's counts.
 */
export interface OwnReadBack {
  readBack?: StoreVerification;
}

/**
 * Where one store's deletion stands. `retrying`: it failed and is being tried again;
 * `blocked`: it has refused for longer than the bound and waits for a person (an operator's
 * retry, or a resolution outside Lethe); `verified`: read back empty; `resolved`: an operator
 * recorded it as handled outside Lethe (never shown as a verified deletion).
 */
export type StoreStatus = 'pending' | 'running' | 'retrying' | 'blocked' | 'verified' | 'resolved';

export interface StoreProgress {
  store: Store;
  status: StoreStatus;
  /** Deletion attempts (each one activity, itself retried for transient faults). */
  attempts: number;
  /** When the store started refusing (failing without a break), while it does. */
  failingSince?: string;
  /** The vendor's or the adapter's reason, ids and statuses only. */
  reason?: string;
  /** What an operator can do about it. */
  action?: string;
  detail?: string;
  /** Set once it is `resolved`: the operator action's id (its justification is in lethe.operator_actions). */
  resolution?: { actionId: string; by: string; at: string };
}

/**
 * The deletion's own steps that can wait on something only a person fixes (a revoked grant, a
 * vendor key refused at the re-check): shown in `blocked[].store` like a store, past the same bound.
 */
export const WAITING_STEPS = ['freeze', 'recheck', 'verify', 'receipt'] as const;
export type WaitingStep = (typeof WAITING_STEPS)[number];

/** CONTRACT §5: a store (or one of the deletion's own steps) that refuses in a way only a person can fix; the others carry on. */
export interface BlockedStore {
  store: Store | WaitingStep;
  reason: string;
  since: string;
  action: string;
}

/** What reading one store back found; `clean` when every `remaining` count is zero. */
export type StoreReading = Pick<StoreVerification, 'remaining' | 'pending' | 'notAvailable' | 'ambiguous'>;

/** One store read back. */
export interface StoreVerification {
  store: Store;
  clean: boolean;
  /** What remains, by kind (blobs, soft-deleted, users, rows per table, the Recurly account). */
  remaining: Record<string, number>;
  checkedAt: string;
  /**
   * Gone from the store's live data, but still held by the vendor for a while, and until when
   * (soft-deleted copies purged at the end of the retention, a redaction in progress).
   */
  pending?: { what: string; until?: string }[];
  /** Parts the tenant does not offer (e.g. Auth0's session layer on a non-Enterprise plan). */
  notAvailable?: string[];
  /**
   * Rows left because they match the person's email only in another letter case while another
   * account holds a case variant of it (CONTRACT §2): whose they are cannot be told. Per table; counts only.
   */
  ambiguous?: Record<string, number>;
}

/** An operator asks for the blocked or failed stores (or the named ones) to be tried now. */
export interface RetryStoresRequest {
  stores?: Store[];
  by: string;
  actionId: string;
}

/** An operator records that a store was dealt with outside Lethe (justification kept apart). */
export interface ResolveStoreRequest {
  store: Store;
  by: string;
  actionId: string;
}

export const retryStoresSignal = defineSignal<[RetryStoresRequest]>('retryStores');
export const resolveStoreSignal = defineSignal<[ResolveStoreRequest]>('resolveStore');

/**
 * A legal hold placed on (`held: true`) or released from an account whose deletion runs
 * (CONTRACT §7): while held, no store not yet verified is called and the deadline clock is
 * paused; the release brings a fresh deadline (72 hours from the release). No hold text here.
 */
export type LegalHoldChange = { held: true; at: string } | { held: false; at: string; deadlineAt: string; warningAt: string };
export const legalHoldSignal = defineSignal<[LegalHoldChange]>('legalHold');

/**
 * How long a refusing store is retried before the request shows it `blocked`, and how often it
 * is tried again after that (an operator's retry tries at once). The defaults; a deployment
 * sets its own (LETHE_BLOCK_AFTER, LETHE_BLOCK_AFTER_TRANSIENT, LETHE_STORE_RETRY_EVERY,
 * LETHE_STORE_ATTEMPT_BUDGET) and the intake passes them in each request's input.
 */
export interface BlockPolicy {
  needsPersonBlockAfterMs: number;
  transientBlockAfterMs: number;
  retryEveryMs: number;
  attemptBudgetMs: number;
}

export const BLOCK_POLICY: BlockPolicy = {
  /** A precondition, a permission or a hold: a person must act; said after this long. */
  needsPersonBlockAfterMs: 15 * 60_000,
  /** A vendor down (5xx, timeouts, 429) retried without a break for this long is shown too. */
  transientBlockAfterMs: 6 * 3_600_000,
  /** The slow cadence of attempts while a store refuses. */
  retryEveryMs: 15 * 60_000,
  /** Transient faults inside one attempt are retried (with backoff) for at most this long. */
  attemptBudgetMs: 30 * 60_000,
};

export const DELETION_STATUSES = ['pending', 'running', 'blocked', 'completed', 'failed', 'skipped', 'held'] as const;
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
  verifyStore: 'verify',
  writeReceipt: 'receipt',
};

export const stepOfActivity = (activityType: string): string => STEP_OF_ACTIVITY[activityType] ?? activityType;

/** One line per store, the same in the live progress and in a receipt read back later. */
export const stepSummary = {
  recurly: (r: NonNullable<StoreCounts['recurly']>): string => `${r.subscriptionsTerminated} subscriptions terminated, redacted: ${r.accountRedacted}`,
  auth0: (r: NonNullable<StoreCounts['auth0']>): string => `${r.usersDeleted} users deleted, ${r.alreadyGone} already gone`,
  media: (r: NonNullable<StoreCounts['media']>): string => `${r.atLeast ? 'at least ' : ''}${r.blobsDeleted} blobs deleted`,
  database: (r: NonNullable<StoreCounts['database']>): string => `${Object.values(r).reduce((a, b) => a + b, 0)} rows deleted`,
  verify: (v: Verification): string =>
    !v.clean
      ? 'data remains; deleting again'
      : v.pending?.length
        ? `no live data in any store; pending: ${v.pending.map((p) => `${p.what}${p.until ? ` (until ${p.until})` : ''}`).join('; ')}`
        : 'every store is empty',
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
  /** Each store on its own (deletions started after stores ran apart). */
  stores?: StoreProgress[];
  /** The stores waiting for a person. */
  blocked?: BlockedStore[];
  /** Under a legal hold (CONTRACT §7): since when, and the stores already done when it was placed. */
  hold?: { since: string; done: Store[] };
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
