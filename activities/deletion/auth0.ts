/**
 * The login at Auth0: every user captured at the freeze is deleted. Idempotent: a user that is
 * already gone counts as deleted. `readAuth0` is what the verification reads back.
 */
import type { Knex } from 'knex';
import type { Auth0Client } from '../../stores/auth0';
import { classified } from '../failures';
import { requireSubject, type Subject } from './subject';
import type { StoreCounts, StoreReading } from '../../contract';

export interface Auth0Deps {
  db: Knex;
  auth0: Auth0Client;
}

export const createAuth0Activities = (deps: Auth0Deps) => ({
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

/** The person's users still at Auth0: the captured ids, and any user under the same email. */
export async function readAuth0(auth0: Auth0Client, subject: Subject): Promise<StoreReading> {
  let users = 0;
  for (const id of subject.auth0UserIds) if (await auth0.getUser(id)) users++;
  // A user created under the same email after the freeze is this person too.
  if (subject.email) users += (await auth0.findUsersByEmail(subject.email)).length;
  return { remaining: { users } };
}
