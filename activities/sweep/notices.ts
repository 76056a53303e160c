/**
 * The inactivity notice ladder (CONTRACT §1 and §7, docs/notices.md): before the sweep deletes
 * an account for inactivity, the person is mailed at each rung's lead time before the date it
 * becomes eligible (default 30 and 7 days), and an eligible account is deleted only once its
 * last rung's notice is that rung's lead time old. It runs inside the sweep's page activity, on
 * the same keyset pages (read on past the cut-off by the longest lead), so the daily sweep
 * sends the notices that are due in the pass that finds deletions, and a dry run lists them.
 *
 * What decides, per account, is here as plain functions over rows, so the rules read in one
 * place: `decide()` is the whole ladder. The rows (`lethe.inactivity_notices`) carry the
 * inactivity they were sent for (`inactive_since`): a sign-in moves it, so the ladder starts
 * over; a live subscription after a notice cancels it too.
 *
 * Never the wrong person: a notice is addressed by account id to that account's own address
 * as spelt (a case twin's address is another account's, with its own rows); the address is
 * read when mailing and stored nowhere.
 */
import type { Knex } from 'knex';
import type { NoticeRung } from '../../config';
import type { NoticeCounts } from '../../contract';
import type { Mailer } from '../../mail/transport';
import { deliver } from '../../mail/deliver';
import { inactivityNoticeMail } from '../../mail/templates';
import { cutoffFor, type Candidate } from './candidates';

/** lethe.outbound_mail's kind for these mails (its ref: the account id and rung, never an address). */
export const NOTICE_MAIL_KIND = 'inactivity_notice';

/**
 * A daily sweep starts at the Schedule's time give or take seconds, so the sweep a week after
 * the one that sent the 7-day notice may start a moment "before" it is a week old; an hour of
 * slack lets that day's sweep count the day, as the mail promised.
 */
export const LEAD_SLACK_MS = 3_600_000;

/** A notice claimed by an attempt that died before it said how the mail went is sent again after this. */
export const STALE_CLAIM_MS = 15 * 60_000;

/** A notice already sent (or being sent) for the account's current inactivity. */
export interface SentNotice {
  rung: string;
  leadMs: number;
  /** The sending sweep's reference time, in ms. */
  notifiedAt: number;
  status: 'sending' | 'sent' | 'bounced';
  /** When a `sending` claim was taken, in ms. */
  claimedAt: number;
}

export type Decision =
  /** Nothing to do now: not within a rung, or its rung's notice already went. */
  | { kind: 'none' }
  /** Mail this rung's notice now. An eligible account is then deferred by the rung's lead. */
  | { kind: 'send'; rung: NoticeRung }
  /** Eligible and free to delete: no ladder (`off`), its notice bounced, or its last notice is old enough. */
  | { kind: 'delete'; undeliverable: boolean }
  /** Eligible, but its last notice is younger than its lead (or is being sent right now). */
  | { kind: 'defer'; until: number };

/**
 * The ladder for one account at the sweep's reference time `at` (ms). `rungs` longest lead
 * first; `due`: the rungs whose lead reaches the date the account becomes eligible;
 * `notices`: those sent for its current inactivity. `eligible` and `live` as the page read them.
 */
export function decide(opts: { eligible: boolean; live: boolean; rungs: readonly NoticeRung[]; due: ReadonlySet<string>; notices: readonly SentNotice[]; at: number; now: number }): Decision {
  const { eligible, rungs, notices, at } = opts;
  if (opts.live) return { kind: 'none' };
  if (rungs.length === 0) return eligible ? { kind: 'delete', undeliverable: false } : { kind: 'none' };
  // An address that refused a notice is not mailed again, and cannot be warned: the policy's
  // date applies as it did before notices (the sweep counts these as undeliverable).
  if (notices.some((n) => n.status === 'bounced')) return eligible ? { kind: 'delete', undeliverable: true } : { kind: 'none' };
  const last = rungs[rungs.length - 1];
  const fresh = (n: SentNotice) => n.status === 'sent' || opts.now - n.claimedAt < STALE_CLAIM_MS;
  if (eligible) {
    // The last rung's notice (or a shorter one, under an older setting) counts, from when it went.
    const done = notices.filter((n) => n.status === 'sent' && n.leadMs <= last.leadMs).sort((a, b) => b.notifiedAt - a.notifiedAt)[0];
    if (done) {
      const until = done.notifiedAt + done.leadMs;
      return at + LEAD_SLACK_MS >= until ? { kind: 'delete', undeliverable: false } : { kind: 'defer', until };
    }
    // Another sweep is mailing it this minute: wait for the next.
    if (notices.some((n) => n.status === 'sending' && n.leadMs <= last.leadMs && fresh(n))) return { kind: 'defer', until: at + last.leadMs };
    // The backlog (already past the mark when notices began), or a ladder missed: the last
    // rung's notice now, and its lead before the deletion.
    return { kind: 'send', rung: last };
  }
  // Approaching: the shortest rung that is due, unless it (or a shorter one) already went. A
  // rung missed (the account came within 7 days before any sweep saw it) is not sent late.
  const target = [...rungs].reverse().find((r) => opts.due.has(r.name));
  if (!target) return { kind: 'none' };
  if (notices.some((n) => n.leadMs <= target.leadMs && fresh(n))) return { kind: 'none' };
  return { kind: 'send', rung: target };
}

export const emptyNoticeCounts = (): NoticeCounts => ({ sent: {}, bounced: 0, failed: 0, deferred: 0, kept: 0, undeliverable: 0, held: 0 });

export interface NoticeDeps {
  db: Knex;
  rungs: readonly NoticeRung[];
  inactivityMonths: number;
  timezone: string;
  /** Absent where only dry runs are made (the bench): a real sweep with notices on then refuses. */
  mailer?: () => Mailer;
  publicUrl?: string;
}

/** The ladder's reach for one sweep: how far past the cut-off to read, and each rung's own cut-off. */
export interface LadderReach {
  /** Inactive since before this: eligible by the longest lead from now. */
  readUntil: string;
  /** Per rung: inactive since before this, the account is eligible within the rung's lead. */
  rungCutoffs: Record<string, string>;
}

/** What the page does with each of its rows, after the ladder. */
export interface PagePlan {
  /** Eligible accounts to start now. */
  start: Set<string>;
  /** Eligible accounts waiting for a notice's lead time: until when, at the earliest. */
  deferred: Map<string, number>;
}

export function createNoticeLadder(deps: NoticeDeps) {
  const { db } = deps;
  const rungs = deps.rungs;

  return {
    enabled: rungs.length > 0,

    /** Each rung's cut-off counted from the reference time plus its lead, on the sweep's calendar. */
    async reach(referenceTime: string): Promise<LadderReach> {
      const rungCutoffs: Record<string, string> = {};
      for (const r of rungs) rungCutoffs[r.name] = await cutoffFor(db, new Date(Date.parse(referenceTime) + r.leadMs).toISOString(), deps.inactivityMonths, deps.timezone);
      return { readUntil: rungCutoffs[rungs[0].name], rungCutoffs };
    },

    /**
     * The ladder over one page's rows: cancels ladders a live subscription or a sign-in ended,
     * mails the notices due (a dry run records what it would mail), and says which eligible
     * accounts may be started now. Idempotent through a retried attempt: a notice already
     * recorded is not mailed again.
     */
    async runPage(input: { sweepId: string; dryRun: boolean; referenceTime: string; reach: LadderReach; rows: Candidate[]; counts: NoticeCounts; beat: () => void }): Promise<PagePlan> {
      const plan: PagePlan = { start: new Set(), deferred: new Map() };
      const { rows, counts, reach } = input;
      const at = Date.parse(input.referenceTime);
      const ids = rows.map((r) => r.accountId);
      const stored = ids.length
        ? ((await db('lethe.inactivity_notices')
            .whereIn('account_id', ids)
            .select(
              'account_id',
              'rung',
              'lead_ms',
              'notified_at',
              'status',
              'claimed_at',
              db.raw(`to_char(inactive_since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as since`),
            )) as StoredRow[])
        : [];
      const byAccount = new Map<string, StoredRow[]>();
      for (const s of stored) byAccount.set(s.account_id, [...(byAccount.get(s.account_id) ?? []), s]);

      // Ladders that ended: a sign-in since the notice (another inactivity), or a live subscription.
      const cancelled = rows.filter((r) => (byAccount.get(r.accountId) ?? []).some((s) => r.live || s.since !== r.inactiveSince)).map((r) => r.accountId);
      if (cancelled.length) {
        if (!input.dryRun) {
          const byId = new Map(rows.map((r) => [r.accountId, r]));
          await db.transaction(async (trx) => {
            for (const id of cancelled) {
              const row = byId.get(id)!;
              const q = trx('lethe.inactivity_notices').where({ account_id: id });
              if (!row.live) q.andWhereRaw(`to_char(inactive_since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') <> ?`, [row.inactiveSince]);
              await q.del();
            }
            await trx('lethe.sweeps').where({ sweep_id: input.sweepId }).increment('kept', cancelled.length);
          });
        }
        counts.kept += cancelled.length;
      }

      const toSend: { row: Candidate; rung: NoticeRung }[] = [];
      for (const row of rows) {
        const eligible = row.pastCutoff && !row.live;
        const notices = (byAccount.get(row.accountId) ?? []).filter((s) => !row.live && s.since === row.inactiveSince).map(toSent);
        const due = new Set(rungs.filter((r) => row.inactiveSince < reach.rungCutoffs[r.name]).map((r) => r.name));
        const d = decide({ eligible, live: row.live, rungs, due, notices, at, now: Date.now() });
        if (d.kind === 'delete') {
          plan.start.add(row.accountId);
          if (d.undeliverable) counts.undeliverable++;
        } else if (d.kind === 'defer') plan.deferred.set(row.accountId, d.until);
        else if (d.kind === 'send') toSend.push({ row, rung: d.rung });
      }

      if (toSend.length) {
        const eligibleAt = await eligibleDates(toSend.map((s) => s.row));
        const last = rungs[rungs.length - 1];
        let mailServerAway = false;
        for (const { row, rung } of toSend) {
          const eligible = row.pastCutoff && !row.live;
          // What the mail promises: not before the account is eligible, nor before the last
          // rung's lead from now (the backlog's week).
          const deleteFrom = new Date(Math.max(eligibleAt.get(row.accountId) ?? at, at + last.leadMs)).toISOString();
          let outcome: 'sent' | 'bounced' | 'failed' | 'busy' | 'gone' | 'would_send';
          if (input.dryRun) outcome = 'would_send';
          else if (mailServerAway) outcome = 'failed';
          else outcome = await sendOne(input.sweepId, row, rung, input.referenceTime, deleteFrom);
          input.beat();
          if (outcome === 'failed') mailServerAway = true;
          if (outcome === 'sent' || outcome === 'would_send') counts.sent[rung.name] = (counts.sent[rung.name] ?? 0) + 1;
          if (outcome === 'bounced') counts.bounced++;
          if (outcome === 'failed') counts.failed++;
          if (outcome !== 'busy' && outcome !== 'gone') {
            await db('lethe.sweep_notices')
              .insert({ sweep_id: input.sweepId, account_id: row.accountId, rung: rung.name, delete_from: deleteFrom, outcome })
              .onConflict(['sweep_id', 'account_id'])
              .merge(['rung', 'delete_from', 'outcome']);
          }
          if (!eligible) continue;
          // Eligible: a bounce frees it now; a notice sent (or that would be) makes it wait its lead.
          if (outcome === 'bounced') {
            plan.start.add(row.accountId);
            counts.undeliverable++;
          } else if (outcome === 'gone') continue;
          // Not sent (the mail server away): at least the lead of a notice sent tomorrow.
          else plan.deferred.set(row.accountId, at + rung.leadMs);
        }
      }
      counts.deferred += plan.deferred.size;
      return plan;
    },

    /**
     * Ladders a sign-in ended: rows of an older inactivity than the account's current one, or
     * of an account no longer there. Removed, so the next approach starts from the first rung;
     * the accounts are counted kept. `scope`: a test's id range (LETHE_SWEEP_SCOPE).
     */
    async cancelSignedIn(scope?: [string, string]): Promise<number> {
      const { rows } = await db.raw(
        `delete from lethe.inactivity_notices n
          where ${scope ? 'n.account_id between :lo::uuid and :hi::uuid and' : ''}
                not exists (select 1 from accounts a where a.id = n.account_id and coalesce(a.last_login_at, a.created_at) = n.inactive_since)
          returning n.account_id, exists (select 1 from accounts a where a.id = n.account_id) as present`,
        scope ? { lo: scope[0], hi: scope[1] } : {},
      );
      return new Set((rows as { account_id: string; present: boolean }[]).filter((r) => r.present).map((r) => r.account_id)).size;
    },
  };

  /** When each account passes the policy's months (its inactivity plus N calendar months in the sweep's zone). */
  async function eligibleDates(rows: Candidate[]): Promise<Map<string, number>> {
    const { rows: out } = await db.raw(
      `select t.id, ((t.since at time zone :tz) + make_interval(months => :months)) at time zone :tz as eligible_at
         from unnest(:ids::uuid[], :sinces::timestamptz[]) as t(id, since)`,
      { tz: deps.timezone, months: deps.inactivityMonths, ids: rows.map((r) => r.accountId), sinces: rows.map((r) => r.inactiveSince) },
    );
    return new Map((out as { id: string; eligible_at: Date }[]).map((r) => [r.id, new Date(r.eligible_at).getTime()]));
  }

  /**
   * Claims the notice (one row per account and rung: a second sweep, or a retried attempt, finds
   * it taken), mails it to the account's own address, and records how it went. A mail server
   * away (`failed`) leaves no row: the next sweep tries again.
   */
  async function sendOne(sweepId: string, row: Candidate, rung: NoticeRung, referenceTime: string, deleteFrom: string): Promise<'sent' | 'bounced' | 'failed' | 'busy' | 'gone'> {
    if (!deps.mailer || !deps.publicUrl) throw new Error('this worker was built without a mailer: with LETHE_INACTIVITY_NOTICES on, it can run dry sweeps only');
    const claim = {
      account_id: row.accountId,
      rung: rung.name,
      lead_ms: rung.leadMs,
      inactive_since: row.inactiveSince,
      notified_at: referenceTime,
      delete_from: deleteFrom,
      status: 'sending',
      claimed_at: db.fn.now(),
      sweep_id: sweepId,
    };
    const { rows: claimed } = await db.raw(
      `insert into lethe.inactivity_notices as n (account_id, rung, lead_ms, inactive_since, notified_at, delete_from, status, claimed_at, sweep_id)
       values (:account_id, :rung, :lead_ms, :inactive_since, :notified_at, :delete_from, 'sending', now(), :sweep_id)
       on conflict (account_id, rung) do update set lead_ms = excluded.lead_ms, inactive_since = excluded.inactive_since, notified_at = excluded.notified_at,
              delete_from = excluded.delete_from, status = 'sending', claimed_at = now(), sweep_id = excluded.sweep_id
        where n.inactive_since <> excluded.inactive_since or (n.status = 'sending' and n.claimed_at < now() - make_interval(secs => :stale))
       returning account_id`,
      { ...claim, claimed_at: undefined, stale: STALE_CLAIM_MS / 1000 },
    );
    if (claimed.length === 0) return 'busy';
    const account = await db('accounts').where({ id: row.accountId }).first('email');
    const settle = (status: 'sent' | 'bounced') => db('lethe.inactivity_notices').where({ account_id: row.accountId, rung: rung.name }).update({ status });
    if (!account) {
      await db('lethe.inactivity_notices').where({ account_id: row.accountId }).del();
      return 'gone';
    }
    const to = typeof account.email === 'string' ? account.email.trim() : '';
    if (!to) {
      await settle('bounced');
      return 'bounced';
    }
    const mail = inactivityNoticeMail({ publicUrl: deps.publicUrl, eligibleAt: deleteFrom });
    let result: 'sent' | 'failed';
    try {
      result = await deliver({ db, mailer: deps.mailer() }, { kind: NOTICE_MAIL_KIND, ref: `${row.accountId}:${rung.name}`, to: account.email, ...mail });
    } catch {
      // Transient (the server away, a 4xx): no notice went, so none is recorded.
      await db('lethe.inactivity_notices').where({ account_id: row.accountId, rung: rung.name, status: 'sending' }).del();
      return 'failed';
    }
    // deliver() answers `failed` only for a permanent refusal (a 5xx, an address it cannot send to).
    await settle(result === 'sent' ? 'sent' : 'bounced');
    return result === 'sent' ? 'sent' : 'bounced';
  }
}

interface StoredRow {
  account_id: string;
  rung: string;
  lead_ms: string | number;
  notified_at: Date;
  status: SentNotice['status'];
  claimed_at: Date;
  since: string;
}

const toSent = (s: StoredRow): SentNotice => ({
  rung: s.rung,
  leadMs: Number(s.lead_ms),
  notifiedAt: new Date(s.notified_at).getTime(),
  status: s.status,
  claimedAt: new Date(s.claimed_at).getTime(),
});

export type NoticeLadder = ReturnType<typeof createNoticeLadder>;
