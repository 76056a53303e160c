/**
 * The one definition of "inactive for over N calendar months with no live subscription"
 * (CONTRACT §1) as SQL, used by the sweep, its dry run, the bench, and the re-check before
 * a sweep's deletion destroys anything.
 *
 * Pages are keyset pages over (inactive-since, id), where inactive-since is
 * `coalesce(last_login_at, created_at)`: with accounts_inactive_since_idx
 * (migrations/app/002) each page is one index range scan from the previous page's last key
 * to the cut-off, so a page costs the same at the millionth account as at the first, and the
 * whole scan touches only inactive accounts. Without the index the query is still correct.
 */
import type { Knex } from 'knex';
import type { SweepCursor } from '../../contract';
import { activeHoldSql } from '../../stores/holds';

/** Restricts a sweep to accounts whose id starts with a hex prefix (LETHE_SWEEP_SCOPE, tests only). */
export interface SweepScope {
  accountIdPrefix: string;
}

/** The expression the index is built on; the query must spell it exactly so to use it. */
export const INACTIVE_SINCE = 'coalesce(a.last_login_at, a.created_at)';

/** Microsecond-exact UTC text, so a cursor read back compares equal to the stored value. */
const KEY_TEXT = `to_char(${INACTIVE_SINCE} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * Live per CONTRACT §1: active, future or paused, or canceled but paid through the reference
 * time. A canceled row without a period end counts as live, as stores/recurly.ts does: the
 * safe side, since deleting is irreversible.
 */
export const LIVE_SUBSCRIPTION = `s.state in ('active', 'future', 'paused')
         or (s.state = 'canceled' and (s.current_period_ends_at is null or s.current_period_ends_at > :referenceTime::timestamptz))`;

export class SweepInputError extends Error {
  readonly type = 'InvalidInput';
  constructor(message: string) {
    super(message);
    this.name = 'SweepInputError';
  }
}

/**
 * `referenceTime` minus N calendar months, counted on the calendar of `timeZone`
 * (PostgreSQL's interval arithmetic: 2026-03-31 minus 24 months is 2024-03-31, and
 * 2026-02-28 minus 24 months is 2024-02-28). Returned microsecond-exact, UTC.
 */
export async function cutoffFor(db: Knex, referenceTime: string, months: number, timeZone: string): Promise<string> {
  const { rows } = await db.raw(`select to_char(((?::timestamptz at time zone ?) - make_interval(months => ?)) at time zone ? at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cutoff`, [
    referenceTime,
    timeZone,
    months,
    timeZone,
  ]);
  return rows[0].cutoff as string;
}

export interface Candidate {
  accountId: string;
  inactiveSince: string;
  /** A live subscription in the local copy: not eligible (scanned, not counted eligible). */
  live: boolean;
  /**
   * Inactive since before the cut-off. False only for the rows a read past the cut-off
   * (`readUntil`) adds: accounts approaching eligibility, read for the notice ladder.
   */
  pastCutoff: boolean;
}

export interface CandidatePageQuery {
  cutoff: string;
  /**
   * Read on past the cut-off to here (the notice ladder's longest lead ahead): the same index
   * range, longer; rows after the cut-off come back with `pastCutoff` false. Default: the cut-off.
   */
  readUntil?: string;
  referenceTime: string;
  after?: SweepCursor;
  limit: number;
  scope?: SweepScope;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The lowest and highest uuid starting with a hex prefix (dashes are positional). */
export function scopeRange(scope: SweepScope): [string, string] {
  const p = scope.accountIdPrefix.toLowerCase();
  if (!/^[0-9a-f]{1,12}$/.test(p)) throw new SweepInputError(`scope.accountIdPrefix must be 1-12 hex digits, got "${scope.accountIdPrefix}"`);
  const fill = (c: string) => {
    const hex = p.padEnd(32, c);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
  return [fill('0'), fill('f')];
}

/** Builds the page query; exported so the bench can EXPLAIN exactly what the sweep runs. */
export function candidatePageSql(q: CandidatePageQuery): { sql: string; bindings: Record<string, unknown> } {
  if (!Number.isInteger(q.limit) || q.limit < 1) throw new SweepInputError(`page size must be a whole number of at least 1, got ${q.limit}`);
  if (q.after && !UUID.test(q.after.accountId)) throw new SweepInputError('cursor.accountId is not a uuid');
  const bindings: Record<string, unknown> = { cutoff: q.cutoff, readUntil: q.readUntil ?? q.cutoff, referenceTime: q.referenceTime, limit: q.limit };
  const where = [`${INACTIVE_SINCE} < :readUntil::timestamptz`];
  // Never an account under a legal hold (CONTRACT §7): one probe of lethe.holds(account_id) per row.
  where.push(`not exists (select 1 from lethe.holds h where h.account_id = a.id and ${activeHoldSql('h')})`);
  if (q.after) {
    // A row comparison the btree index can start from: the next page begins right after the
    // previous page's last key, without an OFFSET that would re-read what came before.
    where.push(`(${INACTIVE_SINCE}, a.id) > (:afterKey::timestamptz, :afterId::uuid)`);
    bindings.afterKey = q.after.inactiveSince;
    bindings.afterId = q.after.accountId;
  }
  if (q.scope) {
    const [lo, hi] = scopeRange(q.scope);
    where.push('a.id between :lo::uuid and :hi::uuid');
    bindings.lo = lo;
    bindings.hi = hi;
  }
  // The page first (an index range scan), then one probe of subscriptions(account_id) per
  // row of it: a LATERAL with LIMIT 1 rather than EXISTS, which the planner may turn into a
  // hash of every live subscription, a cost that grows with all accounts, not with the page.
  const sql = `select p.account_id, p.inactive_since, l.live is not null as live, p.k < :cutoff::timestamptz as past_cutoff
from (
  select a.id as account_id, ${KEY_TEXT} as inactive_since, ${INACTIVE_SINCE} as k
  from accounts a
  where ${where.join('\n    and ')}
  order by ${INACTIVE_SINCE}, a.id
  limit :limit
) p
left join lateral (
  select true as live from subscriptions s
  where s.account_id = p.account_id
    and (${LIVE_SUBSCRIPTION})
  limit 1
) l on true
order by p.k, p.account_id`;
  return { sql, bindings };
}

/** One page of inactive accounts in (inactive-since, id) order, each flagged live or not. */
export async function candidatePage(db: Knex, q: CandidatePageQuery): Promise<Candidate[]> {
  const { sql, bindings } = candidatePageSql(q);
  const { rows } = await db.raw(sql, bindings);
  return (rows as { account_id: string; inactive_since: string; live: boolean; past_cutoff: boolean }[]).map((r) => ({
    accountId: r.account_id,
    inactiveSince: r.inactive_since,
    live: r.live,
    pastCutoff: r.past_cutoff,
  }));
}

/** Where the next page starts after `c`. */
export const cursorOf = (c: Candidate): SweepCursor => ({ inactiveSince: c.inactiveSince, accountId: c.accountId });

export interface AccountActivity {
  exists: boolean;
  /** Inactive since before the cut-off computed from `now`. */
  inactive: boolean;
  /** Logged in after `selectedAt`. */
  loggedInSince: boolean;
  recurlyAccountCode: string | null;
}

/** The login half of the re-check, with the same cut-off arithmetic as the selection. */
export async function accountActivity(db: Knex, accountId: string, opts: { cutoff: string; selectedAt?: string }): Promise<AccountActivity> {
  const { rows } = await db.raw(
    `select ${INACTIVE_SINCE} < :cutoff::timestamptz as inactive,
            coalesce(a.last_login_at > :selectedAt::timestamptz, false) as logged_in_since,
            a.recurly_account_code
       from accounts a where a.id = :id`,
    { cutoff: opts.cutoff, selectedAt: opts.selectedAt ?? null, id: accountId },
  );
  const r = rows[0] as { inactive: boolean; logged_in_since: boolean; recurly_account_code: string | null } | undefined;
  if (!r) return { exists: false, inactive: true, loggedInSince: false, recurlyAccountCode: null };
  return { exists: true, inactive: r.inactive, loggedInSince: r.logged_in_since, recurlyAccountCode: r.recurly_account_code };
}
