/**
 * What the console's pages read, all from Lethe's own tables in PostgreSQL with indexed queries
 * (migration 010): the bucket counts, the keyset-paged requests table, the overview's series and
 * the compliance report. Nothing here calls Temporal; only the one-request page does, once.
 */
import type { Knex } from 'knex';
import { BUCKETS, type Bucket, type BucketContext } from './buckets';
import { createRequestList, type RequestType } from '../request-list';

export interface RequestRowView {
  /** The request id, or the verification id of a public request not yet confirmed. */
  ref: string;
  kind: 'request' | 'verification';
  /** Deletion, access or correction (a public request not yet confirmed: the kind it asks for). */
  type: string;
  accountId: string | null;
  channel: string;
  status: string;
  receivedAt: Date;
  deadlineAt: Date | null;
  completedAt: Date | null;
  /** Each store's state as the deletion's workflow recorded it (lethe.deletion_store_states); empty before the freeze. */
  stores: { store: string; state: string }[];
  /** Past the deadline before finishing (the request list's rule per type); known for rows of every type, not the buckets' table. */
  overdue?: boolean;
}

/** The stores a request's table row shows a chip for, in this order. */
export const STORE_NAMES = ['media', 'auth0', 'recurly', 'database'] as const;
/** The states a store filter offers (those the deletion's progress reports). */
export const STORE_STATES = ['pending', 'running', 'retrying', 'blocked', 'verified', 'resolved'] as const;

export interface ListQuery {
  bucket?: Bucket;
  channel?: string;
  /** Received on or after / before (dates). */
  from?: Date;
  to?: Date;
  /** Exactly these requests or accounts (a search). */
  ids?: string[];
  accountIds?: string[];
  /** Requests with this store in this state (e.g. blocked at Recurly), from lethe.deletion_store_states. */
  store?: { name: string; state: string };
  cursor?: string;
  limit?: number;
}

export const PAGE_SIZE = 50;

function encodeCursor(receivedKey: string, ref: string): string {
  return Buffer.from(JSON.stringify([receivedKey, ref])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] | undefined {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?$/.test(v[0]) && typeof v[1] === 'string') {
      return [v[0], v[1]];
    }
  } catch {
    // an unreadable cursor starts from the first page
  }
  return undefined;
}

export function createConsoleData(deps: { db: Knex; deadlineHours?: number }) {
  const { db } = deps;
  // Every type in one statement a page, the same as GET /v1/requests (client/request-list.ts).
  const everyType = createRequestList({ db, deadlineHours: deps.deadlineHours ?? 72 });
  /** The page's store chips: one primary-key range read for the page's deletions. */
  async function storeChips(ids: string[]): Promise<(ref: string) => { store: string; state: string }[]> {
    const states: { request_id: string; store: string; state: string }[] = ids.length ? await db('lethe.deletion_store_states').whereIn('request_id', ids).select('request_id', 'store', 'state') : [];
    return (ref: string) =>
      states
        .filter((x) => x.request_id === ref)
        .map(({ store, state }) => ({ store, state }))
        .sort((a, b) => STORE_NAMES.indexOf(a.store as (typeof STORE_NAMES)[number]) - STORE_NAMES.indexOf(b.store as (typeof STORE_NAMES)[number]));
  }

  return {
    /** Every bucket's count: one query over the requests, one per verification bucket. */
    async counts(ctx: BucketContext, channel?: string): Promise<Record<string, number>> {
      const out: Record<string, number> = {};
      const onRequests = BUCKETS.filter((b) => b.source === 'requests');
      if (onRequests.length) {
        const parts = onRequests.map((b) => b.where(ctx));
        const select = onRequests.map((b, i) => `count(*) filter (where ${parts[i][0]})::int as "${b.key}"`).join(', ');
        const anyOf = parts.map((p) => `(${p[0]})`).join(' or ');
        const bindings = [...parts.flatMap((p) => p[1]), ...parts.flatMap((p) => p[1]), ...(channel ? [channel] : [])];
        const { rows } = await db.raw(`select ${select} from lethe.deletion_requests where (${anyOf})${channel ? ' and channel = ?' : ''}`, bindings as Knex.RawBinding[]);
        Object.assign(out, rows[0]);
      }
      for (const b of BUCKETS.filter((x) => x.source === 'verifications')) {
        const [sql, bindings] = b.where(ctx);
        const { rows } = await db.raw(`select count(*)::int as n from lethe.verifications where (${sql})${channel ? ' and channel = ?' : ''}`, [
          ...bindings,
          ...(channel ? [channel] : []),
        ] as Knex.RawBinding[]);
        out[b.key] = rows[0].n;
      }
      return out;
    },

    /** A page of the table, newest first, and the cursor of the next page. */
    async list(q: ListQuery, ctx: BucketContext): Promise<{ rows: RequestRowView[]; nextCursor?: string }> {
      const limit = q.limit ?? PAGE_SIZE;
      const verifications = q.bucket?.source === 'verifications';
      const table = verifications ? 'lethe.verifications' : 'lethe.deletion_requests';
      const [refCol, receivedCol] = verifications ? ['verification_id', 'first_contact_at'] : ['request_id', 'received_at'];
      const query = db(table)
        .select(
          db.raw(`${refCol}::text as ref`),
          'account_id',
          'channel',
          'status',
          db.raw(`${receivedCol} as received_at`),
          db.raw(`${receivedCol}::text as received_key`),
          db.raw(verifications ? 'expires_at as deadline_at' : 'deadline_at'),
          db.raw(verifications ? 'null::timestamptz as completed_at' : 'completed_at'),
        )
        .orderBy([
          { column: receivedCol, order: 'desc' },
          { column: refCol, order: 'desc' },
        ])
        .limit(limit + 1);
      if (q.bucket) {
        const [sql, bindings] = q.bucket.where(ctx);
        query.whereRaw(sql, bindings as Knex.RawBinding[]);
      }
      if (q.channel) query.where('channel', q.channel);
      // The store filter: an index lookup on (store, state, request_id) per row (migration 012).
      if (q.store && !verifications) {
        query.whereExists(
          (e) =>
            void e
              .select(db.raw('1'))
              .from('lethe.deletion_store_states as s')
              .whereRaw('s.request_id = lethe.deletion_requests.request_id')
              .where({ 's.store': q.store!.name, 's.state': q.store!.state }),
        );
      }
      if (q.from) query.where(receivedCol, '>=', q.from);
      if (q.to) query.where(receivedCol, '<', q.to);
      if (q.ids || q.accountIds) {
        query.where((w) => {
          if (q.ids?.length) w.orWhereIn(db.raw(`${refCol}::text`) as unknown as string, q.ids);
          if (q.accountIds?.length) w.orWhereIn('account_id', q.accountIds);
          if (!q.ids?.length && !q.accountIds?.length) w.whereRaw('false');
        });
      }
      const cursor = q.cursor ? decodeCursor(q.cursor) : undefined;
      if (cursor) query.whereRaw(`(${receivedCol}, ${refCol}::text) < (?::timestamptz, ?)`, cursor);
      if (verifications) query.select('kind');
      const rows: {
        ref: string;
        account_id: string | null;
        channel: string;
        status: string;
        received_at: Date;
        received_key: string;
        deadline_at: Date | null;
        completed_at: Date | null;
        kind?: string;
      }[] = await query;
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      const storesOf = await storeChips(verifications ? [] : page.map((r) => r.ref));
      return {
        rows: page.map((r) => ({
          ref: r.ref,
          kind: verifications ? 'verification' : 'request',
          type: verifications ? (r.kind ?? 'deletion') : 'deletion',
          accountId: r.account_id,
          channel: r.channel,
          status: r.status,
          receivedAt: new Date(r.received_at),
          deadlineAt: r.deadline_at ? new Date(r.deadline_at) : null,
          completedAt: r.completed_at ? new Date(r.completed_at) : null,
          stores: storesOf(r.ref),
        })),
        ...(rows.length > limit && last ? { nextCursor: encodeCursor(last.received_key, last.ref) } : {}),
      };
    },

    /**
     * A page of requests of every type (or of `types`), newest first: the table when no bucket or
     * store filter (both the deletions') is chosen. A deletion's row keeps its store chips.
     */
    async listTypes(q: ListQuery & { types?: RequestType[]; overdue?: boolean }): Promise<{ rows: RequestRowView[]; nextCursor?: string }> {
      const page = await everyType.list({
        ...(q.types ? { type: q.types } : {}),
        ...(q.channel ? { channel: q.channel } : {}),
        ...(q.overdue ? { overdue: true } : {}),
        ...(q.from ? { from: q.from } : {}),
        ...(q.to ? { to: q.to } : {}),
        ...(q.ids || q.accountIds ? { requestIds: q.ids ?? [], accountIds: q.accountIds ?? [] } : {}),
        limit: q.limit ?? PAGE_SIZE,
        // A cursor this page did not hand out starts from the first page, as the buckets' table does.
        ...(q.cursor && decodeCursor(q.cursor) ? { cursor: q.cursor } : {}),
      });
      const storesOf = await storeChips(page.items.filter((i) => i.type === 'deletion').map((i) => i.requestId));
      return {
        rows: page.items.map((i) => ({
          ref: i.requestId,
          kind: 'request',
          type: i.type,
          accountId: i.accountId,
          channel: i.channel,
          status: i.status,
          receivedAt: new Date(i.receivedAt),
          deadlineAt: new Date(i.deadlineAt),
          completedAt: i.completedAt ? new Date(i.completedAt) : null,
          stores: i.type === 'deletion' ? storesOf(i.requestId) : [],
          overdue: i.overdue,
        })),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      };
    },

    /** The channels seen, for the filter: those of every type's requests. */
    async channels(): Promise<string[]> {
      const { rows } = await db.raw('select channel from lethe.deletion_requests union select channel from lethe.access_requests union select channel from lethe.correction_requests order by channel');
      return (rows as { channel: string }[]).map((r) => r.channel);
    },

    /** The overview's series (see the page for what each shows). */
    async overview(opts: { inactivityMonths: number; days?: number; weeks?: number }) {
      const days = opts.days ?? 30;
      const weeks = opts.weeks ?? 12;
      const perDay = await db.raw(
        `select to_char(date_trunc('day', received_at at time zone 'UTC'), 'YYYY-MM-DD') as day, channel, count(*)::int as n
           from lethe.deletion_requests where received_at >= date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' - make_interval(days => ?)
          group by 1, 2 order by 1`,
        [days - 1],
      );
      const perWeek = await db.raw(
        `select to_char(date_trunc('week', completed_at at time zone 'UTC'), 'YYYY-MM-DD') as week, count(*)::int as n,
                percentile_cont(0.5) within group (order by extract(epoch from completed_at - received_at) / 3600) as median_h,
                percentile_cont(0.95) within group (order by extract(epoch from completed_at - received_at) / 3600) as p95_h
           from lethe.deletion_requests where status = 'completed' and completed_at >= now() - make_interval(days => ?)
          group by 1 order by 1`,
        [weeks * 7],
      );
      // Requests with a store blocked at some time of each day, per store: the episodes of
      // lethe.deletion_store_blocks (migration 012) that overlap the day, by their start index.
      const blockedPerDay = await db.raw(
        `select to_char(d.day, 'YYYY-MM-DD') as day, b.store, count(distinct b.request_id)::int as n
           from generate_series(date_trunc('day', now() at time zone 'UTC') - make_interval(days => ?), date_trunc('day', now() at time zone 'UTC'), interval '1 day') as d(day)
           join lethe.deletion_store_blocks b
             on b.since < (d.day + interval '1 day') at time zone 'UTC' and coalesce(b.ended_at, now()) >= d.day at time zone 'UTC'
          where b.since < now() and coalesce(b.ended_at, now()) >= now() - make_interval(days => ?)
          group by 1, 2 order by 1`,
        [days - 1, days],
      );
      const sweeps = await db('lethe.sweeps').orderBy('started_at', 'desc').limit(30).select('sweep_id', 'dry_run', 'status', 'scanned', 'eligible', 'started', 'started_at');
      // The sweep's own rule (activities/sweep/candidates.ts INACTIVE_SINCE), over its index
      // (accounts_inactive_since_idx): inactive since a time that passes the cutoff within 30 days.
      // Live subscriptions are judged by the sweep itself (Recurly); this counts before that check.
      const reaching = await db
        .raw(
          `select count(*)::int as n from accounts a
            where coalesce(a.last_login_at, a.created_at) >= now() - make_interval(months => ?)
              and coalesce(a.last_login_at, a.created_at) < now() - make_interval(months => ?) + interval '30 days'`,
          [opts.inactivityMonths, opts.inactivityMonths],
        )
        .then((r: { rows: { n: number }[] }) => r.rows[0].n)
        .catch(() => null);
      return {
        perDay: perDay.rows as { day: string; channel: string; n: number }[],
        blockedPerDay: blockedPerDay.rows as { day: string; store: string; n: number }[],
        perWeek: (perWeek.rows as { week: string; n: number; median_h: number; p95_h: number }[]).map((r) => ({ week: r.week, n: r.n, medianH: Number(r.median_h), p95H: Number(r.p95_h) })),
        sweeps: (sweeps as { sweep_id: string; dry_run: boolean; status: string; scanned: string; eligible: string; started: string; started_at: Date }[])
          .map((s) => ({
            sweepId: s.sweep_id,
            dryRun: s.dry_run,
            status: s.status,
            scanned: Number(s.scanned),
            eligible: Number(s.eligible),
            started: Number(s.started),
            startedAt: new Date(s.started_at),
          }))
          .reverse(),
        reaching: reaching as number | null,
        days,
        weeks,
      };
    },

    /** The compliance report's rows for [from, to): per type and channel. */
    async report(from: Date, to: Date): Promise<{ rows: ReportRow[]; total: ReportRow }> {
      const requests = await db.raw(
        `with r as (
           select channel,
                  count(*) filter (where received_at >= :from and received_at < :to)::int as received,
                  count(*) filter (where status = 'completed' and completed_at >= :from and completed_at < :to)::int as completed,
                  count(*) filter (where status = 'skipped' and completed_at >= :from and completed_at < :to)::int as skipped,
                  percentile_cont(0.5) within group (order by extract(epoch from completed_at - received_at) / 86400)
                    filter (where status = 'completed' and completed_at >= :from and completed_at < :to) as median_days,
                  avg(extract(epoch from completed_at - received_at) / 86400)
                    filter (where status = 'completed' and completed_at >= :from and completed_at < :to) as mean_days
             from lethe.deletion_requests
            where (received_at >= :from and received_at < :to) or (completed_at >= :from and completed_at < :to)
            group by channel)
         select * from r order by channel`,
        { from, to },
      );
      const refused = await db.raw(
        `select kind, channel,
                count(*) filter (where status in ('no_account', 'ambiguous', 'locked', 'needs_operator'))::int as denied,
                count(*) filter (where status = 'expired')::int as expired,
                count(*) filter (where status = 'withdrawn')::int as withdrawn,
                count(*) filter (where request_id is null)::int as unconfirmed
           from lethe.verifications where first_contact_at >= :from and first_contact_at < :to
          group by kind, channel order by kind, channel`,
        { from, to },
      );
      const out = new Map<string, ReportRow>();
      const row = (type: string, channel: string): ReportRow => {
        const k = `${type}/${channel}`;
        let r = out.get(k);
        if (!r) out.set(k, (r = { type, channel, received: 0, completed: 0, skipped: 0, denied: 0, expired: 0, withdrawn: 0, medianDays: null, meanDays: null }));
        return r;
      };
      for (const r of requests.rows as { channel: string; received: number; completed: number; skipped: number; median_days: number | null; mean_days: number | null }[]) {
        Object.assign(row('deletion', r.channel), {
          received: r.received,
          completed: r.completed,
          skipped: r.skipped,
          medianDays: r.median_days === null ? null : Number(r.median_days),
          meanDays: r.mean_days === null ? null : Number(r.mean_days),
        });
      }
      // A public request never confirmed was received all the same (a confirmed one is counted as its deletion request).
      for (const r of refused.rows as { kind: string; channel: string; denied: number; expired: number; withdrawn: number; unconfirmed: number }[]) {
        const x = row(r.kind, r.channel);
        Object.assign(x, { denied: r.denied, expired: r.expired, withdrawn: r.withdrawn, received: x.received + r.unconfirmed });
      }
      const overall = await db.raw(
        `select percentile_cont(0.5) within group (order by extract(epoch from completed_at - received_at) / 86400) as median_days,
                avg(extract(epoch from completed_at - received_at) / 86400) as mean_days
           from lethe.deletion_requests where status = 'completed' and completed_at >= :from and completed_at < :to`,
        { from, to },
      );
      const rows = [...out.values()].sort((a, b) => a.type.localeCompare(b.type) || a.channel.localeCompare(b.channel));
      const sum = (k: 'received' | 'completed' | 'skipped' | 'denied' | 'expired' | 'withdrawn') => rows.reduce((a, r) => a + r[k], 0);
      const o = overall.rows[0] as { median_days: number | null; mean_days: number | null };
      const total: ReportRow = {
        type: 'all',
        channel: 'all',
        received: sum('received'),
        completed: sum('completed'),
        skipped: sum('skipped'),
        denied: sum('denied'),
        expired: sum('expired'),
        withdrawn: sum('withdrawn'),
        medianDays: o.median_days === null ? null : Number(o.median_days),
        meanDays: o.mean_days === null ? null : Number(o.mean_days),
      };
      return { rows, total };
    },

    /**
     * Request records older than 24 months (CCPA regulations §7101 keep them that long) go:
     * finished requests, their receipts, refused or expired verifications. Records of the
     * request only: the person's data was deleted long before. Answers how many rows went.
     */
    async pruneRequestRecords(months = REQUEST_RECORD_MONTHS): Promise<number> {
      return db.transaction(async (trx) => {
        const cutoff = trx.raw('now() - make_interval(months => ?)', [months]);
        const receipts = await trx('lethe.receipts').where('completed_at', '<', cutoff).del();
        const requests = await trx('lethe.deletion_requests').whereIn('status', ['completed', 'skipped', 'failed']).where('received_at', '<', cutoff).del();
        const verifications = await trx('lethe.verifications').whereNotIn('status', ['received', 'awaiting_confirmation', 'needs_operator']).where('first_contact_at', '<', cutoff).del();
        return receipts + requests + verifications;
      });
    },
  };
}

export const REQUEST_RECORD_MONTHS = 24;

export type ConsoleData = ReturnType<typeof createConsoleData>;

export interface ReportRow {
  type: string;
  channel: string;
  received: number;
  completed: number;
  skipped: number;
  denied: number;
  expired: number;
  withdrawn: number;
  medianDays: number | null;
  meanDays: number | null;
}
