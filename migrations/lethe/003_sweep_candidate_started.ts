/**
 * When the sweep asked for each candidate's deletion. The sweep's eligible and started counts
 * are counted from these rows rather than summed from page results: a page retried after a
 * worker crash re-reads its candidates, and an account whose deletion the lost attempt started
 * (and that is gone by now) is no longer among them, so a sum would undercount it.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').alterTable('sweep_candidates', (t) => {
    t.timestamp('started_at', { useTz: true }).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').alterTable('sweep_candidates', (t) => {
    t.dropColumn('started_at');
  });
}
