/**
 * Starting inactivity sweeps and reading their outcome, for the API and the CLI. Counts and
 * found ids come from Lethe's own tables (written page by page by the sweep's activities), so
 * reading a sweep over a million accounts never replays its history; the workflow is asked
 * only whether a sweep that looks unfinished is still alive.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Config } from '../config';
import { inactivitySweepWorkflow } from '../workflows/sweep';
import { isUuid, SWEEP_WORKFLOW_PREFIX, type SweepInput, type SweepStatus } from '../contract';

export interface SweepView {
  sweepId: string;
  status: 'running' | 'completed' | 'failed';
  dryRun: boolean;
  /** Accounts inactive since before the cut-off (the only ones a sweep reads). */
  scanned: number;
  /** Of those, with no live subscription: what the policy deletes. */
  eligible: number;
  /** Deletions started (or joined, when already under way); 0 in a dry run. */
  started: number;
  startedAt: string;
  finishedAt?: string;
  /** Dry runs: the eligible account ids, a page at a time in id order. */
  accountIds?: string[];
  nextPageToken?: string;
  /** Inactivity notices mailed (a dry run: that it would mail); CONTRACT §7, docs/notices.md. */
  noticesSent: number;
  /** Eligible accounts waiting for their last notice's lead time. */
  deferred: number;
  /** Dry runs: the notices it would mail, the first MAX_ID_PAGE_SIZE in account id order. */
  notices?: { accountId: string; rung: string; deleteFrom: string }[];
}

export interface SweepService {
  start(opts: { dryRun?: boolean }): Promise<{ sweepId: string }>;
  get(sweepId: string, opts?: { pageToken?: string; pageSize?: number }): Promise<SweepView | null>;
}

/** A caller's mistake (a page token this service never issued); `code` is the API's error code. */
export class SweepRequestError extends Error {
  readonly code = 'invalid_input';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'SweepRequestError';
  }
}

export const DEFAULT_ID_PAGE_SIZE = 100;
export const MAX_ID_PAGE_SIZE = 1000;

/** What the Schedule, the API and the CLI name a sweep: the sweep's workflow id. */
const SWEEP_ID = /^[A-Za-z0-9._:-]{1,200}$/;

export function createSweepService(deps: { config: Config; temporal: Client; db: Knex }): SweepService {
  const { config, temporal, db } = deps;

  return {
    async start(opts) {
      const dryRun = opts.dryRun === true;
      const sweepId = `${SWEEP_WORKFLOW_PREFIX}-${dryRun ? 'dry-run-' : ''}${randomUUID()}`;
      const input: SweepInput = { dryRun };
      await temporal.workflow.start(inactivitySweepWorkflow, {
        taskQueue: config.temporal.taskQueue,
        workflowId: sweepId,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
      });
      return { sweepId };
    },

    async get(sweepId, opts = {}) {
      if (typeof sweepId !== 'string' || !SWEEP_ID.test(sweepId)) return null;
      const pageSize = Math.min(Math.max(Math.floor(opts.pageSize ?? DEFAULT_ID_PAGE_SIZE), 1), MAX_ID_PAGE_SIZE);
      const after = opts.pageToken === undefined ? undefined : decodePageToken(opts.pageToken);
      const row: SweepRow | undefined = await db('lethe.sweeps').where({ sweep_id: sweepId }).first();
      if (!row) return fromWorkflow(sweepId);

      let status = row.status as SweepStatus;
      if (status === 'running') status = await liveStatus(sweepId);
      const view: SweepView = {
        sweepId,
        status,
        dryRun: row.dry_run,
        scanned: Number(row.scanned),
        eligible: Number(row.eligible),
        started: Number(row.started),
        noticesSent: Number(row.notices_sent ?? 0),
        deferred: Number(row.deferred ?? 0),
        startedAt: iso(row.started_at),
        ...(row.finished_at ? { finishedAt: iso(row.finished_at) } : {}),
      };
      if (row.dry_run) {
        const q = db('lethe.sweep_candidates')
          .where({ sweep_id: sweepId })
          .orderBy('account_id')
          .limit(pageSize + 1)
          .pluck('account_id');
        if (after) q.andWhere('account_id', '>', after);
        const ids: string[] = await q;
        view.accountIds = ids.slice(0, pageSize);
        if (ids.length > pageSize) view.nextPageToken = encodePageToken(view.accountIds[view.accountIds.length - 1]);
        const notices = await db('lethe.sweep_notices').where({ sweep_id: sweepId, outcome: 'would_send' }).orderBy('account_id').limit(MAX_ID_PAGE_SIZE).select('account_id', 'rung', 'delete_from');
        view.notices = notices.map((n: { account_id: string; rung: string; delete_from: Date }) => ({ accountId: n.account_id, rung: n.rung, deleteFrom: iso(n.delete_from) }));
      }
      return view;
    },
  };

  /** Started, but its first activity has not recorded it yet. */
  async function fromWorkflow(sweepId: string): Promise<SweepView | null> {
    try {
      const d = await temporal.workflow.getHandle(sweepId).describe();
      if (d.type !== inactivitySweepWorkflow.name) return null;
      const running = d.status.name === 'RUNNING';
      return {
        sweepId,
        status: running ? 'running' : 'failed',
        dryRun: sweepId.startsWith(`${SWEEP_WORKFLOW_PREFIX}-dry-run-`),
        scanned: 0,
        eligible: 0,
        started: 0,
        noticesSent: 0,
        deferred: 0,
        startedAt: d.startTime.toISOString(),
        ...(d.closeTime ? { finishedAt: d.closeTime.toISOString() } : {}),
      };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }

  /** A row still says running: believe it while the workflow runs (or cannot be asked). */
  async function liveStatus(sweepId: string): Promise<SweepStatus> {
    try {
      const d = await temporal.workflow.getHandle(sweepId).describe();
      // COMPLETED while the row says running: the last write is a moment behind; a closed
      // run that continued as new has a successor, which describe() follows by id.
      if (d.status.name === 'RUNNING' || d.status.name === 'COMPLETED' || d.status.name === 'CONTINUED_AS_NEW') return 'running';
      return 'failed';
    } catch (err) {
      // Terminated, and its history has since expired: it will never finish.
      if (err instanceof WorkflowNotFoundError) return 'failed';
      return 'running';
    }
  }
}

interface SweepRow {
  sweep_id: string;
  dry_run: boolean;
  status: string;
  scanned: number | string;
  eligible: number | string;
  started: number | string;
  notices_sent?: number | string;
  deferred?: number | string;
  started_at: Date | string;
  finished_at: Date | string | null;
}

function encodePageToken(lastAccountId: string): string {
  return Buffer.from(JSON.stringify({ after: lastAccountId })).toString('base64url');
}

function decodePageToken(token: string): string {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'string' && isUuid(v.after)) return v.after;
  } catch {
    // fall through
  }
  throw new SweepRequestError('pageToken', 'pageToken is not one this API returned');
}

const iso = (t: Date | string): string => new Date(t).toISOString();
