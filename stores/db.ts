/** PostgreSQL through knex: one pool per process. */
import knexFactory, { Knex } from 'knex';
import pg from 'pg';
import { databaseConnection } from '../config/database-tls';

// bigint columns (media.bytes, bigserial ids) come back as strings by default; counts we
// compute are well inside Number's safe range, ids stay strings where they are ids.
pg.types.setTypeParser(20, (v) => (v === null ? null : Number(v)));

/**
 * `url`: DATABASE_URL, whose `sslmode` and `sslrootcert` are mapped to pg's `ssl` options as
 * libpq means them (config/database-tls.ts): the application's tables and Lethe's schema share
 * this pool, so both are reached over the same verified connection.
 */
export function createDb(url: string, opts: { poolMax?: number } = {}): Knex {
  const { connectionString, ssl } = databaseConnection(url);
  return knexFactory({
    client: 'pg',
    connection: { connectionString, ssl, application_name: 'lethe' },
    pool: { min: 0, max: opts.poolMax ?? 10 },
  });
}

export async function pingDb(db: Knex): Promise<void> {
  await db.raw('select 1');
}
