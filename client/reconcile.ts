/**
 * Keeps Lethe's stored requests in step with runs that ended without Lethe's code running: a
 * run an operator terminated, one that timed out, one whose history expired. Every outcome the
 * workflow reaches itself it records itself (receipt, failure, skip); these it cannot. The read
 * side reports what it sees (`note`), and a periodic pass asks Temporal's visibility which
 * deletion runs closed, so lists and the overdue gauges agree with Temporal without anyone
 * asking. (A run whose history and visibility record expired before any pass saw it closed, an
 * API down for the whole retention, is recorded when its status is read.)
 *
 * Access requests likewise (client/access.ts): a run terminated or timed out outside Lethe
 * leaves its request `running` (or `ready`, its archive waiting for a timer that is gone); the
 * same visibility query finds it, and the request is recorded `failed`, with how the run ended
 * in the audit trail (`access_request.reconciled`), which the request's view reads as its reason.
 *
 * A deletion that ended that way leaves its captured subject (lethe.deletion_subjects: the
 * sealed email and vendor ids), which an operator's retry resumes from. When nobody retries,
 * the subject of a run that stays ended for LETHE_ABANDONED_SUBJECT_DAYS is erased, and the
 * audit trail says so with ids only.
 */
import type { Knex } from 'knex';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { deletionWorkflowId, FINISHED_STATUSES, isUuid } from '../contract';
import { accountDeletionWorkflow } from '../workflows/deletion';
import { accessRequestWorkflow, accessWorkflowId } from '../workflows/access';
import { createAuditTrail, type AuditTrail } from './audit';
import type { RequestReader } from './requests';

/** How far a pass looks back past the last one: visibility (Elasticsearch) lags its runs by seconds. */
const VISIBILITY_LAG_MS = 5 * 60_000;
const OPEN_STATUSES = ['pending', 'running', 'blocked'];
/** `deletion-<accountId>` (contract/ids.ts). */
const DELETION_PREFIX = deletionWorkflowId('');
/** `access-<requestId>` (workflows/access.ts). */
const ACCESS_PREFIX = accessWorkflowId('');
/** An access request whose run may still be going: gathering, or its archive waiting for its expiry. */
const ACCESS_OPEN = ['pending', 'running', 'blocked', 'ready'];

export function createReconciler(deps: { db: Knex; temporal?: Client; log?: (line: string) => void; audit?: Pick<AuditTrail, 'record'> }) {
  const { db } = deps;
  const pending = new Set<Promise<void>>();
  /** When the last complete pass began (ms): the next asks only for runs closed since then. */
  let watermark: number | undefined;

  async function record(requestId: string, status: 'failed' | 'skipped'): Promise<void> {
    // Only an open request changes: a receipt or an earlier outcome always wins.
    await db('lethe.deletion_requests')
      .where({ request_id: requestId })
      .whereNotIn('status', [...FINISHED_STATUSES])
      .update({ status });
  }

  /**
   * An access request whose run closed while its row says it goes on: the latest run of its id
   * is looked at (an operator's retry may have started a new one since), and a run that is not
   * running is recorded `failed`, how it ended in the audit trail. Every end the workflow reaches
   * itself it records before it closes, so only an end from outside gets here.
   */
  const audit = deps.audit ?? createAuditTrail({ db });
  async function endAccess(temporal: Client, requestId: string): Promise<void> {
    let how: string;
    try {
      const d = await temporal.workflow.getHandle(accessWorkflowId(requestId)).describe();
      if (d.status.name === 'RUNNING') return;
      how = d.status.name;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      how = 'GONE';
    }
    const n = await db('lethe.access_requests').where({ request_id: requestId }).whereIn('status', ACCESS_OPEN).update({ status: 'failed' });
    if (n === 0) return;
    await audit.record({ actor: MAINTENANCE_ACTOR, via: 'system', action: 'access_request.reconciled', requestId, details: { status: 'failed', outcome: how } });
  }

  return {
    /** What the read side saw; recorded in the background, never failing the read. */
    note(requestId: string, status: 'failed' | 'skipped'): void {
      const p = record(requestId, status).catch((err: unknown) => deps.log?.(`reconcile: ${requestId}: ${(err as Error)?.message ?? err}`));
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },

    /**
     * One visibility query for the deletion and access runs that closed since the last pass (the first pass
     * looks back to the oldest open request), then the read side's look at each of those whose
     * request is still open here: Temporal is asked once a pass, however many requests are open,
     * plus once for each run that really ended outside Lethe. A run Lethe finished itself has its
     * row finished already and costs nothing. Answers how many requests were looked at.
     */
    async pass(reader: Pick<RequestReader, 'get'>): Promise<number> {
      const { temporal } = deps;
      if (!temporal) throw new Error('pass needs the Temporal client: it asks Temporal which runs ended');
      const startedAt = Date.now();
      let since = watermark;
      if (since === undefined) {
        const oldest: { created_at?: Date | null } | undefined = await db('lethe.deletion_requests').whereIn('status', OPEN_STATUSES).min({ created_at: 'created_at' }).first();
        const oldestAccess: { created_at?: Date | null } | undefined = await db('lethe.access_requests').whereIn('status', ACCESS_OPEN).min({ created_at: 'created_at' }).first();
        const times = [oldest?.created_at, oldestAccess?.created_at].filter((t): t is Date => !!t).map((t) => new Date(t).getTime());
        // Nothing open: nothing to reconcile, and no question for Temporal.
        if (!times.length) return 0;
        since = Math.min(...times);
      }
      // The raw listing, not `workflow.list()`: that decodes every run's memo through the codec,
      // and one run whose key left the ring (or another deployment's run in the namespace)
      // would fail the whole pass. The workflow id names the account; nothing else is needed.
      const accounts = new Set<string>();
      const accessIds = new Set<string>();
      let nextPageToken: Uint8Array | undefined;
      do {
        const page = await temporal.workflowService.listWorkflowExecutions({
          namespace: temporal.options.namespace,
          query: endedRunsQuery(new Date(since - VISIBILITY_LAG_MS)),
          pageSize: 1000,
          nextPageToken,
        });
        for (const e of page.executions ?? []) {
          const id = e.execution?.workflowId ?? '';
          if (id.startsWith(DELETION_PREFIX) && isUuid(id.slice(DELETION_PREFIX.length))) accounts.add(id.slice(DELETION_PREFIX.length));
          else if (id.startsWith(ACCESS_PREFIX) && isUuid(id.slice(ACCESS_PREFIX.length))) accessIds.add(id.slice(ACCESS_PREFIX.length));
        }
        nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
      } while (nextPageToken);
      const open: { request_id: string }[] = accounts.size
        ? await db('lethe.deletion_requests')
            .whereIn('account_id', [...accounts])
            .whereIn('status', OPEN_STATUSES)
            .select('request_id')
        : [];
      for (const r of open) await reader.get(r.request_id);
      const access: { request_id: string }[] = accessIds.size
        ? await db('lethe.access_requests')
            .whereIn('request_id', [...accessIds])
            .whereIn('status', ACCESS_OPEN)
            .select('request_id')
        : [];
      for (const r of access) await endAccess(temporal, r.request_id);
      watermark = startedAt;
      return open.length + access.length;
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

/**
 * The deletion and access runs that closed at or after `since`, however they closed (Lethe's own outcomes
 * are filtered out by their finished rows, not here: a completed run without a receipt is a skip).
 * A run continued as new goes on in its next run.
 */
export function endedRunsQuery(since: Date): string {
  return `(WorkflowType = "${accountDeletionWorkflow.name}" OR WorkflowType = "${accessRequestWorkflow.name}") AND ExecutionStatus != "Running" AND ExecutionStatus != "ContinuedAsNew" AND CloseTime >= "${since.toISOString()}"`;
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
