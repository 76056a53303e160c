/**
 * The deletion subject: what later steps need after the application rows are gone (the
 * email for legacy Auth0 lookups and email-only support requests, vendor ids). Kept in
 * Lethe's own table, never in workflow history, and erased when the deletion completes.
 */
import type { Knex } from 'knex';

export interface Subject {
  accountId: string;
  email: string | null;
  auth0UserIds: string[];
  recurlyAccountCode: string | null;
}

export async function loadSubject(db: Knex, accountId: string): Promise<Subject | null> {
  const row = await db('lethe.deletion_subjects').where({ account_id: accountId }).first();
  if (!row) return null;
  return {
    accountId,
    email: row.email,
    auth0UserIds: row.auth0_user_ids ?? [],
    recurlyAccountCode: row.recurly_account_code,
  };
}

export async function requireSubject(db: Knex, accountId: string): Promise<Subject> {
  const s = await loadSubject(db, accountId);
  // Freeze always runs first; a missing subject means Lethe's own table was tampered with.
  if (!s) throw new Error(`no captured subject for account ${accountId}; the freeze step has not run`);
  return s;
}
