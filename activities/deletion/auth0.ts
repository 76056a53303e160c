/**
 * The login at Auth0. One rule finds the person's users (`findPersonUsers`), and both the
 * deletion and the read-back (`readAuth0`) use it, so whatever the verification would count
 * as remaining is exactly what the deletion deletes. Idempotent: a user already gone counts as
 * deleted.
 *
 * Resumable at the call level: what an attempt found and which calls it finished travel in its
 * heartbeat details (which Temporal hands to the activity's next attempt, also after a worker
 * died), so a retry makes only the calls still to do. Auth0's DELETE answers 204 whether or not
 * the user existed (Management API v2, "Delete a user"), so a repeat would be harmless but not
 * free: each call spends the tenant's rate limit, shared with every other deletion.
 */
import type { Knex } from 'knex';
import type { Auth0Client, Auth0UserProgress } from '../../stores/auth0';
import { classified } from '../failures';
import { caseTwinsOf, emailLookupKey, requireSubject, type Subject, type SubjectDeps } from './subject';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../contract';
import { lastDetails, record, vendorAttempt } from './vendor-attempt';
import type { StoreCounts, StoreReading } from '../../contract';

export interface Auth0Deps extends SubjectDeps {
  db: Knex;
  auth0: Auth0Client;
}

export interface PersonUser {
  userId: string;
  /**
   * How it was found: a captured id; the primary user a captured (linked, secondary) id now
   * lives in; the email as stored; or the email's lower-case form (a database user).
   */
  via: 'captured' | 'linked' | 'email' | 'email_lower_case';
  /** For `linked`: the captured id the primary carries. */
  capturedId?: string;
}

export interface PersonUsers {
  /** Every user of the person that exists at Auth0 now, each once. */
  users: PersonUser[];
  /** Captured ids that exist neither on their own nor inside a primary user. */
  gone: string[];
}

/**
 * The person's users at Auth0 (CONTRACT §4): each id captured at the freeze, or, when Auth0
 * answers 404 for it, the primary user it was linked into (a linked secondary stops existing
 * on its own and lives on in the primary's `identities`); and every user found by the email
 * (`Auth0Client.findUsersByEmail`: the email as given, and its lower-case form for database
 * users, the spellings Auth0 may have stored), since a user under the same email is this person.
 */
export async function findPersonUsers(auth0: Auth0Client, subject: Subject): Promise<PersonUsers> {
  const users = new Map<string, PersonUser>();
  const gone: string[] = [];
  for (const id of subject.auth0UserIds) {
    const user = await auth0.getUser(id);
    if (user) {
      if (!users.has(user.userId)) users.set(user.userId, { userId: user.userId, via: 'captured' });
      continue;
    }
    const primary = await auth0.findPrimaryOf(id);
    if (primary) {
      if (!users.has(primary.userId)) users.set(primary.userId, { userId: primary.userId, via: 'linked', capturedId: id });
    } else gone.push(id);
  }
  if (subject.email) {
    for (const u of await auth0.findUsersByEmail(subject.email)) {
      if (!users.has(u.userId)) users.set(u.userId, { userId: u.userId, via: u.matched === 'as_given' ? 'email' : 'email_lower_case' });
    }
  }
  return { users: [...users.values()], gone };
}

/**
 * Never another account's login. A user another account names as its `auth0_user_id` is that
 * account's. A user reached through an email (the legacy lookup, or a linked primary's own
 * address) is this person's only when no other account holds that email in any letter case:
 * `accounts.email` is unique only as spelt, and Auth0 keeps database users' emails lower-cased,
 * so `Ann@x`'s login answers a lookup for `ann@x` (CONTRACT §2, case twins). Either stops the
 * store for a person to decide (Precondition → `blocked`), naming the other account by id,
 * never by email, and deletes nothing: an attempt checks before its first delete.
 */
async function refuseOtherAccounts(deps: Auth0Deps, accountId: string, subject: Subject, found: PersonUsers): Promise<void> {
  const { db } = deps;
  const ids = found.users.map((u) => u.userId);
  if (ids.length) {
    const claimed = await db('accounts').whereIn('auth0_user_id', ids).whereNot('id', accountId).first('id', 'auth0_user_id');
    if (claimed) {
      throw otherAccountsLogin(
        `Auth0 user ${claimed.auth0_user_id as string} is the login of account ${claimed.id as string}, not of this one: check which person it belongs to, then delete it at Auth0 or resolve the store outside Lethe`,
      );
    }
  }
  const byEmail = found.users.filter((u) => u.via === 'email' || u.via === 'email_lower_case');
  if (byEmail.length && subject.email) {
    const twins = await caseTwinsOf(deps, subject.email, accountId);
    if (twins.length) {
      throw otherAccountsLogin(
        `Auth0 user(s) ${byEmail.map((u) => u.userId).join(', ')} found by this account's email, which account(s) ${twins.join(', ')} also hold in another letter case: whose login it is cannot be told from the email; nothing was deleted. Check the user at Auth0 and delete it there if it is this person's (then resolve the store outside Lethe), or link it to its own account's auth0_user_id and retry`,
      );
    }
  }
  for (const u of found.users.filter((x) => x.via === 'linked')) {
    // The primary a captured secondary was linked into may be someone else's login: its own
    // address must not be another account's in any case.
    const email = (await deps.auth0.getUser(u.userId))?.email;
    if (!email) continue;
    const twins = await caseTwinsOf(deps, email, accountId);
    const own = subject.email !== null && emailLookupKey(subject.email) === emailLookupKey(email);
    if (twins.length) {
      throw otherAccountsLogin(
        `Auth0 user ${u.userId}, the primary this account's login ${u.capturedId ?? ''} was linked into, has an email that account(s) ${twins.join(', ')} hold${own ? ' in another letter case' : ''}: nothing was deleted. Unlink this account's identity at Auth0 (or resolve the store outside Lethe), then retry`,
      );
    }
  }
}

/** Auth0 holds a login that may be another account's: only a person can tell (Precondition, so `blocked`). */
function otherAccountsLogin(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.Precondition, message: `auth0: ${message}` });
}

/** What an attempt hands to the next (ids and call names only, never an email). */
interface Auth0Memo {
  found?: PersonUsers;
  /** Per user id: how far its deletion has come. */
  users: Record<string, Auth0UserProgress>;
}

export const createAuth0Activities = (deps: Auth0Deps) => ({
  async deleteAuth0User(accountId: string): Promise<NonNullable<StoreCounts['auth0']>> {
    const memo: Auth0Memo = { users: {}, ...(lastDetails<Auth0Memo>() ?? {}) };
    return classified('auth0', () =>
      vendorAttempt(
        'auth0',
        () => memo,
        async () => {
          const subject = await requireSubject(deps, accountId);
          if (!memo.found) {
            memo.found = await findPersonUsers(deps.auth0, subject);
            record(memo);
          }
          const found = memo.found;
          // Every attempt: the database may have changed since the users were found.
          await refuseOtherAccounts(deps, accountId, subject, found);
          const progressOf = (id: string) => (memo.users[id] ??= { done: [], notAvailable: [] });
          let usersDeleted = 0;
          let alreadyGone = 0;
          const notAvailable = new Set<string>();
          for (const u of found.users) {
            const done = await deps.auth0.deleteUser(u.userId, progressOf(u.userId), () => record(memo));
            if (done.outcome === 'deleted') usersDeleted++;
            else alreadyGone++;
            for (const part of done.notAvailable) notAvailable.add(part);
          }
          // Gone ids, and linked secondaries (gone on their own), may still hold grants: revoke them.
          for (const id of [...found.gone, ...found.users.flatMap((u) => (u.capturedId ? [u.capturedId] : []))]) {
            await deps.auth0.deleteUser(id, progressOf(`revoke:${id}`), () => record(memo));
          }
          alreadyGone += found.gone.length;
          const linked = found.users.filter((u) => u.via === 'linked').length;
          const byEmail = found.users.filter((u) => u.via === 'email' || u.via === 'email_lower_case').length;
          return {
            usersDeleted,
            alreadyGone,
            ...(linked ? { linkedPrimaries: linked } : {}),
            ...(byEmail ? { foundByEmail: byEmail } : {}),
            ...(notAvailable.size ? { notAvailable: [...notAvailable].sort() } : {}),
          };
        },
      ),
    );
  },
});

/**
 * The person's users still at Auth0, by the deletion's own rule, and which parts of the session
 * layer this tenant does not offer Lethe (a 403 to a read of them: not an Enterprise plan, or
 * the grant lacks read:sessions / read:refresh_tokens), so a receipt says what was not revoked.
 */
export async function readAuth0(auth0: Auth0Client, subject: Subject): Promise<StoreReading> {
  const found = await findPersonUsers(auth0, subject);
  const probe = subject.auth0UserIds[0] ?? found.users[0]?.userId;
  const notAvailable = probe ? await auth0.sessionLayerNotAvailable(probe) : [];
  return { remaining: { users: found.users.length }, ...(notAvailable.length ? { notAvailable } : {}) };
}
