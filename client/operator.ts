/**
 * What an operator does about a request that waits for a person: retry its stores now (one
 * request, or every blocked or failed one matching a filter, counted first in a dry run), or
 * record that a store was dealt with outside Lethe, with a mandatory justification. Every
 * action is recorded in lethe.operator_actions with who did it, before it is carried out, and
 * kept as long as the audit trail (`prune`).
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { deletionWorkflowId, isUuid, resolveStoreSignal, retryStoresSignal, STORES, type Store, type StoreStatus } from '../contract';
import type { Intake } from './intake';
import type { DeletionView, RequestReader } from './requests';

/** A refused operator action: `code` is the API's error code, `field` the offending field. */
export class OperatorActionError extends Error {
  constructor(
    readonly code: 'not_found' | 'invalid_input' | 'conflict',
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'OperatorActionError';
  }
}

export interface RetryOutcome {
  requestId: string;
  actionId: string;
  /** `signalled`: the running deletion tries its stores now; `resumed`: a new run of the same request started. */
  outcome: 'signalled' | 'resumed';
}

export interface BulkRetryFilter {
  status: 'blocked' | 'failed';
  channel?: string;
  /** Only requests filed before this time. */
  receivedBefore?: string;
}

const BULK_LIMIT = 1000;

export function createOperatorActions(deps: { db: Knex; temporal: Client; intake: Pick<Intake, 'resume'>; requests: Pick<RequestReader, 'get'> }) {
  const { db, temporal } = deps;

  async function requestRow(requestId: string): Promise<{ request_id: string; account_id: string; status: string }> {
    const row = isUuid(requestId) ? await db('lethe.deletion_requests').where({ request_id: requestId.toLowerCase() }).first('request_id', 'account_id', 'status') : undefined;
    if (!row) throw new OperatorActionError('not_found', 'requestId', 'no deletion request has this id');
    return row;
  }

  async function record(requestId: string, action: 'retry' | 'resolve', by: string, store?: Store, justification?: string): Promise<string> {
    const actionId = randomUUID();
    await db('lethe.operator_actions').insert({ action_id: actionId, request_id: requestId, action, by, store: store ?? null, justification: justification ?? null });
    return actionId;
  }

  /** The request's own run, if it is running (a later request's run for the account is not). */
  async function runningHandle(row: { request_id: string; account_id: string }) {
    const handle = temporal.workflow.getHandle(deletionWorkflowId(row.account_id));
    try {
      const d = await handle.describe();
      const memo = d.memo as { requestId?: string } | undefined;
      return d.status.name === 'RUNNING' && memo?.requestId === row.request_id ? handle : undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  async function retry(requestId: string, by: string): Promise<RetryOutcome> {
    const row = await requestRow(requestId);
    if (row.status === 'completed' || row.status === 'skipped') throw new OperatorActionError('conflict', undefined, `the request is ${row.status}; there is nothing to retry`);
    const actionId = await record(row.request_id, 'retry', by);
    const handle = await runningHandle(row);
    if (handle) {
      await handle.signal(retryStoresSignal, { by, actionId });
      return { requestId: row.request_id, actionId, outcome: 'signalled' };
    }
    const resumed = await deps.intake.resume(row.request_id);
    if (!resumed) throw new OperatorActionError('conflict', undefined, 'the run ended and nothing Lethe captured remains to resume from; file a new request');
    return { requestId: row.request_id, actionId, outcome: 'resumed' };
  }

  return {
    retry,

    /**
     * Records that `store` was dealt with outside Lethe; the receipt will say so, never
     * "verified". Only a store that is `blocked` now, as the status view shows it: resolving one
     * that is still being deleted (or already verified) would put "resolved outside Lethe" in
     * the receipt for data Lethe was deleting itself, or hide that it is not finished.
     */
    async resolve(requestId: string, store: Store, justification: string, by: string): Promise<{ requestId: string; actionId: string }> {
      if (!STORES.includes(store)) throw new OperatorActionError('invalid_input', 'store', `store must be one of ${STORES.join(', ')}`);
      if (typeof justification !== 'string' || justification.trim().length < 10) {
        throw new OperatorActionError('invalid_input', 'justification', 'justification is required: at least 10 characters saying what was done outside Lethe, and by whom');
      }
      const row = await requestRow(requestId);
      const handle = await runningHandle(row);
      const view = await deps.requests.get(row.request_id);
      const status = view?.status ?? row.status;
      if (!handle) {
        const hint = status === 'failed' ? 'retry it first' : 'there is nothing left to resolve';
        throw new OperatorActionError('conflict', 'store', `${store} cannot be resolved: it is not blocked, the request's deletion is not running (status ${status}); ${hint}`);
      }
      const state = storeState(view, store);
      if (state !== 'blocked') {
        const now = state ?? "unknown (the run's progress cannot be read now; try again)";
        throw new OperatorActionError('conflict', 'store', `${store} is ${now}, not blocked (request ${row.request_id} is ${status}); only a blocked store can be resolved outside Lethe`);
      }
      const actionId = await record(row.request_id, 'resolve', by, store, justification.trim());
      await handle.signal(resolveStoreSignal, { store, by, actionId });
      return { requestId: row.request_id, actionId };
    },

    /** Every blocked or failed request matching the filter: counted (dry run) or retried. */
    async retryMatching(
      filter: BulkRetryFilter,
      opts: { dryRun: boolean; by: string },
    ): Promise<{ matched: number; requestIds: string[]; retried?: RetryOutcome[]; errors?: { requestId: string; message: string }[] }> {
      const q = db('lethe.deletion_requests').where({ status: filter.status }).orderBy('received_at').limit(BULK_LIMIT).pluck('request_id');
      if (filter.channel) q.andWhere({ channel: filter.channel });
      if (filter.receivedBefore) q.andWhere('received_at', '<', filter.receivedBefore);
      const requestIds: string[] = await q;
      if (opts.dryRun) return { matched: requestIds.length, requestIds };
      const retried: RetryOutcome[] = [];
      const errors: { requestId: string; message: string }[] = [];
      for (const id of requestIds) {
        try {
          retried.push(await retry(id, opts.by));
        } catch (err) {
          errors.push({ requestId: id, message: (err as Error).message });
        }
      }
      return { matched: requestIds.length, requestIds, retried, errors };
    },

    /**
     * Deletes actions older than the audit trail's retention (LETHE_AUDIT_RETENTION_DAYS): a
     * justification is free text a person typed, and `by` names staff, so they are kept as
     * long as the audit entries that name them by `actionId`, not forever. Answers how many went.
     */
    async prune(retentionDays: number, now = new Date()): Promise<number> {
      const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
      return db('lethe.operator_actions').where('at', '<', cutoff).del();
    },

    /** The actions taken on a request, oldest first (the privacy officer's trail). */
    async actionsOf(requestId: string): Promise<{ actionId: string; action: string; store?: string; by: string; justification?: string; at: string }[]> {
      const rows = await db('lethe.operator_actions').where({ request_id: requestId }).orderBy('at');
      return rows.map((r) => ({
        actionId: r.action_id,
        action: r.action,
        ...(r.store ? { store: r.store } : {}),
        by: r.by,
        ...(r.justification ? { justification: r.justification } : {}),
        at: new Date(r.at).toISOString(),
      }));
    },
  };
}

export type OperatorActions = ReturnType<typeof createOperatorActions>;

/** A store's state in the status view: its own entry, or (for runs from before stores ran apart) the blocked list. */
function storeState(view: Pick<DeletionView, 'stores' | 'blocked'> | null, store: Store): StoreStatus | undefined {
  const own = view?.stores?.find((s) => s.store === store);
  if (own) return own.status;
  return view?.blocked?.some((b) => b.store === store) ? 'blocked' : undefined;
}
