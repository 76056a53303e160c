/**
 * One deletion per account: the promise that everything about a person is gone within the
 * deadline. After the freeze (which captures what the later steps need), the four stores are
 * deleted and read back each on its own (workflows/stores.ts); a store only a person can
 * unblock is shown `blocked` while the others finish. The receipt is written once every store
 * is verified empty or resolved outside Lethe by an operator.
 *
 * Histories recorded before the stores ran apart replay the older sequential path.
 */
import { ApplicationFailure, condition, log, patched, proxyActivities, proxyLocalActivities, setHandler, sleep, upsertSearchAttributes, workflowInfo, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  additionalRequestSignal,
  failureText,
  deletionInputProblems,
  FailureType,
  LetheDeadline,
  LetheDeadlineWarning,
  LetheOverdue,
  LetheStatus,
  NON_RETRYABLE,
  progressQuery,
  resolveStoreSignal,
  retryStoresSignal,
  STORES,
  STEP_NAMES,
  stepSummary,
  type DeletionInput,
  type DeletionProgress,
  type Receipt,
  type SkippedDeletion,
  type StepName,
  type Store,
  type StoreCounts,
  type StoreVerification,
  type Verification,
} from '../contract';
import { addCounts, blockedOf, initialStores, runStore, storePatches } from './stores';

/** Histories recorded before the re-check existed replay without it (see the replay test). */
export const RECHECK_PATCH = 'inactivity-recheck-before-delete';
/** Histories recorded before the stores ran apart replay the sequential path. */
export const STORES_APART_PATCH = 'stores-proceed-independently';
/** Histories recorded before an earlier deadline also moved the search attribute. */
export const DEADLINE_ATTRIBUTE_PATCH = 'deadline-moves-search-attribute';

/** Histories recorded before the freeze ran as a local activity replay it as an activity task. */
export const LOCAL_FREEZE_PATCH = 'freeze-runs-locally';
/** Histories recorded before the stores' patches were asked at the start ask them in each store (stores.ts, `storePatches`). */
export const STORE_PATCHES_AT_START = 'store-patches-at-start';

/** Verification passes before giving up and failing loudly for an operator. */
const MAX_PASSES = 5;

const retry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '5 minutes',
  nonRetryableErrorTypes: NON_RETRYABLE,
};

const quick = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry });
// The freeze is a few rows in Lethe's own database, run inside the workflow task that starts
// the deletion: no activity task to queue behind a burst of other deletions' starts, and the
// stores are scheduled in that same task. In a burst of 1,000 requests the vendors' queues
// then start while the burst is still being started, not after every start has been through
// the server twice (bench/RESULTS.md §3e). Same retry policy; once the wait between attempts passes a
// minute (the SDK's local retry threshold), that wait is a workflow timer.
const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '1 minute', retry });
const vendors = proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', heartbeatTimeout: '1 minute', retry });
// A short heartbeat timeout: a dead worker's media deletion is picked up again (from its
// cursor) within seconds, not minutes.
const long = proxyActivities<Activities>({ startToCloseTimeout: '12 hours', heartbeatTimeout: '20 seconds', retry });

export async function accountDeletionWorkflow(input: DeletionInput): Promise<Receipt | SkippedDeletion> {
  // Fails the run at once, naming the field: before any store is touched or timer set.
  const problem = deletionInputProblems(input);
  if (problem) throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: problem, nonRetryable: true });
  const state: DeletionProgress = {
    requestId: input.requestId,
    accountId: input.accountId,
    channel: input.channel,
    channels: [input.channel],
    status: 'running',
    receivedAt: input.receivedAt,
    deadlineAt: input.deadlineAt,
    warning: false,
    overdue: false,
    passes: 0,
    steps: STEP_NAMES.map((name) => ({ name, status: 'pending', runs: 0 })),
  };
  // A sweep's deletion re-checks eligibility before anything is destroyed (CONTRACT §1).
  const recheck = input.channel === 'inactivity' && patched(RECHECK_PATCH);
  const storesApart = patched(STORES_APART_PATCH);
  const freezeAccount = patched(LOCAL_FREEZE_PATCH) ? local.freezeAccount : quick.freezeAccount;
  // Every patch the stores check, asked here, in the first workflow task (stores.ts says why).
  const patchesOfStores = storesApart && patched(STORE_PATCHES_AT_START) ? storePatches() : undefined;
  const stores = initialStores();
  if (storesApart) state.stores = STORES.map((s) => stores[s].progress);
  if (recheck) state.steps.splice(1, 0, { name: 'recheck', status: 'pending', runs: 0 });
  setHandler(progressQuery, () => state);
  let deadlineAt = Date.parse(input.deadlineAt);
  let warningAt = Date.parse(input.warningAt);
  setHandler(additionalRequestSignal, (req) => {
    if (!state.channels.includes(req.channel)) state.channels.push(req.channel);
    // The promise counts from the earliest receipt of any channel.
    const earlier = Date.parse(req.receivedAt);
    if (earlier < Date.parse(state.receivedAt)) {
      const shift = Date.parse(state.receivedAt) - earlier;
      state.receivedAt = req.receivedAt;
      deadlineAt -= shift;
      warningAt -= shift;
      state.deadlineAt = new Date(deadlineAt).toISOString();
      // The Web UI's `LetheDeadline < …` filter must see the earlier deadline too.
      if (patched(DEADLINE_ATTRIBUTE_PATCH)) upsertSearchAttributes([{ key: LetheDeadline, value: new Date(deadlineAt) }]);
    }
  });
  // Operator actions (the API's retry and resolve): recorded by the API with who and why;
  // here they only wake a store or end it.
  setHandler(retryStoresSignal, (req) => {
    for (const s of req.stores ?? STORES) {
      const run = stores[s];
      if (run.progress.status !== 'verified' && run.progress.status !== 'resolved') run.retryNow = true;
    }
  });
  setHandler(resolveStoreSignal, (req) => {
    const p = stores[req.store].progress;
    if (p.status === 'verified' || p.status === 'resolved') return;
    const wasBlocked = p.status === 'blocked';
    Object.assign(p, { status: 'resolved', resolution: { actionId: req.actionId, by: req.by, at: new Date().toISOString() }, detail: 'resolved outside Lethe by an operator' });
    if (wasBlocked) refreshBlocked();
  });
  let refreshBlocked = (): void => undefined;
  upsertSearchAttributes([{ key: LetheStatus, value: 'running' }]);

  let finished = false;
  const watcher = watchDeadline(
    state,
    () => warningAt,
    () => deadlineAt,
    () => finished,
  );

  const step = async <T>(name: StepName, run: () => Promise<T>, summarize?: (r: T) => string): Promise<T> => {
    const s = state.steps.find((x) => x.name === name)!;
    s.status = 'running';
    s.runs++;
    try {
      const r = await run();
      s.status = 'completed';
      s.counts = r;
      s.detail = summarize?.(r);
      return r;
    } catch (err) {
      s.status = 'failed';
      s.detail = failureText(err);
      throw err;
    }
  };

  // Only the sweep asked: a person's own request (another channel joining) is never skipped.
  const onlyTheSweepAsked = () => state.channels.every((c) => c === 'inactivity');

  try {
    await step('freeze', () => freezeAccount(input));
    if (recheck) {
      const check = await step(
        'recheck',
        () => quick.recheckEligibility({ accountId: input.accountId, selectedAt: input.selectedAt }),
        (r) => (r.eligible ? 'still eligible' : `no longer eligible: ${r.reason}`),
      );
      if (!check.eligible && onlyTheSweepAsked()) {
        await quick.releaseAccount({ accountId: input.accountId, requestId: input.requestId });
        // A request from a person that arrived during the release still stands: freeze again.
        if (onlyTheSweepAsked()) {
          finished = true;
          const skippedAt = new Date().toISOString();
          state.status = 'skipped';
          state.reason = check.reason ?? 'no longer eligible';
          state.completedAt = skippedAt;
          for (const s of state.steps) if (s.status === 'pending') s.status = 'skipped';
          upsertSearchAttributes([{ key: LetheStatus, value: 'skipped' }]);
          log.info('inactivity deletion skipped: the account is no longer eligible', { requestId: input.requestId, reason: state.reason });
          await watcher;
          return { requestId: input.requestId, accountId: input.accountId, skipped: true, reason: state.reason, skippedAt };
        }
        await step('freeze', () => freezeAccount(input));
      }
    }
    const counts: StoreCounts = {};
    let verification: Verification | undefined;
    let storeOutcomes: Receipt['stores'];
    if (storesApart) {
      const verifications: Partial<Record<Store, StoreVerification>> = {};
      const stepOf = (s: Store) => state.steps.find((x) => x.name === s)!;
      const syncSteps = () => {
        for (const s of STORES) {
          const p = stores[s].progress;
          const step = stepOf(s);
          step.runs = p.attempts;
          step.status = p.status === 'verified' || p.status === 'resolved' ? 'completed' : p.status === 'pending' ? 'pending' : 'running';
          step.detail =
            p.status === 'verified' ? p.detail && summaryOf(s, counts) : p.status === 'resolved' ? 'resolved outside Lethe by an operator' : p.reason ? `${p.status}: ${p.reason}` : undefined;
        }
      };
      refreshBlocked = () => {
        state.blocked = blockedOf(stores);
        const status = state.blocked.length > 0 ? 'blocked' : 'running';
        syncSteps();
        if (status !== state.status) {
          state.status = status;
          upsertSearchAttributes([{ key: LetheStatus, value: status }]);
          if (status === 'blocked') void notify(state, 'blocked');
          void quick.markRequest(input.requestId, status).catch((e) => log.error('recording the status failed', { error: failureText(e) }));
        }
      };
      const verify = stepOf('verify' as Store);
      verify.status = 'running';
      await Promise.all(
        STORES.map((s) =>
          runStore(
            input.accountId,
            stores[s],
            {
              deleted: (store, c) => {
                addCounts(counts, store, c);
                syncSteps();
              },
              verified: (store, v) => {
                verifications[store] = v;
                syncSteps();
              },
              blockedChanged: () => refreshBlocked(),
            },
            input.blockPolicy,
            patchesOfStores,
          ),
        ),
      );
      state.blocked = [];
      state.passes = 1;
      const v = (s: Store) => verifications[s]?.remaining ?? {};
      verification = {
        clean: STORES.every((s) => stores[s].progress.status === 'verified'),
        blobsRemaining: v('media').blobs ?? 0,
        softDeletedRemaining: v('media').softDeleted ?? 0,
        rowsRemaining: verifications.database ? v('database') : {},
        auth0UsersRemaining: v('auth0').users ?? 0,
        recurly: stores.recurly.progress.status === 'resolved' ? 'present' : counts.recurly?.hadAccount ? 'redacted' : 'none',
        checkedAt: new Date().toISOString(),
      };
      storeOutcomes = Object.fromEntries(
        STORES.map((s) => [
          s,
          stores[s].progress.status === 'resolved'
            ? { outcome: 'resolved_outside_lethe' as const, resolution: stores[s].progress.resolution }
            : { outcome: 'verified' as const, verification: verifications[s] },
        ]),
      ) as Receipt['stores'];
      verify.status = 'completed';
      verify.runs = 1;
      verify.detail = verification.clean ? stepSummary.verify(verification) : 'verified, except the stores resolved outside Lethe';
      if (state.status !== 'running') {
        state.status = 'running';
        upsertSearchAttributes([{ key: LetheStatus, value: 'running' }]);
      }
    } else
      for (;;) {
        state.passes++;
        counts.recurly = await step('recurly', () => vendors.deleteRecurlyAccount(input.accountId), stepSummary.recurly);
        counts.auth0 = await step('auth0', () => vendors.deleteAuth0User(input.accountId), stepSummary.auth0);
        counts.media = addMedia(counts.media, await step('media', () => long.deleteMediaBlobs(input.accountId), stepSummary.media));
        counts.database = addRows(counts.database, await step('database', () => long.deleteDatabaseRows(input.accountId), stepSummary.database));
        verification = await step('verify', () => quick.verifyDeletion(input.accountId), stepSummary.verify);
        if (verification.clean) break;
        log.warn('verification found data left; deleting again', { pass: state.passes, blobs: verification.blobsRemaining });
        if (state.passes >= MAX_PASSES) {
          throw ApplicationFailure.create({
            type: FailureType.DataRemains,
            message: `data remains after ${state.passes} passes: ${JSON.stringify({ blobs: verification.blobsRemaining, softDeleted: verification.softDeletedRemaining, rows: verification.rowsRemaining, auth0: verification.auth0UsersRemaining, recurly: verification.recurly })}`,
            nonRetryable: true,
          });
        }
        await sleep(`${30 * state.passes} seconds`);
      }

    const receipt: Receipt = {
      requestId: input.requestId,
      accountId: input.accountId,
      channel: input.channel,
      channels: state.channels,
      receivedAt: state.receivedAt,
      deadlineAt: state.deadlineAt,
      completedAt: new Date().toISOString(),
      overdue: state.overdue,
      passes: state.passes,
      counts,
      verification: verification!,
      ...(storeOutcomes ? { stores: storeOutcomes } : {}),
    };
    await step('receipt', () => quick.writeReceipt(receipt));
    finished = true;
    state.status = 'completed';
    state.completedAt = receipt.completedAt;
    state.receipt = receipt;
    upsertSearchAttributes([{ key: LetheStatus, value: 'completed' }]);
    await watcher;
    return receipt;
  } catch (err) {
    finished = true;
    state.status = 'failed';
    state.reason = failureText(err);
    upsertSearchAttributes([{ key: LetheStatus, value: 'failed' }]);
    await quick.markRequest(input.requestId, 'failed').catch(() => undefined);
    throw err;
  }
}

function summaryOf(store: Store, counts: StoreCounts): string | undefined {
  const c = counts[store];
  if (!c) return undefined;
  return store === 'media'
    ? stepSummary.media(counts.media!)
    : store === 'database'
      ? stepSummary.database(counts.database!)
      : store === 'auth0'
        ? stepSummary.auth0(counts.auth0!)
        : stepSummary.recurly(counts.recurly!);
}

/** Posts to the operators' webhook (and logs and counts); never fails the deletion. */
function notify(state: DeletionProgress, kind: 'warning' | 'overdue' | 'blocked'): Promise<unknown> {
  return quick
    .notifyOperators({
      kind,
      requestId: state.requestId,
      accountId: state.accountId,
      workflowId: workflowInfo().workflowId,
      deadlineAt: state.deadlineAt,
      ...(kind === 'blocked' ? { blocked: state.blocked } : {}),
    })
    .catch((e) => log.error('operator notification failed', { kind, error: failureText(e) }));
}

/** Durable timers for the warning and the breach; deletion keeps going either way. */
async function watchDeadline(state: DeletionProgress, warningAt: () => number, deadlineAt: () => number, finished: () => boolean): Promise<void> {
  // Re-armed when a signal moves the deadline earlier: condition() wakes on state changes.
  let w = warningAt();
  while (!finished() && !state.warning) {
    const wait = w - Date.now();
    if (wait > 0 && (await condition(() => finished() || warningAt() !== w, wait))) {
      w = warningAt();
      continue;
    }
    if (finished()) return;
    state.warning = true;
    upsertSearchAttributes([{ key: LetheDeadlineWarning, value: true }]);
    log.warn('deletion is near its deadline', { requestId: state.requestId, deadlineAt: state.deadlineAt });
    await notify(state, 'warning');
  }
  let d = deadlineAt();
  while (!finished() && !state.overdue) {
    const wait = d - Date.now();
    if (wait > 0 && (await condition(() => finished() || deadlineAt() !== d, wait))) {
      d = deadlineAt();
      continue;
    }
    if (finished()) return;
    state.overdue = true;
    upsertSearchAttributes([{ key: LetheOverdue, value: true }]);
    log.error('deletion is OVERDUE', { requestId: state.requestId, deadlineAt: state.deadlineAt });
    await notify(state, 'overdue');
  }
}

function addMedia(prev: StoreCounts['media'], next: NonNullable<StoreCounts['media']>): NonNullable<StoreCounts['media']> {
  if (!prev) return next;
  const byContainer = { ...prev.byContainer };
  for (const [k, v] of Object.entries(next.byContainer)) byContainer[k] = (byContainer[k] ?? 0) + v;
  return {
    blobsDeleted: prev.blobsDeleted + next.blobsDeleted,
    byContainer,
    listCalls: prev.listCalls + next.listCalls,
    batchCalls: prev.batchCalls + next.batchCalls,
    resumed: prev.resumed || next.resumed,
  };
}

function addRows(prev: Record<string, number> | undefined, next: Record<string, number>): Record<string, number> {
  const out = { ...(prev ?? {}) };
  for (const [k, v] of Object.entries(next)) out[k] = (out[k] ?? 0) + v;
  return out;
}
