/**
 * The deletion subject: what later steps need after the application rows are gone (the
 * email for legacy Auth0 lookups and email-only support requests, vendor ids). Kept in
 * Lethe's own table, never in workflow history, and erased when the deletion completes.
 *
 * At rest it is one sealed value (encryption/fields.ts: the payload codec's keys and
 * rotation), bound to the account id, plus a keyed hash of the lower-cased email for the one
 * lookup by equality (a request by email for an account whose row is already gone). No column
 * of lethe.deletion_subjects holds the email, a vendor id or anything else in plain text.
 */
import type { Knex } from 'knex';
import type { FieldCipher } from '../encryption/fields';

export interface Subject {
  accountId: string;
  email: string | null;
  auth0UserIds: string[];
  recurlyAccountCode: string | null;
}

export interface SubjectDeps {
  db: Knex;
  fields: FieldCipher;
}

/** The row's identity, authenticated with the sealed value: a copy in another row does not open. */
export const subjectContext = (accountId: string): string => `lethe.deletion_subjects:${accountId.toLowerCase()}`;

/**
 * The lookup key of an email: lower-cased, so every case variant of an address meets under one
 * key. Whether a case-insensitive match may be acted on is decided by the callers, with
 * `caseTwinsOf` (CONTRACT §2: never guessed when another account holds a variant).
 */
export const emailLookupKey = (email: string): string => email.trim().toLowerCase();

/** The stored form of a subject; also what migration 006 writes for rows captured before it. */
export function sealSubject(fields: FieldCipher, subject: Subject): { sealed: string; emailHash: string | null } {
  return {
    sealed: fields.seal(JSON.stringify({ email: subject.email, auth0UserIds: subject.auth0UserIds, recurlyAccountCode: subject.recurlyAccountCode }), subjectContext(subject.accountId)),
    emailHash: subject.email ? fields.lookupHash(emailLookupKey(subject.email)) : null,
  };
}

export async function saveSubject(deps: SubjectDeps, subject: Subject): Promise<void> {
  const { sealed, emailHash } = sealSubject(deps.fields, subject);
  await deps.db('lethe.deletion_subjects').insert({ account_id: subject.accountId, sealed, email_hash: emailHash }).onConflict('account_id').merge();
  // Outlives the subject (erased at the receipt) for LETHE_TWIN_GUARD_DAYS: see emailCandidates.
  if (emailHash) await deps.db('lethe.deleted_email_hashes').insert({ account_id: subject.accountId, email_hash: emailHash }).onConflict('account_id').merge(['email_hash']);
}

export async function loadSubject(deps: SubjectDeps, accountId: string): Promise<Subject | null> {
  const row = await deps.db('lethe.deletion_subjects').where({ account_id: accountId }).first('sealed');
  if (!row) return null;
  const s = JSON.parse(deps.fields.open(row.sealed, subjectContext(accountId))) as Omit<Subject, 'accountId'>;
  return { accountId, email: s.email ?? null, auth0UserIds: s.auth0UserIds ?? [], recurlyAccountCode: s.recurlyAccountCode ?? null };
}

export async function requireSubject(deps: SubjectDeps, accountId: string): Promise<Subject> {
  const s = await loadSubject(deps, accountId);
  // Freeze always runs first; a missing subject means Lethe's own table was tampered with.
  if (!s) throw new Error(`no captured subject for account ${accountId}; the freeze step has not run`);
  return s;
}

/**
 * The accounts whose captured subject has this email (case-insensitively), by keyed hash. A
 * hash can collide only in theory; each candidate is opened and compared before it counts.
 */
export async function accountsWithSubjectEmail(deps: SubjectDeps, email: string): Promise<string[]> {
  const key = emailLookupKey(email);
  const rows: { account_id: string; sealed: string }[] = await deps.db('lethe.deletion_subjects').whereIn('email_hash', deps.fields.lookupHashes(key)).select('account_id', 'sealed').limit(10);
  return rows
    .filter((r) => {
      const s = JSON.parse(deps.fields.open(r.sealed, subjectContext(r.account_id))) as { email?: string | null };
      return typeof s.email === 'string' && emailLookupKey(s.email) === key;
    })
    .map((r) => r.account_id);
}

/** Live accounts whose email is `email` when letter case is ignored (`=` on lower(): `%` and `_` are characters). */
async function liveAccountsWithEmail(db: Knex, email: string): Promise<string[]> {
  const rows: { id: string }[] = await db('accounts')
    .whereRaw('lower(email) = ?', [emailLookupKey(email)])
    .select('id')
    .limit(10);
  return rows.map((r) => r.id);
}

/**
 * Case twins (CONTRACT §2): the other accounts whose email equals this one when letter case is
 * ignored, as live rows and as deletions under way (a captured subject, whose row may be gone).
 * `accounts.email` is unique only as spelt, so `Bob@x` and `bob@x` can be two people; whatever
 * reaches a person through an email such a twin also holds in some case cannot be told apart.
 */
export async function caseTwinsOf(deps: SubjectDeps, email: string, accountId: string): Promise<string[]> {
  const ids = [...(await liveAccountsWithEmail(deps.db, email)), ...(await accountsWithSubjectEmail(deps, email))];
  return [...new Set(ids)].filter((id) => id !== accountId).sort();
}

/**
 * A deletion's email hash still guards its address: its deletion is under way, or completed
 * within the guard (counted from its completion, not its capture: a deletion blocked for weeks
 * is guarded for the whole window after it ends).
 */
function guardHolds(db: Knex, since: Date): (q: Knex.QueryBuilder) => void {
  return (q) => {
    q.where('h.captured_at', '>=', since).orWhereExists((r) => {
      r.select(db.raw('1'))
        .from('lethe.deletion_requests as r')
        .whereRaw('r.account_id = h.account_id')
        .andWhere((w) => {
          w.whereIn('r.status', ['pending', 'running', 'blocked']).orWhere('r.completed_at', '>=', since);
        });
    });
  };
}

/**
 * Every account an email may name when letter case is ignored: live accounts, deletions under
 * way, and accounts deleted within `recentDays` (by the keyed hash kept after the subject is
 * erased, lethe.deleted_email_hashes). The intake acts on an email only when this is one account.
 */
export async function emailCandidates(deps: SubjectDeps, email: string, recentDays: number, now = new Date()): Promise<{ live: string[]; captured: string[]; recentlyDeleted: string[] }> {
  const since = new Date(now.getTime() - recentDays * 86_400_000);
  const recent: { account_id: string }[] = await deps
    .db('lethe.deleted_email_hashes as h')
    .whereIn('h.email_hash', deps.fields.lookupHashes(emailLookupKey(email)))
    .where(guardHolds(deps.db, since))
    .select('h.account_id')
    .limit(10);
  return { live: await liveAccountsWithEmail(deps.db, email), captured: await accountsWithSubjectEmail(deps, email), recentlyDeleted: recent.map((r) => r.account_id) };
}

/** Drops the email hashes whose guard has ended (see `guardHolds`) and whose subject is gone; answers how many. */
export async function pruneDeletedEmailHashes(db: Knex, days: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - days * 86_400_000);
  return db('lethe.deleted_email_hashes as h')
    .whereNot(guardHolds(db, cutoff))
    .whereNotExists((q) => {
      q.select(db.raw('1')).from('lethe.deletion_subjects as s').whereRaw('s.account_id = h.account_id');
    })
    .del();
}
