/** The inactivity sweep's contract: its input, progress query, and its activities' shapes. Ids and counts only. */
import { defineQuery } from '@temporalio/workflow';

/** Where the next page starts: the last (inactive-since, id) key of the previous one. */
export interface SweepCursor {
  /** `coalesce(last_login_at, created_at)` as PostgreSQL has it, to the microsecond, UTC. */
  inactiveSince: string;
  accountId: string;
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
  /** Pages before the run continues as new (the worker's LETHE_SWEEP_PAGES_PER_RUN). */
  pagesPerRun?: number;
  /** Notice ladders cancelled by a sign-in since their notice (the ladder starts over). */
  kept?: number;
}

export interface SweepPageInput {
  sweepId: string;
  dryRun: boolean;
  cutoff: string;
  referenceTime: string;
  cursor?: SweepCursor;
  /** Counts of every page before this one, so the stored row holds absolute totals. */
  totals: SweepCounts;
  /** 1-based, across continue-as-new. */
  pageNumber: number;
}

export interface SweepPageResult extends SweepCounts {
  /** Absent when the scan is done. */
  nextCursor?: SweepCursor;
  /**
   * The whole sweep's eligible and started counts so far, counted from lethe.sweep_candidates
   * (exact through retried pages, unlike a sum of the pages' own counts); with the notice
   * ladder's `noticesSent` and `deferred` (absent from pages recorded before it).
   */
  sweepTotals?: Pick<SweepCounts, 'eligible' | 'started'> & NoticeTotals;
  /** What this page did about the notice ladder (docs/notices.md); absent before it existed. */
  notices?: NoticeCounts;
}

/** The sweep's notice counts as the API shows them (CONTRACT §7). */
export interface NoticeTotals {
  /** Notices mailed (in a dry run: that it would mail). */
  noticesSent?: number;
  /** Eligible accounts waiting for their last notice's lead time. */
  deferred?: number;
}

/** One page's notice ladder, for the worker's metrics and the sweep's row. */
export interface NoticeCounts {
  /** Notices mailed (in a dry run: that would be), by rung as configured (`30d`). */
  sent: Record<string, number>;
  /** Refused for good by the mail server (no such mailbox, no valid address). */
  bounced: number;
  /** Not sent because the mail server was away: the next sweep tries again. */
  failed: number;
  /** Eligible but waiting for the last notice's lead time. */
  deferred: number;
  /** Ladders cancelled by a live subscription after a notice (sign-ins: BeginSweepResult.kept). */
  kept: number;
  /** Eligible accounts deleted on eligibility because their notice bounced. */
  undeliverable: number;
  /** Eligible accounts whose deletion a legal hold placed since the read deferred. */
  held: number;
}

export type SweepStatus = 'running' | 'completed' | 'failed';

/**
 * What starts a sweep: only whether it is a dry run. Page sizes, budgets and the pages per
 * run are the worker's configuration (LETHE_SWEEP_*), not something a caller can set.
 */
export interface SweepInput {
  /** Select and record, start nothing. */
  dryRun?: boolean;
  /** Carried across continue-as-new; absent on the first run. */
  carried?: SweepCarried;
}

/**
 * Inputs recorded by sweeps before the tuning moved to the worker's configuration: replaying
 * those histories must continue as new where they did (see the replay test).
 */
export interface LegacySweepInput extends SweepInput {
  pagesPerRun?: number;
}

export interface SweepCarried {
  referenceTime: string;
  cutoff: string;
  /** From beginSweep; absent in runs recorded before it was. */
  pagesPerRun?: number;
  cursor?: SweepCursor;
  totals: SweepCounts;
  pages: number;
  runs: number;
  startedAt: string;
}

export interface SweepProgress extends SweepCounts, NoticeTotals {
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

export interface SweepResult extends SweepCounts, NoticeTotals {
  sweepId: string;
  dryRun: boolean;
  pages: number;
  runs: number;
  cutoff: string;
  referenceTime: string;
}

export const sweepProgressQuery = defineQuery<SweepProgress>('progress');
