/**
 * Step 1, Freeze: mark the account as being deleted (the application refuses logins and
 * uploads for frozen accounts) and capture what later steps need before its rows go.
 */
import type { Knex } from 'knex';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../contract';
import { classified } from '../failures';
import { refusedGrant } from './receipt';
import { loadSubject, saveSubject, type SubjectDeps } from './subject';
import type { DeletionInput } from '../../contract';

export const createFreezeActivities = (deps: SubjectDeps & { db: Knex }) => ({
  async freezeAccount(input: DeletionInput): Promise<{ auth0Users: number; hasRecurlyAccount: boolean }> {
    return classified('freeze', () =>
      refusedGrant('freeze', async () => {
        const { db } = deps;
        await db('lethe.deletion_requests')
          .insert({
            request_id: input.requestId,
            account_id: input.accountId,
            channel: input.channel,
            received_at: input.receivedAt,
            deadline_at: input.deadlineAt,
            requested_by: input.requestedBy ?? null,
            status: 'running',
          })
          .onConflict('request_id')
          .merge({ status: 'running' });

        const account = await db('accounts').where({ id: input.accountId }).first();
        if (!account) {
          // A retry after the database step already ran: the capture is what we need.
          const captured = await loadSubject(deps, input.accountId);
          if (captured) return { auth0Users: captured.auth0UserIds.length, hasRecurlyAccount: !!captured.recurlyAccountCode };
          throw ApplicationFailure.create({
            type: FailureType.AccountNotFound,
            message: `account ${input.accountId} does not exist`,
            nonRetryable: true,
          });
        }

        await db('lethe.frozen_accounts').insert({ account_id: input.accountId, request_id: input.requestId, state: 'deleting' }).onConflict('account_id').merge({ state: 'deleting' });

        // Only the account's own Auth0 id is captured here. A legacy account has none: its users
        // are found by email at the Auth0 step (findPersonUsers, activities/deletion/auth0.ts),
        // from the email captured below. Asking Auth0 here would let an Auth0 outage hold the
        // freeze, and with it every other store, which must carry on without it.
        const auth0UserIds: string[] = account.auth0_user_id ? [account.auth0_user_id] : [];

        // Sealed (subject.ts): Lethe's table never holds the email in plain text.
        await saveSubject(deps, { accountId: input.accountId, email: account.email, auth0UserIds, recurlyAccountCode: account.recurly_account_code });
        return { auth0Users: auth0UserIds.length, hasRecurlyAccount: !!account.recurly_account_code };
      }),
    );
  },
});
