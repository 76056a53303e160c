/**
 * The inactivity sweep's own records: one row per sweep with its counts, and the eligible
 * account ids it found. The ids live here rather than in workflow history, so a sweep over a
 * million accounts keeps a small history and the API can page through what a dry run found.
 * Ids and counts only: no personal data.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').createTable('sweeps', (t) => {
    // The sweep's workflow id (the schedule's `inactivity-sweep-<time>`, or the API's).
    t.text('sweep_id').primary();
    t.boolean('dry_run').notNullable();
    t.text('status').notNullable(); // 'running' | 'completed' | 'failed'
    t.bigInteger('scanned').notNullable().defaultTo(0);
    t.bigInteger('eligible').notNullable().defaultTo(0);
    t.bigInteger('started').notNullable().defaultTo(0);
    t.integer('pages').notNullable().defaultTo(0);
    // Every page of one sweep applies the same rule: inactive since before `cutoff`, live
    // subscriptions judged at `reference_time`.
    t.timestamp('reference_time', { useTz: true }).notNullable();
    t.timestamp('cutoff', { useTz: true }).notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true }).nullable();
    t.text('error').nullable();
    t.index(['started_at']);
  });

  await knex.schema.withSchema('lethe').createTable('sweep_candidates', (t) => {
    t.text('sweep_id').notNullable().references('sweep_id').inTable('lethe.sweeps').onDelete('CASCADE');
    t.uuid('account_id').notNullable();
    // The primary key is also the API's paging order (by account id within a sweep).
    t.primary(['sweep_id', 'account_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').dropTableIfExists('sweep_candidates');
  await knex.schema.withSchema('lethe').dropTableIfExists('sweeps');
}
