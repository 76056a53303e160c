/**
 * The index the inactivity sweep pages over: (inactive-since, id), where inactive-since is
 * `coalesce(last_login_at, created_at)`. Each page of the sweep is then one index range scan
 * from the previous page's last key, however many accounts there are.
 *
 * NOTE: this index belongs to the APPLICATION's schema, which Lethe does not own (CONTRACT
 * §2). This migration runs only in development and tests (like 001); in production the app
 * team must create the same index (`create index concurrently ...`, below) on their database.
 * The sweep's query is correct without it, only slower: PostgreSQL then reads every account
 * and sorts the inactive ones (a sequential scan per page; see bench/RESULTS.md).
 *
 * The INCLUDE columns make the scan index-only: the planner uses an index-only scan for an
 * expression index only when every column the query names (here last_login_at and
 * created_at, inside the expression) is stored in the index.
 */
import type { Knex } from 'knex';

export const INACTIVITY_INDEX = 'accounts_inactive_since_idx';

export const CREATE_INACTIVITY_INDEX_SQL = `create index if not exists ${INACTIVITY_INDEX} on accounts ((coalesce(last_login_at, created_at)), id) include (last_login_at, created_at)`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(CREATE_INACTIVITY_INDEX_SQL);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index if exists ${INACTIVITY_INDEX}`);
}
