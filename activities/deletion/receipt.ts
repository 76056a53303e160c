/**
 * Step 7: the PII-free receipt, then the end of Lethe's own copy of the subject. From here
 * on Lethe holds ids, times and counts only.
 */
import type { Knex } from 'knex';
import { ApplicationFailure } from '@temporalio/common';
import { classified } from '../failures';
import { FailureType, type Receipt } from '../../contract';
import type { FieldCipher } from '../../encryption/fields';
import { loadSubject } from '../../stores/subjects';
import { keepNoticeAddress } from '../front-door/notices';

/**
 * PostgreSQL refusing Lethe a grant on its own tables (SQLSTATE 42501) is for a person to fix,
 * not an outage: said as Unauthorized, so the step shows `blocked` after LETHE_BLOCK_AFTER
 * rather than after the transient bound. Other errors are left to `classified`.
 */
export async function refusedGrant<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if ((err as { code?: unknown })?.code === '42501') {
      throw ApplicationFailure.create({ type: FailureType.Unauthorized, message: `${step}: PostgreSQL refused Lethe a grant (${(err as Error).message.replace(/^.* - /, '')})` });
    }
    throw err;
  }
}

/** `notices`: a completion notice goes to the person, so the receipt keeps its address (sealed) for it. */
export const createReceiptActivities = (deps: { db: Knex; fields: FieldCipher; notices: boolean }) => ({
  async writeReceipt(receipt: Receipt): Promise<void> {
    return classified('receipt', () =>
      refusedGrant('receipt', async () => {
        await deps.db.transaction(async (trx) => {
          await trx('lethe.receipts')
            .insert({
              request_id: receipt.requestId,
              account_id: receipt.accountId,
              channel: receipt.channel,
              received_at: receipt.receivedAt,
              deadline_at: receipt.deadlineAt,
              completed_at: receipt.completedAt,
              counts: JSON.stringify({ ...receipt.counts, channels: receipt.channels, passes: receipt.passes, overdue: receipt.overdue, ...(receipt.stores ? { stores: receipt.stores } : {}) }),
              verification: JSON.stringify(receipt.verification),
            })
            .onConflict('request_id')
            .ignore();
          await trx('lethe.deletion_requests').where({ request_id: receipt.requestId }).update({ status: 'completed', completed_at: receipt.completedAt });
          await trx('lethe.frozen_accounts').where({ account_id: receipt.accountId }).update({ state: 'deleted', deleted_at: receipt.completedAt });
          if (deps.notices) {
            const subject = await loadSubject({ db: trx, fields: deps.fields }, receipt.accountId);
            await keepNoticeAddress(trx, deps.fields, receipt.requestId, receipt.accountId, subject?.email ?? null);
          }
          await trx('lethe.deletion_subjects').where({ account_id: receipt.accountId }).del();
          // The front door's hash of the account's address (stores/verifications.ts) goes with it.
          await trx('lethe.address_watch').where({ account_id: receipt.accountId }).del();
        });
      }),
    );
  },

  async markRequest(requestId: string, status: 'failed' | 'skipped' | 'running' | 'blocked' | 'held'): Promise<void> {
    await deps.db('lethe.deletion_requests').where({ request_id: requestId }).update({ status });
  },
});
