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
 * at once, whatever step this request is in, and ends it `cancelled`.
 *
 * History holds ids, times, counts and sizes: the data is staged and written by the activities,
 * and the links are made and mailed inside one activity, never returned.
 */
import { condition, defineQuery, defineSignal, isCancellation, log, proxyActivities, setHandler, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { AccessInput, AccessProgress, AccessStore, AccessStoreProgress, ArchiveResult, GatherResult } from '../activities/access/types';
import { failureText, failureTypeOf, FailureType, NEEDS_PERSON, NON_RETRYABLE, type BlockPolicy } from '../contract';
import { backoffMs, blockWhenDue } from './waits';

export const accessWorkflowId = (requestId: string): string => `access-${requestId.toLowerCase()}`;
export const accessProgressQuery = defineQuery<AccessProgress>('accessProgress');
/** The account is being deleted: delete the archive now, stop. Carries nothing. */
export const accessAccountDeletedSignal = defineSignal('accessAccountDeleted');
/** An operator's "try the blocked stores now". */
export const accessRetrySignal = defineSignal('accessRetry');

const STORES: readonly AccessStore[] = ['database', 'auth0', 'recurly', 'media'];
const retry: RetryPolicy = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: NON_RETRYABLE };

/** One attempt of a step: transient faults retried inside it for at most the attempt budget; what needs a person comes straight back. */
function attempts(policy: BlockPolicy) {
  const attempt: RetryPolicy = { ...retry, nonRetryableErrorTypes: [...NON_RETRYABLE, ...NEEDS_PERSON] };
  return {
    // As the deletion's own steps: one attempt lasts at most the attempt budget (LETHE_STORE_ATTEMPT_BUDGET), then the store's failing is seen.
    gather: proxyActivities<Activities>({ startToCloseTimeout: policy.attemptBudgetMs, scheduleToCloseTimeout: policy.attemptBudgetMs, retry: attempt }),
    // Hours for a large account: one attempt lives as long as it heartbeats; its own budget
    // (classified) ends transient retries after the attempt budget.
    archive: proxyActivities<Activities>({ startToCloseTimeout: '24 hours', heartbeatTimeout: '1 minute', retry: attempt }),
  };
}
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

  const mark = (extra: { completedAt?: string; expiresAt?: string; counts?: Record<string, Record<string, number>> } = {}) =>
    quick.markAccessRequest({ requestId: input.requestId, status: state.status, ...extra }).catch((e) => log.error('recording the status failed', { error: failureText(e) }));
  const refreshBlocked = () => {
    if (ended || deleted) return;
    const status = blockedList().length ? 'blocked' : 'running';
    if (status === state.status) return;
    state.status = status;
    void mark();
  };

  // The deadline is watched, not enforced: an overdue request keeps going and says so. It is
  // met once the archive is ready (the links mailed), not when the archive expires a week later.
  void condition(() => ended || state.completedAt !== undefined, Math.max(0, Date.parse(input.deadlineAt) - Date.now())).then((done) => {
    if (!done) {
      state.overdue = true;
      log.error('access request is OVERDUE', { requestId: input.requestId, deadlineAt: input.deadlineAt });
    }
  });

  /** Runs `call` until it succeeds, the account is deleted, or retrying cannot help; blocked past the policy's bound. */
  async function persist<T>(run: Run, call: () => Promise<T>): Promise<T | undefined> {
    const p = run.progress;
    let settled = false;
    void blockWhenDue(
      {
        since: () => run.failingSince,
        needsPerson: () => run.needsPerson,
        isBlocked: () => run.blocked,
        settled: () => settled || deleted,
        block: () => {
          run.blocked = true;
          p.status = 'blocked';
          refreshBlocked();
        },
      },
      policy,
    );
    try {
      for (let n = 1; ; n++) {
        if (deleted) return undefined;
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
          run.failingSince ??= startedAt;
          run.needsPerson = type !== undefined && NEEDS_PERSON.includes(type);
          Object.assign(p, { reason: failureText(err), since: run.failingSince, status: run.blocked ? 'blocked' : 'retrying' });
        }
        await condition(() => run.retryNow || deleted, backoffMs(n, policy));
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
    void mark();
    // 1. Each store on its own.
    const found = await Promise.all(STORES.map((s) => persist(runs[s], () => gatherers[s](req))));
    for (const f of found) if (f) runs[f.store].progress.counts = f.counts;
    // 2. The archive.
    let archive: ArchiveResult | undefined;
    if (!deleted) archive = await persist(runs.archive, () => act.archive.buildArchive({ ...req, partBytes: input.partBytes }));
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
      await mailing
        .mailArchiveLinks({ ...req, parts: archive.parts, bytes: archive.bytes, expiresAt })
        .catch((e) => log.warn('the links to the archive were not mailed', { requestId: input.requestId, error: failureText(e) }));
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
    if (isCancellation(err)) throw err;
    ended = true;
    state.status = 'failed';
    state.reason = failureText(err);
    await quick.deleteAccessArchive(input.requestId).catch(() => undefined);
    await mark();
    throw err;
  }

  /** The account is being deleted: whatever was written goes with it. */
  async function cancel(): Promise<AccessProgress> {
    ended = true;
    await quick.deleteAccessArchive(input.requestId);
    state.status = 'cancelled';
    if (state.archive) state.archive.deletedAt = new Date().toISOString();
    await mark();
    return snapshot();
  }

  function snapshot(): AccessProgress {
    return { ...state, stores: STORES.map((s) => ({ ...runs[s].progress })) };
  }
}
