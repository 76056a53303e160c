/**
 * Every operator action on a deletion request (retry now, resolved outside Lethe), with who
 * did it and, for a resolution, the justification. Kept apart from the receipt, which holds
 * no free text: the receipt names the action's id.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').createTable('operator_actions', (t) => {
    t.uuid('action_id').primary();
    t.uuid('request_id').notNullable().index();
    t.text('action').notNullable(); // 'retry' | 'resolve'
    t.text('store').nullable();
    t.text('by').notNullable();
    t.text('justification').nullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').dropTable('operator_actions');
}
