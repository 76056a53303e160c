/**
 * The privacy console (client/console): its sign-in sessions, and the indexes its pages read by.
 *
 * - `console_sessions`: one row per operator or admin token exchanged for a browser session.
 *   Only the SHA-256 of the session id is stored (a copy of this table opens no session), with
 *   the token's name and role as they were at sign-in, when it expires and when it was revoked
 *   (sign-out). The CSRF token is derived from the session id, so it is not stored either.
 * - `deletion_requests (received_at, request_id)`: the requests table's keyset paging and its
 *   date filter; `(status, deadline_at)`: the bucket counts (open requests by time left).
 * - `receipts (completed_at)`: the overview's time-to-complete and the compliance report.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').createTable('console_sessions', (t) => {
    t.text('session_hash').primary();
    t.text('token_name').notNullable();
    t.text('role').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.timestamp('revoked_at', { useTz: true }).nullable();
    t.index(['expires_at']);
  });
  await knex.schema.withSchema('lethe').alterTable('deletion_requests', (t) => {
    t.index(['received_at', 'request_id'], 'deletion_requests_received_idx');
    t.index(['status', 'deadline_at'], 'deletion_requests_status_deadline_idx');
    t.index(['completed_at'], 'deletion_requests_completed_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').alterTable('deletion_requests', (t) => {
    t.dropIndex([], 'deletion_requests_received_idx');
    t.dropIndex([], 'deletion_requests_status_deadline_idx');
    t.dropIndex([], 'deletion_requests_completed_idx');
  });
  await knex.schema.withSchema('lethe').dropTableIfExists('console_sessions');
}
