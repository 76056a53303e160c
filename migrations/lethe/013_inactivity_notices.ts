/**
 * The inactivity notice ladder (CONTRACT §7, docs/notices.md).
 *
 * - `inactivity_notices`: one row per account and rung mailed, for the inactivity that began at
 *   `inactive_since` (the account's `coalesce(last_login_at, created_at)` when it was sent). A
 *   sign-in moves that time, so rows of an older one are a ladder the person cancelled; the
 *   sweep removes them (and counts the account kept). Ids, times and the rung only: the address
 *   is read from `accounts` when mailing and never stored. Deleted with the account (the
 *   deletion's database step).
 * - `sweep_notices`: what one sweep sent, or in a dry run would send, for its counts and the dry
 *   run's list; pruned with the sweep (30 days), like `sweep_candidates`.
 * - `sweep_candidates.deferred_until`: an eligible account the sweep did not start because its
 *   last notice is not yet its rung's lead time old.
 * - `sweeps`: the counts the API shows (`noticesSent`, `deferred`) and the ones for operators.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').createTable('inactivity_notices', (t) => {
    t.uuid('account_id').notNullable();
    t.text('rung').notNullable(); // as configured: '30d', '7d'
    t.bigInteger('lead_ms').notNullable();
    t.timestamp('inactive_since', { useTz: true }).notNullable();
    // The sending sweep's reference time: the lead time counts from it, so a sweep a week later
    // at the same hour finds it exactly a week old.
    t.timestamp('notified_at', { useTz: true }).notNullable();
    // What the mail says: the account is deleted from then on (not before).
    t.timestamp('delete_from', { useTz: true }).notNullable();
    t.text('status').notNullable(); // sending | sent | bounced
    t.timestamp('claimed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('sweep_id').nullable();
    t.primary(['account_id', 'rung']);
  });
  await knex.schema.withSchema('lethe').createTable('sweep_notices', (t) => {
    t.text('sweep_id').notNullable().references('sweep_id').inTable('lethe.sweeps').onDelete('CASCADE');
    t.uuid('account_id').notNullable();
    t.text('rung').notNullable();
    t.timestamp('delete_from', { useTz: true }).notNullable();
    t.text('outcome').notNullable(); // sent | bounced | failed | would_send
    t.primary(['sweep_id', 'account_id']);
  });
  await knex.schema.withSchema('lethe').alterTable('sweep_candidates', (t) => {
    t.timestamp('deferred_until', { useTz: true }).nullable();
  });
  await knex.schema.withSchema('lethe').alterTable('sweeps', (t) => {
    t.integer('notices_sent').notNullable().defaultTo(0);
    t.integer('notices_bounced').notNullable().defaultTo(0);
    t.integer('deferred').notNullable().defaultTo(0);
    t.integer('kept').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').alterTable('sweeps', (t) => {
    t.dropColumn('notices_sent');
    t.dropColumn('notices_bounced');
    t.dropColumn('deferred');
    t.dropColumn('kept');
  });
  await knex.schema.withSchema('lethe').alterTable('sweep_candidates', (t) => {
    t.dropColumn('deferred_until');
  });
  await knex.schema.withSchema('lethe').dropTableIfExists('sweep_notices');
  await knex.schema.withSchema('lethe').dropTableIfExists('inactivity_notices');
}
