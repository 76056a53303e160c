/**
 * Who did what through Lethe's API and CLI: one row per state-changing call (a request filed,
 * a retry, a resolution, a sweep started, the Schedule changed), with the caller's token name
 * (or the CLI's operator identity), the time, the action and the ids it touched. Ids and
 * fixed-vocabulary details only: never an email, a name or a phone number, and never the free
 * text of a justification (that stays in operator_actions, which this row names by action id).
 * Rows older than LETHE_AUDIT_RETENTION_DAYS are pruned by the API's maintenance pass.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').createTable('audit_log', (t) => {
    // Insertion order: the API's paging cursor, and a tie-break for rows of the same instant.
    t.bigIncrements('seq').primary();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('actor').notNullable();
    t.text('via').notNullable(); // 'api' | 'cli'
    t.text('action').notNullable();
    t.text('request_id').nullable();
    t.uuid('account_id').nullable();
    t.text('sweep_id').nullable();
    t.text('schedule_id').nullable();
    t.jsonb('details').nullable();
    // Pruning deletes by age; reading filters by actor or request.
    t.index(['at']);
    t.index(['actor', 'seq']);
    t.index(['request_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').dropTableIfExists('audit_log');
}
