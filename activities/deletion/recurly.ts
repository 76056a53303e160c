/**
 * The billing record at Recurly (API v3): live subscriptions ended, then the account redacted,
 * and the redaction waited for. Idempotent: an account that is already gone or already
 * redacted counts as deleted. `readRecurly` is what the verification reads back.
 *
 * What Recurly documents (node_modules/recurly/openapi/api.yaml) and how it is met here:
 * - `redact_account`: "The account must have no active subscriptions, uninvoiced charges, or
 *   partially paid invoices" (422 otherwise). Subscriptions are Lethe's to end; charges and
 *   invoices are money owed or owing, which only a person may settle, void or write off: a
 *   `precondition` naming how many are open, so the store shows `blocked` with that reason.
 * - `terminate_subscription` `charge` (default true) bills unbilled usage "on the final
 *   invoice": an open invoice that would itself block the redaction. Lethe sends
 *   `charge=false` (the usage is zeroed) and the configured `refund`.
 * - `cancel_subscription`: "When a future subscription (`state=future`) is canceled it becomes
 *   failed"; terminating one is refused ("Cannot expire an inactive subscription."). So a
 *   `future` subscription is canceled, every other live one terminated.
 * - `redact_account` 200: "accepted for redaction and will be processed asynchronously". The
 *   personal fields stay visible until Recurly gets to it, and nothing in the Account says a
 *   redaction is under way. So Lethe remembers that it was accepted (in the activity's
 *   heartbeat details, which Temporal hands to every retry of the activity) and waits, reading
 *   the account back with backoff, without asking again: within an attempt for up to
 *   REDACTION_WAIT_PER_ATTEMPT_MS, then through the activity's own retries (a retryable
 *   `DataRemains`, "redaction pending"), for as long as the store's attempt budget lasts
 *   (LETHE_STORE_ATTEMPT_BUDGET). Only a redaction still invisible after that whole budget is
 *   requested again by the workflow's next attempt, which starts without the memory.
 * - Every other call is resumable the same way: the account seen, the live subscriptions
 *   listed, and each one ended are in the heartbeat details, so a retried attempt (after a
 *   429 whose reset was too far to wait for, a 5xx, a worker that died) makes only the calls
 *   still to do. Recurly's rate limit counts every request of a sandbox site (api.yaml, "Rate
 *   Limits"), and a repeated terminate is answered 422 and costs a read to tell it from a refusal.
 * - An attempt that ended subscriptions and then failed (Recurly refusing the redaction over an
 *   open charge) says how many in its failure's details (`RecurlyDone`): the next attempt lists
 *   no live subscription to count, so the workflow adds the failed attempt's to the receipt.
 */
import type { Knex } from 'knex';
import { activityInfo, sleep, type Info as ActivityInfo } from '@temporalio/activity';
import { lastDetails, record, vendorAttempt } from './vendor-attempt';
import { ApplicationFailure } from '@temporalio/common';
import type { RecurlyClient } from '../../stores/recurly';
import { isVendorError, VendorError } from '../../stores/errors';
import { classified } from '../failures';
import { requireSubject, type Subject, type SubjectDeps } from './subject';
import { FailureType, type RecurlyDone, type StoreCounts, type StoreReading } from '../../contract';

export interface RecurlyDeps extends SubjectDeps {
  db: Knex;
  recurly: RecurlyClient;
  refund: 'none' | 'partial' | 'full';
}

/** How long one attempt reads a pending redaction back before handing over to a retry. */
export const REDACTION_WAIT_PER_ATTEMPT_MS = 60_000;
/** How long after Recurly accepts a redaction its account is first read back, and the first gap between reads. */
export const REDACTION_FIRST_READ_MS = 2_000;
/** Delay before the activity's next attempt while the redaction is still pending. */
const PENDING_RETRY_DELAY_MS = 10_000;

/** What an attempt hands to the next through its heartbeat (ids, times and counts only). */
interface RecurlyMemo {
  redactionAcceptedAt?: string;
  terminated?: number;
  canceled?: number;
  checks?: number;
  /** The account was read and holds personal data (so it need not be read again). */
  accountSeen?: boolean;
  /** The live subscriptions listed (ids and states), and those already ended. */
  live?: { id: string; state: string }[];
  ended?: string[];
}

type RecurlyCounts = NonNullable<StoreCounts['recurly']>;

export const createRecurlyActivities = (deps: RecurlyDeps) => ({
  async deleteRecurlyAccount(accountId: string): Promise<RecurlyCounts> {
    const startedAt = Date.now();
    const memo: RecurlyMemo = { ...(lastDetails<RecurlyMemo>() ?? {}) };
    const done = (): unknown[] | undefined => (memo.terminated || memo.canceled ? [{ recurlyTerminated: memo.terminated ?? 0, recurlyCanceled: memo.canceled ?? 0 } satisfies RecurlyDone] : undefined);
    return classified(
      'recurly',
      () =>
        vendorAttempt(
          'recurly',
          () => memo,
          async () => {
            const subject = await requireSubject(deps, accountId);
            const code = subject.recurlyAccountCode;
            if (!code) return { subscriptionsTerminated: 0, accountRedacted: false, hadAccount: false };
            if (!memo.accountSeen && !memo.redactionAcceptedAt) {
              const account = await deps.recurly.getAccount(code);
              if (!account) return { subscriptionsTerminated: memo.terminated ?? 0, accountRedacted: false, hadAccount: false };
              if (account.redacted) return { subscriptionsTerminated: 0, accountRedacted: true, hadAccount: true };
              memo.accountSeen = true;
              record(memo);
            }

            let redactRequests = 0;
            if (!memo.redactionAcceptedAt) {
              // Recurly refuses to redact (422) while any subscription is live, so end them first.
              memo.terminated ??= 0;
              memo.canceled ??= 0;
              if (!memo.live) {
                memo.live = (await deps.recurly.listLiveSubscriptions(code, new Date())).map((sub) => ({ id: sub.id, state: sub.state }));
                memo.ended = [];
                record(memo);
              }
              for (const sub of memo.live) {
                if (memo.ended?.includes(sub.id)) continue;
                if (sub.state === 'future') {
                  await deps.recurly.cancelSubscription(sub.id);
                  memo.canceled++;
                } else {
                  await deps.recurly.terminateSubscription(sub.id, deps.refund);
                  memo.terminated++;
                }
                (memo.ended ??= []).push(sub.id);
                record(memo);
              }
              let outcome: 'accepted' | 'already_gone';
              try {
                outcome = await deps.recurly.redactAccount(code);
              } catch (err) {
                if (isVendorError(err) && err.type === 'precondition') throw await namedRefusal(deps.recurly, code, err);
                throw err;
              }
              if (outcome === 'already_gone') return { subscriptionsTerminated: memo.terminated, subscriptionsCanceled: memo.canceled, accountRedacted: false, hadAccount: false };
              redactRequests = 1;
              memo.redactionAcceptedAt = new Date().toISOString();
              memo.checks = 0;
              record(memo);
            }

            // Accepted: wait for Recurly to carry it out, never asking again meanwhile. Each read
            // spends a call of the per-minute budget, and the redaction is not done at once, so
            // the first read comes a while after the acceptance (bench/RESULTS.md §3c: 9 calls a
            // deletion, reading at once and from 250 ms, against 6).
            const acceptedAt = Date.parse(memo.redactionAcceptedAt);
            const deadline = Math.min(Date.now() + REDACTION_WAIT_PER_ATTEMPT_MS, thisAttemptDeadline(startedAt));
            const firstRead = acceptedAt + REDACTION_FIRST_READ_MS - Date.now();
            if (firstRead > 0) await sleep(Math.min(firstRead, Math.max(0, deadline - Date.now())));
            let delay = REDACTION_FIRST_READ_MS;
            for (;;) {
              const now = await deps.recurly.getAccount(code);
              if (!now || now.redacted) {
                return {
                  subscriptionsTerminated: memo.terminated ?? 0,
                  subscriptionsCanceled: memo.canceled ?? 0,
                  accountRedacted: true,
                  hadAccount: true,
                  redactRequests,
                  redactionChecks: memo.checks ?? 0,
                  redactionWaitedMs: Math.max(0, Date.now() - acceptedAt),
                };
              }
              memo.checks = (memo.checks ?? 0) + 1;
              record(memo);
              if (Date.now() + delay > deadline) {
                throw ApplicationFailure.create({
                  type: FailureType.DataRemains,
                  message: `recurly redaction of ${code} accepted at ${memo.redactionAcceptedAt} is still pending (${memo.checks} checks; still set: ${now.personalFields.join(', ')})`,
                  nextRetryDelay: PENDING_RETRY_DELAY_MS,
                });
              }
              await sleep(delay);
              delay = Math.min(delay * 2, 8_000);
            }
          },
        ),
      { details: done },
    );
  },
});

/**
 * When this attempt must have finished, less a margin: start-to-close counts from the attempt's
 * start (`startedAt`), schedule-to-close from the first scheduling. Not from the attempt's
 * scheduling: on a rate-limited vendor queue a task can wait there longer than start-to-close
 * (a burst of 1,000 deletions queues Recurly's for up to 15 minutes), and a deadline counted
 * from then is already past when the attempt starts, so it would give up on a pending redaction
 * at once, over and over (bench/RESULTS.md §3c).
 */
export function attemptDeadline(startedAt: number, i: Pick<ActivityInfo, 'startToCloseTimeoutMs' | 'scheduledTimestampMs' | 'scheduleToCloseTimeoutMs'>): number {
  const ends = [startedAt + i.startToCloseTimeoutMs];
  if (i.scheduleToCloseTimeoutMs) ends.push(i.scheduledTimestampMs + i.scheduleToCloseTimeoutMs);
  // Leave room to fail cleanly (with the memory) before Temporal times the attempt out.
  const margin = Math.min(5_000, i.startToCloseTimeoutMs / 5);
  return Math.min(...ends) - margin;
}

function thisAttemptDeadline(startedAt: number): number {
  try {
    return attemptDeadline(startedAt, activityInfo());
  } catch {
    return startedAt + REDACTION_WAIT_PER_ATTEMPT_MS;
  }
}

/**
 * Recurly's 422 names no reason Lethe can act on; count what the documentation says refuses
 * a redaction, so the operator's `blocked` reason says what to settle.
 */
async function namedRefusal(recurly: RecurlyClient, code: string, err: VendorError): Promise<VendorError> {
  const open = await recurly.openCharges(code);
  const live = (await recurly.listLiveSubscriptions(code, new Date())).length;
  const parts = [
    `${open.lineItems} uninvoiced charge${open.lineItems === 1 ? '' : 's'} (line items)`,
    `${open.invoices} open or partially paid invoice${open.invoices === 1 ? '' : 's'}`,
    ...(live ? [`${live} live subscription${live === 1 ? '' : 's'}`] : []),
  ];
  return new VendorError({ vendor: 'recurly', type: 'precondition', operation: 'redactAccount', subject: code, status: err.status, vendorCode: `refused with ${parts.join(', ')}` });
}

/** What remains at Recurly: 1 while the account shows any personal field redaction clears. */
export async function readRecurly(recurly: RecurlyClient, subject: Subject): Promise<StoreReading> {
  if (!subject.recurlyAccountCode) return { remaining: { account: 0 } };
  const acct = await recurly.getAccount(subject.recurlyAccountCode);
  return { remaining: { account: acct && !acct.redacted ? 1 : 0 } };
}
