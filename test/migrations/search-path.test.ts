/**
 * The embedded database's role is named `lethe`, so PostgreSQL's default search path
 * (`"$user", public`) puts schema `lethe` first once Lethe's migrations have created it. A
 * second stack migrating the same database (a restart, a test stack borrowing DATABASE_URL)
 * then once found no application bookkeeping table on that path and created every application
 * table again inside schema `lethe`: a second, empty `accounts` that unqualified queries read.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { createDb } from '../../stores/db';
import { migrateApplicationSchema, migrateLetheSchema } from '../../migrations';
import { testConfig } from '../support/stack';

describe('migrations on a database whose role is named lethe', () => {
  let admin: Knex;
  let db: Knex;
  const name = `lethe_path_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    admin = createDb(testConfig().database.url, { poolMax: 1 });
    await admin.raw('create database ??', [name]);
    const url = new URL(testConfig().database.url);
    url.pathname = `/${name}`;
    db = createDb(url.toString(), { poolMax: 2 });
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.raw('drop database if exists ?? with (force)', [name]).catch(() => undefined);
    await admin?.destroy();
  });

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
