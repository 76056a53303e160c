/**
 * Keeps Lethe's stored requests in step with runs that ended without Lethe's code running: a
 * run an operator terminated, one that timed out, one whose history expired. Every outcome the
 * workflow reaches itself it records itself (receipt, failure, skip); these it cannot. The read
 * side reports what it sees (`note`), and a periodic pass looks at requests that have been
 * open a while, so lists and the overdue gauges agree with Temporal without anyone asking.
 */
import type { Knex } from 'knex';
import { FINISHED_STATUSES } from '../contract';
import type { RequestReader } from './requests';

/** Open requests younger than this are left alone: their first workflow task may not have run. */
const SETTLE_MS = 60_000;
const PASS_LIMIT = 100;

export function createReconciler(deps: { db: Knex; log?: (line: string) => void }) {
  const { db } = deps;
  const pending = new Set<Promise<void>>();
  let cursor: { createdAt: string; requestId: string } | undefined;

  async function record(requestId: string, status: 'failed' | 'skipped'): Promise<void> {
    // Only an open request changes: a receipt or an earlier outcome always wins.
    await db('lethe.deletion_requests')
      .where({ request_id: requestId })
      .whereNotIn('status', [...FINISHED_STATUSES])
      .update({ status });
  }

  return {
    /** What the read side saw; recorded in the background, never failing the read. */
    note(requestId: string, status: 'failed' | 'skipped'): void {
      const p = record(requestId, status).catch((err: unknown) => deps.log?.(`reconcile: ${requestId}: ${(err as Error)?.message ?? err}`));
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },

    /**
     * One look at the next `limit` open requests, oldest first, after where the last pass
     * stopped; each read reports through `note`. The cursor walks all of them: with more open
     * requests than one pass reads (a vendor outage leaves thousands open and blocked), a run
     * terminated among the younger ones is still recorded, a few passes later. A pass that
     * reaches the end starts again from the oldest.
     */
    async pass(reader: Pick<RequestReader, 'get'>, limit = PASS_LIMIT): Promise<number> {
      const page = () =>
        db('lethe.deletion_requests')
          .whereIn('status', ['pending', 'running', 'blocked'])
          .andWhere('created_at', '<', new Date(Date.now() - SETTLE_MS))
          .modify((q) => {
            // The cursor keeps PostgreSQL's own text of the timestamp: a JavaScript Date would
            // drop its microseconds, and a row could be skipped.
            if (cursor) q.andWhereRaw('(created_at, request_id) > (?::timestamptz, ?)', [cursor.createdAt, cursor.requestId]);
          })
          .orderBy([{ column: 'created_at' }, { column: 'request_id' }])
          .limit(limit)
          .select('request_id', db.raw('created_at::text as created_at')) as Promise<{ request_id: string; created_at: string }[]>;
      let rows = await page();
      if (rows.length === 0 && cursor) {
        cursor = undefined;
        rows = await page();
      }
      for (const r of rows) await reader.get(r.request_id);
      const last = rows[rows.length - 1];
      cursor = rows.length < limit || !last ? undefined : { createdAt: last.created_at, requestId: last.request_id };
      return rows.length;
    },

    /** Waits for the writes under way (tests, shutdown). */
    async flush(): Promise<void> {
      await Promise.all([...pending]);
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
