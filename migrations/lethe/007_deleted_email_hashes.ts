/**
 * A keyed hash of each deleted person's lower-cased email, kept for a bounded time after the
 * deletion completes (LETHE_TWIN_GUARD_DAYS). Why: `accounts.email` is unique as spelt, so
 * `Bob@x` and `bob@x` can be two people. Once Bob@x's deletion completes, its sealed subject is
 * erased; a repeat request "delete Bob@x" would then match only bob@x case-insensitively and
 * delete the wrong person. This row lets the intake see that the address was recently someone
 * else's and refuse to guess (CONTRACT §2). A keyed hash (encryption/fields.ts), never the
 * email; pruned with the subject's age by the API's maintenance pass.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').createTable('deleted_email_hashes', (t) => {
    t.uuid('account_id').primary();
    t.text('email_hash').notNullable().index();
    t.timestamp('captured_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['captured_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').dropTableIfExists('deleted_email_hashes');
}
