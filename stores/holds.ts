/**
 * Legal holds (lethe.holds, CONTRACT §7): an account under a hold is not swept and its deletion
 * requests wait with status `held`. The reason, matter and release justification are staff's
 * free text: sealed with the field cipher (bound to the hold and the column), never in plain
 * text at rest, and never passed to Temporal (no workflow sees a hold's text).
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { FieldCipher } from '../encryption/fields';

export interface HoldDeps {
  db: Knex;
  fields: FieldCipher;
}

export interface HoldView {
  holdId: string;
  accountId: string;
  reason: string;
  matter?: string;
  until?: string;
  placedAt: string;
  placedBy: string;
  releasedAt?: string;
  releasedBy?: string;
  justification?: string;
  active: boolean;
}

/** A release of an unknown hold (404) or of one already released (409). */
export class HoldError extends Error {
  constructor(
    readonly code: 'hold_not_found' | 'hold_released',
    message: string,
  ) {
    super(message);
    this.name = 'HoldError';
  }
}

const holdContext = (holdId: string, column: 'reason' | 'matter' | 'justification'): string => `lethe.holds:${holdId}:${column}`;

/** SQL for "this hold row is in force now", its columns qualified by `alias` when given (the sweep's query and the lapse check join lethe.holds to itself or to accounts). */
export const activeHoldSql = (alias?: string): string => {
  const c = (col: string) => (alias ? `${alias}.${col}` : col);
  return `(${c('released_at')} is null and (${c('until')} is null or ${c('until')} > now()))`;
};
const ACTIVE_HOLD_SQL = activeHoldSql();

export async function placeHold(
  deps: HoldDeps,
  h: { accountId: string; reason: string; matter?: string; until?: string; placedBy: string },
): Promise<{ holdId: string; accountId: string; placedAt: string; until?: string }> {
  const holdId = randomUUID();
  const [row] = await deps
    .db('lethe.holds')
    .insert({
      hold_id: holdId,
      account_id: h.accountId.toLowerCase(),
      reason_sealed: deps.fields.seal(h.reason, holdContext(holdId, 'reason')),
      matter_sealed: h.matter === undefined ? null : deps.fields.seal(h.matter, holdContext(holdId, 'matter')),
      until: h.until ?? null,
      placed_by: h.placedBy,
    })
    .returning(['placed_at', 'until']);
  return { holdId, accountId: h.accountId.toLowerCase(), placedAt: iso(row.placed_at), ...(row.until ? { until: iso(row.until) } : {}) };
}

/** Releases a hold; answers its account and whether the account is now free of every hold. */
export async function releaseHold(deps: HoldDeps, r: { holdId: string; justification: string; releasedBy: string }): Promise<{ accountId: string; releasedAt: string; stillHeld: boolean }> {
  const row = await deps.db('lethe.holds').where({ hold_id: r.holdId }).first('account_id', 'released_at');
  if (!row) throw new HoldError('hold_not_found', 'no hold has this id');
  if (row.released_at) throw new HoldError('hold_released', 'this hold was already released');
  const [done] = await deps
    .db('lethe.holds')
    .where({ hold_id: r.holdId })
    .whereNull('released_at')
    .update({ released_at: deps.db.fn.now(), released_by: r.releasedBy, justification_sealed: deps.fields.seal(r.justification, holdContext(r.holdId, 'justification')) })
    .returning(['released_at']);
  if (!done) throw new HoldError('hold_released', 'this hold was already released');
  return { accountId: row.account_id, releasedAt: iso(done.released_at), stillHeld: await isHeld(deps.db, row.account_id) };
}

/**
 * A hold released earlier whose account is under no hold now but still has requests waiting
 * `held`: the release's start did not happen (Temporal unreachable then), so releasing it again
 * starts them, with the 72 hours counted from the first release. Undefined otherwise.
 */
export async function unfinishedRelease(db: Knex, holdId: string): Promise<{ accountId: string; releasedAt: string } | undefined> {
  const row = await db('lethe.holds').where({ hold_id: holdId }).whereNotNull('released_at').first('account_id', 'released_at');
  if (!row || (await isHeld(db, row.account_id))) return undefined;
  const waiting = await db('lethe.deletion_requests').where({ account_id: row.account_id, status: 'held' }).first('request_id');
  return waiting ? { accountId: row.account_id, releasedAt: iso(row.released_at) } : undefined;
}

/**
 * Accounts whose every hold has ended by its `until` (none released, none in force) while a
 * request still waits `held`: with the time the last one ended, when their requests' 72 hours
 * start. At most `limit` a pass.
 */
export async function lapsedHolds(db: Knex, limit = 100): Promise<{ accountId: string; endedAt: string; holdIds: string[] }[]> {
  const { rows } = await db.raw(
    `select h.account_id, max(h.until) as ended_at, array_agg(h.hold_id::text) as hold_ids
       from lethe.holds h
      where h.released_at is null and h.until <= now()
        and exists (select 1 from lethe.deletion_requests r where r.account_id = h.account_id and r.status = 'held')
        and not exists (select 1 from lethe.holds a where a.account_id = h.account_id and ${activeHoldSql('a')})
      group by h.account_id
      order by max(h.until)
      limit ?`,
    [limit],
  );
  return (rows as { account_id: string; ended_at: Date; hold_ids: string[] }[]).map((r) => ({ accountId: r.account_id, endedAt: iso(r.ended_at), holdIds: r.hold_ids }));
}

/** Marks holds that ended by their `until` as released then, by Lethe (no justification: none was written). */
export async function closeLapsedHolds(db: Knex, holdIds: string[]): Promise<void> {
  await db('lethe.holds')
    .whereIn('hold_id', holdIds)
    .whereNull('released_at')
    .update({ released_at: db.ref('until'), released_by: 'lethe (until passed)' });
}

export async function isHeld(db: Knex, accountId: string): Promise<boolean> {
  const row = await db('lethe.holds').where({ account_id: accountId.toLowerCase() }).whereRaw(ACTIVE_HOLD_SQL).first('hold_id');
  return !!row;
}

export async function listHolds(deps: HoldDeps, q: { accountId?: string; limit?: number }): Promise<HoldView[]> {
  const query = deps
    .db('lethe.holds')
    .select('*', deps.db.raw(`${ACTIVE_HOLD_SQL} as active`))
    .orderBy('placed_at', 'desc')
    .limit(q.limit ?? 200);
  if (q.accountId) query.where({ account_id: q.accountId.toLowerCase() });
  const rows = await query;
  return rows.map((r) => ({
    holdId: r.hold_id,
    accountId: r.account_id,
    reason: deps.fields.open(r.reason_sealed, holdContext(r.hold_id, 'reason')),
    ...(r.matter_sealed ? { matter: deps.fields.open(r.matter_sealed, holdContext(r.hold_id, 'matter')) } : {}),
    ...(r.until ? { until: iso(r.until) } : {}),
    placedAt: iso(r.placed_at),
    placedBy: r.placed_by,
    ...(r.released_at ? { releasedAt: iso(r.released_at), releasedBy: r.released_by } : {}),
    ...(r.justification_sealed ? { justification: deps.fields.open(r.justification_sealed, holdContext(r.hold_id, 'justification')) } : {}),
    active: r.active === true,
  }));
}

export async function countActiveHolds(db: Knex): Promise<number> {
  const row = await db('lethe.holds').whereRaw(ACTIVE_HOLD_SQL).first(db.raw('count(distinct account_id)::int as n'));
  return Number(row?.n ?? 0);
}

const iso = (t: Date | string): string => new Date(t).toISOString();
