/**
 * The billing record at Recurly (API v3): live subscriptions ended, then the account redacted.
 * Idempotent: an account that is already gone counts as deleted. `readRecurly` is what the
 * verification reads back.
 */
import type { Knex } from 'knex';
import { heartbeat } from '@temporalio/activity';
import type { RecurlyClient } from '../../stores/recurly';
import { classified } from '../failures';
import { requireSubject, type Subject } from './subject';
import type { StoreCounts, StoreReading } from '../../contract';

export interface RecurlyDeps {
  db: Knex;
  recurly: RecurlyClient;
  refund: 'none' | 'partial' | 'full';
}

export const createRecurlyActivities = (deps: RecurlyDeps) => ({
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
});

/** What remains at Recurly: 1 while the account shows its personal fields. */
export async function readRecurly(recurly: RecurlyClient, subject: Subject): Promise<StoreReading> {
  if (!subject.recurlyAccountCode) return { remaining: { account: 0 } };
  const acct = await recurly.getAccount(subject.recurlyAccountCode);
  return { remaining: { account: acct && !acct.redacted ? 1 : 0 } };
}
