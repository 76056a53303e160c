/** Seeding for the sweep tests: accounts under an id prefix of their own (see SweepScope). */
import { randomBytes } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { MockActivityEnvironment } from '@temporalio/testing';
import { rng, seedAccount, uuidFrom, type AccountSpec, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import { createSweepActivities } from '../../activities/sweep/sweep';
import { accountActivity } from '../../activities/sweep/candidates';
import type { SweepConfig } from '../../config';
import type { BeginSweepResult, SweepCursor, SweepPageResult } from '../../contract';

/**
 * Every test file shares one database, and a sweep deletes whatever is eligible. So each
 * sweep test seeds under a random 8-hex-digit id prefix and scopes its sweeps to it: the
 * production query with one added `id between` predicate, nothing else changed.
 */
/** A fresh prefix: give it to the worker (LETHE_SWEEP_SCOPE) and to scopedSeeder. */
export const newScopePrefix = (): string => randomBytes(4).toString('hex');

export function scopedSeeder(seed: SeedDeps, seedNumber: number, prefix = newScopePrefix()) {
  // The prefix is mixed into the seed: two files that pick the same number still draw different
  // camera and media ids (both files once used 34_2026 and collided on cameras_pkey in CI).
  const rand = rng(seedNumber ^ parseInt(prefix.slice(0, 8), 16));
  return {
    prefix,
    async account(spec: AccountSpec): Promise<SeededAccount> {
      const id = `${prefix}${uuidFrom(rand).slice(8)}`;
      return seedAccount(seed, { media: 2, orphanBlobs: 1, snapshots: 1, loginEvents: 1, shares: 1, supportRequests: 1, emailOnlySupportRequests: 1, ...spec, id }, rand);
    },
  };
}

export const DAY = 86_400_000;
export const daysAfter = (t: string | Date, days: number): Date => new Date(new Date(t).getTime() + days * DAY);

/**
 * A pool whose every connection runs in `timeZone`, as on a server (or behind a pooler)
 * configured so: the sweep's SQL must not lean on the session's zone.
 */
export function dbInTimeZone(url: string, timeZone: string): Knex {
  if (!/^[A-Za-z0-9_/+-]+$/.test(timeZone)) throw new Error(`not an IANA zone name: ${timeZone}`);
  return knexFactory({
    client: 'pg',
    connection: { connectionString: url, application_name: 'lethe-test-tz' },
    pool: {
      min: 0,
      max: 2,
      afterCreate: (conn: { query: (sql: string, cb: (err?: Error) => void) => void }, done: (err: Error | undefined, conn: unknown) => void) =>
        conn.query(`set time zone '${timeZone}'`, (err) => done(err, conn)),
    },
  });
}

/** What a dry run found, in ids, and where it ran (so a test can prove the zones it claims). */
export interface DryRunFinding {
  cutoff: string;
  scanned: number;
  /** The ids the sweep recorded as eligible (lethe.sweep_candidates), sorted. */
  eligible: string[];
  /** Of `ids`, those the re-check's accountActivity calls inactive at the same cut-off, sorted. */
  inactive: string[];
  sessionTimeZone: string;
  nodeTimeZone: string;
}

/**
 * A dry run of the sweep at a fixed `referenceTime` through the worker's own activities:
 * beginSweep fixes the cut-off from `sweep`'s months and time zone, sweepPage reads the
 * candidate query page by page from the cursor and records the eligible ids, exactly as the
 * workflow calls them. `ids` are also put through the re-check's accountActivity at that
 * cut-off. The sweep's rows are removed afterwards; the accounts are the caller's.
 */
export async function dryRunAt(db: Knex, sweep: SweepConfig, referenceTime: string, ids: string[]): Promise<DryRunFinding> {
  if (!sweep.scopePrefix) throw new Error('dryRunAt sweeps a scope only (sweep.scopePrefix): the database is shared');
  const acts = createSweepActivities({ sweep, db });
  const sweepId = `boundary-${sweep.scopePrefix}-${randomBytes(4).toString('hex')}`;
  try {
    const begun = (await new MockActivityEnvironment().run(acts.beginSweep, { sweepId, dryRun: true, referenceTime })) as BeginSweepResult;
    let cursor: SweepCursor | undefined;
    let totals = { scanned: 0, eligible: 0, started: 0 };
    for (let pageNumber = 1; ; pageNumber++) {
      if (pageNumber > 1000) throw new Error('the dry run did not finish in 1000 pages');
      const page = (await new MockActivityEnvironment().run(acts.sweepPage, {
        sweepId,
        dryRun: true,
        cutoff: begun.cutoff,
        referenceTime: begun.referenceTime,
        cursor,
        totals,
        pageNumber,
      })) as SweepPageResult;
      totals = { scanned: totals.scanned + page.scanned, eligible: totals.eligible + page.eligible, started: totals.started + page.started };
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    const eligible = (await db('lethe.sweep_candidates').where({ sweep_id: sweepId }).pluck('account_id')) as string[];
    const inactive: string[] = [];
    for (const id of ids) if ((await accountActivity(db, id, { cutoff: begun.cutoff })).inactive) inactive.push(id);
    const { rows } = await db.raw(`select current_setting('TimeZone') as tz`);
    return {
      cutoff: begun.cutoff,
      scanned: totals.scanned,
      eligible: eligible.sort(),
      inactive: inactive.sort(),
      sessionTimeZone: rows[0].tz,
      nodeTimeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    };
  } finally {
    await db('lethe.sweeps').where({ sweep_id: sweepId }).del();
  }
}
