/**
 * Step 5: the account's rows in every table of the data map, children first and `accounts`
 * last, in bounded batches so no statement holds locks for long on a busy table.
 */
import type { Knex } from 'knex';
import { heartbeat } from '@temporalio/activity';
import { classified } from '../failures';
import { DATA_MAP, TableLink } from './data-map';
import { loadSubject, type SubjectDeps } from './subject';
import type { StoreReading } from '../../contract';

export const DELETE_BATCH = 2000;

/** The rows of `link.table` that belong to the account. Email matching is exact and
 * case-insensitive: `=` on lower(), never LIKE, so `%` and `_` are plain characters. */
export function ownedRows(db: Knex, link: TableLink, accountId: string, email: string | null): Knex.QueryBuilder {
  const q = db(link.table).where(link.accountColumn, accountId);
  if (link.orphanEmailColumn && email) {
    q.orWhere((w) => {
      w.whereNull(link.accountColumn).andWhereRaw('lower(??) = lower(?)', [link.orphanEmailColumn!, email]);
    });
  }
  return q;
}

export const createDatabaseActivities = (deps: SubjectDeps & { db: Knex; batchSize?: number; attemptBudgetMs?: number }) => ({
  async deleteDatabaseRows(accountId: string): Promise<Record<string, number>> {
    return classified(
      'database',
      async () => {
        const { db } = deps;
        const subject = await loadSubject(deps, accountId);
        const email = subject?.email ?? null;
        const counts: Record<string, number> = {};
        for (const link of DATA_MAP) {
          counts[link.table] = 0;
          for (;;) {
            const batch = ownedRows(db, link, accountId, email)
              .select(link.key)
              .limit(deps.batchSize ?? DELETE_BATCH);
            const n = await db(link.table).whereIn(link.key, batch).del();
            counts[link.table] += n;
            heartbeat();
            if (n === 0) break;
          }
        }
        return counts;
      },
      { budgetMs: deps.attemptBudgetMs },
    );
  },
});

/** Rows the data map still finds for the account (and, by email, its orphan rows), per table. */
export async function readRows(db: Knex, accountId: string, email: string | null): Promise<StoreReading> {
  const rows: Record<string, number> = {};
  for (const link of DATA_MAP) {
    const [{ n }] = await ownedRows(db, link, accountId, email).count<{ n: number }[]>({ n: '*' });
    rows[link.table] = Number(n);
  }
  return { remaining: rows };
}
