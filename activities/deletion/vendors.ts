/**
 * Steps 2 and 3: the billing record at Recurly and the login at Auth0. Both are idempotent:
 * a vendor record that is already gone counts as deleted.
 */
import type { Knex } from 'knex';
import { heartbeat } from '@temporalio/activity';
import type { Auth0Client } from '../../stores/auth0';
import type { RecurlyClient } from '../../stores/recurly';
import { classified } from '../failures';
import { requireSubject } from './subject';
import type { StoreCounts } from '../../contract';

export const createVendorActivities = (deps: { db: Knex; auth0: Auth0Client; recurly: RecurlyClient; refund: 'none' | 'partial' | 'full' }) => ({
  async deleteRecurlyAccount(accountId: string): Promise<NonNullable<StoreCounts['recurly']>> {
    return classified('recurly', async () => {
      const subject = await requireSubject(deps.db, accountId);
      const code = subject.recurlyAccountCode;
      if (!code) return { subscriptionsTerminated: 0, accountRedacted: false, hadAccount: false };
      const account = await deps.recurly.getAccount(code);
      if (!account) return { subscriptionsTerminated: 0, accountRedacted: false, hadAccount: false };
      // Recurly refuses to redact (422) while any subscription is live, so terminate them first.
      const live = await deps.recurly.listLiveSubscriptions(code, new Date());
      for (const sub of live) {
        await deps.recurly.terminateSubscription(sub.id, deps.refund);
        heartbeat();
      }
      const outcome = await deps.recurly.redactAccount(code);
      return { subscriptionsTerminated: live.length, accountRedacted: outcome === 'redacted', hadAccount: true };
    });
  },

  async deleteAuth0User(accountId: string): Promise<NonNullable<StoreCounts['auth0']>> {
    return classified('auth0', async () => {
      const subject = await requireSubject(deps.db, accountId);
      let usersDeleted = 0;
      let alreadyGone = 0;
      for (const userId of subject.auth0UserIds) {
        const outcome = await deps.auth0.deleteUser(userId);
        if (outcome === 'deleted') usersDeleted++;
        else alreadyGone++;
      }
      return { usersDeleted, alreadyGone };
    });
  },
});
