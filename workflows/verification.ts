/**
 * A request from the person that waits for their confirmation (CONTRACT §6): the link goes to
 * the account's address on file, one reminder before it expires, and the request expires
 * unconfirmed. Nothing is deleted here: the API files the deletion through the intake when the
 * person confirms, then signals this workflow, which ends. The timers are why this is a
 * workflow: a request left unconfirmed expires on time, and is counted, whatever restarts.
 *
 * The history holds ids and times only: the address is read, and the link's secret made and
 * hashed, inside the activities.
 */
import { condition, proxyActivities, setHandler, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE, verificationConfirmedSignal, verificationStatusQuery, type VerificationInput, type VerificationOutcome } from '../contract';

const retry: RetryPolicy = { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', nonRetryableErrorTypes: NON_RETRYABLE };
// Lethe's own table only: retried until PostgreSQL answers.
const act = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry });
/** Mailing activities, retried no longer than the link lives: a mail that only arrives after it expired is no use. */
const mailingUntil = (at: string) => proxyActivities<Activities>({ startToCloseTimeout: '1 minute', scheduleToCloseTimeout: Math.max(1_000, Date.parse(at) - Date.now()), retry });

export async function requestVerificationWorkflow(input: VerificationInput): Promise<VerificationOutcome> {
  const outcome: VerificationOutcome = { verificationId: input.verificationId, status: 'received', reminded: false };
  setHandler(verificationStatusQuery, () => outcome);
  setHandler(verificationConfirmedSignal, ({ requestId }) => {
    outcome.status = 'confirmed';
    outcome.requestId = requestId;
  });

  // Resolves the address to one account, checks it, and mails the link (or refuses, recorded).
  // A mail server away until the link's end leaves nothing to confirm: the request expires.
  const prepared = await mailingUntil(input.expiresAt)
    .prepareVerification(input.verificationId)
    .catch(() => undefined);
  if (outcome.status !== 'confirmed' && prepared) outcome.status = prepared;
  if (outcome.status !== 'awaiting_confirmation' && prepared) return outcome;

  const left = (at: string) => Math.max(0, Date.parse(at) - Date.now());
  if (prepared && input.reminderAt && !(await condition(() => outcome.status === 'confirmed', left(input.reminderAt)))) {
    outcome.reminded = await mailingUntil(input.expiresAt)
      .remindVerification(input.verificationId)
      .catch(() => false);
  }
  if (await condition(() => outcome.status === 'confirmed', left(input.expiresAt))) return outcome;
  // The database decides a race between a confirmation and the expiry: whichever wrote first.
  const ended = await act.expireVerification(input.verificationId);
  outcome.status = ended.status;
  if (ended.requestId) outcome.requestId = ended.requestId;
  return outcome;
}
