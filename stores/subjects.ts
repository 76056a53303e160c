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

/** Emails are compared case-insensitively everywhere (the intake, support requests). */
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
