/**
 * The deletion's state in Lethe's own tables (migrations/lethe/012_store_state.ts): each
 * store's state, attempts, reason code and since, and the request's overall status, recorded by
 * the workflow on each change so the status route, the list and the console read PostgreSQL
 * instead of asking the workflow (issues 33 and 37).
 *
 * Idempotent and ordered by the workflow's sequence: a row is only replaced by a record with a
 * higher `seq`, so an attempt retried after a newer one went through (or a late duplicate)
 * changes nothing. Only ids, states, counts of attempts, failure types and Lethe's own advice
 * are written: never the vendor's text, which may quote what the person gave it.
 */
import type { Knex } from 'knex';
import { classified } from '../failures';
import type { DeletionStatus, Store, StoreStatus } from '../../contract';

/** One store as the workflow last saw it. */
export interface StoreStateRecord {
  store: Store;
  state: StoreStatus;
  attempts: number;
  /** The failure's type (`Precondition`, `Unauthorized`, `Unavailable`, ...), while it fails. */
  reasonCode?: string;
  /** What an operator can do (Lethe's own text), while it fails. */
  action?: string;
  /** When it began failing, while it fails. */
  since?: string;
}

/** A snapshot of the deletion, sent whole (four small rows) whenever any part of it changed. */
export interface DeletionStateRecord {
  requestId: string;
  /** Grows with every record of every run of this request (workflow time × 1000 + a counter). */
  seq: number;
  /** Workflow time of the change. */
  at: string;
  status: DeletionStatus;
  stores: StoreStateRecord[];
}

/** Statuses the record writes on the request row; the receipt and the release write their own (with completed_at). */
const RECORDED_STATUSES: readonly DeletionStatus[] = ['running', 'blocked', 'held', 'failed'];

export const createStateActivities = (deps: { db: Knex }) => ({
  async recordDeletionState(r: DeletionStateRecord): Promise<void> {
    return classified('state', async () => {
      await deps.db.transaction(async (trx) => {
        for (const s of r.stores) {
          // Only for a request Lethe has a row of (the freeze writes it); a newer row stands.
          await trx.raw(
            `insert into lethe.deletion_store_states (request_id, store, state, attempts, reason_code, action, since, seq, updated_at)
             select ?, ?, ?, ?, ?, ?, ?::timestamptz, ?, ?::timestamptz
             where exists (select 1 from lethe.deletion_requests where request_id = ?)
             on conflict (request_id, store) do update set
               state = excluded.state, attempts = excluded.attempts, reason_code = excluded.reason_code, action = excluded.action,
               since = excluded.since, seq = excluded.seq, updated_at = excluded.updated_at
             where lethe.deletion_store_states.seq < excluded.seq`,
            [r.requestId, s.store, s.state, s.attempts, s.reasonCode ?? null, s.action ?? null, s.since ?? null, r.seq, r.at, r.requestId],
          );
          if (s.state === 'blocked' && s.since) {
            // One episode per start: recorded again, it is the same episode.
            await trx.raw(
              `insert into lethe.deletion_store_blocks (request_id, store, since, reason_code)
               select ?, ?, ?::timestamptz, ? where exists (select 1 from lethe.deletion_requests where request_id = ?)
               on conflict do nothing`,
              [r.requestId, s.store, s.since, s.reasonCode ?? null, r.requestId],
            );
          } else {
            await trx('lethe.deletion_store_blocks').where({ request_id: r.requestId, store: s.store }).whereNull('ended_at').update({ ended_at: r.at });
          }
        }
        if (RECORDED_STATUSES.includes(r.status)) {
          // A finished request (its receipt, a skip) is never reopened by a late record.
          await trx('lethe.deletion_requests')
            .where({ request_id: r.requestId })
            .whereNotIn('status', ['completed', 'skipped'])
            .where((q) => void q.whereNull('state_seq').orWhere('state_seq', '<', r.seq))
            .update({ status: r.status, state_seq: r.seq });
        } else {
          await trx('lethe.deletion_requests')
            .where({ request_id: r.requestId })
            .where((q) => void q.whereNull('state_seq').orWhere('state_seq', '<', r.seq))
            .update({ state_seq: r.seq });
        }
      });
    });
  },
});
