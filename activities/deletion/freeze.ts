/**
 * Step 1, Freeze: mark the account as being deleted (the application refuses logins and
 * uploads for frozen accounts) and capture what later steps need before its rows go.
 */
import type { Knex } from 'knex';
import { ApplicationFailure } from '@temporalio/common';
import type { Auth0Client } from '../../stores/auth0';
import { FailureType } from '../../contract';
import { classified } from '../failures';
import { loadSubject, saveSubject, type SubjectDeps } from './subject';
import type { DeletionInput } from '../../contract';

export const createFreezeActivities = (deps: SubjectDeps & { db: Knex; auth0: Auth0Client }) => ({
  async freezeAccount(input: DeletionInput): Promise<{ auth0Users: number; hasRecurlyAccount: boolean }> {
    return classified('freeze', async () => {
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

      // Legacy accounts have no Auth0 id: their users are found by email. Only users stored
      // under the email exactly as the account has it are captured as this person's; a database
      // user found by its lower-case form is looked up again at deletion, where a spelling
      // another account shares stops it for a person (activities/deletion/auth0.ts).
      const auth0UserIds: string[] = account.auth0_user_id ? [account.auth0_user_id] : (await deps.auth0.findUsersByEmail(account.email)).filter((u) => u.matched === 'as_given').map((u) => u.userId);

      // Sealed (subject.ts): Lethe's table never holds the email in plain text.
      await saveSubject(deps, { accountId: input.accountId, email: account.email, auth0UserIds, recurlyAccountCode: account.recurly_account_code });
      return { auth0Users: auth0UserIds.length, hasRecurlyAccount: !!account.recurly_account_code };
    });
  },
});
