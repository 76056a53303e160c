/**
 * A correction request (CONTRACT §8, docs/correction.md): the person asked support to put their
 * name, phone, address or email right, and the change is applied to the database, the Auth0 user
 * and the Recurly account, each read back. One workflow per request, `correction-<requestId>`.
 *
 * The history holds ids, field names and times only: the new values are sealed in
 * lethe.correction_requests and read inside the activities, and the receipt names fields, never
 * values. A new email address is applied nowhere until the person confirms a link mailed to that
 * new address: the other fields are applied first, the email after the confirmation, or not at
 * all when the link expires.
 *
 * Each store is applied and read back on its own, as a deletion's stores are: transient faults
 * are retried inside an attempt, then attempt after attempt on the deletion's cadence, and a
 * store that keeps failing shows `blocked` past the block policy's bound (workflows/waits.ts),
 * until it recovers or an operator's retry (signal `correctionRetry`) gets through. A refusal
 * (the account under a legal hold, being deleted or gone; the new email taken by another account
 * in some letter case) ends the request `refused` with the reason, before anything else changes.
 *
 * What the API and the activities share with it is in contract/correction.ts.
 */
import { condition, isCancellation, proxyActivities, setHandler, workflowInfo, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { failureText, failureTypeOf, NEEDS_PERSON, NON_RETRYABLE } from '../contract';
import {
  CORRECTION_REFUSED,
  CORRECTION_STORES,
  correctionEmailConfirmedSignal,
  correctionProgressQuery,
  correctionRetrySignal,
  FIELDS_IN,
  type CorrectionInput,
  type CorrectionProgress,
  type CorrectionReceipt,
  type CorrectionStore,
  type CorrectionStoreProgress,
} from '../contract/correction';
import { vendorTaskQueue } from './queues';
import { backoffMs, blockWhenDue } from './waits';

// Needs-a-person failures and refusals come straight back; transient ones are retried inside the attempt.
const retryPolicy: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '5 minutes',
  nonRetryableErrorTypes: [...NON_RETRYABLE, ...NEEDS_PERSON, CORRECTION_REFUSED],
};

export async function accountCorrectionWorkflow(input: CorrectionInput): Promise<CorrectionProgress> {
  const finish = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { ...retryPolicy, maximumInterval: '10 minutes' } });
  try {
    return await correct(input);
  } catch (err) {
    if (isCancellation(err)) throw err;
    // Input retrying cannot fix (an invalid request started around the API): recorded, then failed.
    await finish.finishCorrection(input.requestId, { status: 'failed', reason: failureText(err) });
    throw err;
  }
}

async function correct(input: CorrectionInput): Promise<CorrectionProgress> {
  const policy = input.blockPolicy;
  const budget = policy.attemptBudgetMs;
  const mainQueue = workflowInfo().taskQueue;
  const options = { startToCloseTimeout: Math.min(budget, 2 * 60_000), scheduleToCloseTimeout: budget, retry: retryPolicy };
  const local = proxyActivities<Activities>(options);
  // Auth0's and Recurly's calls spend the vendor's budget on its own queue, as a deletion's do.
  const onQueue = (store: CorrectionStore) => (store === 'database' ? local : proxyActivities<Activities>({ ...options, taskQueue: vendorTaskQueue(mainQueue, store) }));

  const progress: CorrectionProgress = { requestId: input.requestId, accountId: input.accountId, status: 'pending', stores: [] };
  let emailConfirmed = false;
  // Counted, not a flag: every store waiting for its next attempt sees the operator's retry.
  let retries = 0;
  setHandler(correctionProgressQuery, () => progress);
  setHandler(correctionEmailConfirmedSignal, () => {
    emailConfirmed = true;
  });
  setHandler(correctionRetrySignal, () => {
    retries++;
  });

  const refuse = async (reason: string): Promise<CorrectionProgress> => {
    if (progress.email === 'awaiting_confirmation' || progress.email === 'confirmed') progress.email = 'refused';
    await local.finishCorrection(input.requestId, { status: 'refused', reason, emailStatus: progress.email });
    // Shown once recorded, so whoever reads `refused` also finds the reason in the table.
    progress.reason = reason;
    progress.status = 'refused';
    return progress;
  };
  const refusal = (err: unknown): string | undefined => (failureTypeOf(err) === CORRECTION_REFUSED ? failureText(err).replace(/^CorrectionRefused: /, '') : undefined);

  // First, the checks that refuse before anything changes, and what each store holds.
  let plan: Awaited<ReturnType<Activities['prepareCorrection']>>;
  try {
    plan = await persistent('database', () => local.prepareCorrection(input.requestId));
  } catch (err) {
    const why = refusal(err);
    if (why !== undefined) return refuse(why);
    throw err;
  }
  progress.status = 'running';
  const wanted = (store: CorrectionStore) => (plan.present[store] ? input.fields.filter((f) => FIELDS_IN[store].includes(f)) : []);
  progress.stores = CORRECTION_STORES.map((store) => ({
    store,
    status: plan.present[store] ? 'pending' : 'skipped',
    fields: wanted(store),
    applied: [],
    attempts: 0,
    ...(plan.present[store] ? {} : { detail: store === 'auth0' ? 'no Auth0 user for this account' : 'no Recurly account for this account' }),
  }));

  /** One store's part of a phase, retried until it succeeds or is refused. */
  async function applyTo(s: CorrectionStoreProgress, phase: 'profile' | 'email'): Promise<void> {
    const fields = s.fields.filter((f) => (phase === 'email') === (f === 'email'));
    if (fields.length === 0) return;
    const result = await persistent(s.store, () => onQueue(s.store).correctStore(input.requestId, s.store, phase), s);
    if (result.outcome === 'absent') {
      s.status = 'skipped';
      s.detail = s.store === 'auth0' ? 'the Auth0 user is gone' : 'the Recurly account is gone';
      return;
    }
    s.applied.push(...result.fields.filter((f) => !s.applied.includes(f)));
  }

  /** Runs a phase on every store at once; a refusal from any one ends the request. */
  async function phase(name: 'profile' | 'email'): Promise<string | undefined> {
    const results = await Promise.allSettled(progress.stores.filter((s) => s.status !== 'skipped').map((s) => applyTo(s, name)));
    for (const r of results) {
      if (r.status === 'rejected') {
        const why = refusal(r.reason);
        if (why !== undefined) return why;
        throw r.reason;
      }
    }
    return undefined;
  }

  const profileRefused = await phase('profile');
  if (profileRefused !== undefined) return refuse(profileRefused);

  const notApplied: CorrectionReceipt['notApplied'] = [];
  if (input.fields.includes('email')) {
    progress.email = 'awaiting_confirmation';
    progress.status = 'awaiting_confirmation';
    const expiresAt = input.emailExpiresAt ?? new Date(Date.now() + 86_400_000).toISOString();
    const left = () => Math.max(0, Date.parse(expiresAt) - Date.now());
    // A mail server away until the link's end leaves nothing to confirm: the address is not applied.
    await proxyActivities<Activities>({ ...options, scheduleToCloseTimeout: Math.max(1_000, left()) })
      .mailCorrectionLink(input.requestId)
      .catch(() => undefined);
    let confirmed = await condition(() => emailConfirmed, left());
    // The database decides a race between a confirmation and the expiry: whichever wrote first.
    if (!confirmed) confirmed = (await persistent('database', () => local.expireCorrectionEmail(input.requestId))) === 'confirmed';
    if (confirmed) {
      progress.email = 'confirmed';
      progress.status = 'running';
      const emailRefused = await phase('email');
      if (emailRefused !== undefined) return refuse(emailRefused);
      progress.email = 'applied';
    } else {
      progress.email = 'expired';
      notApplied.push({ field: 'email', reason: 'the new address was not confirmed before its link expired' });
      for (const s of progress.stores) s.fields = s.fields.filter((f) => f !== 'email');
    }
  }

  for (const s of progress.stores) if (s.status !== 'skipped') s.status = 'completed';
  const receipt: CorrectionReceipt = {
    requestId: input.requestId,
    accountId: input.accountId,
    completedAt: new Date().toISOString(),
    stores: progress.stores.map((s) => ({
      store: s.store,
      applied: [...s.applied],
      outcome: s.status === 'skipped' ? 'absent' : s.fields.length === 0 ? 'nothing_to_apply' : 'applied',
    })),
    notApplied,
  };
  await persistent('database', () => local.finishCorrection(input.requestId, { status: 'completed', receipt, emailStatus: progress.email }));
  progress.status = 'completed';
  progress.receipt = receipt;
  return progress;

  /**
   * Runs `call` until it succeeds: transient failures and those only a person can fix are tried
   * again on the deletion's cadence (an operator's retry at once), and the store shows `blocked`
   * past the policy's bound. Refusals and invalid input end it.
   */
  async function persistent<T>(store: CorrectionStore, call: () => Promise<T>, shown?: CorrectionStoreProgress): Promise<T> {
    const s = shown ?? { store, status: 'pending', fields: [], applied: [], attempts: 0 };
    let settled = false;
    let needsPerson = false;
    void blockWhenDue(
      {
        since: () => s.since,
        needsPerson: () => needsPerson,
        isBlocked: () => s.status === 'blocked',
        settled: () => settled,
        block: () => {
          s.status = 'blocked';
          s.detail = `blocked: ${s.detail?.replace(/^(retrying|blocked): /, '') ?? 'failing'}`;
          if (progress.status === 'running' || progress.status === 'pending') progress.status = 'blocked';
        },
      },
      policy,
    );
    let attempts = 0;
    try {
      for (;;) {
        attempts++;
        s.attempts++;
        if (s.status !== 'blocked') s.status = 'running';
        const startedAt = new Date().toISOString();
        try {
          const r = await call();
          s.status = 'completed';
          s.since = undefined;
          s.detail = undefined;
          if (progress.status === 'blocked' && !progress.stores.some((o) => o !== s && o.status === 'blocked')) progress.status = 'running';
          return r;
        } catch (err) {
          if (isCancellation(err)) throw err;
          const type = failureTypeOf(err);
          if (type === CORRECTION_REFUSED || (type !== undefined && NON_RETRYABLE.includes(type))) {
            s.status = 'completed';
            s.detail = failureText(err);
            throw err;
          }
          s.since ??= startedAt;
          needsPerson = type !== undefined && NEEDS_PERSON.includes(type);
          s.detail = `${s.status === 'blocked' ? 'blocked' : 'retrying'}: ${failureText(err)}`;
          if (s.status !== 'blocked') s.status = 'retrying';
        }
        const seen = retries;
        await condition(() => retries !== seen, backoffMs(attempts, policy));
      }
    } finally {
      settled = true;
    }
  }
}
