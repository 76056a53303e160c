/**
 * The four stores, each on its own: after the freeze, media, Auth0, Recurly and the database
 * rows are deleted and read back independently, so a vendor that is down or refusing for days
 * never holds back the others (the person's images are gone minutes after the request).
 *
 * A store that fails is retried: transient faults (5xx, timeouts, 429) inside an attempt with
 * the activity's backoff, then attempt after attempt; refusals only a person can fix (a
 * precondition, a permission, a hold) on a slow cadence. Past a bound the store shows as
 * `blocked`, with the vendor's reason and what to do, and waits for the vendor to recover, an
 * operator's retry, or an operator's resolution outside Lethe. The bound is a timer from when
 * the store began failing (workflows/waits.ts), whether an attempt is running or backing off.
 * Nothing fails terminally while anything remains.
 *
 * Auth0's and Recurly's activities (the deletion and its read-back) run on the vendor's own task
 * queues (workflows/queues.ts), whose server-side rates are the deployment's budget of calls to
 * that vendor. The waits between a store's attempts are jittered (the workflow's Math.random is
 * seeded, so replay-safe): stores that failed together do not come back together.
 */
import { ActivityFailure, ApplicationFailure, condition, isCancellation, proxyActivities, TimeoutFailure, workflowInfo, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  BLOCK_POLICY,
  failureText,
  failureTypeOf,
  FailureType,
  isMediaCursor,
  isRecurlyDone,
  mediaCountsOf,
  NEEDS_PERSON,
  NON_RETRYABLE,
  type BlockedStore,
  type OwnReadBack,
  type BlockPolicy,
  type Store,
  type StoreCounts,
  type StoreProgress,
  type StoreVerification,
} from '../contract';
import { vendorTaskQueue, type VendorStep } from './queues';
import { backoffMs, blockWhenDue, type StepRun } from './waits';

/** How soon a store whose attempt met a legal hold looks again (the hold's signal is on its way). */
const LEGAL_HOLD_RECHECK_MS = 30_000;

// Needs-a-person failures come straight back to the workflow, which owns their slow cadence;
// transient ones are retried inside the attempt, for at most the attempt budget.
const retry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '5 minutes',
  nonRetryableErrorTypes: [...NON_RETRYABLE, ...NEEDS_PERSON],
};
function activitiesFor(policy: BlockPolicy) {
  const budget = policy.attemptBudgetMs;
  const mainQueue = workflowInfo().taskQueue;
  const taskQueueOf = (store: Store, step: VendorStep) => (store === 'auth0' || store === 'recurly' ? vendorTaskQueue(mainQueue, store, step) : undefined);
  // Scheduled onto a rate-limited queue, a task may wait there: schedule-to-close (the attempt
  // budget) bounds the wait and the attempts together; start-to-close bounds one attempt.
  const vendor = (store: Store, step: VendorStep = 'delete') => {
    const taskQueue = taskQueueOf(store, step);
    return proxyActivities<Activities>({ startToCloseTimeout: Math.min(budget, 5 * 60_000), heartbeatTimeout: '1 minute', scheduleToCloseTimeout: budget, retry, ...(taskQueue ? { taskQueue } : {}) });
  };
  const readBack = (store: Store) => {
    const taskQueue = taskQueueOf(store, 'read-back');
    return proxyActivities<Activities>({ startToCloseTimeout: Math.min(budget, 2 * 60_000), scheduleToCloseTimeout: budget, retry, ...(taskQueue ? { taskQueue } : {}) });
  };
  return {
    auth0: vendor('auth0'),
    recurly: vendor('recurly'),
    recurlyForTheSweep: vendor('recurly', 'sweep-delete'),
    readBack,
    // A short heartbeat timeout: a dead worker's media deletion is picked up again (from its
    // cursor) within seconds. A large account's media may take hours: its budget is longer.
    long: proxyActivities<Activities>({ startToCloseTimeout: '12 hours', heartbeatTimeout: '20 seconds', scheduleToCloseTimeout: 12 * 3_600_000 + budget, retry }),
    quick: proxyActivities<Activities>({ startToCloseTimeout: Math.min(budget, 2 * 60_000), scheduleToCloseTimeout: budget, retry }),
  };
}

/** What an operator can do, per store and kind of refusal (the playbook in docs/operations.md has more). */
function actionFor(store: Store, type: string | undefined, reason = ''): string {
  if (type === FailureType.Unauthorized) {
    return store === 'auth0'
      ? 'Lethe lacks an Auth0 Management API scope or its credentials were refused: grant the client read:users, delete:users, update:users, read:grants, delete:grants, read:organizations and delete:organization_members (on an Enterprise plan also read:sessions, delete:sessions, read:refresh_tokens and delete:refresh_tokens), then retry'
      : store === 'recurly'
        ? 'Recurly refused the API key: check RECURLY_API_KEY and its site, then retry'
        : store === 'media'
          ? 'Blob Storage refused the credentials: check AZURE_STORAGE_CONNECTION_STRING, or with Entra ID AZURE_STORAGE_ACCOUNT_URL and the role of its identity (Storage Blob Data Owner, for deleting versions), then retry'
          : 'PostgreSQL refused Lethe: check DATABASE_URL and its grants, then retry';
  }
  if (type === FailureType.Held)
    return 'blobs are under a legal hold, an immutability policy or a lease: release them at the storage account (or record the deletion as resolved outside Lethe with a justification), then retry';
  if (type === FailureType.Precondition) {
    if (store !== 'recurly') return 'the store refused a precondition: see the reason, fix it, then retry';
    // The cause is in the reason (activities/deletion/recurly.ts): name the one that applies.
    if (reason.includes('bill_to=parent'))
      return 'the account is billed to its parent in Recurly: set it to bill itself (bill_to=self) or remove its parent, after settling what the parent owes for it, then retry';
    if (reason.includes('child account'))
      return 'Recurly refuses to redact a parent with open child accounts: remove this account as their parent (or close them) in Recurly, settle any open charges or invoices, then retry';
    return 'Recurly refuses the redaction while charges or invoices are open: settle or void them in Recurly, then retry';
  }
  return 'Lethe keeps retrying on its own; check the vendor status page, or retry once it recovers';
}

export interface StoreRun {
  progress: StoreProgress;
  /** An operator asked for an attempt now. */
  retryNow: boolean;
  /** Its latest failure is one only a person can fix (the shorter bound). */
  needsPerson?: boolean;
  /** Its latest failure's type, while it fails: what Lethe's tables keep instead of the vendor's text (activities/deletion/state.ts). */
  reasonCode?: string;
}

export interface StoresHooks {
  /** The store's counts after each successful deletion attempt. */
  deleted(store: Store, counts: unknown): void;
  /** A store turned blocked (once per episode) or stopped being blocked. */
  blockedChanged(): void;
  verified(store: Store, v: StoreVerification): void;
  /** Resolves at once unless a legal hold is in force; then when it is released (no store is called while held). */
  unheld?(): Promise<void>;
  /** True while no channel but the inactivity sweep asked: Recurly's deletion then goes on the sweep's queue (workflows/queues.ts). */
  onlyTheSweepAsked?(): boolean;
}

/** Fresh state for every store. */
export function initialStores(): Record<Store, StoreRun> {
  const run = (store: Store): StoreRun => ({ progress: { store, status: 'pending', attempts: 0 }, retryNow: false });
  return { media: run('media'), auth0: run('auth0'), recurly: run('recurly'), database: run('database') };
}

/** What waits for a person: the blocked stores, then the deletion's own blocked steps. */
export const blockedOf = (stores: Record<Store, StoreRun>, steps: StepRun[] = []): BlockedStore[] => [
  ...Object.values(stores)
    .filter((s) => s.progress.status === 'blocked')
    .map((s) => ({ store: s.progress.store, reason: s.progress.reason ?? 'refused', since: s.progress.failingSince ?? '', action: s.progress.action ?? '' })),
  ...steps.filter((s) => s.blocked).map((s) => ({ store: s.progress.name, reason: s.reason ?? 'refused', since: s.failingSince ?? '', action: s.action ?? '' })),
];

/** Runs one store until it is verified empty or resolved by an operator. */
export async function runStore(accountId: string, run: StoreRun, hooks: StoresHooks, policy: BlockPolicy = BLOCK_POLICY): Promise<void> {
  const p = run.progress;
  let settled = false;
  void blockWhenDue(
    {
      since: () => p.failingSince,
      needsPerson: () => run.needsPerson ?? false,
      isBlocked: () => p.status === 'blocked',
      settled: () => settled || p.status === 'resolved' || p.status === 'verified',
      block: () => {
        p.status = 'blocked';
        hooks.blockedChanged();
      },
    },
    policy,
  );
  try {
    await attemptsOf(accountId, run, hooks, policy);
  } finally {
    settled = true;
  }
}

async function attemptsOf(accountId: string, run: StoreRun, hooks: StoresHooks, policy: BlockPolicy): Promise<void> {
  const p = run.progress;
  const { auth0, recurly, recurlyForTheSweep, long, readBack } = activitiesFor(policy);
  const quick = readBack(p.store);
  const attempt: Record<Store, () => Promise<unknown>> = {
    media: () => long.deleteMediaBlobs(accountId),
    database: () => long.deleteDatabaseRows(accountId),
    auth0: () => auth0.deleteAuth0User(accountId),
    // Asked at each attempt: a person's request joining the sweep's moves it to people's queue.
    recurly: () => (hooks.onlyTheSweepAsked?.() ? recurlyForTheSweep : recurly).deleteRecurlyAccount(accountId),
  };
  for (;;) {
    if (p.status === 'resolved') return;
    await hooks.unheld?.();
    if ((p.status as string) === 'resolved') return;
    if (p.status !== 'blocked') p.status = p.failingSince ? 'retrying' : 'running';
    p.attempts++;
    // A failing attempt has been failing since it began: its transient retries spanned it.
    const attemptStartedAt = new Date().toISOString();
    let type: string | undefined;
    let untyped = 'Unknown';
    try {
      const { readBack: ownRead, ...done } = ((await attempt[p.store]()) ?? {}) as OwnReadBack & Record<string, unknown>;
      // Resumed from a dead attempt's last heartbeat: what it deleted after that is counted by no one.
      hooks.deleted(p.store, p.store === 'media' ? { ...done, atLeast: done.resumed === true } : done);
      // A hold placed while the deletion ran: the store is not read back (nor called) until released.
      const doneAt = Date.now();
      await hooks.unheld?.();
      // The activity's own last read, when it is the read-back's (contract OwnReadBack), unless a
      // hold came between (then it is old: read again). Replay stays deterministic without a
      // patch: a recorded result without one reads back as before.
      const fresh = ownRead && Date.now() === doneAt ? ownRead : undefined;
      const v = fresh ?? (await quick.verifyStore({ accountId, store: p.store }));
      if (v.clean) {
        if ((p.status as string) === 'resolved') return;
        const wasBlocked = p.status === 'blocked';
        Object.assign(p, { status: 'verified', failingSince: undefined, reason: undefined, action: undefined, detail: 'read back empty' });
        run.reasonCode = undefined;
        hooks.verified(p.store, v);
        if (wasBlocked) hooks.blockedChanged();
        return;
      }
      // Deleted, yet something is still there (an asynchronous vendor, a late upload): again.
      type = FailureType.DataRemains;
      p.reason = `data remains after deleting: ${Object.entries(v.remaining)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`;
    } catch (err) {
      if (isCancellation(err)) throw err;
      type = failureTypeOf(err);
      // A failure without a type of Lethe's: the attempt ran out of its budget, or something unclassified.
      untyped = err instanceof ActivityFailure && err.cause instanceof TimeoutFailure ? 'Timeout' : 'Unknown';
      p.reason = failureText(err);
      // Blobs a failed media activity deleted (before a hold, or its timeout), subscriptions a
      // failed Recurly activity ended (before a refused redaction) are gone: the next activity
      // will not find them to count, so the receipt counts them from the failure.
      const part = p.store === 'media' ? mediaDoneBefore(err) : p.store === 'recurly' ? recurlyDoneBefore(err) : undefined;
      if (part) hooks.deleted(p.store, part);
    }
    if ((p.status as string) === 'resolved') return;
    if (type === FailureType.LegalHold) {
      // The attempt saw a hold before the workflow's signal did: nothing failed at the store, so
      // no failing clock starts and the store never turns blocked for it (the request shows
      // `held`). Look again shortly: by then the signal has arrived and the loop's unheld()
      // waits for the release; a hold that ended meanwhile lets the next attempt through.
      p.detail = 'waiting for the legal hold to be released';
      await condition(() => run.retryNow || p.status === 'resolved', LEGAL_HOLD_RECHECK_MS);
      run.retryNow = false;
      continue;
    }
    p.failingSince ??= attemptStartedAt;
    p.action = actionFor(p.store, type, p.reason);
    run.reasonCode = type ?? untyped;
    // The timer in runStore turns it blocked once its bound has passed since failingSince.
    run.needsPerson = type !== undefined && NEEDS_PERSON.includes(type);
    if (p.status !== 'blocked') p.status = 'retrying';
    // Backing off from 30 s to the slow cadence: a refusal that a restart clears (a token the
    // vendor no longer knows, a permission just granted) is retried within a minute; one that
    // only a person can clear settles on the slow cadence.
    await condition(() => run.retryNow || p.status === 'resolved', backoffMs(p.attempts, policy));
    run.retryNow = false;
  }
}

/** A failed media activity's counts: its failure's details, or the last heartbeat before it timed out. */
function mediaDoneBefore(err: unknown): NonNullable<StoreCounts['media']> | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const cursor = cause instanceof ApplicationFailure ? cause.details?.[0] : cause instanceof TimeoutFailure ? cause.lastHeartbeatDetails : undefined;
  if (!isMediaCursor(cursor)) return undefined;
  // From a timeout's last heartbeat, blobs deleted after it are not counted: at least this many.
  const counts = { ...mediaCountsOf(cursor, true), atLeast: cause instanceof TimeoutFailure };
  return counts.blobsDeleted + (counts.softDeletedPurged ?? 0) > 0 ? counts : undefined;
}

/** A failed Recurly activity's subscriptions ended: its failure's details, or the last heartbeat (its memo) before it timed out. */
function recurlyDoneBefore(err: unknown): NonNullable<StoreCounts['recurly']> | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  const memo = cause instanceof TimeoutFailure ? (cause.lastHeartbeatDetails as { terminated?: unknown; canceled?: unknown } | undefined) : undefined;
  const d = cause instanceof ApplicationFailure ? cause.details?.[0] : memo && { recurlyTerminated: memo.terminated ?? 0, recurlyCanceled: memo.canceled ?? 0 };
  if (!isRecurlyDone(d) || d.recurlyTerminated + d.recurlyCanceled === 0) return undefined;
  return { subscriptionsTerminated: d.recurlyTerminated, subscriptionsCanceled: d.recurlyCanceled, accountRedacted: false, hadAccount: true };
}

/** Reads one store back once more (the final read-back before the receipt): one attempt. */
export function readStore(accountId: string, store: Store, policy: BlockPolicy = BLOCK_POLICY): Promise<StoreVerification> {
  return activitiesFor(policy).readBack(store).verifyStore({ accountId, store });
}

/** Adds one attempt's counts to the totals (media and rows add up; vendors keep the latest). */
export function addCounts(counts: StoreCounts, store: Store, next: unknown): void {
  if (store === 'media') {
    const n = next as NonNullable<StoreCounts['media']>;
    const prev = counts.media;
    if (!prev) {
      counts.media = n;
      return;
    }
    const byContainer = { ...prev.byContainer };
    for (const [k, v] of Object.entries(n.byContainer)) byContainer[k] = (byContainer[k] ?? 0) + v;
    counts.media = {
      ...n,
      blobsDeleted: prev.blobsDeleted + n.blobsDeleted,
      byContainer,
      listCalls: prev.listCalls + n.listCalls,
      batchCalls: prev.batchCalls + n.batchCalls,
      resumed: prev.resumed || n.resumed,
      softDeletedPurged: (prev.softDeletedPurged ?? 0) + (n.softDeletedPurged ?? 0),
      leasesBroken: (prev.leasesBroken ?? 0) + (n.leasesBroken ?? 0),
      atLeast: !!(prev.atLeast || n.atLeast),
    };
  } else if (store === 'database') {
    const out = { ...(counts.database ?? {}) };
    for (const [k, v] of Object.entries(next as Record<string, number>)) out[k] = (out[k] ?? 0) + v;
    counts.database = out;
  } else if (store === 'auth0') {
    const n = next as NonNullable<StoreCounts['auth0']>;
    // The latest attempt's own fields (what the tenant offers, what it found) win; deletions add up.
    counts.auth0 = counts.auth0 ? { ...n, usersDeleted: counts.auth0.usersDeleted + n.usersDeleted } : n;
  } else {
    const n = next as NonNullable<StoreCounts['recurly']>;
    counts.recurly = counts.recurly
      ? {
          ...n,
          subscriptionsTerminated: counts.recurly.subscriptionsTerminated + n.subscriptionsTerminated,
          subscriptionsCanceled: (counts.recurly.subscriptionsCanceled ?? 0) + (n.subscriptionsCanceled ?? 0),
          accountRedacted: counts.recurly.accountRedacted || n.accountRedacted,
          hadAccount: counts.recurly.hadAccount || n.hadAccount,
        }
      : n;
  }
}
