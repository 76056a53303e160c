/**
 * The re-check before a sweep's deletion destroys anything. Days can pass between selection
 * and deletion (the sweep is paced); a person who logged in meanwhile, or who subscribed at
 * Recurly (the truth over the local copy), is no longer inactive, and their account is kept.
 * It runs after the freeze, so no login can slip in between this check and the deletion.
 */
import type { Knex } from 'knex';
import type { RecurlyClient } from '../../stores/recurly';
import type { SweepConfig } from '../../config';
import { classified } from '../failures';
import { accountActivity, cutoffFor } from './candidates';

export interface RecheckInput {
  accountId: string;
  /** When the sweep read the account; absent for a request that did not come from a sweep. */
  selectedAt?: string;
}

export interface RecheckResult {
  eligible: boolean;
  /** Why not, in ids and states only: it is shown to operators and kept in history. */
  reason?: string;
  checkedAt: string;
}

export const createRecheckActivities = (deps: { sweep: Pick<SweepConfig, 'inactivityMonths' | 'timezone'>; db: Knex; recurly: RecurlyClient }) => ({
  async recheckEligibility(input: RecheckInput): Promise<RecheckResult> {
    return classified('recheck', async () => {
      const now = new Date();
      const checkedAt = now.toISOString();
      const cutoff = await cutoffFor(deps.db, checkedAt, deps.sweep.inactivityMonths, deps.sweep.timezone);
      const a = await accountActivity(deps.db, input.accountId, { cutoff, selectedAt: input.selectedAt });
      // Gone already (another channel's deletion finished first): the steps are idempotent.
      if (!a.exists) return { eligible: true, checkedAt };
      if (a.loggedInSince) return { eligible: false, reason: 'logged in after the sweep selected the account', checkedAt };
      if (!a.inactive) return { eligible: false, reason: `active within the last ${deps.sweep.inactivityMonths} months`, checkedAt };
      if (a.recurlyAccountCode) {
        const live = await deps.recurly.listLiveSubscriptions(a.recurlyAccountCode, now);
        if (live.length > 0) {
          const states = [...new Set(live.map((s) => s.state))].sort().join(', ');
          return { eligible: false, reason: `live subscription at Recurly (${live.length}: ${states})`, checkedAt };
        }
      }
      return { eligible: true, checkedAt };
    });
  },

  /**
   * Undoes the freeze of a deletion that will not happen: the application lets the person
   * log in again, and the captured subject (email, vendor ids) is erased, as after a deletion.
   */
  async releaseAccount(input: { accountId: string; requestId: string }): Promise<void> {
    return classified('recheck', async () => {
      await deps.db.transaction(async (trx) => {
        // By account: this workflow is the account's only running deletion, whichever request
        // first wrote the mark.
        await trx('lethe.frozen_accounts').where({ account_id: input.accountId, state: 'deleting' }).del();
        await trx('lethe.deletion_subjects').where({ account_id: input.accountId }).del();
        await trx('lethe.deletion_requests').where({ request_id: input.requestId }).update({ status: 'skipped', completed_at: trx.fn.now() });
      });
    });
  },
});
