/**
 * Legal holds (CONTRACT §7, docs/holds.md): an account under a hold is never swept and its
 * deletion requests wait (status `held`) until the hold is released.
 *
 * `reason_sealed`, `matter_sealed` and `justification_sealed` are free text written by staff (a
 * case name, an authority, a person's name may be in it): each is sealed with the field cipher
 * (encryption/fields.ts), bound to the hold's id and the column, never stored in plain text.
 * A hold is active while `released_at` is null and `until` (if set) is still ahead.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').createTable('holds', (t) => {
    t.uuid('hold_id').primary();
    t.uuid('account_id').notNullable();
    t.text('reason_sealed').notNullable();
    t.text('matter_sealed').nullable();
    t.timestamp('until', { useTz: true }).nullable();
    t.timestamp('placed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('placed_by').notNullable();
    t.timestamp('released_at', { useTz: true }).nullable();
    t.text('released_by').nullable();
    t.text('justification_sealed').nullable();
    t.index(['account_id', 'released_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').dropTableIfExists('holds');
}
