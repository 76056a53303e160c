/**
 * Step 5: the account's rows in every table of the data map, children first and `accounts`
 * last, in bounded batches so no statement holds locks for long on a busy table.
 *
 * Rows found by email (support requests written before the person had an account, shares
 * other accounts made to the person's address) are matched case-insensitively only while no
 * other account holds the email in another letter case (CONTRACT §2, case twins): otherwise
 * only the exact spelling is the person's, and the rest is counted as `ambiguous` in the
 * read-back (and so in the receipt), never deleted on a guess.
 */
import type { Knex } from 'knex';
import { classified } from '../failures';
import { DATA_MAP, TableLink } from './data-map';
import { caseTwinsOf, loadSubject, type SubjectDeps } from './subject';
import { lastDetails, record } from './vendor-attempt';
import type { StoreReading } from '../../contract';

export const DELETE_BATCH = 2000;

/** How rows are matched by the person's email: `exact` when a case twin exists. */
export interface EmailMatch {
  email: string;
  exact: boolean;
}

/** The account's email and how far it may be matched (`exact` when another account holds a case variant). */
export async function emailMatchOf(deps: SubjectDeps, accountId: string, email: string | null): Promise<EmailMatch | null> {
  if (!email) return null;
  return { email, exact: (await caseTwinsOf(deps, email, accountId)).length > 0 };
}

/** `column` names the person's email: `=` as spelt, or on lower() (never LIKE: `%` and `_` are characters). */
function emailIs(w: Knex.QueryBuilder, column: string, m: EmailMatch): void {
  if (m.exact) w.where(column, m.email);
  else w.whereRaw('lower(??) = lower(?)', [column, m.email]);
}

/** The rows of `link.table` that belong to the person. */
export function ownedRows(db: Knex, link: TableLink, accountId: string, match: EmailMatch | null): Knex.QueryBuilder {
  const q = db(link.table).where(link.accountColumn, accountId);
  if (match && link.orphanEmailColumn) {
    const column = link.orphanEmailColumn;
    q.orWhere((w) => {
      w.whereNull(link.accountColumn);
      emailIs(w, column, match);
    });
  }
  if (match && link.recipientEmailColumn) {
    const column = link.recipientEmailColumn;
    q.orWhere((w) => emailIs(w, column, match));
  }
  return q;
}

/** Rows matching the email in another letter case only, left because a case twin exists: by table. */
async function ambiguousRows(db: Knex, match: EmailMatch | null): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  if (!match?.exact) return out;
  const variant = (column: string) => db.raw('lower(??) = lower(?) and ?? <> ?', [column, match.email, column, match.email]);
  for (const link of DATA_MAP) {
    const { orphanEmailColumn: orphan, recipientEmailColumn: recipient } = link;
    if (!orphan && !recipient) continue;
    const q = db(link.table).where((w) => {
      if (orphan) {
        w.orWhere((o) => {
          o.whereNull(link.accountColumn).andWhere(variant(orphan));
        });
      }
      if (recipient) w.orWhere(variant(recipient));
    });
    const [{ n }] = await q.count<{ n: number }[]>({ n: '*' });
    if (Number(n) > 0) out[link.table] = Number(n);
  }
  return out;
}

export const createDatabaseActivities = (deps: SubjectDeps & { db: Knex; batchSize?: number; attemptBudgetMs?: number }) => ({
  /**
   * Deletes the person's rows; answers the rows deleted per table by every attempt of this
   * activity (a retry starts from the counts its predecessor heartbeat, so rows deleted before
   * a failure are in the receipt: exact, or short by the last few batches if a worker died
   * between heartbeats, which the SDK sends at most every few seconds).
   */
  async deleteDatabaseRows(accountId: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = { ...(lastDetails<Record<string, number>>() ?? {}) };
    return classified(
      'database',
      async () => {
        const { db } = deps;
        const subject = await loadSubject(deps, accountId);
        const match = await emailMatchOf(deps, accountId, subject?.email ?? null);
        for (const link of DATA_MAP) {
          counts[link.table] ??= 0;
          for (;;) {
            const batch = ownedRows(db, link, accountId, match)
              .select(link.key)
              .limit(deps.batchSize ?? DELETE_BATCH);
            const n = await db(link.table).whereIn(link.key, batch).del();
            counts[link.table] += n;
            record(counts);
            if (n === 0) break;
          }
        }
        // Lethe's own record of the inactivity notices mailed to the account (ids, rungs and
        // times: docs/notices.md) goes with it, whichever channel deleted it. Not a table of the
        // application's, so not in the counts.
        await db('lethe.inactivity_notices').where({ account_id: accountId }).del();
        return counts;
      },
      { budgetMs: deps.attemptBudgetMs },
    );
  },
});

/** Rows the data map still finds for the person, per table, and those left as ambiguous (a case twin). */
export async function readRows(deps: SubjectDeps, accountId: string, email: string | null): Promise<StoreReading> {
  const match = await emailMatchOf(deps, accountId, email);
  const rows: Record<string, number> = {};
  for (const link of DATA_MAP) {
    const [{ n }] = await ownedRows(deps.db, link, accountId, match).count<{ n: number }[]>({ n: '*' });
    rows[link.table] = Number(n);
  }
  const ambiguous = await ambiguousRows(deps.db, match);
  return { remaining: rows, ...(Object.keys(ambiguous).length ? { ambiguous } : {}) };
}
