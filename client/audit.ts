/**
 * The audit trail (lethe.audit_log): who changed what through the API or the CLI, and when.
 * An entry carries ids and a small fixed vocabulary of details, so the trail can be kept and
 * shown to reviewers for a year without ever becoming a store of personal data: the types below
 * admit no email, name or phone, and no free text (the justification of a resolution stays in
 * operator_actions, which `actionId` names).
 */
import type { Knex } from 'knex';
import type { Store } from '../contract';

export const AUDIT_ACTIONS = [
  'deletion_request.filed',
  // The front door (client/front-door.ts): a link mailed to the account, and the person's confirmation.
  'deletion_request.verification_sent',
  'deletion_request.confirmed',
  'deletion_request.retried',
  'deletion_request.resolved',
  'deletion_requests.bulk_retried',
  'deletion_subject.erased',
  'sweep.started',
  'schedule.paused',
  'schedule.resumed',
  'schedule.triggered',
  'schedule.backfilled',
  // The privacy console (client/console): sessions, and an operator shown a person's email.
  'console.signed_in',
  'console.signed_out',
  'deletion_subject.email_revealed',
  // Legal holds (stores/holds.ts): the hold's id in details; its reason and justification stay sealed in lethe.holds.
  'hold.placed',
  'hold.released',
  // Access requests (client/access.ts): ids and the channel only.
  'access_request.filed',
  'access_request.retried',
  // The maintenance pass found the request's run ended outside Lethe (client/reconcile.ts): `outcome` says how.
  'access_request.reconciled',
  // Correction requests (client/corrections.ts): field names in details, never values.
  'correction_request.filed',
  'correction_request.email_confirmed',
  'correction_request.retried',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** What an entry may say besides its ids: booleans, counts, enums and ids, nothing typed by a person. */
export interface AuditDetails {
  dryRun?: boolean;
  existing?: boolean;
  store?: Store;
  outcome?: string;
  actionId?: string;
  channel?: string;
  status?: string;
  matched?: number;
  retried?: number;
  from?: string;
  to?: string;
  /** How the requester was verified: `staff` (the caller vouched) or `email` (a mailed link). */
  verification?: 'staff' | 'email';
  /** A legal hold's id (lethe.holds). */
  holdId?: string;
  /** A correction's fields, by name (never their values). */
  fields?: string[];
  /** Who at the company vouched (an identifier: requestedBy's pattern). */
  requestedBy?: string;
}

export interface AuditEntry {
  /**
   * The token's name (API), `cli:<user>@<host>` (CLI talking to Temporal directly), or
   * `lethe-maintenance` (`via: 'system'`: what the API's maintenance pass does on its own).
   */
  actor: string;
  via: 'api' | 'cli' | 'system';
  action: AuditAction;
  requestId?: string;
  accountId?: string;
  sweepId?: string;
  scheduleId?: string;
  details?: AuditDetails;
}

export interface AuditRecord extends AuditEntry {
  seq: string;
  at: string;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  requestId?: string;
  since?: string;
  until?: string;
  limit?: number;
  /** nextCursor of the previous page. */
  cursor?: string;
}

export const DEFAULT_AUDIT_PAGE = 100;

export function createAuditTrail(deps: { db: Knex }) {
  const { db } = deps;
  return {
    async record(entry: AuditEntry): Promise<void> {
      await db('lethe.audit_log').insert({
        actor: entry.actor,
        via: entry.via,
        action: entry.action,
        request_id: entry.requestId ?? null,
        account_id: entry.accountId ?? null,
        sweep_id: entry.sweepId ?? null,
        schedule_id: entry.scheduleId ?? null,
        details: entry.details && Object.keys(entry.details).length ? JSON.stringify(entry.details) : null,
      });
    },

    /** Newest first, a page at a time. */
    async list(q: AuditQuery = {}): Promise<{ items: AuditRecord[]; nextCursor?: string }> {
      const limit = Math.min(Math.max(Math.floor(q.limit ?? DEFAULT_AUDIT_PAGE), 1), 1000);
      const query = db('lethe.audit_log')
        .orderBy('seq', 'desc')
        .limit(limit + 1);
      if (q.actor) query.where({ actor: q.actor });
      if (q.action) query.where({ action: q.action });
      if (q.requestId) query.where({ request_id: q.requestId.toLowerCase() });
      if (q.since) query.where('at', '>=', q.since);
      if (q.until) query.where('at', '<', q.until);
      if (q.cursor) query.where('seq', '<', q.cursor);
      const rows: AuditRow[] = await query;
      const page = rows.slice(0, limit).map(fromRow);
      return { items: page, ...(rows.length > limit ? { nextCursor: page[page.length - 1].seq } : {}) };
    },

    /** Deletes entries older than the retention period; answers how many went. */
    async prune(retentionDays: number, now = new Date()): Promise<number> {
      const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
      return db('lethe.audit_log').where('at', '<', cutoff).del();
    },
  };
}

export type AuditTrail = ReturnType<typeof createAuditTrail>;

interface AuditRow {
  seq: string | number;
  at: Date | string;
  actor: string;
  via: 'api' | 'cli' | 'system';
  action: AuditAction;
  request_id: string | null;
  account_id: string | null;
  sweep_id: string | null;
  schedule_id: string | null;
  details: AuditDetails | null;
}

function fromRow(r: AuditRow): AuditRecord {
  return {
    seq: String(r.seq),
    at: new Date(r.at).toISOString(),
    actor: r.actor,
    via: r.via,
    action: r.action,
    ...(r.request_id ? { requestId: r.request_id } : {}),
    ...(r.account_id ? { accountId: r.account_id } : {}),
    ...(r.sweep_id ? { sweepId: r.sweep_id } : {}),
    ...(r.schedule_id ? { scheduleId: r.schedule_id } : {}),
    ...(r.details ? { details: r.details } : {}),
  };
}
