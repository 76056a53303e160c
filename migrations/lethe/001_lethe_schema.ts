/**
 * Lethe's own tables, in their own schema so they never mix with the application's.
 * Only `deletion_subjects` holds personal data (what later steps need after the application
 * rows are gone), and only while a deletion runs: the workflow erases it at the end.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('create schema if not exists lethe');

  // The freeze mark the application reads to refuse logins and uploads.
  await knex.schema.withSchema('lethe').createTable('frozen_accounts', (t) => {
    t.uuid('account_id').primary();
    t.text('request_id').notNullable();
    t.text('state').notNullable(); // 'deleting' | 'deleted'
    t.timestamp('frozen_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('deleted_at', { useTz: true }).nullable();
  });

  await knex.schema.withSchema('lethe').createTable('deletion_subjects', (t) => {
    t.uuid('account_id').primary();
    t.text('email').nullable();
    t.specificType('auth0_user_ids', 'text[]').notNullable().defaultTo('{}');
    t.text('recurly_account_code').nullable();
    t.timestamp('captured_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.withSchema('lethe').createTable('deletion_requests', (t) => {
    t.text('request_id').primary();
    t.uuid('account_id').notNullable();
    t.text('channel').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable();
    t.timestamp('deadline_at', { useTz: true }).notNullable();
    t.text('requested_by').nullable();
    t.text('status').notNullable();
    t.timestamp('completed_at', { useTz: true }).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['account_id']);
    t.index(['status']);
  });

  // The PII-free proof that a deletion happened: ids, times, counts, verification.
  await knex.schema.withSchema('lethe').createTable('receipts', (t) => {
    t.text('request_id').primary();
    t.uuid('account_id').notNullable();
    t.text('channel').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable();
    t.timestamp('deadline_at', { useTz: true }).notNullable();
    t.timestamp('completed_at', { useTz: true }).notNullable();
    t.jsonb('counts').notNullable();
    t.jsonb('verification').notNullable();
    t.index(['account_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop schema if exists lethe cascade');
}
