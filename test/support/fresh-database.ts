/**
 * A database of a test's own on the shared test PostgreSQL: for tests that plant rows the
 * shared stack's lists, gauges and sweeps must not see, or that need a database nothing has
 * migrated yet. Dropped (forcibly) when the test file ends.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { createDb } from '../../stores/db';
import { testConfig } from './stack';

export interface FreshDatabase {
  db: Knex;
  drop(): Promise<void>;
}

export async function freshDatabase(prefix: string): Promise<FreshDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = createDb(testConfig().database.url, { poolMax: 1 });
  await admin.raw('create database ??', [name]);
  const url = new URL(testConfig().database.url);
  url.pathname = `/${name}`;
  const db = createDb(url.toString(), { poolMax: 2 });
  return {
    db,
    async drop() {
      await db.destroy();
      await admin.raw('drop database if exists ?? with (force)', [name]).catch(() => undefined);
      await admin.destroy();
    },
  };
}
