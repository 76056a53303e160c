/**
 * Step 7: the PII-free receipt, then the end of Lethe's own copy of the subject. From here
 * on Lethe holds ids, times and counts only.
 */
import type { Knex } from 'knex';
import { classified } from '../failures';
import type { Receipt } from '../../contract';

export const createReceiptActivities = (deps: { db: Knex }) => ({
  async writeReceipt(receipt: Receipt): Promise<void> {
    return classified('receipt', async () => {
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
        await trx('lethe.deletion_subjects').where({ account_id: receipt.accountId }).del();
      });
    });
  },

  async markRequest(requestId: string, status: 'failed' | 'skipped' | 'running' | 'blocked'): Promise<void> {
    await deps.db('lethe.deletion_requests').where({ request_id: requestId }).update({ status });
  },
});
