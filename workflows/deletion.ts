/**
 * One deletion per account: the promise that everything about a person is gone within the
 * deadline (CONTRACT §1), in the policy's order:
 *   1. the freeze: the account refuses logins and uploads, and what the later steps need is captured;
 *   2. for the sweep's deletions only, the re-check: an account used since it was selected is kept;
 *   3. the four stores, each deleted and read back on its own (workflows/stores.ts): a store only a
 *      person can unblock is shown `blocked` while the others finish;
 *   4. the final read-back: every store not resolved is read once more right before the receipt
 *      (a store blocked for a week must not leave the others last read a week earlier; a vendor
 *      store read in the last ten minutes is not read again, FRESH_VENDOR_READ_MS), and a
 *      store where something reappeared (an upload through an issued URL, a new ticket) is
 *      deleted and read back again;
 *   5. the receipt, once every store is verified empty or resolved outside Lethe by an operator.
 * The 48-hour warning and the 72-hour breach are timers beside all of it (`watchDeadline`). Every
 * wait is seen: a store, or a step of Lethe's own, failing for longer than the block policy's
 * bound shows `blocked` with the reason and what to do, and keeps being retried (workflows/waits.ts).
 */
import { ApplicationFailure, condition, log, patched, proxyActivities, proxyLocalActivities, setHandler, upsertSearchAttributes, workflowInfo, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DeletionStateRecord } from '../activities/deletion/state';
import {
  additionalRequestSignal,
  failureText,
  legalHoldSignal,
  deletionInputProblems,
  FailureType,
  LetheDeadline,
  LetheDeadlineWarning,
  LetheOverdue,
  LetheStatus,
  NEEDS_PERSON,
  NON_RETRYABLE,
  NOTICE_ATTEMPTS,
  BLOCK_POLICY,
  FRESH_VENDOR_READ_MS,
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
  type BlockPolicy,
  type StepProgress,
  type Store,
  type StoreCounts,
  type StoreVerification,
  type Verification,
  type WaitingStep,
} from '../contract';
import { addCounts, blockedOf, initialStores, readStore, runStore, type StoreRun } from './stores';
import { persist, stepRun, type StepRun } from './waits';
import { VENDOR_QUEUE_STORES } from './queues';

const retry: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '5 minutes',
  nonRetryableErrorTypes: NON_RETRYABLE,
};

// Notices and status marks: retried until they go through, never holding up a step.
const quick = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry });
// Mail to the person: retried for a few hours, then given up (the activity records it and
// erases the address on its last attempt), so a dead mail server never keeps a deletion open.
const mail = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '30 seconds', backoffCoefficient: 2, maximumInterval: '1 hour', maximumAttempts: NOTICE_ATTEMPTS, nonRetryableErrorTypes: NON_RETRYABLE },
});

// Each store's state and the request's status, into Lethe's own tables (activities/deletion/state.ts).
// An activity, not a local one: with local records, a replay of a finished run (a query after
// completion, on the time-skipping server) scheduled the stores' activities in another order than
// the history and failed as nondeterministic; activity events replay in their order. Coalescing
// keeps them few (about six records a deletion). Its retries are few: a record that fails is
// healed by the next one, which carries the whole state. A worker without it (tests with stub
// activities) fails it at once (NotFoundError), and the deletion goes on.
const tables = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 8, nonRetryableErrorTypes: [...NON_RETRYABLE, 'NotFoundError'] },
});

/**
 * The activities of the deletion's own steps (freeze, re-check, receipt). One call is one
 * attempt: transient faults are retried inside it for at most the attempt budget, and failures
 * only a person can fix come straight back, so the step's failing is seen (workflows/waits.ts).
 */
// The freeze is a few rows in Lethe's own database, run inside the workflow task that starts
// the deletion: no activity task to queue behind a burst of other deletions' starts, and the
// stores are scheduled in that same task. In a burst of 1,000 requests the vendors' queues
// then start while the burst is still being started, not after every start has been through
// the server twice (bench/RESULTS.md §3e). Once the wait between its attempts passes a minute
// (the SDK's local retry threshold), that wait is a workflow timer.
function stepActivities(policy: BlockPolicy) {
  const attempt: RetryPolicy = { ...retry, nonRetryableErrorTypes: [...NON_RETRYABLE, ...NEEDS_PERSON] };
  const budget = policy.attemptBudgetMs;
  return {
    local: proxyLocalActivities<Activities>({ startToCloseTimeout: '1 minute', scheduleToCloseTimeout: budget, retry: attempt }),
    remote: proxyActivities<Activities>({ startToCloseTimeout: Math.min(budget, 2 * 60_000), scheduleToCloseTimeout: budget, retry: attempt }),
  };
}

/** What the progress query holds apart from the steps, which it derives when it is asked. */
type DeletionState = Omit<DeletionProgress, 'steps' | 'stores' | 'blocked'>;

export async function accountDeletionWorkflow(input: DeletionInput): Promise<Receipt | SkippedDeletion> {
  // Fails the run at once, naming the field: before any store is touched or timer set.
  const problem = deletionInputProblems(input);
  if (problem) throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: problem, nonRetryable: true });
  // A sweep's deletion re-checks eligibility before anything is destroyed (CONTRACT §1).
  const recheck = input.channel === 'inactivity';
  const policy = input.blockPolicy ?? BLOCK_POLICY;
  const { local, remote } = stepActivities(policy);
  const state: DeletionState = {
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
  };
  const stores = initialStores();
  const own: Partial<Record<WaitingStep, StepRun>> = {};
  for (const name of ['freeze', ...(recheck ? ['recheck' as const] : []), 'verify', 'receipt'] as const) own[name] = stepRun(name);
  const ownRuns = () => Object.values(own);
  const counts: StoreCounts = {};
  setHandler(progressQuery, (): DeletionProgress => ({
    ...state,
    steps: stepsOf(own, stores, counts, state.status === 'skipped'),
    stores: STORES.map((s) => ({ ...stores[s].progress })),
    blocked: blockedOf(stores, ownRuns()),
  }));

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
      upsertSearchAttributes([{ key: LetheDeadline, value: new Date(deadlineAt) }]);
    }
  });
  // Operator actions (the API's retry and resolve): recorded by the API with who and why;
  // here they only wake a store or end it.
  setHandler(retryStoresSignal, (req) => {
    for (const s of req.stores ?? STORES) {
      const run = stores[s];
      if (run && run.progress.status !== 'verified' && run.progress.status !== 'resolved') run.retryNow = true;
    }
    // Without named stores: the deletion's own waiting step too.
    if (!req.stores) for (const r of ownRuns()) if (r.failingSince) r.retryNow = true;
  });
  setHandler(resolveStoreSignal, (req) => {
    const p = stores[req.store]?.progress;
    if (!p || p.status === 'verified' || p.status === 'resolved') return;
    const wasBlocked = p.status === 'blocked';
    Object.assign(p, { status: 'resolved', resolution: { actionId: req.actionId, by: req.by, at: new Date().toISOString() }, detail: 'resolved outside Lethe by an operator' });
    if (wasBlocked) refreshBlocked();
  });
  // A legal hold placed while the deletion runs (CONTRACT §7): every store not yet verified
  // waits before its next call, the deadline clock stops, and the status shows which stores
  // were already done. The release brings a fresh deadline (72 hours from the release).
  let held = false;
  let finished = false;
  const unheld = (): Promise<void> => (held ? condition(() => !held) : Promise.resolve());
  setHandler(legalHoldSignal, (change) => {
    if (change.held) {
      if (held || finished) return;
      held = true;
      state.hold = { since: change.at, done: STORES.filter((s) => stores[s].progress.status === 'verified' || stores[s].progress.status === 'resolved') };
      state.status = 'held';
      upsertSearchAttributes([{ key: LetheStatus, value: 'held' }]);
      void quick.markRequest(input.requestId, 'held').catch((e) => log.error('recording the status failed', { error: failureText(e) }));
      return;
    }
    if (!held) return;
    held = false;
    state.hold = undefined;
    deadlineAt = Date.parse(change.deadlineAt);
    warningAt = Date.parse(change.warningAt);
    state.deadlineAt = change.deadlineAt;
    upsertSearchAttributes([{ key: LetheDeadline, value: new Date(deadlineAt) }]);
    state.status = 'running';
    upsertSearchAttributes([{ key: LetheStatus, value: 'running' }]);
    void quick.markRequest(input.requestId, 'running').catch((e) => log.error('recording the status failed', { error: failureText(e) }));
    refreshBlocked();
  });
  /** The request turns `blocked` while anything waits for a person, and `running` again after. */
  const refreshBlocked = (): void => {
    // Held: the hold's status stands; the release refreshes it.
    if (held) return;
    const blocked = blockedOf(stores, ownRuns());
    const status = blocked.length > 0 ? 'blocked' : 'running';
    if (status === state.status) return;
    state.status = status;
    upsertSearchAttributes([{ key: LetheStatus, value: status }]);
    if (status === 'blocked') void notify(state, 'blocked', blocked);
    void quick.markRequest(input.requestId, status).catch((e) => log.error('recording the status failed', { error: failureText(e) }));
  };
  upsertSearchAttributes([{ key: LetheStatus, value: 'running' }]);

  // Lethe's tables follow the stores and the status: on each change, coalesced (a change made
  // while a record is on its way goes in the next, whole), so the status route, the list and
  // the console read PostgreSQL and no one asks this workflow per row (issues 33 and 37).
  const snapshot = (): Pick<DeletionStateRecord, 'status' | 'stores'> => ({
    status: state.status,
    stores: STORES.map((s) => {
      const { progress: p, reasonCode } = stores[s];
      const failing = p.status === 'retrying' || p.status === 'blocked';
      return {
        store: s,
        state: p.status,
        attempts: p.attempts,
        ...(failing && reasonCode ? { reasonCode } : {}),
        ...(failing && p.action ? { action: p.action } : {}),
        ...(failing && p.failingSince ? { since: p.failingSince } : {}),
      };
    }),
  });
  let recorded = JSON.stringify(snapshot());
  let seq = 0;
  let lastRecord = false;
  const recording = (async () => {
    for (;;) {
      await condition(() => lastRecord || JSON.stringify(snapshot()) !== recorded);
      const next = snapshot();
      const key = JSON.stringify(next);
      if (key === recorded) return;
      // Workflow time in microseconds: a later run of the same request (a resume) records above this one.
      seq = Math.max(seq + 1, Date.now() * 1000);
      try {
        await tables.recordDeletionState({ requestId: input.requestId, seq, at: new Date().toISOString(), ...next });
      } catch (e) {
        log.warn('recording the deletion state failed; the next change records it whole', { requestId: input.requestId, error: failureText(e) });
      }
      recorded = key;
    }
  })();
  /** The last state into the tables before the run ends. */
  const recordLast = (): Promise<void> => {
    lastRecord = true;
    return recording;
  };

  const watcher = watchDeadline(
    state,
    () => warningAt,
    () => deadlineAt,
    () => finished,
    () => held,
  );

  const step = <T>(name: WaitingStep, attempt: () => Promise<T>, summarize?: (r: T) => string): Promise<T> => persist(own[name]!, attempt, policy, refreshBlocked, summarize);

  // Only the sweep asked: a person's own request (another channel joining) is never skipped.
  const onlyTheSweepAsked = () => state.channels.every((c) => c === 'inactivity');

  try {
    // 1. The freeze.
    await unheld();
    await step('freeze', () => local.freezeAccount(input));
    // The person hears that their request was accepted (the sweep's own deletions were announced by its notices).
    const acknowledged =
      input.channel === 'inactivity'
        ? Promise.resolve()
        : mail
            .notifyPerson({ kind: 'acknowledgement', requestId: input.requestId, accountId: input.accountId, deadlineAt: input.deadlineAt })
            .then(() => undefined)
            .catch((e) => log.warn('the acknowledgement to the person was not sent', { requestId: input.requestId, error: failureText(e) }));

    // 2. The sweep's re-check: an account used since it was selected is released, not deleted.
    if (recheck) {
      const check = await step(
        'recheck',
        () => remote.recheckEligibility({ accountId: input.accountId, selectedAt: input.selectedAt }),
        (r) => (r.eligible ? 'still eligible' : `no longer eligible: ${r.reason}`),
      );
      if (!check.eligible && onlyTheSweepAsked()) {
        await step(
          'recheck',
          () => remote.releaseAccount({ accountId: input.accountId, requestId: input.requestId }),
          () => `no longer eligible: ${check.reason}; released`,
        );
        // A request from a person that arrived during the release still stands: freeze again.
        if (onlyTheSweepAsked()) {
          finished = true;
          const skippedAt = new Date().toISOString();
          state.status = 'skipped';
          state.reason = check.reason ?? 'no longer eligible';
          state.completedAt = skippedAt;
          for (const s of ownRuns()) if (s.progress.status === 'pending') s.progress.status = 'skipped';
          upsertSearchAttributes([{ key: LetheStatus, value: 'skipped' }]);
          log.info('inactivity deletion skipped: the account is no longer eligible', { requestId: input.requestId, reason: state.reason });
          await recordLast();
          await watcher;
          return { requestId: input.requestId, accountId: input.accountId, skipped: true, reason: state.reason, skippedAt };
        }
        await step('freeze', () => local.freezeAccount(input));
      }
    }

    // 3. The four stores, each deleted and read back on its own.
    const verifications: Partial<Record<Store, StoreVerification>> = {};
    // When each store was last read, in workflow time (a read's own checkedAt is the activity's clock).
    const readAtMs: Partial<Record<Store, number>> = {};
    const hooks = {
      deleted: (store: Store, c: unknown) => addCounts(counts, store, c),
      verified: (store: Store, v: StoreVerification) => {
        verifications[store] = v;
        readAtMs[store] = Date.now();
      },
      blockedChanged: refreshBlocked,
      unheld,
      onlyTheSweepAsked,
    };
    await Promise.all(STORES.map((s) => runStore(input.accountId, stores[s], hooks, policy)));

    // 4. The final read-back, right before the receipt; what reappeared is deleted again. A
    // vendor store read back within FRESH_VENDOR_READ_MS is not read again (contract/deletion.ts);
    // patched although deletions are pinned: an unversioned worker (LETHE_WORKER_VERSIONING=off)
    // replays older deletions through this code, as do 1.0's histories (docs/releasing.md).
    const skipFreshVendorReads = patched('final-read-back-skips-fresh-vendor-reads');
    for (;;) {
      await unheld();
      state.passes++;
      const fresh = (s: Store) => skipFreshVendorReads && (VENDOR_QUEUE_STORES as readonly Store[]).includes(s) && Date.now() - (readAtMs[s] ?? -Infinity) < FRESH_VENDOR_READ_MS;
      const read = STORES.filter((s) => stores[s].progress.status === 'verified' && !fresh(s));
      const readings = await step(
        'verify',
        () => Promise.all(read.map((s) => readStore(input.accountId, s, policy))),
        (rs) =>
          rs.every((r) => r.clean)
            ? 'read back once more before the receipt'
            : `found again in ${rs
                .filter((r) => !r.clean)
                .map((r) => r.store)
                .join(', ')}: deleting again`,
      );
      for (const r of readings) hooks.verified(r.store, r);
      const reappeared = readings.filter((r) => !r.clean).map((r) => r.store);
      if (reappeared.length === 0) break;
      log.warn('the final read-back found data again; deleting it before the receipt', { requestId: input.requestId, stores: reappeared });
      for (const s of reappeared) Object.assign(stores[s].progress, { status: 'running', detail: 'found again at the final read-back' });
      await Promise.all(reappeared.map((s) => runStore(input.accountId, stores[s], hooks, policy)));
    }
    const v = (s: Store) => verifications[s]?.remaining ?? {};
    const readAt = STORES.flatMap((s) => (verifications[s] && stores[s].progress.status === 'verified' ? [verifications[s].checkedAt] : [])).sort();
    const verification: Verification = {
      clean: STORES.every((s) => stores[s].progress.status === 'verified'),
      blobsRemaining: v('media').blobs ?? 0,
      softDeletedRemaining: v('media').softDeleted ?? 0,
      rowsRemaining: verifications.database ? v('database') : {},
      auth0UsersRemaining: v('auth0').users ?? 0,
      recurly: stores.recurly.progress.status === 'resolved' ? 'present' : counts.recurly?.hadAccount ? 'redacted' : 'none',
      // The oldest of the stores' last reads (each store's own is in `stores[s].verification`).
      checkedAt: readAt[0] ?? new Date().toISOString(),
    };
    const pending = STORES.flatMap((s) => (stores[s].progress.status === 'verified' ? (verifications[s]?.pending ?? []).map((x) => ({ store: s, ...x })) : []));
    if (pending.length) verification.pending = pending;
    own.verify!.progress.detail = verification.clean ? stepSummary.verify(verification) : 'verified, except the stores resolved outside Lethe';
    await unheld();
    if (state.status !== 'running') {
      state.status = 'running';
      upsertSearchAttributes([{ key: LetheStatus, value: 'running' }]);
    }

    // 4. The receipt: ids, times, counts and what each store's read-back found.
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
      verification,
      stores: Object.fromEntries(
        STORES.map((s) => [
          s,
          stores[s].progress.status === 'resolved'
            ? { outcome: 'resolved_outside_lethe' as const, resolution: stores[s].progress.resolution }
            : { outcome: 'verified' as const, verification: verifications[s] },
        ]),
      ) as Receipt['stores'],
    };
    await step('receipt', () => remote.writeReceipt(receipt));
    finished = true;
    state.status = 'completed';
    state.completedAt = receipt.completedAt;
    state.receipt = receipt;
    upsertSearchAttributes([{ key: LetheStatus, value: 'completed' }]);
    await recordLast();
    // The completion notice, after the acknowledgement: per store, what was done; nothing else.
    await acknowledged;
    await mail
      .notifyPerson({
        kind: 'completion',
        requestId: input.requestId,
        accountId: input.accountId,
        completedAt: receipt.completedAt,
        stores: STORES.map((s) => ({ name: s, outcome: stores[s].progress.status === 'resolved' ? 'resolved_outside_lethe' : 'verified' })),
      })
      .catch((e) => log.warn('the completion notice to the person was not sent', { requestId: input.requestId, error: failureText(e) }));
    await watcher;
    return receipt;
  } catch (err) {
    finished = true;
    state.status = 'failed';
    state.reason = failureText(err);
    upsertSearchAttributes([{ key: LetheStatus, value: 'failed' }]);
    await quick.markRequest(input.requestId, 'failed').catch(() => undefined);
    await recordLast();
    throw err;
  }
}

/**
 * The steps as the progress query lists them, derived from the stores' runs when it is asked
 * (never kept in step with them): a store's step is running until it is verified or resolved.
 */
function stepsOf(own: Partial<Record<WaitingStep, StepRun>>, stores: Record<Store, StoreRun>, counts: StoreCounts, skipped: boolean): StepProgress[] {
  const ofStore = (s: Store): StepProgress => {
    const p = stores[s].progress;
    const done = p.status === 'verified' || p.status === 'resolved';
    const detail = p.status === 'verified' ? summaryOf(s, counts) : p.status === 'resolved' ? 'resolved outside Lethe by an operator' : p.reason ? `${p.status}: ${p.reason}` : undefined;
    return { name: s, status: done ? 'completed' : p.status === 'pending' ? (skipped ? 'skipped' : 'pending') : 'running', runs: p.attempts, ...(detail ? { detail } : {}) };
  };
  const mine = (r: StepRun | undefined): StepProgress[] => (r ? [{ ...r.progress }] : []);
  return [...mine(own.freeze), ...mine(own.recheck), ...STEP_NAMES.filter((n): n is Store => (STORES as readonly string[]).includes(n)).map(ofStore), ...mine(own.verify), ...mine(own.receipt)];
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
function notify(state: DeletionState, kind: 'warning' | 'overdue' | 'blocked', blocked?: DeletionProgress['blocked']): Promise<unknown> {
  return quick
    .notifyOperators({
      kind,
      requestId: state.requestId,
      accountId: state.accountId,
      workflowId: workflowInfo().workflowId,
      deadlineAt: state.deadlineAt,
      ...(kind === 'blocked' ? { blocked } : {}),
    })
    .catch((e) => log.error('operator notification failed', { kind, error: failureText(e) }));
}

/** Durable timers for the warning and the breach; deletion keeps going either way. */
async function watchDeadline(state: DeletionState, warningAt: () => number, deadlineAt: () => number, finished: () => boolean, held: () => boolean): Promise<void> {
  // Re-armed when a signal moves the deadline earlier: condition() wakes on state changes.
  // Stopped while a legal hold is in force; the release sets a fresh deadline.
  let w = warningAt();
  while (!finished() && !state.warning) {
    if (held()) {
      await condition(() => finished() || !held());
      w = warningAt();
      continue;
    }
    const wait = w - Date.now();
    if (wait > 0 && (await condition(() => finished() || warningAt() !== w || held(), wait))) {
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
    if (held()) {
      await condition(() => finished() || !held());
      d = deadlineAt();
      continue;
    }
    const wait = d - Date.now();
    if (wait > 0 && (await condition(() => finished() || deadlineAt() !== d || held(), wait))) {
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
