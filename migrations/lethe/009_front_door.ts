/**
 * The front door (CONTRACT §6): requests from the person, proved by a link mailed to the
 * account's address on file, and the mail Lethe sends them.
 *
 * - `verifications`: one row per request that waits for (or was refused before) the person's
 *   confirmation. The address as typed is kept only sealed (`email_sealed`, bound to the row)
 *   and only while it is needed (a reply to an inbound mail); `email_hash` is the keyed hash of
 *   its lower-cased form, for the per-address rate limit and the once-a-day reply. No column
 *   holds an email, a token or a link in plain text.
 * - `verification_tokens`: the SHA-256 of each link's secret (a reminder mails a new one), never
 *   the secret: a copy of this table cannot confirm anything.
 * - `pending_notices`: the address a notice to the person still needs (the completion notice,
 *   sent after the receipt erased the deletion subject), sealed, deleted once the notice is
 *   sent or given up.
 * - `outbound_mail`: what was sent or failed, by kind and request, never to whom.
 * - `address_watch`: the keyed hash of each account's address as Lethe last saw it, and since
 *   when: an address changed in the last 72 hours makes a public request wait for an operator.
 * - `deletion_requests.first_contact_at` / `verification`: when the person first asked (the
 *   deadline counts from the confirmation) and how the requester was verified.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').createTable('verifications', (t) => {
    t.uuid('verification_id').primary();
    t.text('kind').notNullable(); // 'deletion' (later 'access')
    t.text('channel').notNullable();
    t.uuid('account_id').nullable().index();
    t.text('email_sealed').nullable();
    t.text('email_hash').nullable().index();
    // received → awaiting_confirmation | no_account | ambiguous | needs_operator
    //          → confirmed | expired | locked | withdrawn
    t.text('status').notNullable();
    t.text('reason').nullable();
    t.text('requested_by').nullable();
    t.timestamp('first_contact_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).nullable();
    t.timestamp('confirmed_at', { useTz: true }).nullable();
    t.text('request_id').nullable();
    t.integer('wrong_attempts').notNullable().defaultTo(0);
    t.integer('mails_sent').notNullable().defaultTo(0);
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['status', 'first_contact_at']);
  });
  await knex.schema.withSchema('lethe').createTable('verification_tokens', (t) => {
    t.text('token_hash').primary();
    t.uuid('verification_id').notNullable().index();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('used_at', { useTz: true }).nullable();
  });
  await knex.schema.withSchema('lethe').createTable('pending_notices', (t) => {
    t.text('request_id').primary();
    t.uuid('account_id').notNullable().index();
    t.text('sealed').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.withSchema('lethe').createTable('outbound_mail', (t) => {
    t.bigIncrements('id').primary();
    t.text('kind').notNullable();
    t.text('ref').nullable(); // a request or verification id; never an address
    t.text('status').notNullable(); // sent | failed | suppressed
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['kind', 'created_at']);
    t.index(['ref']);
  });
  await knex.schema.withSchema('lethe').createTable('address_watch', (t) => {
    t.uuid('account_id').primary();
    t.text('email_hash').notNullable();
    t.timestamp('changed_at', { useTz: true }).nullable();
    t.timestamp('seen_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.withSchema('lethe').alterTable('deletion_requests', (t) => {
    t.timestamp('first_contact_at', { useTz: true }).nullable();
    t.text('verification').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema('lethe').alterTable('deletion_requests', (t) => {
    t.dropColumn('first_contact_at');
    t.dropColumn('verification');
  });
  for (const table of ['address_watch', 'outbound_mail', 'pending_notices', 'verification_tokens', 'verifications']) {
    await knex.schema.withSchema('lethe').dropTableIfExists(table);
  }
}
