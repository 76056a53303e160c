/**
 * Access requests (issue 35, CONTRACT §8): a person asks for a copy of their data; Lethe
 * gathers it from every store into a ZIP archive in its own private container and mails a
 * time-limited link. This table is the request's record; the data itself is only in the
 * archive, never here.
 *
 * No column holds personal data: ids, times, counts and sizes. `archive_prefix` is the folder of
 * the archive's parts in Lethe's container (`access/{requestId}/`), so a deletion of the account
 * finds what to remove without asking the workflow. `archive_deleted_at` is set once the parts are
 * gone (expiry, or a deletion of the account), which is what the API and the tests read.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').createTable('access_requests', (t) => {
    t.uuid('request_id').primary();
    t.uuid('account_id').notNullable();
    t.text('channel').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable();
    t.timestamp('deadline_at', { useTz: true }).notNullable();
    t.text('requested_by').nullable();
    // pending, running, blocked, ready (archive waiting for download), expired, cancelled, failed
    t.text('status').notNullable();
    t.timestamp('completed_at', { useTz: true }).nullable();
    t.text('archive_prefix').nullable();
    t.integer('archive_parts').nullable();
    t.bigInteger('archive_bytes').nullable();
    t.timestamp('archive_expires_at', { useTz: true }).nullable();
    t.timestamp('archive_deleted_at', { useTz: true }).nullable();
    t.jsonb('counts').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id', 'status']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').dropTableIfExists('access_requests');
}
