/**
 * Every request of every type in one list (issue 35 item 6): deletions, access requests and
 * corrections, newest first, read from Lethe's own tables (lethe.deletion_requests, migration
 * 001; lethe.access_requests, 014; lethe.correction_requests, 015) in one SQL statement a page,
 * never a Temporal call. `GET /v1/requests` answers it; the console's requests page reads the
 * same statement (client/console/data.ts), so the two cannot disagree on what a row says.
 *
 * One `union all` of three branches, each ordered and limited on its own, so PostgreSQL reads at
 * most a page and one row from each table (the deletions by their `(received_at, request_id)`
 * index, migration 010) and merges them; the keyset `(received_at, request_id)` pages all three
 * alike. Ids are compared as text in every branch and in the cursor, so the order is one order.
 *
 * Only ids, channels, statuses and times leave here: no table read holds personal data in these
 * columns, and the correction's sealed values and the access archive's links are never selected.
 *
 * The clock of each type:
 * - deletion: its `deadline_at`; overdue when not finished by it (a completed one late stays
 *   overdue), never when skipped or held (the hold pauses the clock), as the deletion list says.
 * - access: its `deadline_at` (72 hours, met when the archive is ready and its links mailed,
 *   `completed_at`); never overdue when cancelled by a deletion of the account.
 * - correction: migration 015 keeps no deadline, so it is `received_at` plus the deletion's
 *   deadline hours (LETHE_DEADLINE_HOURS, the one Lethe promises for every type); never overdue
 *   when refused, nor while a new address waits for the person's confirmation (the person's
 *   clock, not Lethe's).
 */
import type { Knex } from 'knex';
import { decodeCursor, encodeCursor } from './cursor';

export const REQUEST_TYPES = ['deletion', 'access', 'correction'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];

/** Every status a request of some type can have (each type has its own subset). */
export const LIST_STATUSES = ['pending', 'running', 'blocked', 'completed', 'failed', 'skipped', 'held', 'ready', 'expired', 'cancelled', 'awaiting_confirmation', 'refused'] as const;
export type ListStatus = (typeof LIST_STATUSES)[number];

/** Per type, the statuses in which the request is still being worked on (the console's time left counts down). */
export const OPEN_STATUSES: Record<RequestType, readonly string[]> = {
  deletion: ['pending', 'running', 'blocked', 'failed'],
  access: ['pending', 'running', 'blocked', 'failed'],
  correction: ['pending', 'running', 'blocked', 'awaiting_confirmation', 'failed'],
};

export interface RequestListItem {
  type: RequestType;
  requestId: string;
  accountId: string;
  channel: string;
  status: string;
  receivedAt: string;
  deadlineAt: string;
  completedAt?: string;
  overdue: boolean;
}

export interface RequestListFilter {
  /** One type, or several (the console's search); all three when absent. */
  type?: RequestType | readonly RequestType[];
  status?: string;
  accountId?: string;
  /** Several accounts (the console's search by email); with `accountId`, either matches. */
  accountIds?: readonly string[];
  /** Exactly these requests (the console's search by request id). */
  requestIds?: readonly string[];
  channel?: string;
  overdue?: boolean;
  /** Received on or after `from`, before `to`. */
  from?: Date;
  to?: Date;
  limit?: number;
  cursor?: string;
}

/** A cursor this list did not hand out. */
export class RequestListCursorError extends Error {
  constructor() {
    super('cursor is not one this API returned');
    this.name = 'RequestListCursorError';
  }
}

interface Branch {
  type: RequestType;
  table: string;
  /** SQL for the deadline and for overdue; a binding each pushes goes in `b`, in order. */
  deadline: (b: unknown[]) => string;
  overdue: (b: unknown[]) => string;
}

export function createRequestList(deps: { db: Knex; deadlineHours: number }) {
  const { db, deadlineHours } = deps;
  const BRANCHES: Branch[] = [
    {
      type: 'deletion',
      table: 'lethe.deletion_requests',
      deadline: () => 'deadline_at',
      overdue: () => "(status not in ('skipped', 'held') and deadline_at < coalesce(completed_at, now()))",
    },
    {
      type: 'access',
      table: 'lethe.access_requests',
      deadline: () => 'deadline_at',
      overdue: () => "(status <> 'cancelled' and deadline_at < coalesce(completed_at, now()))",
    },
    {
      type: 'correction',
      table: 'lethe.correction_requests',
      deadline: (b) => {
        b.push(deadlineHours * 3600);
        return '(received_at + make_interval(secs => ?))';
      },
      overdue: (b) => {
        b.push(deadlineHours * 3600);
        return "(status not in ('refused', 'awaiting_confirmation') and received_at + make_interval(secs => ?) < coalesce(completed_at, now()))";
      },
    },
  ];

  return {
    async list(filter: RequestListFilter = {}): Promise<{ items: RequestListItem[]; nextCursor?: string }> {
      const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
      const types = filter.type === undefined ? REQUEST_TYPES : ([filter.type].flat() as RequestType[]);
      const cursor = filter.cursor === undefined ? undefined : (decodeCursor(filter.cursor) ?? invalidCursor());
      const bindings: unknown[] = [];
      const parts: string[] = [];
      for (const br of BRANCHES.filter((x) => types.includes(x.type))) {
        const overdue = br.overdue;
        const select = [
          `'${br.type}'::text as type`,
          'request_id::text as request_id',
          'account_id::text as account_id',
          'channel',
          'status',
          'received_at',
          'received_at::text as received_key',
          `${br.deadline(bindings)} as deadline_at`,
          'completed_at',
          `${overdue(bindings)} as overdue`,
        ].join(', ');
        const where: string[] = [];
        if (filter.status !== undefined) {
          where.push('status = ?');
          bindings.push(filter.status);
        }
        const accounts = [...(filter.accountId ? [filter.accountId] : []), ...(filter.accountIds ?? [])].map((a) => a.toLowerCase());
        const ids = (filter.requestIds ?? []).map((a) => a.toLowerCase());
        if (filter.accountIds !== undefined || filter.requestIds !== undefined || filter.accountId !== undefined) {
          // A search: the accounts' requests, or the requests named (nothing when neither has any).
          const or: string[] = [];
          if (accounts.length) {
            or.push(`account_id in (${accounts.map(() => '?::uuid').join(', ')})`);
            bindings.push(...accounts);
          }
          if (ids.length) {
            or.push(`request_id::text in (${ids.map(() => '?').join(', ')})`);
            bindings.push(...ids);
          }
          where.push(or.length ? `(${or.join(' or ')})` : 'false');
        }
        if (filter.channel !== undefined) {
          where.push('channel = ?');
          bindings.push(filter.channel);
        }
        if (filter.overdue !== undefined) where.push(filter.overdue ? overdue(bindings) : `not ${overdue(bindings)}`);
        if (filter.from) {
          where.push('received_at >= ?');
          bindings.push(filter.from);
        }
        if (filter.to) {
          where.push('received_at < ?');
          bindings.push(filter.to);
        }
        if (cursor) {
          where.push('(received_at, request_id::text) < (?::timestamptz, ?)');
          bindings.push(cursor[0], cursor[1]);
        }
        bindings.push(limit + 1);
        parts.push(`(select ${select} from ${br.table}${where.length ? ` where ${where.join(' and ')}` : ''} order by received_at desc, request_id::text desc limit ?)`);
      }
      if (!parts.length) return { items: [] };
      bindings.push(limit + 1);
      const { rows } = (await db.raw(`select * from (${parts.join(' union all ')}) r order by received_at desc, request_id desc limit ?`, bindings as Knex.RawBinding[])) as {
        rows: Row[];
      };
      const page = rows.slice(0, limit);
      const items = page.map((r): RequestListItem => ({
        type: r.type,
        requestId: r.request_id,
        accountId: r.account_id,
        channel: r.channel,
        status: r.status,
        receivedAt: iso(r.received_at),
        deadlineAt: iso(r.deadline_at),
        ...(r.completed_at ? { completedAt: iso(r.completed_at) } : {}),
        overdue: r.overdue === true,
      }));
      const last = page[page.length - 1];
      return rows.length > limit && last ? { items, nextCursor: encodeCursor(last.received_key, last.request_id) } : { items };
    },
  };
}

export type RequestList = ReturnType<typeof createRequestList>;

interface Row {
  type: RequestType;
  request_id: string;
  account_id: string;
  channel: string;
  status: string;
  received_at: Date;
  received_key: string;
  deadline_at: Date;
  completed_at: Date | null;
  overdue: boolean;
}

const iso = (t: Date | string): string => new Date(t).toISOString();

function invalidCursor(): never {
  throw new RequestListCursorError();
}
