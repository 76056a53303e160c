/**
 * Notices to the person whose data it is (CONTRACT §6): an acknowledgement when their deletion
 * starts (what happens, by when, its reference) and a completion notice when its receipt is
 * written (per store, what was deleted; no other personal data).
 *
 * The address: the acknowledgement reads it from the deletion's sealed subject; the completion
 * notice from lethe.pending_notices, where the receipt's transaction moved it (sealed) as it
 * erased the subject. That row is deleted once the notice is sent or given up, so the address
 * outlives the deletion only as long as its last mail. A notice never holds back or fails a
 * deletion: the workflow runs it after the step it reports and ignores its outcome, and its
 * retries end (NOTICE_ATTEMPTS).
 */
import type { Knex } from 'knex';
import { Context } from '@temporalio/activity';
import type { FieldCipher } from '../../encryption/fields';
import { loadSubject } from '../../stores/subjects';
import { NOTICE_ATTEMPTS, type PersonNotice } from '../../contract';
import { acknowledgementMail, completionMail } from '../../mail/templates';
import type { Mailer } from '../../mail/transport';
import { deliver } from './deliver';

export const noticeContext = (requestId: string): string => `lethe.pending_notices:${requestId}`;

/** Inside the receipt's transaction: keeps the address the completion notice needs, sealed to its request. */
export async function keepNoticeAddress(trx: Knex, fields: FieldCipher, requestId: string, accountId: string, email: string | null): Promise<void> {
  if (!email) return;
  await trx('lethe.pending_notices')
    .insert({ request_id: requestId, account_id: accountId, sealed: fields.seal(email, noticeContext(requestId)) })
    .onConflict('request_id')
    .ignore();
}

export function createNoticeActivities(deps: { db: Knex; fields: FieldCipher; mailer: () => Mailer | undefined; publicUrl: string }) {
  const { db, fields } = deps;
  return {
    async notifyPerson(notice: PersonNotice): Promise<'sent' | 'failed' | 'skipped'> {
      const mailer = deps.mailer();
      const lastAttempt = Context.current().info.attempt >= NOTICE_ATTEMPTS;
      if (notice.kind === 'acknowledgement') {
        const subject = await loadSubject({ db, fields }, notice.accountId);
        if (!mailer || !subject?.email) return 'skipped';
        return deliver(
          { db, mailer },
          { kind: 'acknowledgement', ref: notice.requestId, to: subject.email, ...acknowledgementMail({ requestId: notice.requestId, deadlineAt: notice.deadlineAt, publicUrl: deps.publicUrl }) },
          { lastAttempt },
        );
      }
      const row = await db('lethe.pending_notices').where({ request_id: notice.requestId }).first('sealed');
      if (!row) return 'skipped';
      let outcome: 'sent' | 'failed' | 'skipped' = 'skipped';
      if (mailer) {
        const to = fields.open(row.sealed, noticeContext(notice.requestId));
        outcome = await deliver(
          { db, mailer },
          { kind: 'completion', ref: notice.requestId, to, ...completionMail({ requestId: notice.requestId, completedAt: notice.completedAt, stores: notice.stores, publicUrl: deps.publicUrl }) },
          { lastAttempt },
        );
      }
      // Sent, or given up: either way the address goes now.
      await db('lethe.pending_notices').where({ request_id: notice.requestId }).del();
      return outcome;
    },
  };
}
