/**
 * Keeps Lethe's stored requests in step with runs that ended without Lethe's code running: a
 * run an operator terminated, one that timed out, one whose history expired. Every outcome the
 * workflow reaches itself it records itself (receipt, failure, skip); these it cannot. The read
 * side reports what it sees (`note`), and a periodic pass looks at requests that have been
 * open a while, so lists and the overdue gauges agree with Temporal without anyone asking.
 *
 * A deletion that ended that way leaves its captured subject (lethe.deletion_subjects: the
 * sealed email and vendor ids), which an operator's retry resumes from. When nobody retries,
 * the subject of a run that stays ended for LETHE_ABANDONED_SUBJECT_DAYS is erased, and the
 * audit trail says so with ids only.
 */
import type { Knex } from 'knex';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { deletionWorkflowId, FINISHED_STATUSES } from '../contract';
import type { AuditTrail } from './audit';
import type { RequestReader } from './requests';

/** Open requests younger than this are left alone: their first workflow task may not have run. */
const SETTLE_MS = 60_000;
const PASS_LIMIT = 100;
const OPEN_STATUSES = ['pending', 'running', 'blocked'];

export function createReconciler(deps: { db: Knex; temporal?: Client; log?: (line: string) => void }) {
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

    /**
     * Erases the captured subject of each deletion that ended without finishing and has stayed
     * so for `afterDays`: its latest request is `failed` (a run terminated, timed out, or failed
     * for good), no request of the account is open, and Temporal runs nothing for the account.
     * The clock starts when a pass first sees it so (`abandoned_at`), and stops if the deletion
     * is resumed. Each erasure is one audit entry: ids only. Answers the erased account ids.
     */
    async eraseAbandonedSubjects(opts: { afterDays: number; audit: Pick<AuditTrail, 'record'>; limit?: number }): Promise<string[]> {
      const { temporal } = deps;
      if (!temporal) throw new Error('eraseAbandonedSubjects needs the Temporal client: only Temporal knows whether a run is under way');
      const openRequest = (q: Knex.QueryBuilder): void => {
        void q.select(db.raw('1')).from('lethe.deletion_requests as o').whereRaw('o.account_id = s.account_id').whereIn('o.status', OPEN_STATUSES);
      };
      // A deletion resumed (its freeze records the request open again): its clock stops.
      await db('lethe.deletion_subjects as s').whereNotNull('s.abandoned_at').whereExists(openRequest).update({ abandoned_at: null });
      const rows: { account_id: string; abandoned_at: Date | null; request_id: string }[] = await db('lethe.deletion_subjects as s')
        .joinRaw('join lateral (select r.request_id, r.status from lethe.deletion_requests r where r.account_id = s.account_id order by r.created_at desc limit 1) latest on true')
        .where('latest.status', 'failed')
        .whereNotExists(openRequest)
        .orderByRaw('s.abandoned_at asc nulls first')
        .limit(opts.limit ?? 500)
        .select('s.account_id', 's.abandoned_at', 'latest.request_id');
      const erased: string[] = [];
      const cutoff = new Date(Date.now() - opts.afterDays * 86_400_000);
      for (const r of rows) {
        if (await runUnderWay(temporal, r.account_id)) {
          if (r.abandoned_at) await db('lethe.deletion_subjects').where({ account_id: r.account_id }).update({ abandoned_at: null });
          continue;
        }
        if (!r.abandoned_at) {
          await db('lethe.deletion_subjects').where({ account_id: r.account_id }).whereNull('abandoned_at').update({ abandoned_at: db.fn.now() });
          continue;
        }
        if (new Date(r.abandoned_at) > cutoff) continue;
        // Only while its clock still reads past the bound and nothing resumed it since. (Compared
        // with <=, not to the value read: PostgreSQL keeps microseconds a JavaScript Date drops.)
        const n = await db('lethe.deletion_subjects as s').where('s.account_id', r.account_id).where('s.abandoned_at', '<=', cutoff).whereNotExists(openRequest).del();
        if (n === 0) continue;
        erased.push(r.account_id);
        await opts.audit.record({
          actor: MAINTENANCE_ACTOR,
          via: 'system',
          action: 'deletion_subject.erased',
          requestId: r.request_id,
          accountId: r.account_id,
          details: { outcome: 'abandoned' },
        });
      }
      return erased;
    },

    /** Waits for the writes under way (tests, shutdown). */
    async flush(): Promise<void> {
      await Promise.all([...pending]);
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;

/** Who the audit trail names for what the API's maintenance pass does on its own. */
export const MAINTENANCE_ACTOR = 'lethe-maintenance';

/** True when Temporal runs a deletion for the account (any request's: a resume is one). */
async function runUnderWay(temporal: Client, accountId: string): Promise<boolean> {
  try {
    const d = await temporal.workflow.getHandle(deletionWorkflowId(accountId)).describe();
    return d.status.name === 'RUNNING';
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}
