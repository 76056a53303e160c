/**
 * Start-up checks that turn "connection refused" deep inside a driver into the one-line error
 * naming the variable to fix, like every other configuration mistake.
 */
import type { Knex } from 'knex';
import { ConfigError } from './index';

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ?? (e?.message ?? String(err)).split('\n')[0].slice(0, 120);
}

export async function assertDatabaseReachable(db: Knex): Promise<void> {
  try {
    await db.raw('select 1');
  } catch (err) {
    throw new ConfigError('DATABASE_URL', `cannot connect to the database (${reason(err)})`);
  }
}

export async function assertTemporalReachable<T>(address: string, connect: () => Promise<T>): Promise<T> {
  try {
    return await connect();
  } catch (err) {
    // A configuration mistake found while connecting (e.g. no encryption key) keeps its own name.
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('TEMPORAL_ADDRESS', `cannot connect to Temporal at ${address} (${reason(err)})`);
  }
}
