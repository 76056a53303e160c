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
 * - The live subscriptions are listed only when the account's read says it has one
 *   (`has_live_subscription`: "active, canceled, future, or paused", every state Lethe ends), so
 *   an account whose subscriptions all ended costs no listing (issue 37; the calls of a common
 *   deletion are pinned in test/budget/call-counts.test.ts).
 * - Every other call is resumable the same way: the account seen, the live subscriptions
 *   listed, and each one ended are in the heartbeat details, so a retried attempt (after a
 *   429 whose reset was too far to wait for, a 5xx, a worker that died) makes only the calls
 *   still to do. Recurly's rate limit counts every request of a sandbox site (api.yaml, "Rate
 *   Limits"), and a repeated terminate is answered 422 and costs a read to tell it from a refusal.
 * - An attempt that ended subscriptions and then failed (Recurly refusing the redaction over an
 *   open charge) says how many in its failure's details (`RecurlyDone`): the next attempt lists
 *   no live subscription to count, so the workflow adds the failed attempt's to the receipt.
 * - Redaction's documented scope (`redact_account`: "billing information, shipping addresses,
 *   and transaction details such as names, email addresses, and payment card data") names
 *   neither `cc_emails`, custom fields, account notes nor a wallet's other billing methods. Lethe
 *   clears those itself, after the subscriptions end (a billing method removed under a live
 *   subscription sends its renewal into dunning, `remove_a_billing_info`) and before the
 *   redaction: `update_account` for `cc_emails` and the custom fields holding a value (only when
 *   the account's own read shows one), `list_account_notes` then `remove_account_note` for each,
 *   and, when the account shows a billing method, `list_billing_infos` then
 *   `remove_a_billing_info` for each when there is more than one (the primary last: Recurly
 *   refuses it while others remain). The read-back then judges the account by what redaction
 *   documents and what Lethe cleared (stores/recurly.ts `personalFieldsOf`).
 * - Account hierarchy (`parent_account_id`, `bill_to`, `list_child_accounts`): a child billed to
 *   its parent has its charges and invoices on the parent, which is someone else's billing
 *   record. Seen in the account's own read, it stops the step before any change, with a reason
 *   naming the parent and what to do. A parent's children are not in its read; when Recurly
 *   refuses the redaction, the refusal is explained by listing them (with the open charges).
 * - Every write carries an `Idempotency-Key` from the request and this step (the workflow run
 *   and the activity, which the activity's retries share): a write whose answer was lost is
 *   replayed by Recurly when the retry sends it again, never applied twice ("Idempotent
 *   Requests"). The workflow's next scheduling of the step is a new step, so a redaction asked
 *   for again after the whole attempt budget is a new request.
 */
import type { Knex } from 'knex';
import { activityInfo, sleep, type Info as ActivityInfo } from '@temporalio/activity';
import { lastDetails, record, refuseWhileHeld, vendorAttempt } from './vendor-attempt';
import { ApplicationFailure } from '@temporalio/common';
import type { RecurlyClient, WriteOptions } from '../../stores/recurly';
import { isVendorError, VendorError } from '../../stores/errors';
import { classified } from '../failures';
import { requireSubject, type Subject, type SubjectDeps } from './subject';
import { FailureType, type OwnReadBack, type RecurlyDone, type StoreCounts, type StoreReading, type StoreVerification } from '../../contract';

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
  /** The account's read said it has no live subscription (api.yaml `has_live_subscription`): none to list. */
  noLiveSubscription?: boolean;
  /** What the account's read showed outside redaction's scope (names, never values). */
  extras?: { ccEmails: boolean; customFields: string[]; hasBillingInfo: boolean };
  fieldsCleared?: boolean;
  /** Note ids listed, and those removed. */
  notes?: string[];
  notesRemoved?: string[];
  /** A wallet's billing methods to remove (the primary last), and those removed. */
  billing?: string[];
  billingRemoved?: string[];
  /** The account was found already redacted: what remains of its billing methods is all beyond redaction. */
  alreadyRedacted?: boolean;
}

type RecurlyCounts = NonNullable<StoreCounts['recurly']>;

export const createRecurlyActivities = (deps: RecurlyDeps) => ({
  async deleteRecurlyAccount(accountId: string): Promise<RecurlyCounts & OwnReadBack> {
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
            await refuseWhileHeld(deps.db, accountId);
            const code = subject.recurlyAccountCode;
            if (!code) return { subscriptionsTerminated: 0, accountRedacted: false, hadAccount: false };
            const writes = { idempotencyScope: stepScope() };
            if (!memo.accountSeen && !memo.redactionAcceptedAt) {
              const account = await deps.recurly.getAccount(code);
              if (!account) return { subscriptionsTerminated: memo.terminated ?? 0, accountRedacted: false, hadAccount: false };
              if (account.redacted) {
                // Redacted before (outside Lethe, or by an earlier deletion): redaction left the
                // notes and a wallet's other billing methods, and the read no longer shows a
                // billing method to say whether a wallet remains, so both are listed.
                memo.extras = { ccEmails: false, customFields: [], hasBillingInfo: true };
                memo.alreadyRedacted = true;
                await clearOutsideRedaction(deps.recurly, code, memo, writes);
                return { subscriptionsTerminated: 0, accountRedacted: true, hadAccount: true, ...clearedCounts(memo) };
              }
              // Before any change: a person decides what becomes of a billing relationship with a parent.
              if (account.parentAccountId && account.billTo === 'parent') throw billedToParent(code);
              memo.accountSeen = true;
              if (account.hasLiveSubscription === false) memo.noLiveSubscription = true;
              memo.extras = { ccEmails: account.ccEmails, customFields: account.customFields, hasBillingInfo: account.hasBillingInfo };
              record(memo);
            }

            let redactRequests = 0;
            if (!memo.redactionAcceptedAt) {
              // Recurly refuses to redact (422) while any subscription is live, so end them first.
              memo.terminated ??= 0;
              memo.canceled ??= 0;
              if (!memo.live) {
                // The account's own read says whether there is any (issue 37: no listing then).
                memo.live = memo.noLiveSubscription ? [] : (await deps.recurly.listLiveSubscriptions(code, new Date())).map((sub) => ({ id: sub.id, state: sub.state }));
                memo.ended = [];
                record(memo);
              }
              for (const sub of memo.live) {
                if (memo.ended?.includes(sub.id)) continue;
                if (sub.state === 'future') {
                  await deps.recurly.cancelSubscription(sub.id, writes);
                  memo.canceled++;
                } else {
                  await deps.recurly.terminateSubscription(sub.id, deps.refund, writes);
                  memo.terminated++;
                }
                (memo.ended ??= []).push(sub.id);
                record(memo);
              }
              await clearOutsideRedaction(deps.recurly, code, memo, writes);
              let outcome: 'accepted' | 'already_gone';
              try {
                outcome = await deps.recurly.redactAccount(code, writes);
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
                // This read is the read-back's own (readRecurly: the account absent or redacted):
                // handed over, so the workflow does not spend a second call of the budget on it.
                const readBack: StoreVerification = { store: 'recurly', clean: true, remaining: { account: 0 }, checkedAt: new Date().toISOString() };
                return {
                  readBack,
                  subscriptionsTerminated: memo.terminated ?? 0,
                  subscriptionsCanceled: memo.canceled ?? 0,
                  accountRedacted: true,
                  hadAccount: true,
                  redactRequests,
                  redactionChecks: memo.checks ?? 0,
                  redactionWaitedMs: Math.max(0, Date.now() - acceptedAt),
                  ...clearedCounts(memo),
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

/** The step's name for Idempotency-Keys: the workflow run and the activity (shared by its retries). */
function stepScope(): string | undefined {
  try {
    const i = activityInfo();
    const run = i.workflowExecution;
    return run ? `${run.workflowId}/${run.runId}/${i.activityId}` : undefined;
  } catch {
    return undefined; // outside an activity (a direct call in a test): a random key per request
  }
}

/**
 * What Recurly's redaction does not clear (the module comment says why each, and when each call
 * is made). Each removal is remembered, so a retried attempt makes only the calls still to do.
 */
async function clearOutsideRedaction(recurly: RecurlyClient, code: string, memo: RecurlyMemo, writes: WriteOptions): Promise<void> {
  const extras = memo.extras ?? { ccEmails: false, customFields: [], hasBillingInfo: false };
  // The account's read showed them: one update_account for both, none when neither is set.
  if (!memo.fieldsCleared && (extras.ccEmails || extras.customFields.length)) {
    await recurly.clearAccountFields(code, { ccEmails: extras.ccEmails, customFields: extras.customFields }, writes);
    memo.fieldsCleared = true;
    record(memo);
  }
  // api.yaml's Account carries no sign of notes (no count, no flag): list_account_notes is the
  // only way to know, so it is one GET a deletion.
  if (!memo.notes) {
    memo.notes = await recurly.listAccountNotes(code);
    memo.notesRemoved = [];
    record(memo);
  }
  for (const id of memo.notes) {
    if (memo.notesRemoved?.includes(id)) continue;
    await recurly.removeAccountNote(code, id, writes);
    (memo.notesRemoved ??= []).push(id);
    record(memo);
  }
  // The Account shows its primary billing method (`billing_info`); a wallet's others only
  // list_billing_infos does. No billing_info, no wallet: the call is made only when one shows.
  // One method alone is redaction's ("billing information"); a wallet's are all removed here,
  // the primary last ("Please set a new primary billing info before deleting this billing info").
  if (!memo.billing) {
    const infos = extras.hasBillingInfo ? await recurly.listBillingInfos(code) : [];
    // After a redaction (memo.redactionAcceptedAt unset but the account already redacted) any
    // method left is beyond its scope: all of them go.
    const all = infos.length > 1 || memo.alreadyRedacted;
    memo.billing = all ? [...infos.filter((b) => !b.primary), ...infos.filter((b) => b.primary)].map((b) => b.id) : [];
    memo.billingRemoved = [];
    record(memo);
  }
  for (const id of memo.billing) {
    if (memo.billingRemoved?.includes(id)) continue;
    await recurly.removeBillingInfo(code, id, writes);
    (memo.billingRemoved ??= []).push(id);
    record(memo);
  }
}

/** What the step cleared beside the redaction, for the receipt (counts only). */
function clearedCounts(memo: RecurlyMemo): Partial<RecurlyCounts> {
  const fields = memo.fieldsCleared && memo.extras ? [...(memo.extras.ccEmails ? ['cc_emails'] : []), ...(memo.extras.customFields.length ? ['custom_fields'] : [])] : [];
  return {
    ...(fields.length ? { fieldsCleared: fields } : {}),
    ...(memo.notesRemoved?.length ? { notesRemoved: memo.notesRemoved.length } : {}),
    ...(memo.billingRemoved?.length ? { billingInfosRemoved: memo.billingRemoved.length } : {}),
  };
}

/** At most this many account codes are named in a reason; the rest are counted. */
const NAMED_CODES = 3;

/**
 * A child billed to its parent: its charges and invoices are the parent's record (docs.recurly.com
 * "Account hierarchy"), and only a person may decide to bill it to itself or detach it.
 */
function billedToParent(code: string): VendorError {
  return new VendorError({
    vendor: 'recurly',
    type: 'precondition',
    operation: 'redactAccount',
    subject: code,
    vendorCode:
      'the account is a child billed to its parent account (bill_to=parent): its charges and invoices are on the parent. In Recurly, set it to bill itself (bill_to=self) or remove its parent, after settling what the parent owes for it; then retry',
  });
}

/**
 * Recurly's 422 names no reason Lethe can act on; count what the documentation says refuses
 * a redaction, and the account's open child accounts, so the operator's `blocked` reason says
 * what to settle. Made only on a refusal: a deletion Recurly accepts spends none of these calls.
 */
async function namedRefusal(recurly: RecurlyClient, code: string, err: VendorError): Promise<VendorError> {
  const children = (await recurly.listChildAccounts(code)).filter((c) => c.state === 'active' && !c.redacted);
  const open = await recurly.openCharges(code);
  const live = (await recurly.listLiveSubscriptions(code, new Date())).length;
  const parts: string[] = [];
  if (children.length) {
    const named = children.slice(0, NAMED_CODES).map((c) => c.code);
    const more = children.length - named.length;
    parts.push(
      `${children.length} open child account${children.length === 1 ? '' : 's'} (${named.join(', ')}${more ? ` and ${more} more` : ''}) billed through this parent: in Recurly, remove this account as their parent (or close them) first`,
    );
  }
  if (!children.length || open.lineItems || open.invoices) {
    parts.push(`${open.lineItems} uninvoiced charge${open.lineItems === 1 ? '' : 's'} (line items)`, `${open.invoices} open or partially paid invoice${open.invoices === 1 ? '' : 's'}`);
  }
  if (live) parts.push(`${live} live subscription${live === 1 ? '' : 's'}`);
  return new VendorError({ vendor: 'recurly', type: 'precondition', operation: 'redactAccount', subject: code, status: err.status, vendorCode: `refused with ${parts.join(', ')}` });
}

/** What remains at Recurly: 1 while the account shows any personal field redaction clears. */
export async function readRecurly(recurly: RecurlyClient, subject: Subject): Promise<StoreReading> {
  if (!subject.recurlyAccountCode) return { remaining: { account: 0 } };
  const acct = await recurly.getAccount(subject.recurlyAccountCode);
  return { remaining: { account: acct && !acct.redacted ? 1 : 0 } };
}
