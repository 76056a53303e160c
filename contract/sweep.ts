/** The inactivity sweep's contract: its input, progress query, and its activities' shapes. Ids and counts only. */
import { defineQuery } from '@temporalio/workflow';


/** Where the next page starts: the last (inactive-since, id) key of the previous one. */
export interface SweepCursor {
  /** `coalesce(last_login_at, created_at)` as PostgreSQL has it, to the microsecond, UTC. */
  inactiveSince: string;
  accountId: string;
}

/**
 * Restricts a sweep to accounts whose id starts with a hex prefix. Tests only: they share one
 * database with other test files, and a scoped sweep runs the production query with one more
 * predicate instead of a different query. The Schedule, the API and the CLI never set it.
 */
export interface SweepScope {
  accountIdPrefix: string;
}

export interface SweepCounts {
  /** Accounts inactive since before the cut-off: the only ones the index range visits. */
  scanned: number;
  /** Of those, the ones with no live subscription: what the policy deletes. */
  eligible: number;
  /** Deletions started (or already under way and joined); 0 in a dry run. */
  started: number;
}

export const ZERO_COUNTS: SweepCounts = { scanned: 0, eligible: 0, started: 0 };

export interface BeginSweepInput {
  sweepId: string;
  dryRun: boolean;
  /** The sweep's "now", fixed once so every page applies the same rule. */
  referenceTime: string;
}

export interface BeginSweepResult {
  /** Inactive since before this (referenceTime minus the policy's calendar months). */
  cutoff: string;
  referenceTime: string;
}

export interface SweepPageInput {
  sweepId: string;
  dryRun: boolean;
  cutoff: string;
  referenceTime: string;
  cursor?: SweepCursor;
  /** Overrides LETHE_SWEEP_PAGE_SIZE (tests use tiny pages to cross continue-as-new). */
  pageSize?: number;
  scope?: SweepScope;
  /** Counts of every page before this one, so the stored row holds absolute totals. */
  totals: SweepCounts;
  /** 1-based, across continue-as-new. */
  pageNumber: number;
  /** Stop starting deletions after this long and hand back a cursor mid-page (default 5 min). */
  timeBudgetMs?: number;
}

export interface SweepPageResult extends SweepCounts {
  /** Absent when the scan is done. */
  nextCursor?: SweepCursor;
  /**
   * The whole sweep's eligible and started counts so far, counted from lethe.sweep_candidates
   * (exact through retried pages, unlike a sum of the pages' own counts).
   */
  sweepTotals?: Pick<SweepCounts, 'eligible' | 'started'>;
}

export type SweepStatus = 'running' | 'completed' | 'failed';

export interface SweepInput {
  /** Select and record, start nothing. */
  dryRun?: boolean;
  /** Tests only (see SweepScope). */
  scope?: SweepScope;
  /** Tests only: override LETHE_SWEEP_PAGE_SIZE and the pages per run. */
  pageSize?: number;
  pagesPerRun?: number;
  /** Tests only: how long one page may keep starting deletions before handing back a cursor. */
  pageTimeBudgetMs?: number;
  /** Carried across continue-as-new; absent on the first run. */
  carried?: SweepCarried;
}

export interface SweepCarried {
  referenceTime: string;
  cutoff: string;
  cursor?: SweepCursor;
  totals: SweepCounts;
  pages: number;
  runs: number;
  startedAt: string;
}

export interface SweepProgress extends SweepCounts {
  sweepId: string;
  dryRun: boolean;
  status: SweepStatus;
  referenceTime?: string;
  cutoff?: string;
  pages: number;
  /** This run is the n-th of the sweep (continue-as-new). */
  run: number;
  startedAt?: string;
  finishedAt?: string;
}

export interface SweepResult extends SweepCounts {
  sweepId: string;
  dryRun: boolean;
  pages: number;
  runs: number;
  cutoff: string;
  referenceTime: string;
}

export const sweepProgressQuery = defineQuery<SweepProgress>('progress');

