/**
 * lethe.deletion_subjects no longer holds the email (or the vendor ids) in plain text: one
 * sealed value per row (AES-256-GCM with the payload codec's key ring, key id stored with the
 * ciphertext) and a keyed hash of the lower-cased email for lookups by equality. See
 * activities/deletion/subject.ts and encryption/fields.ts.
 *
 * Rows captured before this migration (deletions running during the upgrade) are sealed here
 * when the caller hands over the sealer (the worker does, with its keys); without it the
 * migration refuses, naming what to do, rather than drop a running deletion's capture or keep
 * it readable. The migration runs in one transaction: a refusal changes nothing.
 */
import type { Knex } from 'knex';

export interface PlainSubject {
  accountId: string;
  email: string | null;
  auth0UserIds: string[];
  recurlyAccountCode: string | null;
}

/** Seals one row (activities/deletion/subject.ts sealSubject over the configured keys). */
export type SubjectSealer = (subject: PlainSubject) => { sealed: string; emailHash: string | null };

export class SealSubjectsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealSubjectsError';
  }
}

export function sealedSubjects(seal?: SubjectSealer): { up(k: Knex): Promise<void>; down(k: Knex): Promise<void> } {
  return {
    async up(knex) {
      await knex.schema.withSchema('lethe').alterTable('deletion_subjects', (t) => {
        t.text('sealed').nullable();
        t.text('email_hash').nullable();
      });
      const rows: { account_id: string; email: string | null; auth0_user_ids: string[] | null; recurly_account_code: string | null }[] = await knex('lethe.deletion_subjects').select(
        'account_id',
        'email',
        'auth0_user_ids',
        'recurly_account_code',
      );
      if (rows.length > 0 && !seal) {
        throw new SealSubjectsError(
          `lethe.deletion_subjects holds ${rows.length} row(s) of deletions under way, in plain text; migration 006 seals them with the encryption keys: ` +
            'start the Lethe worker (it migrates with LETHE_ENCRYPTION_KEYS / LETHE_ENCRYPTION_KEYS_FILE) instead of this migration run',
        );
      }
      for (const r of rows) {
        const { sealed, emailHash } = seal!({ accountId: r.account_id, email: r.email, auth0UserIds: r.auth0_user_ids ?? [], recurlyAccountCode: r.recurly_account_code });
        await knex('lethe.deletion_subjects').where({ account_id: r.account_id }).update({ sealed, email_hash: emailHash });
      }
      await knex.schema.withSchema('lethe').alterTable('deletion_subjects', (t) => {
        t.dropColumn('email');
        t.dropColumn('auth0_user_ids');
        t.dropColumn('recurly_account_code');
        t.dropNullable('sealed');
        t.index(['email_hash']);
      });
    },

    async down(knex) {
      // Going back would mean writing emails in plain text again: only an empty table goes back.
      const [{ n }] = await knex('lethe.deletion_subjects').count<{ n: string }[]>({ n: '*' });
      if (Number(n) > 0) throw new SealSubjectsError(`lethe.deletion_subjects holds ${n} sealed row(s); let those deletions complete before migrating down`);
      await knex.schema.withSchema('lethe').alterTable('deletion_subjects', (t) => {
        t.dropIndex(['email_hash']);
        t.dropColumn('sealed');
        t.dropColumn('email_hash');
        t.text('email').nullable();
        t.specificType('auth0_user_ids', 'text[]').notNullable().defaultTo('{}');
        t.text('recurly_account_code').nullable();
      });
    },
  };
}
