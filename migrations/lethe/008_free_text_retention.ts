/**
 * What Lethe keeps of free text and of a person, bounded in time (issue 30, item 11).
 *
 * - `deletion_subjects.abandoned_at`: when Lethe first saw that a captured subject's deletion
 *   had ended without finishing (a run terminated, timed out or failed, and not resumed). The
 *   subject stays a while after that, so an operator's retry can resume the deletion from it;
 *   past LETHE_ABANDONED_SUBJECT_DAYS the API's maintenance pass erases it
 *   (client/reconcile.ts). Null while a run is under way; cleared again on a resume.
 * - `operator_actions.at` indexed: the same pass prunes actions (their justification and `by`)
 *   older than the audit trail's retention, LETHE_AUDIT_RETENTION_DAYS.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').alterTable('deletion_subjects', (t) => {
    t.timestamp('abandoned_at', { useTz: true }).nullable();
  });
  await knex.schema.withSchema('lethe').alterTable('operator_actions', (t) => {
    t.index(['at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').alterTable('operator_actions', (t) => {
    t.dropIndex(['at']);
  });
  await knex.schema.withSchema('lethe').alterTable('deletion_subjects', (t) => {
    t.dropColumn('abandoned_at');
  });
}
