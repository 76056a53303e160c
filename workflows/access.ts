/**
 * One access request: a copy of everything Lethe's stores hold about a person (CONTRACT §8,
 * docs/access.md), within the same 72 hours a deletion promises.
 *   1. each store's data is gathered on its own (database, Auth0, Recurly, media) and staged in
 *      Lethe's archive container; a store only a person can unblock shows `blocked` while the
 *      others finish, with the deletion's block policy and retry cadence (workflows/waits.ts);
 *   2. the archive is written (one ZIP, or parts), streamed from the blobs;
 *   3. the read-only links are mailed to the account's address on file;
 *   4. a timer deletes the archive when the links expire.
 * A deletion of the account (the intake signals `accessAccountDeletedSignal`) deletes the archive
 * at once, whatever step this request is in, and ends it `cancelled`. However the run ends
 * (completed, failed, cancelled through Temporal), what it wrote in Lethe's container (staged
 * parts, the archive) is deleted in a scope cancellation cannot interrupt, after every activity
 * that could still write there has finished.
 *
 * History holds ids, times, counts and sizes: the data is staged and written by the activities,
 * and the links are made and mailed inside one activity, never returned.
 */
import { ActivityCancellationType, CancellationScope, condition, defineQuery, defineSignal, isCancellation, log, proxyActivities, setHandler, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { AccessInput, AccessProgress, AccessStore, AccessStoreProgress, ArchiveResult, GatherResult } from '../activities/access/types';
import { failureText, failureTypeOf, FailureType, NEEDS_PERSON, NON_RETRYABLE, type BlockPolicy } from '../contract';
import { backoffMs, blockWhenDue } from './waits';

export const accessWorkflowId = (requestId: string): string => `access-${requestId.toLowerCase()}`;
export const accessProgressQuery = defineQuery<AccessProgress>('accessProgress');
/** The account is being deleted: delete the archive now, stop. Carries nothing. */
export const accessAccountDeletedSignal = defineSignal('accessAccountDeleted');
/** An operator's "try the failing stores now" (`POST /v1/access-requests/{id}/retry`, `lethe access retry`). */
export const accessRetrySignal = defineSignal('accessRetry');

const STORES: readonly AccessStore[] = ['database', 'auth0', 'recurly', 'media'];
const retry: RetryPolicy = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: NON_RETRYABLE };

/** One attempt of a step: transient faults retried inside it for at most the attempt budget; what needs a person comes straight back. */
function attempts(policy: BlockPolicy) {
  const attempt: RetryPolicy = { ...retry, nonRetryableErrorTypes: [...NON_RETRYABLE, ...NEEDS_PERSON] };
  // A run that ends waits for the attempts in flight (they stage files, or write the archive)
  // before it deletes what they wrote: nothing lands in the container after the clean-up.
  const cancellationType = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;
  return {
    // As the deletion's own steps: one attempt lasts at most the attempt budget (LETHE_STORE_ATTEMPT_BUDGET), then the store's failing is seen.
    gather: proxyActivities<Activities>({ startToCloseTimeout: policy.attemptBudgetMs, scheduleToCloseTimeout: policy.attemptBudgetMs, retry: attempt, cancellationType }),
    // Hours for a large account: one attempt lives as long as it heartbeats, at most a day; its
    // retries (a worker lost, a heartbeat missed) end with the attempt budget after that, as the
    // deletion's media step (workflows/stores.ts), so a write that keeps failing comes back to
    // `persist` below and shows `blocked` rather than retrying unseen for ever.
    archive: proxyActivities<Activities>({
      startToCloseTimeout: '24 hours',
      heartbeatTimeout: '1 minute',
      scheduleToCloseTimeout: ARCHIVE_ATTEMPT_MS + policy.attemptBudgetMs,
      retry: attempt,
      cancellationType,
    }),
  };
}
const ARCHIVE_ATTEMPT_MS = 24 * 3_600_000;
// Lethe's own table and container: retried until they answer.
const quick = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry });

interface Run {
  progress: AccessStoreProgress;
  failingSince?: string;
  needsPerson: boolean;
  blocked: boolean;
  retryNow: boolean;
}

export async function accessRequestWorkflow(input: AccessInput): Promise<AccessProgress> {
  const policy = input.blockPolicy;
  const act = attempts(policy);
  const runs: Record<AccessStore | 'archive', Run> = Object.fromEntries(
    [...STORES, 'archive'].map((s) => [s, { progress: { name: s as AccessStore, status: 'pending', attempts: 0 }, needsPerson: false, blocked: false, retryNow: false }]),
  ) as Record<AccessStore | 'archive', Run>;
  const state: AccessProgress = {
    requestId: input.requestId,
    accountId: input.accountId,
    channel: input.channel,
    status: 'running',
    receivedAt: input.receivedAt,
    deadlineAt: input.deadlineAt,
    overdue: false,
    stores: [],
  };
  let deleted = false;
  /** Set when the run is ending otherwise (a store failed for good): the other stores stop retrying. */
  let stopping = false;
  let ended = false;
  const blockedList = () =>
    Object.entries(runs)
      .filter(([, r]) => r.blocked)
      .map(([store, r]) => ({ store, reason: r.progress.reason ?? '', since: r.failingSince ?? '' }));
  setHandler(accessProgressQuery, () => {
    const blocked = blockedList();
    return { ...state, stores: STORES.map((s) => ({ ...runs[s].progress })), ...(blocked.length ? { blocked } : {}) };
  });
  setHandler(accessAccountDeletedSignal, () => void (deleted = true));
  setHandler(accessRetrySignal, () => {
    for (const r of Object.values(runs)) if (r.failingSince) r.retryNow = true;
  });

  // The request's row follows the run in order: each write is scheduled after the one before
  // has finished, so a late `running` can never land over `blocked` or a final status (two
  // activities scheduled together may run in either order). Each carries the status of when it
  // was asked.
  let marks: Promise<void> = Promise.resolve();
  const mark = (extra: { completedAt?: string; expiresAt?: string; counts?: Record<string, Record<string, number>> } = {}): Promise<void> => {
    const req = { requestId: input.requestId, status: state.status, ...extra };
    marks = marks.then(() => quick.markAccessRequest(req).catch((e) => log.error('recording the status failed', { error: failureText(e) })));
    return marks;
  };
  const refreshBlocked = () => {
    if (ended || deleted) return;
    const status = blockedList().length ? 'blocked' : 'running';
    if (status === state.status) return;
    state.status = status;
    void mark();
  };

  // The deadline is watched, not enforced: an overdue request keeps going and says so. It is
  // met once the archive is ready (the links mailed), not when the archive expires a week later.
  void condition(() => ended || state.completedAt !== undefined, Math.max(0, Date.parse(input.deadlineAt) - Date.now()))
    .then((done) => {
      if (!done) {
        state.overdue = true;
        log.error('access request is OVERDUE', { requestId: input.requestId, deadlineAt: input.deadlineAt });
      }
    })
    .catch(() => undefined);

  /**
   * Runs `call` until it succeeds, the account is deleted, the run stops, or retrying cannot
   * help; blocked past the policy's bound. `failed` hears each failure's type.
   */
  async function persist<T>(run: Run, call: () => Promise<T>, failed?: (type: string | undefined) => void): Promise<T | undefined> {
    const p = run.progress;
    let settled = false;
    void blockWhenDue(
      {
        since: () => run.failingSince,
        needsPerson: () => run.needsPerson,
        isBlocked: () => run.blocked,
        settled: () => settled || deleted || stopping,
        block: () => {
          run.blocked = true;
          p.status = 'blocked';
          refreshBlocked();
        },
      },
      policy,
    ).catch(() => undefined);
    try {
      for (let n = 1; ; n++) {
        if (deleted || stopping) return undefined;
        p.attempts++;
        if (!run.blocked) p.status = 'running';
        const startedAt = new Date().toISOString();
        try {
          const r = await call();
          Object.assign(run, { failingSince: undefined, needsPerson: false, blocked: false });
          Object.assign(p, { status: 'done', reason: undefined, since: undefined });
          refreshBlocked();
          return r;
        } catch (err) {
          if (isCancellation(err)) throw err;
          const type = failureTypeOf(err);
          // Deleted since it was filed: nothing to export.
          if (type === FailureType.AccountNotFound) {
            deleted = true;
            return undefined;
          }
          if (type !== undefined && NON_RETRYABLE.includes(type)) throw err;
          failed?.(type);
          run.failingSince ??= startedAt;
          run.needsPerson = type !== undefined && NEEDS_PERSON.includes(type);
          Object.assign(p, { reason: failureText(err), since: run.failingSince, status: run.blocked ? 'blocked' : 'retrying' });
        }
        await condition(() => run.retryNow || deleted || stopping, backoffMs(n, policy));
        run.retryNow = false;
      }
    } finally {
      settled = true;
    }
  }

  const gatherers: Record<AccessStore, (r: { requestId: string; accountId: string }) => Promise<GatherResult>> = {
    database: act.gather.gatherDatabase,
    auth0: act.gather.gatherAuth0,
    recurly: act.gather.gatherRecurly,
    media: act.gather.gatherMedia,
  };
  const req = { requestId: input.requestId, accountId: input.accountId };

  try {
    // A deletion of the account met a run of this request that had already ended: only what it left goes.
    if (input.purgeOnly) return await cancel();
    void mark();
    // 1. Each store on its own. Every store's gathering is let finish (or stop) before the run
    // goes on or ends: one store failing for good stops the others' retries, and nothing they
    // stage lands after the clean-up below.
    const found = await Promise.allSettled(
      STORES.map((s) =>
        persist(runs[s], () => gatherers[s](req)).catch((err: unknown) => {
          stopping = true;
          throw err;
        }),
      ),
    );
    const failure = found.find((f): f is PromiseRejectedResult => f.status === 'rejected');
    if (failure) throw failure.reason;
    for (const f of found) if (f.status === 'fulfilled' && f.value) runs[f.value.store].progress.counts = f.value.counts;
    // 2. The archive. A media file that changed size while it was copied (re-uploaded, still
    // being written) fails the write as Precondition after a few tries; the next try lists the
    // media again first, so an operator's retry once the file is stable goes through.
    let archive: ArchiveResult | undefined;
    let relist = false;
    if (!deleted) {
      archive = await persist(
        runs.archive,
        async () => {
          if (relist) {
            const media = await gatherers.media(req);
            runs.media.progress.counts = media.counts;
            relist = false;
          }
          return act.archive.buildArchive({ ...req, partBytes: input.partBytes });
        },
        (type) => void (relist ||= type === FailureType.Precondition),
      );
    }
    if (deleted || !archive) return await cancel();
    // 3. The links, to the address on file; retried no longer than they would work.
    const expiresAt = new Date(Date.now() + input.linkTtlMs).toISOString();
    state.status = 'ready';
    state.completedAt = new Date().toISOString();
    state.archive = { parts: archive.parts, bytes: archive.bytes, expiresAt };
    await mark({ completedAt: state.completedAt, expiresAt, counts: Object.fromEntries(STORES.map((s) => [s, runs[s].progress.counts ?? {}])) });
    const mailing = proxyActivities<Activities>({
      startToCloseTimeout: '2 minutes',
      scheduleToCloseTimeout: Math.max(1_000, Math.min(input.linkTtlMs, 24 * 3_600_000)),
      retry: { initialInterval: '30 seconds', backoffCoefficient: 2, maximumInterval: '1 hour', nonRetryableErrorTypes: NON_RETRYABLE },
    });
    if (!deleted) {
      await mailing.mailArchiveLinks({ ...req, parts: archive.parts, bytes: archive.bytes, expiresAt }).catch((e) => {
        if (isCancellation(e)) throw e;
        log.warn('the links to the archive were not mailed', { requestId: input.requestId, error: failureText(e) });
      });
    }
    // 4. The archive lives as long as its links, or until the account is deleted.
    await condition(() => deleted, Math.max(0, Date.parse(expiresAt) - Date.now()));
    if (deleted) return await cancel();
    await quick.deleteAccessArchive(input.requestId);
    state.status = 'expired';
    state.archive.deletedAt = new Date().toISOString();
    ended = true;
    await mark();
    return snapshot();
  } catch (err) {
    ended = true;
    if (isCancellation(err)) {
      // Cancelled through Temporal (an operator, a script): the run ends here, and what it wrote goes.
      await purgeCancelled();
      throw err;
    }
    state.status = 'failed';
    state.reason = failureText(err);
    await CancellationScope.nonCancellable(async () => {
      await quick.deleteAccessArchive(input.requestId).catch(() => undefined);
      await mark();
    });
    throw err;
  }

  /** The account is being deleted: whatever was written goes with it. */
  async function cancel(): Promise<AccessProgress> {
    await purgeCancelled();
    return snapshot();
  }

  /** Deletes what the run wrote and records it cancelled, in a scope a cancellation cannot stop. */
  function purgeCancelled(): Promise<void> {
    ended = true;
    return CancellationScope.nonCancellable(async () => {
      await quick.deleteAccessArchive(input.requestId);
      state.status = 'cancelled';
      if (state.archive) state.archive.deletedAt = new Date().toISOString();
      await mark();
    });
  }

  function snapshot(): AccessProgress {
    return { ...state, stores: STORES.map((s) => ({ ...runs[s].progress })) };
  }
}
