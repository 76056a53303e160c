/** PostgreSQL through knex: one pool per process. */
import knexFactory, { Knex } from 'knex';
import pg from 'pg';

// bigint columns (media.bytes, bigserial ids) come back as strings by default; counts we
// compute are well inside Number's safe range, ids stay strings where they are ids.
pg.types.setTypeParser(20, (v) => (v === null ? null : Number(v)));

export function createDb(url: string, opts: { poolMax?: number } = {}): Knex {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, application_name: 'lethe' },
    pool: { min: 0, max: opts.poolMax ?? 10 },
  });
}

export async function pingDb(db: Knex): Promise<void> {
  await db.raw('select 1');
}
