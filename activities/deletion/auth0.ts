/**
 * The login at Auth0. One rule finds the person's users (`findPersonUsers`), and both the
 * deletion and the read-back (`readAuth0`) use it, so whatever the verification would count
 * as remaining is exactly what the deletion deletes. Idempotent: a user already gone counts as
 * deleted.
 *
 * Why each call beyond "delete the user" is made (issue 37 counts them): get-by-id and
 * users-by-email find the users consistently; user search only where nothing else can tell (a
 * linked secondary's primary under another address, the email in another letter case); one
 * unlink per linked secondary (deleting a primary leaves them); the session layer and grants
 * (they outlive the user at Auth0); one unblock by the email (brute-force blocks are kept per
 * identifier, not per user); organization memberships only on a tenant that has organizations
 * (`removeMemberships`). Nothing is called for tenant logs (the API cannot delete them) nor for
 * MFA enrolments (deleting the user deletes them, see `removeMemberships`).
 *
 * Resumable at the call level: what an attempt found and which calls it finished travel in its
 * heartbeat details (which Temporal hands to the activity's next attempt, also after a worker
 * died), so a retry makes only the calls still to do. Auth0's DELETE answers 204 whether or not
 * the user existed (Management API v2, "Delete a user"), so a repeat would be harmless but not
 * free: each call spends the tenant's rate limit, shared with every other deletion.
 */
import type { Knex } from 'knex';
import { AUTH0_SCOPES, AUTH0_SESSION_SCOPES, linkedIds, type Auth0Client, type Auth0User, type Auth0UserProgress } from '../../stores/auth0';
import { isVendorError, VendorError } from '../../stores/errors';
import { classified } from '../failures';
import { caseTwinsOf, emailLookupKey, requireSubject, saveSubject, type Subject, type SubjectDeps } from './subject';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../contract';
import { activityInfo } from '@temporalio/activity';
import { lastDetails, record, refuseWhileHeld, vendorAttempt } from './vendor-attempt';
import type { StoreCounts, StoreReading } from '../../contract';

export interface Auth0Deps extends SubjectDeps {
  db: Knex;
  auth0: Auth0Client;
}

export interface PersonUser {
  userId: string;
  /**
   * How it was found: a captured id; the primary user a captured (linked, secondary) id now
   * lives in; the email as stored; the email's lower-case form (a database user); or the email
   * in any other letter case (user search, e.g. a social login stored as `John@x` for `john@x`).
   */
  via: 'captured' | 'linked' | 'email' | 'email_lower_case' | 'email_any_case';
  /** For `linked`: the captured id the primary carries. */
  capturedId?: string;
  /** Found by users-by-email (the address as given, or its lower-case form): reading the address back reaches it. */
  byAddress?: boolean;
  /**
   * The user ids of the secondary identities linked into this one (`provider|user_id`). Each is
   * unlinked and then deleted as the standalone user the unlink creates: deleting the primary
   * alone leaves them ("Unlink User Accounts").
   */
  linked?: string[];
}

export interface PersonUsers {
  /** Every user of the person that exists at Auth0 now, each once. */
  users: PersonUser[];
  /** Captured ids that exist neither on their own nor inside a primary user. */
  gone: string[];
}

/** How Lethe reads Auth0's user search, which lags the writes (stores/auth0.ts `searchByEmail`). */
export interface SearchOptions {
  /** How long after a write user search may still not show it (LETHE_AUTH0_SEARCH_LAG_MS). */
  searchLagMs: number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * A read-back after this subject's deletion succeeded (`readAuth0`'s `afterDeletion`): a
   * captured id answering 404 counts as gone without a search for a primary, and the email is
   * not searched in other letter cases (see `readAuth0`).
   */
  afterDeletion?: boolean;
  /**
   * The search by email shows every user written before this time (ms): it is made no sooner than
   * `searchLagMs` after it. The deletion passes when its activity was first scheduled (the
   * request had reached Auth0's step); by default, when the look began.
   */
  writtenBefore?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The person's users at Auth0 (CONTRACT §4): each id captured at the freeze, or, when Auth0
 * answers 404 for it, the primary user it was linked into (a linked secondary stops existing
 * on its own and lives on in the primary's `identities`); and every user under the email in
 * any letter case, since a user under the same address is this person (whether it may be
 * acted on is `refuseOtherAccounts`'s question).
 *
 * Consistent reads first (Auth0, "User Search Best Practices": get-by-id and users-by-email are
 * immediately consistent; user search is eventually consistent and not for critical
 * operations). users-by-email comes first: it answers the users with their identities, so a
 * captured id among them (the common case: the account's own login under its own address)
 * costs no get-by-id of its own. Search is used only where it is the only way: a captured id's
 * primary that no user found by email carries, and the email in another letter case
 * (users-by-email is case-sensitive). A search answer may miss what was written shortly before
 * it, so the search for a primary is made no sooner than `searchLagMs` after this look began: it
 * then reflects every write before the look (the links behind the 404s), and its miss may count
 * as absence. The search by email must show every user written before the deletion reached
 * Auth0's step (`writtenBefore`: when its activity was first scheduled), so it waits only for
 * what is left of the lag since then (issue 37): a deletion that queued on the vendor's task
 * queue for longer than the lag (any burst, any sweep) waits for nothing. No write of Lethe's
 * needs more: a retry carries the find in its heartbeat, and the workflow's next attempt comes
 * 30 s or more after the last one's writes. Users a search shows are confirmed by id, as it may
 * still show users deleted shortly before.
 */
export async function findPersonUsers(auth0: Auth0Client, subject: Subject, opts: SearchOptions): Promise<PersonUsers> {
  const started = Date.now();
  const users = new Map<string, PersonUser>();
  const add = (u: Auth0User, via: PersonUser['via'], capturedId?: string, byAddress?: boolean) => {
    if (users.has(u.userId)) return;
    const linked = linkedIds(u);
    users.set(u.userId, { userId: u.userId, via, ...(capturedId ? { capturedId } : {}), ...(linked.length ? { linked } : {}), ...(byAddress ? { byAddress } : {}) });
  };
  const captured = new Set(subject.auth0UserIds);
  if (subject.email) {
    for (const u of await auth0.findUsersByEmail(subject.email)) add(u.user, captured.has(u.userId) ? 'captured' : u.matched === 'as_given' ? 'email' : 'email_lower_case', undefined, true);
  }
  const linkedInto = (id: string) => [...users.values()].find((u) => u.linked?.includes(id));
  const missing: string[] = [];
  for (const id of subject.auth0UserIds) {
    // Found by email already, or carried as a linked identity by a user found so far: no call.
    if (users.has(id) || linkedInto(id)) continue;
    const user = await auth0.getUser(id);
    if (user) add(user, 'captured');
    else missing.push(id);
  }
  // A captured id that a user found so far carries as a linked identity: resolved consistently.
  for (const id of subject.auth0UserIds) {
    const primary = linkedInto(id);
    if (primary && !primary.capturedId) primary.capturedId = id;
  }
  const unresolved = missing.filter((id) => !linkedInto(id));
  const gone: string[] = [];
  if (opts.afterDeletion) return { users: [...users.values()], gone: unresolved };
  if (unresolved.length || subject.email) {
    // The links behind this look's 404s: from the look's start. The email: from `writtenBefore`.
    const from = Math.max(unresolved.length ? started : 0, subject.email ? (opts.writtenBefore ?? started) : 0);
    const wait = from + opts.searchLagMs - Date.now();
    if (wait > 0) await (opts.sleep ?? sleep)(wait);
    for (const id of unresolved) {
      const candidate = await auth0.findPrimaryOf(id);
      // By id: the index may still show a primary deleted since.
      const primary = candidate ? (users.has(candidate.userId) ? candidate : await auth0.getUser(candidate.userId)) : null;
      if (primary) add(primary, 'linked', id);
      else gone.push(id);
    }
    if (subject.email) {
      for (const hit of await auth0.searchByEmail(subject.email)) {
        if (users.has(hit.userId)) continue;
        const user = await auth0.getUser(hit.userId);
        if (user) add(user, 'email_any_case');
      }
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
  // Linked secondaries too: they are deleted on their own once unlinked.
  const ids = found.users.flatMap((u) => [u.userId, ...(u.linked ?? [])]);
  if (ids.length) {
    const claimed = await db('accounts').whereIn('auth0_user_id', ids).whereNot('id', accountId).first('id', 'auth0_user_id');
    if (claimed) {
      throw otherAccountsLogin(
        `Auth0 user ${claimed.auth0_user_id as string} is the login of account ${claimed.id as string}, not of this one: check which person it belongs to, then delete it at Auth0 or resolve the store outside Lethe`,
      );
    }
  }
  const byEmail = found.users.filter(isByEmail);
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

const isByEmail = (u: PersonUser) => u.via === 'email' || u.via === 'email_lower_case' || u.via === 'email_any_case';

/**
 * A refused scope names every scope Lethe needs, not only the one that call lacked (Auth0's
 * 403 says "Insufficient scope, expected any of: …" for that call alone): an operator fixing
 * the grant one refusal at a time would meet the next one on the next deletion.
 */
function withScopes<T>(fn: () => Promise<T>): Promise<T> {
  return fn().catch((err: unknown) => {
    if (isVendorError(err) && err.type === 'unauthorized' && err.status === 403) {
      throw ApplicationFailure.create({
        type: FailureType.Unauthorized,
        message: `auth0 403 (${err.operation}${err.vendorCode ? `, ${err.vendorCode}` : ''}): the Management API client grant lacks a scope Lethe needs. Grant all of ${AUTH0_SCOPES.join(', ')} (and, on an Enterprise plan, ${AUTH0_SESSION_SCOPES.join(', ')}), then retry`,
      });
    }
    throw err;
  });
}

/** When this activity was first scheduled (ms), or undefined outside an activity (a direct call in a test). */
function firstScheduled(): number | undefined {
  try {
    return activityInfo().scheduledTimestampMs;
  } catch {
    return undefined;
  }
}

/** What an attempt hands to the next (ids and call names only, never an email). */
interface Auth0Memo {
  found?: PersonUsers;
  /** Per user id: how far its deletion has come. */
  users: Record<string, Auth0UserProgress>;
  /** Secondary ids already unlinked from their primary. */
  unlinked?: string[];
  /** The email's brute-force blocks were removed. */
  unblocked?: boolean;
  /** Per user id: the organizations it was removed from (present once its memberships are read back empty). */
  memberships?: Record<string, string[]>;
}

/**
 * Data beside the user record (issue 36), removed before the user it belongs to.
 *
 * MFA enrolments (authentication methods, Guardian enrolments): none. Auth0 documents that "when
 * a user is deleted by the Auth0 Management API (DELETE /v2/users/{user_id}), the associated MFA
 * authenticators are deleted automatically, which means there is no need to explicitly call the
 * MFA management API endpoints (e.g. DELETE /v2/users/{user_id}/authentication-methods or DELETE
 * /v2/users/{id}/authenticators)" (Auth0 knowledge base, "Deleting Users Does Not Delete
 * Authenticators", community.auth0.com/t/deleting-users-does-not-delete-authenticators/89889;
 * the exception it names, a connection or tenant deleted in bulk, is not how Lethe deletes). The
 * read-back proves it through the user's absence: no consistent call reads a deleted user's
 * authenticators (the endpoints are per user), so none is made.
 *
 * Organization memberships: Auth0 documents no removal with the user ("Remove Members From
 * Organizations" speaks only of the other direction: removing a member leaves the user), so each
 * is removed explicitly (`DELETE /api/v2/organizations/{id}/members`, scope
 * delete:organization_members) and read back (`GET /api/v2/users/{id}/organizations`) while the
 * user still exists: after its deletion no per-user call can read them, and an organization's
 * member list is "subject to eventual consistency" (reference.md, organizations.members.list).
 * The user is deleted only once the read-back shows none; Auth0 says a removal "takes
 * approximately 5 - 10 seconds", so one still listed fails the attempt for a retry (which keeps
 * the removals done in its heartbeat). A tenant without organizations (most) is not asked per
 * user: whether it has any is learned once (stores/auth0.ts `tenantHasOrganizations`).
 */
async function removeMemberships(auth0: Auth0Client, userId: string, memo: Auth0Memo): Promise<void> {
  const done = (memo.memberships ??= {});
  if (done[userId]) return;
  const orgs = await auth0.organizationsOf(userId);
  for (const org of orgs) await auth0.removeFromOrganization(org, userId);
  if (orgs.length) {
    const left = await auth0.organizationsOf(userId);
    if (left.length) {
      throw new VendorError({ vendor: 'auth0', type: 'unavailable', operation: 'removeFromOrganization', subject: userId, vendorCode: 'membership_removal_pending' });
    }
  }
  done[userId] = orgs;
  record(memo);
}

export const createAuth0Activities = (deps: Auth0Deps) => ({
  async deleteAuth0User(accountId: string): Promise<NonNullable<StoreCounts['auth0']>> {
    const memo: Auth0Memo = { users: {}, ...(lastDetails<Auth0Memo>() ?? {}) };
    const settings = deps.auth0.settings;
    return classified('auth0', () =>
      vendorAttempt(
        'auth0',
        () => memo,
        () =>
          withScopes(async () => {
            const subject = await requireSubject(deps, accountId);
            await refuseWhileHeld(deps.db, accountId);
            if (!memo.found) {
              memo.found = await findPersonUsers(deps.auth0, subject, { searchLagMs: settings.searchLagMs, writtenBefore: firstScheduled() });
              // Each was just read, consistently (by id or by email, or a search hit confirmed by
              // id): deleting it needs no look of its own first.
              for (const u of memo.found.users) memo.users[u.userId] ??= { existed: true, done: [], notAvailable: [] };
              record(memo);
            }
            const found = memo.found;
            // Every attempt: the database may have changed since the users were found.
            await refuseOtherAccounts(deps, accountId, subject, found);
            const progressOf = (id: string) => (memo.users[id] ??= { done: [], notAvailable: [] });
            const unlinked = (memo.unlinked ??= []);
            // Unlink every secondary first: each becomes a standalone user again, deleted below
            // with its sessions and grants. Deleting the primary alone would leave them
            // ("Unlink User Accounts": to delete a secondary identity entirely, unlink it, then
            // delete the user the unlink creates).
            for (const u of found.users) {
              for (const secondary of u.linked ?? []) {
                if (unlinked.includes(secondary)) continue;
                const cut = secondary.indexOf('|');
                await deps.auth0.unlinkIdentity(u.userId, secondary.slice(0, cut), secondary.slice(cut + 1));
                unlinked.push(secondary);
                record(memo);
              }
            }
            let usersDeleted = 0;
            let alreadyGone = 0;
            const userIds: string[] = [];
            const notAvailable = new Set<string>();
            const order = [...found.users.flatMap((u) => u.linked ?? []), ...found.users.map((u) => u.userId)];
            // Memberships first: once a user is deleted, nothing can read them back (removeMemberships).
            const userDone = (id: string) => (memo.users[id]?.done ?? []).includes('user');
            if (order.some((id) => !userDone(id)) && (await deps.auth0.tenantHasOrganizations())) {
              for (const id of order) if (!userDone(id)) await removeMemberships(deps.auth0, id, memo);
            }
            for (const id of order) {
              const done = await deps.auth0.deleteUser(id, progressOf(id), () => record(memo));
              if (done.outcome === 'deleted') {
                usersDeleted++;
                userIds.push(id);
              } else alreadyGone++;
              for (const part of done.notAvailable) notAvailable.add(part);
            }
            // Gone ids may still hold grants: revoke them (the call is idempotent).
            for (const id of found.gone) {
              await deps.auth0.deleteUser(id, progressOf(`revoke:${id}`), () => record(memo));
            }
            alreadyGone += found.gone.length;
            // Brute-force blocks are kept per identifier (the email a login was tried with) and
            // IP, not per user: nothing documents that deleting the user removes them, so they
            // are removed by the identifier, as given ("Unblock by identifier"; Management API v2).
            if (subject.email && !memo.unblocked) {
              await deps.auth0.unblock(subject.email);
              memo.unblocked = true;
              record(memo);
            }
            await rememberForReadBack(deps, subject, found, order);
            const linked = found.users.filter((u) => u.via === 'linked').length;
            const byEmail = found.users.filter(isByEmail).length;
            return {
              usersDeleted,
              alreadyGone,
              userIds: userIds.sort(),
              ...(unlinked.length ? { identitiesUnlinked: unlinked.length } : {}),
              ...(linked ? { linkedPrimaries: linked } : {}),
              ...(byEmail ? { foundByEmail: byEmail } : {}),
              ...(notAvailable.size ? { notAvailable: [...notAvailable].sort() } : {}),
              tenantLogsExpireBy: tenantLogsExpireBy(settings.logRetentionDays),
            };
          }),
      ),
    );
  },
});

/**
 * What the read-back reads, once the users are deleted: the subject's ids become those that one
 * users-by-email of the address cannot reach (issue 37). A user the deletion found under the
 * address (the common case: the account's own login) is read back by that one call, which
 * answers every user stored under the address, consistently; its id leaves the list, since a
 * deleted user cannot take another address ("Delete a user": "This action cannot be undone").
 * Users reached any other way (by search in another letter case, through a link, a captured id
 * under another address) join or stay, and the read-back reads each by id instead of searching
 * (`readAuth0`). Written once, after every delete succeeded; nothing is written when the list is
 * unchanged.
 */
async function rememberForReadBack(deps: Auth0Deps, subject: Subject, found: PersonUsers, deleted: string[]): Promise<void> {
  const byAddress = new Set(found.users.filter((u) => u.byAddress).map((u) => u.userId));
  const ids = [...new Set([...subject.auth0UserIds, ...deleted])].filter((id) => !byAddress.has(id));
  if (ids.length === subject.auth0UserIds.length && ids.every((id, i) => id === subject.auth0UserIds[i])) return;
  await saveSubject(deps, { ...subject, auth0UserIds: ids });
}

/**
 * Auth0's tenant logs name users (ids, and emails in some events) and cannot be deleted through
 * the API; they expire after the plan's retention ("Log Data Retention", auth0.com/docs/
 * deploy-monitor/logs/log-data-retention: 1 day on Free up to 30 on Enterprise). The date by
 * which the last of this deletion's entries is gone: the end of today (UTC) plus the retention.
 */
export function tenantLogsExpireBy(retentionDays: number, now = new Date()): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1 + retentionDays));
  return d.toISOString().slice(0, 10);
}

/**
 * The person's users still at Auth0, by the deletion's own rule, the brute-force blocks still on
 * the email, and which parts of the session layer this tenant does not offer Lethe (a 403 to a
 * read of them: not an Enterprise plan, or the grant lacks read:sessions / read:refresh_tokens),
 * so a receipt says what was not revoked.
 *
 * `afterDeletion` (the workflow's read-backs, which run only after the store's deletion
 * succeeded: workflows/stores.ts) reads with consistent calls only (issue 37): users-by-email for
 * the address, get-by-id for every id the subject holds (the captured ones, and those the
 * deletion reached by search or through a link, `rememberForReadBack`), the blocks by the
 * address. A captured id answering 404 is then the deletion's doing, not a link made since: the
 * deletion resolved it (its primary searched for after the lag), and a deleted user cannot be
 * linked ("Link User Accounts" needs both users). No search: Auth0 documents it as eventually
 * consistent and not for critical operations ("User Search Best Practices"), so a read-back could
 * not conclude absence from it anyway. Without `afterDeletion` (a read with no deletion before
 * it) the deletion's whole rule applies, searches and the lag wait included.
 */
export async function readAuth0(auth0: Auth0Client, subject: Subject, opts: { afterDeletion?: boolean } = {}): Promise<StoreReading> {
  return withScopes(async () => {
    const found = await findPersonUsers(auth0, subject, { searchLagMs: auth0.settings.searchLagMs, afterDeletion: opts.afterDeletion });
    const remaining: Record<string, number> = { users: found.users.reduce((n, u) => n + 1 + (u.linked?.length ?? 0), 0) };
    if (subject.email) remaining.userBlocks = await auth0.blocksOf(subject.email);
    // What the tenant offers is known from the deletion's own calls (stores/auth0.ts
    // TENANT_RECHECK_MS): a probe is made only when this process has not learned it yet.
    const notAvailable = await auth0.sessionLayerNotAvailable(subject.auth0UserIds[0] ?? found.users[0]?.userId);
    return {
      remaining,
      ...(notAvailable.length ? { notAvailable } : {}),
    };
  });
}
