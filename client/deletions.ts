/**
 * Starting deletions and reading their status: the one path every channel takes (the API,
 * the CLI, the inactivity sweep), so each gets the same idempotency and deadline rules.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowExecutionDescription, WorkflowNotFoundError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import type { Config } from '../config';
import type { Channel, DeletionInput, Receipt, StoreCounts, Verification } from '../activities/deletion/types';
import { CHANNELS } from '../activities/deletion/types';
import { stepOfActivity } from '../activities/steps';
import {
  accountDeletionWorkflow,
  additionalRequestSignal,
  deletionWorkflowId,
  progressQuery,
  DeletionProgress,
  DeletionStatus,
  STEP_NAMES,
  StepProgress,
} from '../workflows/deletion';
import { LetheAccountId, LetheChannel, LetheDeadline, LetheDeadlineWarning, LetheOverdue, LetheStatus } from '../workflows/search-attributes';

export class DeletionRequestError extends Error {
  constructor(
    readonly type: 'invalid_input' | 'account_not_found',
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'DeletionRequestError';
  }
}

export interface DeletionRequest {
  accountId?: string;
  email?: string;
  channel: Channel;
  receivedAt?: string;
  requestedBy?: string;
  selectedAt?: string;
}

export interface StartedDeletion {
  requestId: string;
  accountId: string;
  workflowId: string;
  status: string;
  receivedAt: string;
  deadlineAt: string;
  /** True when the account's deletion was already under way and this request joined it. */
  existing: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// PostgreSQL refuses NUL in text (a 500 if it got that far) and no address holds a control character.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function createDeletionService(deps: { config: Config; db: Knex; temporal: Client }) {
  const { config, db, temporal } = deps;

  async function resolveAccount(req: DeletionRequest): Promise<string> {
    if ((req.accountId === undefined) === (req.email === undefined)) {
      throw new DeletionRequestError('invalid_input', 'accountId', 'exactly one of accountId or email is required');
    }
    if (req.accountId !== undefined) {
      if (typeof req.accountId !== 'string' || !UUID.test(req.accountId)) {
        throw new DeletionRequestError('invalid_input', 'accountId', 'accountId must be a UUID');
      }
      const row = await db('accounts').where({ id: req.accountId.toLowerCase() }).first('id');
      if (!row) throw new DeletionRequestError('account_not_found', 'accountId', 'no account has this id');
      return row.id;
    }
    if (typeof req.email !== 'string' || !req.email.includes('@') || req.email.length > 320 || CONTROL.test(req.email)) {
      throw new DeletionRequestError('invalid_input', 'email', 'email must be an email address');
    }
    // Exact and case-insensitive: `=` on lower(), so `%` and `_` are characters, not patterns.
    const rows = await db('accounts').whereRaw('lower(email) = lower(?)', [req.email]).select('id').limit(2);
    if (rows.length === 0) throw new DeletionRequestError('account_not_found', 'email', 'no account has this email');
    if (rows.length > 1) throw new DeletionRequestError('invalid_input', 'email', 'several accounts match this email case-insensitively; file the request by accountId');
    return rows[0].id;
  }

  function receivedAtOf(req: DeletionRequest, now: Date): Date {
    if (req.receivedAt === undefined) return now;
    if (typeof req.receivedAt !== 'string' || !RFC3339.test(req.receivedAt) || Number.isNaN(Date.parse(req.receivedAt))) {
      throw new DeletionRequestError('invalid_input', 'receivedAt', 'receivedAt must be an RFC 3339 time, e.g. 2026-11-28T09:30:00Z');
    }
    const t = new Date(req.receivedAt);
    // A little clock skew between a caller and us is not "the future".
    if (t.getTime() > now.getTime() + 60_000) throw new DeletionRequestError('invalid_input', 'receivedAt', 'receivedAt is in the future');
    return t;
  }

  return {
    async start(req: DeletionRequest): Promise<StartedDeletion> {
      if (!CHANNELS.includes(req.channel)) {
        throw new DeletionRequestError('invalid_input', 'channel', `channel must be one of ${CHANNELS.join(', ')}`);
      }
      if (req.requestedBy !== undefined && (typeof req.requestedBy !== 'string' || !req.requestedBy.trim() || req.requestedBy.length > 200 || CONTROL.test(req.requestedBy))) {
        throw new DeletionRequestError('invalid_input', 'requestedBy', 'requestedBy must be 1-200 printable characters (a staff id or service name)');
      }
      const now = new Date();
      const receivedAt = receivedAtOf(req, now);
      let accountId: string;
      try {
        accountId = await resolveAccount(req);
      } catch (err) {
        // The account is gone because Lethe deleted it: a repeated request by id learns which
        // request did that, rather than "no such account". By email there is nothing to find.
        const done = err instanceof DeletionRequestError && err.type === 'account_not_found' && req.accountId ? await completedRequestFor(req.accountId) : undefined;
        if (done) return done;
        throw err;
      }
      const hours = 3_600_000;
      const input: DeletionInput = {
        requestId: randomUUID(),
        accountId,
        channel: req.channel,
        receivedAt: receivedAt.toISOString(),
        deadlineAt: new Date(receivedAt.getTime() + config.deletion.deadlineHours * hours).toISOString(),
        warningAt: new Date(receivedAt.getTime() + config.deletion.warningHours * hours).toISOString(),
        requestedBy: req.requestedBy,
        selectedAt: req.selectedAt,
      };
      const workflowId = deletionWorkflowId(accountId);
      try {
        // Bounded, so an unreachable Temporal is an answer (503) within an HTTP request's
        // patience; retrying is safe, the workflow id makes the start idempotent.
        await temporal.withDeadline(Date.now() + 20_000, () => temporal.workflow.start(accountDeletionWorkflow, {
          taskQueue: config.temporal.taskQueue,
          workflowId,
          args: [input],
          // Requests from every channel for one account meet in one execution.
          workflowIdConflictPolicy: 'FAIL',
          memo: { requestId: input.requestId },
          typedSearchAttributes: new TypedSearchAttributes([
            { key: LetheAccountId, value: accountId },
            { key: LetheStatus, value: 'pending' },
            { key: LetheChannel, value: req.channel },
            { key: LetheDeadline, value: new Date(input.deadlineAt) },
            { key: LetheDeadlineWarning, value: false },
            { key: LetheOverdue, value: false },
          ]),
        }));
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        const handle = temporal.workflow.getHandle(workflowId);
        await handle.signal(additionalRequestSignal, { channel: req.channel, receivedAt: input.receivedAt, requestedBy: req.requestedBy });
        // The memo is there from the start; the query may lag until the first workflow task.
        const memo = (await handle.describe()).memo as { requestId?: string } | undefined;
        const p = await temporal.withDeadline(Date.now() + 5_000, () => handle.query(progressQuery)).catch(() => undefined);
        const requestId = p?.requestId ?? memo?.requestId ?? '';
        const row = requestId ? await db('lethe.deletion_requests').where({ request_id: requestId }).first('received_at', 'deadline_at') : undefined;
        let receivedAt = p?.receivedAt ?? (row ? iso(row.received_at) : input.receivedAt);
        let deadlineAt = p?.deadlineAt ?? (row ? iso(row.deadline_at) : input.deadlineAt);
        // The signal moves the workflow's deadline when this channel heard of it earlier; the
        // stored request follows, so lists and overdue counts agree with the workflow (get()
        // repairs the row from the workflow should this update lose a race with the insert).
        if (Date.parse(input.receivedAt) < Date.parse(receivedAt)) {
          receivedAt = input.receivedAt;
          deadlineAt = input.deadlineAt;
          await db('lethe.deletion_requests')
            .where({ request_id: requestId })
            .andWhere('received_at', '>', input.receivedAt)
            .update({ received_at: input.receivedAt, deadline_at: input.deadlineAt });
        }
        return { requestId, accountId, workflowId, status: p?.status ?? 'running', receivedAt, deadlineAt, existing: true };
      }
      await db('lethe.deletion_requests')
        .insert({
          request_id: input.requestId,
          account_id: accountId,
          channel: input.channel,
          received_at: input.receivedAt,
          deadline_at: input.deadlineAt,
          requested_by: req.requestedBy ?? null,
          status: 'pending',
        })
        .onConflict('request_id')
        .ignore();
      return { requestId: input.requestId, accountId, workflowId, status: 'pending', receivedAt: input.receivedAt, deadlineAt: input.deadlineAt, existing: false };
    },

    /** Live progress from the workflow; null when Lethe never saw this request. */
    async progress(requestId: string): Promise<DeletionProgress | null> {
      if (!UUID.test(requestId)) return null;
      const row = await db('lethe.deletion_requests').where({ request_id: requestId }).first();
      if (!row) return null;
      const handle = temporal.workflow.getHandle(deletionWorkflowId(row.account_id));
      try {
        const p = await handle.query(progressQuery);
        if (p.requestId === requestId) return p;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      }
      return null;
    },

    /**
     * The status view of one request: the workflow's live progress while it runs (or while its
     * history is retained), joined with the stored receipt; from Lethe's own records once the
     * history is gone. Null when Lethe never saw this request.
     */
    async get(requestId: string): Promise<DeletionView | null> {
      if (!UUID.test(requestId)) return null;
      const row: RequestRow | undefined = await db('lethe.deletion_requests').where({ request_id: requestId.toLowerCase() }).first();
      if (!row) return null;
      const receiptRow = await db('lethe.receipts').where({ request_id: row.request_id }).first();
      const receipt = receiptRow ? receiptOf(receiptRow) : undefined;
      const live = await liveState(row, receipt !== undefined);
      const p = live.progress;

      let status: DeletionStatus = row.status as DeletionStatus;
      let reason = live.reason ?? p?.reason;
      if (receipt) status = 'completed';
      else if (live.kind === 'closed') {
        // How the run closed decides: a terminated run's last query state still says running.
        // A run that completed without a receipt is one the inactivity re-check skipped.
        if (live.closedStatus !== 'COMPLETED') status = 'failed';
        else status = p && FINISHED.includes(p.status) ? p.status : FINISHED.includes(row.status) ? (row.status as DeletionStatus) : 'skipped';
      } else if (p) status = p.status;
      else if (live.kind === 'gone' && !FINISHED.includes(row.status)) {
        status = 'failed';
        reason = 'the workflow ended and its history expired before its outcome was recorded';
      }

      const receivedAt = p?.receivedAt ?? receipt?.receivedAt ?? iso(row.received_at);
      const deadlineAt = p?.deadlineAt ?? receipt?.deadlineAt ?? iso(row.deadline_at);
      const completedAt = receipt?.completedAt ?? p?.completedAt ?? (row.completed_at ? iso(row.completed_at) : undefined);
      // Keep the stored request current, so list() and the gauges agree with what is shown here.
      await repairRow(row, status, deadlineAt);

      const now = Date.now();
      const deadline = Date.parse(deadlineAt);
      const finished = status === 'completed' || status === 'skipped';
      const computedOverdue = status !== 'skipped' && deadline < (completedAt ? Date.parse(completedAt) : now);
      const warningSpan = (config.deletion.deadlineHours - config.deletion.warningHours) * 3_600_000;
      return {
        requestId: row.request_id,
        accountId: row.account_id,
        channel: row.channel as Channel,
        channels: p?.channels ?? receipt?.channels ?? [row.channel as Channel],
        status,
        receivedAt,
        deadlineAt,
        ...(completedAt ? { completedAt } : {}),
        overdue: (p?.overdue ?? false) || (receipt?.overdue ?? false) || computedOverdue,
        warning: (p?.warning ?? false) || (!finished && now >= deadline - warningSpan),
        steps: p ? stepsFromProgress(p, live.pending, status) : receipt ? stepsFromReceipt(receipt) : STEP_NAMES.map((name) => ({ name, status: 'pending' as const })),
        ...(receipt ?? p?.receipt ? { receipt: receipt ?? p!.receipt } : {}),
        ...(reason && status !== 'completed' ? { reason } : {}),
        // `records`: Temporal no longer has (or cannot now show) the run; Lethe's tables answer.
        source: live.kind === 'running' || live.kind === 'closed' ? 'workflow' : 'records',
      };
    },

    /** Requests newest first (by when they were filed), filtered, a page at a time. */
    async list(filter: ListFilter = {}): Promise<{ items: DeletionSummary[]; nextCursor?: string }> {
      const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
      const q = db('lethe.deletion_requests')
        .select('request_id', 'account_id', 'channel', 'status', 'received_at', 'deadline_at', 'completed_at', db.raw('created_at::text as created_key'), db.raw(`${OVERDUE_SQL} as overdue`))
        .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'request_id', order: 'desc' }])
        .limit(limit + 1);
      if (filter.status) q.where('status', filter.status);
      if (filter.channel) q.where('channel', filter.channel);
      if (filter.overdue !== undefined) q.whereRaw(filter.overdue ? OVERDUE_SQL : `not ${OVERDUE_SQL}`);
      if (filter.cursor) {
        const [createdKey, requestId] = decodeCursor(filter.cursor);
        q.whereRaw('(created_at, request_id) < (?::timestamptz, ?)', [createdKey, requestId]);
      }
      const rows = await q;
      const page = rows.slice(0, limit);
      const items = page.map((r): DeletionSummary => ({
        requestId: r.request_id,
        accountId: r.account_id,
        channel: r.channel,
        status: r.status,
        receivedAt: iso(r.received_at),
        deadlineAt: iso(r.deadline_at),
        ...(r.completed_at ? { completedAt: iso(r.completed_at) } : {}),
        overdue: r.overdue === true,
      }));
      const last = page[page.length - 1];
      return rows.length > limit && last ? { items, nextCursor: encodeCursor(last.created_key, last.request_id) } : { items };
    },

    /** Open requests per channel: in flight, past the warning, past the deadline (the gauges). */
    async openCounts(): Promise<{ channel: string; inFlight: number; nearDeadline: number; overdue: number }[]> {
      const warningSpanHours = config.deletion.deadlineHours - config.deletion.warningHours;
      const rows = await db('lethe.deletion_requests')
        .select('channel')
        .select(db.raw("count(*) filter (where status in ('pending', 'running'))::int as in_flight"))
        .select(db.raw("count(*) filter (where status in ('pending', 'running') and deadline_at >= now() and deadline_at < now() + make_interval(secs => ?))::int as near_deadline", [warningSpanHours * 3600]))
        // Failed requests past their deadline are broken promises too, until an operator acts.
        .select(db.raw("count(*) filter (where status in ('pending', 'running', 'failed') and deadline_at < now())::int as overdue"))
        .whereIn('status', ['pending', 'running', 'failed'])
        .groupBy('channel');
      return rows.map((r) => ({ channel: r.channel, inFlight: r.in_flight, nearDeadline: r.near_deadline, overdue: r.overdue }));
    },
  };

  /** The request that deleted this account, when Lethe completed one. */
  async function completedRequestFor(accountId: string): Promise<StartedDeletion | undefined> {
    if (!UUID.test(accountId)) return undefined;
    const row = await db('lethe.deletion_requests')
      .where({ account_id: accountId.toLowerCase(), status: 'completed' })
      .orderBy('completed_at', 'desc')
      .first();
    if (!row) return undefined;
    return {
      requestId: row.request_id,
      accountId: row.account_id,
      workflowId: deletionWorkflowId(row.account_id),
      status: 'completed',
      receivedAt: iso(row.received_at),
      deadlineAt: iso(row.deadline_at),
      existing: true,
    };
  }

  /** What Temporal knows about the request's run; never throws (the records answer instead). */
  async function liveState(row: RequestRow, hasReceipt: boolean): Promise<LiveState> {
    const handle = temporal.workflow.getHandle(deletionWorkflowId(row.account_id));
    let desc: WorkflowExecutionDescription;
    try {
      desc = await temporal.withDeadline(Date.now() + 5_000, () => handle.describe());
    } catch (err) {
      return { kind: err instanceof WorkflowNotFoundError ? 'gone' : 'unknown', pending: [] };
    }
    // A later run for the same account (after this one failed) is another request's.
    if ((desc.memo as { requestId?: string } | undefined)?.requestId !== row.request_id) return { kind: 'unknown', pending: [] };
    const run = temporal.workflow.getHandle(desc.workflowId, desc.runId);
    const running = desc.status.name === 'RUNNING';
    // A query on a closed run needs a worker to replay it: asked only when the receipt cannot
    // answer, and briefly.
    // Until a worker has completed the run's first task, there is no state to ask for, and a
    // query would only wait for a worker.
    const started = Number(desc.raw.workflowExecutionInfo?.historyLength ?? 0) > 3;
    const progress =
      started && (running || !hasReceipt)
        ? await temporal.withDeadline(Date.now() + (running ? 5_000 : 2_000), () => run.query(progressQuery)).catch(() => undefined)
        : undefined;
    const pending: PendingStep[] = [];
    for (const pa of desc.raw.pendingActivities ?? []) {
      const failure = pa.lastFailure
        ? await decodeOptionalFailureToOptionalError(temporal.options.loadedDataConverter, pa.lastFailure).catch(() => undefined)
        : undefined;
      pending.push({ step: stepOfActivity(pa.activityType?.name ?? ''), attempt: pa.attempt ?? 1, lastFailure: failure ? failureText(failure) : undefined });
    }
    if (running) return { kind: 'running', progress, pending };
    let reason: string | undefined;
    if (desc.status.name !== 'COMPLETED') {
      reason = await temporal
        .withDeadline(Date.now() + 5_000, () => run.result())
        .then(() => undefined, (err: unknown) => `${desc.status.name.toLowerCase().replace(/_/g, ' ')}: ${failureText(err)}`);
    }
    return { kind: 'closed', closedStatus: desc.status.name, progress, pending, reason };
  }

  async function repairRow(row: RequestRow, status: DeletionStatus, deadlineAt: string): Promise<void> {
    const update: Record<string, unknown> = {};
    if (status !== row.status && (status === 'failed' || status === 'skipped') && !FINISHED.includes(row.status)) update.status = status;
    if (Date.parse(deadlineAt) < new Date(row.deadline_at).getTime()) update.deadline_at = deadlineAt;
    if (Object.keys(update).length === 0) return;
    await db('lethe.deletion_requests').where({ request_id: row.request_id }).update(update);
  }
}

export type DeletionService = ReturnType<typeof createDeletionService>;

export interface StepView {
  name: string;
  status: StepProgress['status'];
  /** Attempts of the step's activity in its current pass, while it is being retried. */
  attempts?: number;
  /** How many verification passes ran this step. */
  runs?: number;
  detail?: string;
}

/** The workflow's progress as operators read it: steps with counts, and the receipt once done. */
export interface DeletionView extends Omit<DeletionProgress, 'steps' | 'passes'> {
  steps: StepView[];
  /** `workflow`: Temporal has the run (its progress, or its close and the receipt); `records`: only Lethe's tables answer. */
  source: 'workflow' | 'records';
}

export interface DeletionSummary {
  requestId: string;
  accountId: string;
  channel: Channel;
  status: DeletionStatus;
  receivedAt: string;
  deadlineAt: string;
  completedAt?: string;
  overdue: boolean;
}

export interface ListFilter {
  status?: DeletionStatus;
  channel?: Channel;
  overdue?: boolean;
  limit?: number;
  cursor?: string;
}

interface RequestRow {
  request_id: string;
  account_id: string;
  channel: string;
  status: string;
  received_at: Date | string;
  deadline_at: Date | string;
  completed_at: Date | string | null;
}

interface PendingStep {
  step: string;
  attempt: number;
  lastFailure?: string;
}

interface LiveState {
  kind: 'running' | 'closed' | 'gone' | 'unknown';
  closedStatus?: string;
  progress?: DeletionProgress;
  pending: PendingStep[];
  reason?: string;
}

const FINISHED = ['completed', 'failed', 'skipped'];

/** Past the deadline before finishing: a completed request that finished late stays overdue. */
const OVERDUE_SQL = "(status <> 'skipped' and deadline_at < coalesce(completed_at, now()))";

const iso = (t: Date | string): string => new Date(t).toISOString();

function encodeCursor(createdKey: string, requestId: string): string {
  return Buffer.from(JSON.stringify([createdKey, requestId])).toString('base64url');
}

/** PostgreSQL's text form of a timestamptz, e.g. `2026-11-29 02:44:01.123456+00`. */
const PG_TIMESTAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?$/;

function decodeCursor(cursor: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && PG_TIMESTAMP.test(v[0]) && typeof v[1] === 'string') {
      return [v[0], v[1]];
    }
  } catch {
    // fall through
  }
  throw new DeletionRequestError('invalid_input', 'cursor', 'cursor is not one this API returned');
}

/** The stored receipt (its counts column also carries channels, passes and the overdue flag). */
function receiptOf(r: { request_id: string; account_id: string; channel: string; received_at: Date; deadline_at: Date; completed_at: Date; counts: unknown; verification: unknown }): Receipt {
  const { channels, passes, overdue, ...counts } = (typeof r.counts === 'string' ? JSON.parse(r.counts) : r.counts) as StoreCounts & { channels?: Channel[]; passes?: number; overdue?: boolean };
  const verification = (typeof r.verification === 'string' ? JSON.parse(r.verification) : r.verification) as Verification;
  return {
    requestId: r.request_id,
    accountId: r.account_id,
    channel: r.channel as Channel,
    channels: channels ?? [r.channel as Channel],
    receivedAt: iso(r.received_at),
    deadlineAt: iso(r.deadline_at),
    completedAt: iso(r.completed_at),
    overdue: overdue ?? r.completed_at > r.deadline_at,
    passes: passes ?? 1,
    counts,
    verification,
  };
}

function stepsFromProgress(p: DeletionProgress, pending: PendingStep[], status: DeletionStatus): StepView[] {
  return p.steps.map((s) => {
    const view: StepView = { name: s.name, status: s.status, ...(s.runs > 0 ? { runs: s.runs } : {}), ...(s.detail ? { detail: s.detail } : {}) };
    // A run that was stopped (terminated, timed out) leaves its step "running" in the query state.
    if (status === 'failed' && s.status === 'running') {
      view.status = 'failed';
      view.detail ??= 'stopped before it finished';
      return view;
    }
    const pa = s.status === 'running' ? pending.find((x) => x.step === s.name) : undefined;
    if (pa) {
      view.attempts = pa.attempt;
      if (pa.lastFailure) view.detail = `attempt ${pa.attempt - 1} failed (${pa.lastFailure}); retrying`;
    }
    return view;
  });
}

/** Once the history is gone, the receipt still says what each step did. */
function stepsFromReceipt(r: Receipt): StepView[] {
  const c = r.counts;
  const detail: Record<string, string | undefined> = {
    recurly: c.recurly && `${c.recurly.subscriptionsTerminated} subscriptions terminated, redacted: ${c.recurly.accountRedacted}`,
    auth0: c.auth0 && `${c.auth0.usersDeleted} users deleted, ${c.auth0.alreadyGone} already gone`,
    media: c.media && `${c.media.blobsDeleted} blobs deleted`,
    database: c.database && `${Object.values(c.database).reduce((a, b) => a + b, 0)} rows deleted`,
    verify: r.verification.clean ? 'every store is empty' : undefined,
  };
  return STEP_NAMES.map((name) => ({ name, status: 'completed' as const, ...(detail[name] ? { detail: detail[name] } : {}) }));
}

/** Type and message of the innermost failure: ids and statuses only (activities/failures.ts). */
function failureText(err: unknown): string {
  let e = err as { cause?: unknown; type?: unknown; name?: string; message?: string } | undefined;
  while (e && e.cause && typeof e.cause === 'object') e = e.cause as typeof e;
  const type = typeof e?.type === 'string' && e.type ? e.type : e?.name ?? 'Error';
  return `${type}: ${e?.message ?? String(err)}`;
}
