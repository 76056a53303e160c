/**
 * The application's schema exactly as ../shared/CONTRACT.md §2 fixes it. Lethe does not own it
 * in production; this migration exists so development and tests have the real shape.
 * Foreign keys have no ON DELETE CASCADE on purpose: the deletion must prove it knows every
 * table, and a forgotten one fails loudly instead of being cleaned silently.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('accounts', (t) => {
    t.uuid('id').primary();
    t.text('email').notNullable().unique();
    t.text('full_name').nullable();
    t.text('phone').nullable();
    t.text('address_line1').nullable();
    t.text('address_line2').nullable();
    t.text('city').nullable();
    t.text('region').nullable();
    t.text('postal_code').nullable();
    t.text('country').nullable();
    t.text('auth0_user_id').nullable().unique();
    t.text('recurly_account_code').nullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('last_login_at', { useTz: true }).nullable();
  });
  await knex.raw('create index accounts_email_lower_idx on accounts (lower(email))');

  await knex.schema.createTable('cameras', (t) => {
    t.uuid('id').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts');
    t.text('name').notNullable();
    t.text('location').nullable();
    t.double('latitude').nullable();
    t.double('longitude').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['account_id']);
  });

  await knex.schema.createTable('media', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts');
    t.uuid('camera_id').nullable().references('id').inTable('cameras');
    t.text('kind').notNullable();
    t.text('container').notNullable();
    t.text('blob_name').notNullable();
    t.timestamp('captured_at', { useTz: true }).notNullable();
    t.bigInteger('bytes').nullable();
    t.index(['account_id']);
    t.index(['camera_id']);
  });
  await knex.raw(`alter table media add constraint media_kind_check check (kind in ('image', 'video'))`);

  await knex.schema.createTable('subscriptions', (t) => {
    t.uuid('id').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts');
    t.text('recurly_subscription_id').nullable();
    t.text('plan_code').notNullable();
    t.text('state').notNullable();
    t.timestamp('current_period_ends_at', { useTz: true }).nullable();
    t.index(['account_id']);
  });

  await knex.schema.createTable('login_events', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts');
    t.timestamp('occurred_at', { useTz: true }).notNullable();
    t.specificType('ip_address', 'inet').nullable();
    t.text('user_agent').nullable();
    t.index(['account_id']);
  });

  await knex.schema.createTable('shares', (t) => {
    t.uuid('id').primary();
    t.uuid('account_id').notNullable().references('id').inTable('accounts');
    t.uuid('camera_id').nullable().references('id').inTable('cameras');
    t.text('recipient_email').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['account_id']);
    t.index(['camera_id']);
  });

  await knex.schema.createTable('support_requests', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('account_id').nullable().references('id').inTable('accounts');
    t.text('email').notNullable();
    t.text('subject').nullable();
    t.text('body').nullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['account_id']);
  });
  // Requests linked only by email are found case-insensitively.
  await knex.raw('create index support_requests_email_lower_idx on support_requests (lower(email))');
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['support_requests', 'shares', 'login_events', 'subscriptions', 'media', 'cameras', 'accounts']) {
    await knex.schema.dropTableIfExists(t);
  }
}
