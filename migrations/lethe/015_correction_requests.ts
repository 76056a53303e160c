/**
 * Correction requests (CONTRACT §8, docs/correction.md): the person asked support to put their
 * name, phone, address or email right, and Lethe applies it to the database, Auth0 and Recurly.
 *
 * - `correction_requests`: one row per request. The new values are personal data: they are kept
 *   only sealed (`changes_sealed`, bound to the row), only until the request ends (then erased),
 *   and never passed to Temporal (the workflow gets the request id and the fields' names).
 *   `fields` holds the names of the fields asked for, never values; `receipt` which fields were
 *   applied to which store and read back, names only. `subject_sealed` is what the request found
 *   before changing anything (the Auth0 user, the Recurly account code), sealed, erased with it.
 * - `email_token_hash`: the SHA-256 of the secret in the link mailed to a new email address (the
 *   address is applied nowhere until the link is confirmed); never the secret. Kept after the link
 *   is used or expires (a used secret confirms nothing: only `awaiting_confirmation` does), so a
 *   later click is told "used" or "expired" only if it holds the secret.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').createTable('correction_requests', (t) => {
    t.uuid('request_id').primary();
    t.uuid('account_id').notNullable().index();
    t.text('channel').notNullable();
    t.text('requested_by').nullable();
    t.jsonb('fields').notNullable();
    t.text('changes_sealed').nullable();
    t.text('subject_sealed').nullable();
    // pending | running | awaiting_confirmation | blocked | completed | refused | failed
    t.text('status').notNullable();
    t.text('reason').nullable();
    t.text('email_token_hash').nullable().unique();
    t.timestamp('email_expires_at', { useTz: true }).nullable();
    t.timestamp('email_confirmed_at', { useTz: true }).nullable();
    // awaiting_confirmation | confirmed | expired | applied | refused
    t.text('email_status').nullable();
    t.jsonb('receipt').nullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('completed_at', { useTz: true }).nullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['status', 'received_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').dropTableIfExists('correction_requests');
}
