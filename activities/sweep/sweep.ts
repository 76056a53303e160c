/**
 * The inactivity sweep's activities: one per page of candidates, so a sweep's history grows
 * with its pages, not its accounts, and the ids it finds go to lethe.sweep_candidates rather
 * than into history. Deletions start through the same idempotent intake as every channel,
 * injected by the worker (activities never import the client side), paced so the vendors see
 * a steady load below their rate limits.
 */
import type { Knex } from 'knex';
import { activityInfo, heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { SweepConfig } from '../../config';
import { FailureType } from '../../contract';
import { classified } from '../failures';
import { candidatePage, cursorOf, cutoffFor, scopeRange, SweepInputError, type Candidate } from './candidates';
import { createNoticeLadder, emptyNoticeCounts } from './notices';
import type { Mailer } from '../../mail/transport';
import type { BeginSweepInput, BeginSweepResult, NoticeCounts, SweepCounts, SweepCursor, SweepPageInput, SweepPageResult, SweepStatus } from '../../contract';

/** Finished sweeps' rows (and the ids they found) are kept this long for operators, then dropped. */
const KEEP_FINISHED_SWEEPS_DAYS = 30;

/** What a retried page attempt resumes from: how far through the page, in key order, it got. */
interface PageHeartbeat {
  through: SweepCursor;
  counts: SweepCounts;
}

/**
 * Starts (or joins) the deletion of one account for a sweep: `account_gone` when the account
 * was deleted since the page read it, `held` when a legal hold was placed since. The worker injects the intake every channel uses.
 */
export type StartDeletion = (req: { accountId: string; selectedAt: string; requestedBy: string }) => Promise<'started' | 'account_gone' | 'held'>;

export interface SweepActivityDeps {
  sweep: SweepConfig;
  db: Knex;
  /** Absent where only dry runs are made (the bench). */
  startDeletion?: StartDeletion;
  /** The inactivity notices' mail (mail/transport.ts); absent where only dry runs are made. */
  mailer?: () => Mailer;
  /** LETHE_PUBLIC_URL, for the notices' links. */
  publicUrl?: string;
}

export const createSweepActivities = (deps: SweepActivityDeps) => {
  const { sweep: config, db } = deps;
  const ladder = createNoticeLadder({
    db,
    rungs: config.notices ?? [],
    inactivityMonths: config.inactivityMonths,
    timezone: config.timezone,
    mailer: deps.mailer,
    publicUrl: deps.publicUrl,
  });

  return {
    /** Records the sweep and fixes its cut-off; a retry (or a second call) returns the same. */
    async beginSweep(input: BeginSweepInput): Promise<BeginSweepResult> {
      return classified('sweep', async () => {
        const existing = await db('lethe.sweeps').where({ sweep_id: input.sweepId }).first('reference_time', 'cutoff');
        if (existing) return { referenceTime: iso(existing.reference_time), cutoff: iso(existing.cutoff), pagesPerRun: config.pagesPerRun };
        const cutoff = await cutoffFor(db, input.referenceTime, config.inactivityMonths, config.timezone);
        await db('lethe.sweeps').insert({ sweep_id: input.sweepId, dry_run: input.dryRun, status: 'running', reference_time: input.referenceTime, cutoff }).onConflict('sweep_id').ignore();
        // Ladders a sign-in ended since their notice start over (a dry run changes nothing).
        const kept = !input.dryRun ? await ladder.cancelSignedIn(config.scopePrefix ? scopeRange({ accountIdPrefix: config.scopePrefix }) : undefined) : 0;
        if (kept) await db('lethe.sweeps').where({ sweep_id: input.sweepId }).update({ kept });
        await db('lethe.sweeps')
          .whereNot({ status: 'running' })
          .andWhere('finished_at', '<', db.raw(`now() - make_interval(days => ?)`, [KEEP_FINISHED_SWEEPS_DAYS]))
          .del();
        const row = await db('lethe.sweeps').where({ sweep_id: input.sweepId }).first('reference_time', 'cutoff');
        return { referenceTime: iso(row.reference_time), cutoff: iso(row.cutoff), pagesPerRun: config.pagesPerRun, ...(kept ? { kept } : {}) };
      });
    },

    /**
     * One page: read the next candidates from the cursor, record the eligible ones, and (unless
     * a dry run) start their deletions with bounded concurrency at the configured pace.
     */
    async sweepPage(input: SweepPageInput): Promise<SweepPageResult> {
      return classified('sweep', async () => {
        try {
          return await runPage(input);
        } catch (err) {
          if (err instanceof SweepInputError) throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: err.message, nonRetryable: true });
          throw err;
        }
      });
    },

    async finishSweep(input: { sweepId: string; status: Exclude<SweepStatus, 'running'>; totals: SweepCounts; pages: number; error?: string }): Promise<void> {
      return classified('sweep', async () => {
        const totals = { ...input.totals, ...(await recordedCounts(input.sweepId)) };
        await db('lethe.sweeps')
          .where({ sweep_id: input.sweepId })
          .update(await noticeColumns(input.sweepId));
        await db('lethe.sweeps')
          .where({ sweep_id: input.sweepId })
          .update({ status: input.status, ...dbCounts(totals), pages: input.pages, finished_at: db.fn.now(), error: input.error ?? null });
      });
    },
  };

  async function runPage(input: SweepPageInput): Promise<SweepPageResult> {
    const pageSize = config.pageSize;
    const resumed = heartbeatDetails();
    // Taken before the read: a login that lands during the read is "after selection" too.
    const selectedAt = new Date().toISOString();
    // With notices on, the same index range read on past the cut-off by the longest lead: the
    // accounts approaching eligibility, whose notices are due (docs/notices.md).
    const reach = ladder.enabled ? await ladder.reach(input.referenceTime) : undefined;
    let rows = await candidatePage(db, {
      cutoff: input.cutoff,
      readUntil: reach?.readUntil,
      referenceTime: input.referenceTime,
      after: input.cursor,
      limit: pageSize,
      scope: config.scopePrefix ? { accountIdPrefix: config.scopePrefix } : undefined,
    });
    const full = rows.length === pageSize;
    const counts: SweepCounts = resumed ? { ...resumed.counts } : { scanned: 0, eligible: 0, started: 0 };
    if (resumed) rows = rows.filter((r) => compareKey(r, resumed.through) > 0);

    const eligible = rows.filter(isEligible);
    const notices = emptyNoticeCounts();
    // Which eligible accounts may go now: all of them without notices; with them, those whose
    // last notice is its lead time old or bounced. The notices due are mailed here, first.
    const plan = reach
      ? await ladder.runPage({ sweepId: input.sweepId, dryRun: input.dryRun, referenceTime: input.referenceTime, reach, rows, counts: notices, beat: () => heartbeat(resumed) })
      : { start: new Set(eligible.map((r) => r.accountId)), deferred: new Map<string, number>() };
    if (eligible.length) {
      await db('lethe.sweep_candidates')
        .insert(
          eligible.map((r) => {
            const until = plan.deferred.get(r.accountId);
            return { sweep_id: input.sweepId, account_id: r.accountId, deferred_until: until !== undefined ? new Date(until) : null };
          }),
        )
        .onConflict(['sweep_id', 'account_id'])
        .merge(['deferred_until']);
    }

    let processed = rows.length;
    if (!input.dryRun) {
      processed = await startDeletions(input, rows, counts, selectedAt, config.pageTimeBudgetMs, plan.start, notices);
    } else {
      counts.scanned += rows.filter((r) => r.pastCutoff).length;
      counts.eligible += eligible.length;
    }

    const last = processed > 0 ? rows[processed - 1] : undefined;
    const cut = processed < rows.length;
    // More to read when the page came back full, or when the time budget cut it short.
    const nextCursor = cut || full ? (last ? cursorOf(last) : (resumed?.through ?? input.cursor)) : undefined;
    const recorded = await recordedCounts(input.sweepId);
    const noticeTotals = await noticeColumns(input.sweepId);
    const totals = { ...add(input.totals, counts), ...recorded };
    await db('lethe.sweeps')
      .where({ sweep_id: input.sweepId })
      .update({ ...dbCounts(totals), ...noticeTotals, pages: input.pageNumber });
    const sweepTotals = reach ? { ...recorded, noticesSent: noticeTotals.notices_sent, deferred: noticeTotals.deferred } : recorded;
    return { ...counts, sweepTotals, ...(reach || notices.held ? { notices } : {}), ...(nextCursor ? { nextCursor } : {}) };
  }

  /** The notice counts as lethe.sweep_notices and sweep_candidates record them (exact through retried pages). */
  async function noticeColumns(sweepId: string): Promise<{ notices_sent: number; notices_bounced: number; deferred: number }> {
    const n = await db('lethe.sweep_notices')
      .where({ sweep_id: sweepId })
      .first(db.raw(`count(*) filter (where outcome in ('sent', 'would_send'))::int as sent`), db.raw(`count(*) filter (where outcome = 'bounced')::int as bounced`));
    const d = await db('lethe.sweep_candidates').where({ sweep_id: sweepId }).whereNotNull('deferred_until').whereNull('started_at').first(db.raw('count(*)::int as deferred'));
    return { notices_sent: Number(n?.sent ?? 0), notices_bounced: Number(n?.bounced ?? 0), deferred: Number(d?.deferred ?? 0) };
  }

  /** Eligible and started as lethe.sweep_candidates records them. */
  async function recordedCounts(sweepId: string): Promise<Pick<SweepCounts, 'eligible' | 'started'>> {
    const row = await db('lethe.sweep_candidates').where({ sweep_id: sweepId }).first(db.raw('count(*)::int as eligible'), db.raw('count(started_at)::int as started'));
    return { eligible: Number(row?.eligible ?? 0), started: Number(row?.started ?? 0) };
  }

  /**
   * Starts the page's eligible deletions in key order, `concurrency` at a time and no faster
   * than `startsPerMinute`; heartbeats how far it got so a retried attempt resumes there.
   * Returns how many rows (from the start of `rows`) were fully handled.
   */
  async function startDeletions(input: SweepPageInput, rows: Candidate[], counts: SweepCounts, selectedAt: string, budgetMs: number, startable: Set<string>, notices: NoticeCounts): Promise<number> {
    const { concurrency, startsPerMinute } = config;
    const interval = 60_000 / startsPerMinute;
    const deadline = Date.now() + budgetMs;
    const done: boolean[] = rows.map(() => false);
    const started: boolean[] = rows.map(() => false);
    let nextIndex = 0;
    let nextSlot = Date.now();
    let handled = 0; // rows[0..handled) are done, in order
    let stopped = false;

    const advance = () => {
      while (handled < rows.length && done[handled]) {
        const r = rows[handled];
        if (r.pastCutoff) counts.scanned++;
        if (isEligible(r)) counts.eligible++;
        if (started[handled]) counts.started++;
        handled++;
      }
      if (handled > 0) heartbeat({ through: cursorOf(rows[handled - 1]), counts: { ...counts } } satisfies PageHeartbeat);
    };

    const worker = async () => {
      while (!stopped && nextIndex < rows.length) {
        const k = nextIndex++;
        const row = rows[k];
        // Eligible and not waiting for a notice's lead time (see notices.ts).
        if (isEligible(row) && startable.has(row.accountId)) {
          const slot = Math.max(nextSlot, Date.now());
          nextSlot = slot + interval;
          // Marked while waiting for the slot, so the mark's round trip does not shift the pace.
          await markStarting(input.sweepId, row.accountId);
          const wait = slot - Date.now();
          if (wait > 0) await sleep(wait);
          try {
            const outcome = await startOne(row.accountId, input.sweepId, selectedAt);
            started[k] = outcome === 'started';
            if (outcome === 'held') notices.held++;
          } catch (err) {
            // The attempt fails; the other workers must not go on starting deletions behind it.
            stopped = true;
            throw err;
          }
          if (Date.now() > deadline) stopped = true;
        }
        done[k] = true;
        advance();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, rows.length)) }, worker));
    return handled;
  }

  /**
   * Marked before the start, not after: a crash between the two leaves the account in place
   * (re-read and started by the retried page), while a crash after a start that was never
   * marked would leave a deleted account counted nowhere.
   */
  async function markStarting(sweepId: string, accountId: string, starting = true): Promise<void> {
    await db('lethe.sweep_candidates')
      .where({ sweep_id: sweepId, account_id: accountId })
      .update({ started_at: starting ? db.fn.now() : null });
  }

  /** `started` when the account's deletion is under way (started now, or joined). */
  async function startOne(accountId: string, sweepId: string, selectedAt: string): Promise<'started' | 'account_gone' | 'held'> {
    if (!deps.startDeletion) throw new Error('this worker was built without a deletion intake; it can run dry sweeps only');
    const outcome = await deps.startDeletion({ accountId, selectedAt, requestedBy: sweepId });
    // Deleted since it was read (by another channel), or held since: nothing for the sweep to do.
    if (outcome !== 'started') await markStarting(sweepId, accountId, false);
    return outcome;
  }
};

/** Past the cut-off with no live subscription: what the policy deletes. */
const isEligible = (r: Candidate): boolean => r.pastCutoff && !r.live;

function heartbeatDetails(): PageHeartbeat | undefined {
  const d = activityInfo().heartbeatDetails as PageHeartbeat | undefined;
  return d && d.through && d.counts ? d : undefined;
}

/** Key order as the index has it: inactive-since, then id. The text forms sort like the values. */
function compareKey(r: Candidate, c: SweepCursor): number {
  if (r.inactiveSince !== c.inactiveSince) return r.inactiveSince < c.inactiveSince ? -1 : 1;
  return r.accountId === c.accountId ? 0 : r.accountId < c.accountId ? -1 : 1;
}

function add(a: SweepCounts, b: SweepCounts): SweepCounts {
  return { scanned: a.scanned + b.scanned, eligible: a.eligible + b.eligible, started: a.started + b.started };
}

const dbCounts = (c: SweepCounts) => ({ scanned: c.scanned, eligible: c.eligible, started: c.started });

const iso = (t: Date | string): string => new Date(t).toISOString();

export type SweepActivities = ReturnType<typeof createSweepActivities>;
