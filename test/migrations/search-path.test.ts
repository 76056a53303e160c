/**
 * The embedded database's role is named `lethe`, so PostgreSQL's default search path
 * (`"$user", public`) puts schema `lethe` first once Lethe's migrations have created it. A
 * second stack migrating the same database (a restart, a test stack borrowing DATABASE_URL)
 * then once found no application bookkeeping table on that path and created every application
 * table again inside schema `lethe`: a second, empty `accounts` that unqualified queries read.
 */
import type { Knex } from 'knex';
import { migrateApplicationSchema, migrateLetheSchema } from '../../migrations';
import { freshDatabase, type FreshDatabase } from '../support/fresh-database';

describe('migrations on a database whose role is named lethe', () => {
  let fresh: FreshDatabase;
  let db: Knex;

  beforeAll(async () => {
    fresh = await freshDatabase('lethe_path');
    db = fresh.db;
  });
  afterAll(() => fresh?.drop());

  const tablesIn = async (schema: string): Promise<string[]> => (await db('pg_tables').where({ schemaname: schema }).pluck('tablename')).sort();

  test('when the application schema is migrated again after schema lethe exists, then nothing of the application lands in schema lethe and no migration runs twice', async () => {
    // The path the role really has: schema lethe comes first once it exists.
    expect((await db.raw('show search_path')).rows[0].search_path).toContain('$user');
    await migrateApplicationSchema(db);
    await migrateLetheSchema(db);
    expect((await db.raw('select current_schema() as s')).rows[0].s).toBe('lethe');
    const publicBefore = await tablesIn('public');
    const letheBefore = await tablesIn('lethe');

    await migrateApplicationSchema(db);
    await migrateLetheSchema(db);

    expect(await tablesIn('lethe')).toEqual(letheBefore);
    expect(await tablesIn('public')).toEqual(publicBefore);
    expect(publicBefore).toEqual(expect.arrayContaining(['accounts', 'media', 'knex_migrations_app']));
    expect(letheBefore).not.toContain('accounts');
    expect(await db('public.knex_migrations_app').count({ n: '*' })).toEqual([{ n: 2 }]);
  });
});
