/**
 * Each deletion's per-store state in Lethe's own tables (issues 33 and 37), kept current by the
 * deletion workflow (activities/deletion/state.ts), so the status route, the list and the
 * console read PostgreSQL and never ask a workflow per row.
 *
 * A table of its own rather than columns on `deletion_requests`: four stores a request, each
 * with its state, attempts, reason code and since, are four rows with one primary key, and the
 * console's store filter ("blocked at Recurly") is an index on (store, state) instead of a scan
 * of a JSON column or of four sets of columns. The request row keeps the overall status; its
 * new `state_seq` is the sequence of the workflow's last recorded state, so a late write of an
 * older state never overwrites a newer one (each row here carries its own `seq` likewise).
 *
 * - `deletion_store_states`: one row per request and store. `reason_code` is the failure's type
 *   (`Precondition`, `Unauthorized`, ...), never the vendor's text: no personal data is kept
 *   here. `action` is Lethe's own fixed text of what an operator can do. `since`: when the
 *   store began failing, while it fails.
 * - `deletion_store_blocks`: one row per episode of a store blocked (from `since` to `ended_at`),
 *   for the overview's "blocked by store over time"; an episode is keyed by its start, so
 *   recording it twice is harmless.
 * Both go with their request when request records are pruned (on delete cascade).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').alterTable('deletion_requests', (t) => {
    t.bigInteger('state_seq').nullable();
  });
  await knex.schema.withSchema('lethe').createTable('deletion_store_states', (t) => {
    t.text('request_id').notNullable().references('request_id').inTable('lethe.deletion_requests').onDelete('CASCADE');
    t.text('store').notNullable();
    t.text('state').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('reason_code').nullable();
    t.text('action').nullable();
    t.timestamp('since', { useTz: true }).nullable();
    t.bigInteger('seq').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['request_id', 'store']);
    t.index(['store', 'state', 'request_id'], 'deletion_store_states_store_state_idx');
  });
  await knex.schema.withSchema('lethe').createTable('deletion_store_blocks', (t) => {
    t.text('request_id').notNullable().references('request_id').inTable('lethe.deletion_requests').onDelete('CASCADE');
    t.text('store').notNullable();
    t.timestamp('since', { useTz: true }).notNullable();
    t.timestamp('ended_at', { useTz: true }).nullable();
    t.text('reason_code').nullable();
    t.primary(['request_id', 'store', 'since']);
    t.index(['since'], 'deletion_store_blocks_since_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').dropTableIfExists('deletion_store_blocks');
  await knex.schema.withSchema('lethe').dropTableIfExists('deletion_store_states');
  await knex.schema.withSchema('lethe').alterTable('deletion_requests', (t) => {
    t.dropColumn('state_seq');
  });
}
