/**
 * Reading deletion requests back: one request's status view, lists and the gauges' counts. It
 * never writes: the stored request changes where its state changes (the intake, the workflow's
 * activities).
 *
 * A running deletion's stores are read from Lethe's own tables (lethe.deletion_store_states,
 * kept current by the workflow: activities/deletion/state.ts), with one describe of the run
 * (is it still running, is its workflow task stuck). The workflow's progress query, which needs
 * a worker to answer and took seconds with thousands open (bench/RESULTS.md), is asked only for
 * live detail (`live`), and for what only the workflow knows: a blocked store's reason in the
 * vendor's words (the tables keep its failure type), and a closed run without a receipt.
 */
import type { Knex } from 'knex';
import { Client, WorkflowExecutionDescription, WorkflowNotFoundError } from '@temporalio/client';
import type { LoadedDataConverter, ProtoFailure } from '@temporalio/common';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import type { Config } from '../config';
import {
  deletionWorkflowId,
  failureText,
  FINISHED_STATUSES,
  isUuid,
  progressQuery,
  STEP_NAMES,
  STORES,
  stepOfActivity,
  stepSummary,
  type Channel,
  type DeletionProgress,
  type DeletionStatus,
  type Receipt,
  type StepProgress,
  type Store,
  type StoreCounts,
  type StoreProgress,
  type StoreStatus,
  type Verification,
} from '../contract';
import { DeletionRequestError } from './intake';
import { firstTaskCompleted } from './temporal';
import { decodeCursor, encodeCursor } from './cursor';

export function createRequestReader(deps: {
  config: Pick<Config, 'deletion'>;
  db: Knex;
  temporal: Client;
  /**
   * Told when Temporal says a request ended (terminated, timed out, history expired) while its
   * stored row still says otherwise: the reconciler (client/reconcile.ts) records it. The read
   * side itself never writes.
   */
  onEnded?: (requestId: string, status: 'failed' | 'skipped') => void;
}) {
  const { config, db, temporal } = deps;

  return {
    /** Live progress from the workflow; null when Lethe never saw this request. */
    async progress(requestId: string): Promise<DeletionProgress | null> {
      if (!isUuid(requestId)) return null;
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
    async get(requestId: string, opts: { live?: boolean } = {}): Promise<DeletionView | null> {
      if (!isUuid(requestId)) return null;
      const row: RequestRow | undefined = await db('lethe.deletion_requests').where({ request_id: requestId.toLowerCase() }).first();
      if (!row) return null;
      const [receiptRow, stateRows] = await Promise.all([
        db('lethe.receipts').where({ request_id: row.request_id }).first(),
        db('lethe.deletion_store_states').where({ request_id: row.request_id }).select<StoreStateRow[]>('store', 'state', 'attempts', 'reason_code', 'action', 'since'),
      ]);
      const receipt = receiptRow ? receiptOf(receiptRow) : undefined;
      // The tables answer for a running deletion unless live detail is asked for, or the
      // request is blocked (the vendor's reason is in the workflow only), or nothing was recorded.
      const fromTables = !opts.live && stateRows.length > 0 && row.status !== 'blocked';
      // Nothing to ask Temporal at all: a running deletion whose stores are recorded, or a
      // completed one with its receipt. A describe costs most of a status read (bench/open.ts);
      // what it would add (a run terminated outside Lethe, a stalled workflow task) the
      // reconciler records within a minute, and `?live=true` shows at once.
      const tablesOnly = (fromTables && (row.status === 'running' || row.status === 'pending') && !receipt) || (!opts.live && receipt !== undefined && row.status === 'completed');
      const live: LiveState = tablesOnly ? { kind: 'tables', pending: [] } : await liveState(row, receipt !== undefined, !fromTables);
      const recorded = stateRows.length > 0 ? progressFromTables(row, stateRows) : undefined;
      // With its receipt written (a run still sending the completion notice), the receipt says the steps.
      const p = live.progress ?? ((live.kind === 'running' || live.kind === 'tables') && fromTables && !receipt ? recorded : undefined);

      let status: DeletionStatus = row.status as DeletionStatus;
      let reason = live.reason ?? p?.reason;
      if (receipt) status = 'completed';
      else if (live.kind === 'closed') {
        // How the run closed decides: a terminated run's last query state still says running.
        // A run that completed without a receipt is one the inactivity re-check skipped.
        if (live.closedStatus !== 'COMPLETED') status = 'failed';
        else status = p && FINISHED_STATUSES.includes(p.status) ? p.status : FINISHED_STATUSES.includes(row.status as DeletionStatus) ? (row.status as DeletionStatus) : 'skipped';
      } else if (p) status = p.status;
      // Held (a legal hold, CONTRACT §7): no run was started; the record is the whole answer.
      else if (live.kind === 'gone' && row.status !== 'held' && !FINISHED_STATUSES.includes(row.status as DeletionStatus)) {
        status = 'failed';
        reason = 'the workflow ended and its history expired before its outcome was recorded';
      }

      if ((status === 'failed' || status === 'skipped') && !FINISHED_STATUSES.includes(row.status as DeletionStatus)) deps.onEnded?.(row.request_id, status);

      const receivedAt = p?.receivedAt ?? receipt?.receivedAt ?? iso(row.received_at);
      const deadlineAt = p?.deadlineAt ?? receipt?.deadlineAt ?? iso(row.deadline_at);
      const completedAt = receipt?.completedAt ?? p?.completedAt ?? (row.completed_at ? iso(row.completed_at) : undefined);

      const now = Date.now();
      const deadline = Date.parse(deadlineAt);
      const finished = status === 'completed' || status === 'skipped';
      const computedOverdue = status !== 'skipped' && (status as string) !== 'held' && deadline < (completedAt ? Date.parse(completedAt) : now);
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
        ...(row.first_contact_at ? { firstContactAt: iso(row.first_contact_at), verification: 'email' as const } : row.verification ? { verification: row.verification as 'staff' } : {}),
        overdue: (p?.overdue ?? false) || (receipt?.overdue ?? false) || computedOverdue,
        warning: (p?.warning ?? false) || (!finished && now >= deadline - warningSpan),
        steps: p ? stepsFromProgress(p, live.pending, status) : receipt ? stepsFromReceipt(receipt) : STEP_NAMES.map((name) => ({ name, status: 'pending' as const })),
        // A closed run's stores (not asked for, or its history gone): as its workflow last recorded them.
        ...(p?.stores ? { stores: p.stores } : recorded ? { stores: recorded.stores } : {}),
        ...(status === 'blocked' && p?.blocked?.length ? { blocked: p.blocked } : {}),
        ...((receipt ?? p?.receipt) ? { receipt: receipt ?? p!.receipt } : {}),
        ...(reason && status !== 'completed' ? { reason } : {}),
        ...(live.stalled ? { stalled: live.stalled } : {}),
        // `records`: Temporal no longer has (or cannot now show) the run; Lethe's tables answer.
        source: live.kind === 'tables' ? 'tables' : live.kind === 'running' || live.kind === 'closed' ? 'workflow' : 'records',
      };
    },

    /** Requests newest first (by when they were filed), filtered, a page at a time. */
    async list(filter: ListFilter = {}): Promise<{ items: DeletionSummary[]; nextCursor?: string }> {
      const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
      const q = db('lethe.deletion_requests')
        .select('request_id', 'account_id', 'channel', 'status', 'received_at', 'deadline_at', 'completed_at', db.raw('created_at::text as created_key'), db.raw(`${OVERDUE_SQL} as overdue`))
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'request_id', order: 'desc' },
        ])
        .limit(limit + 1);
      if (filter.status) q.where('status', filter.status);
      if (filter.channel) q.where('channel', filter.channel);
      if (filter.overdue !== undefined) q.whereRaw(filter.overdue ? OVERDUE_SQL : `not ${OVERDUE_SQL}`);
      if (filter.cursor) {
        const [createdKey, requestId] = decodeCursor(filter.cursor) ?? invalidCursor();
        q.whereRaw('(created_at, request_id) < (?::timestamptz, ?)', [createdKey, requestId]);
      }
      const rows = await q;
      const page = rows.slice(0, limit);
      // Each item's stores as its workflow recorded them: one read of the page's rows.
      const states: { request_id: string; store: Store; state: StoreStatus }[] = page.length
        ? await db('lethe.deletion_store_states')
            .whereIn(
              'request_id',
              page.map((r) => r.request_id),
            )
            .select('request_id', 'store', 'state')
        : [];
      const storesOf = (id: string) =>
        states
          .filter((x) => x.request_id === id)
          .sort((a, b) => STORES.indexOf(a.store) - STORES.indexOf(b.store))
          .map(({ store, state }) => ({ store, status: state }));
      const items = page.map((r): DeletionSummary => ({
        requestId: r.request_id,
        accountId: r.account_id,
        channel: r.channel,
        status: r.status,
        receivedAt: iso(r.received_at),
        deadlineAt: iso(r.deadline_at),
        ...(r.completed_at ? { completedAt: iso(r.completed_at) } : {}),
        overdue: r.overdue === true,
        ...(storesOf(r.request_id).length ? { stores: storesOf(r.request_id) } : {}),
      }));
      const last = page[page.length - 1];
      return rows.length > limit && last ? { items, nextCursor: encodeCursor(last.created_key, last.request_id) } : { items };
    },

    /** Open requests per channel: in flight, past the warning, past the deadline (the gauges). */
    async openCounts(): Promise<{ channel: string; inFlight: number; nearDeadline: number; overdue: number; blocked: number }[]> {
      const warningSpanHours = config.deletion.deadlineHours - config.deletion.warningHours;
      const rows = await db('lethe.deletion_requests')
        .select('channel')
        .select(db.raw("count(*) filter (where status in ('pending', 'running', 'blocked'))::int as in_flight"))
        .select(
          db.raw("count(*) filter (where status in ('pending', 'running', 'blocked') and deadline_at >= now() and deadline_at < now() + make_interval(secs => ?))::int as near_deadline", [
            warningSpanHours * 3600,
          ]),
        )
        // Failed requests past their deadline are broken promises too, until an operator acts.
        .select(db.raw("count(*) filter (where status in ('pending', 'running', 'blocked', 'failed') and deadline_at < now())::int as overdue"))
        .select(db.raw("count(*) filter (where status = 'blocked')::int as blocked"))
        .whereIn('status', ['pending', 'running', 'blocked', 'failed'])
        .groupBy('channel');
      return rows.map((r) => ({ channel: r.channel, inFlight: r.in_flight, nearDeadline: r.near_deadline, overdue: r.overdue, blocked: r.blocked }));
    },
  };

  /**
   * What Temporal knows about the request's run; never throws (the records answer instead).
   * `ask`: the running workflow is queried for its progress and its pending activities' failures;
   * without it, a running run is only described (Lethe's tables have its stores).
   */
  async function liveState(row: RequestRow, hasReceipt: boolean, askRunning = true): Promise<LiveState> {
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
    // (The history is read only when the progress would be asked: a closed run with its receipt is not.)
    const ask =
      (running ? askRunning : !hasReceipt) &&
      (await firstTaskCompleted(temporal, { workflowId: desc.workflowId, runId: desc.runId }, Number(desc.raw.workflowExecutionInfo?.historyLength ?? 0)).catch(() => false));
    const progress = ask ? await temporal.withDeadline(Date.now() + (running ? 5_000 : 2_000), () => run.query(progressQuery)).catch(() => undefined) : undefined;
    const pending: PendingStep[] = [];
    for (const pa of running && !askRunning ? [] : (desc.raw.pendingActivities ?? [])) {
      const failure = pa.lastFailure ? await decodeFailure(temporal.options.loadedDataConverter, pa.lastFailure).catch(() => undefined) : undefined;
      pending.push({ step: stepOfActivity(pa.activityType?.name ?? ''), attempt: pa.attempt ?? 1, lastFailure: failure ? failureText(failure) : undefined });
    }
    if (running) return { kind: 'running', progress, pending, stalled: stalledTask(desc) };
    let reason: string | undefined;
    if (desc.status.name !== 'COMPLETED') {
      reason = await temporal
        .withDeadline(Date.now() + 5_000, () => run.result())
        .then(
          () => undefined,
          (err: unknown) => `${desc.status.name.toLowerCase().replace(/_/g, ' ')}: ${failureText(err)}`,
        );
    }
    return { kind: 'closed', closedStatus: desc.status.name, progress, pending, reason };
  }
}

export type RequestReader = ReturnType<typeof createRequestReader>;

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
  /** `workflow`: Temporal was asked (its progress, or its close and the receipt); `tables`: Lethe's tables answer without asking it (a recorded running request, a completed one with its receipt); `records`: Temporal no longer has the run, or cannot be reached. */
  source: 'workflow' | 'tables' | 'records';
  /** The run's workflow task keeps failing: it makes no progress until a person fixes the worker. */
  stalled?: StalledTask;
  /** A request the person confirmed by mail: when they first asked (the deadline counts from the confirmation, `receivedAt`). */
  firstContactAt?: string;
  /** How the requester was verified: `email` (the person confirmed a link) or `staff` (the caller vouched). */
  verification?: 'staff' | 'email';
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
  /** Each store's state as the deletion's workflow last recorded it (absent before the freeze). */
  stores?: { store: Store; status: StoreStatus }[];
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
  first_contact_at?: Date | string | null;
  verification?: string | null;
}

interface PendingStep {
  step: string;
  attempt: number;
  lastFailure?: string;
}

interface LiveState {
  /** `tables`: Temporal was not asked (Lethe's tables answer for a recorded running or completed request). */
  kind: 'running' | 'closed' | 'gone' | 'unknown' | 'tables';
  closedStatus?: string;
  progress?: DeletionProgress;
  pending: PendingStep[];
  reason?: string;
  stalled?: StalledTask;
}

/** A running deletion whose workflow task has not completed, attempt after attempt. */
export interface StalledTask {
  /** When the task's first attempt was scheduled. */
  since: string;
  attempts: number;
  reason: string;
}

/**
 * The workflow task has failed or timed out this many times in a row. A worker killed mid-task
 * costs one attempt; a task that fails on every worker (a workflow code change without a patch,
 * a workflow type no worker registers) climbs without end, and nothing else says so: the run
 * stays `running`, its steps as they were, and no query answers.
 */
const STALLED_ATTEMPTS = 3;

function stalledTask(desc: WorkflowExecutionDescription): StalledTask | undefined {
  const task = desc.raw.pendingWorkflowTask;
  const attempts = task?.attempt ?? 0;
  if (!task || attempts < STALLED_ATTEMPTS) return undefined;
  const since = optionalTsToDate(task.originalScheduledTime ?? task.scheduledTime) ?? new Date();
  return {
    since: since.toISOString(),
    attempts,
    reason:
      `its workflow task has failed or timed out ${attempts - 1} times in a row: no worker can run this deletion's workflow code. ` +
      "Read the worker's log or the Web UI's WorkflowTaskFailed event; a deploy that changed workflow code without a patch, or a worker without this workflow type, fails this way",
  };
}

/** Past the deadline before finishing: a completed request that finished late stays overdue. */
const OVERDUE_SQL = "(status not in ('skipped', 'held') and deadline_at < coalesce(completed_at, now()))";

const iso = (t: Date | string): string => new Date(t).toISOString();

function invalidCursor(): never {
  throw new DeletionRequestError('invalid_input', 'cursor', 'cursor is not one this API returned');
}

/** The stored receipt (its counts column also carries channels, passes and the overdue flag). */
function receiptOf(r: { request_id: string; account_id: string; channel: string; received_at: Date; deadline_at: Date; completed_at: Date; counts: unknown; verification: unknown }): Receipt {
  const { channels, passes, overdue, stores, ...counts } = (typeof r.counts === 'string' ? JSON.parse(r.counts) : r.counts) as StoreCounts & {
    channels?: Channel[];
    passes?: number;
    overdue?: boolean;
    stores?: Receipt['stores'];
  };
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
    ...(stores ? { stores } : {}),
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

/** A row of lethe.deletion_store_states (migrations/lethe/012_store_state.ts). */
interface StoreStateRow {
  store: Store;
  state: StoreStatus;
  attempts: number;
  reason_code: string | null;
  action: string | null;
  since: Date | string | null;
}

/**
 * A running deletion's progress as its workflow recorded it in Lethe's tables: the stores as
 * they are, the freeze done once any store began, the final read-back and the receipt still to
 * come. A failing store's reason is its failure's type (the vendor's words are in the live view).
 */
function progressFromTables(row: RequestRow, states: StoreStateRow[]): DeletionProgress {
  const byStore = new Map(states.map((s) => [s.store, s]));
  const stores: StoreProgress[] = STORES.map((store) => {
    const s = byStore.get(store);
    if (!s) return { store, status: 'pending', attempts: 0 };
    return {
      store,
      status: s.state,
      attempts: s.attempts,
      ...(s.since ? { failingSince: iso(s.since) } : {}),
      ...(s.reason_code ? { reason: s.reason_code } : {}),
      ...(s.action ? { action: s.action } : {}),
    };
  });
  const storeStep = (name: Store): StepProgress => {
    const s = stores.find((x) => x.store === name)!;
    const done = s.status === 'verified' || s.status === 'resolved';
    const detail = s.status === 'resolved' ? 'resolved outside Lethe by an operator' : s.reason ? `${s.status}: ${s.reason}` : s.status === 'verified' ? 'read back empty' : undefined;
    return { name, status: done ? 'completed' : s.status === 'pending' ? 'pending' : 'running', runs: s.attempts, ...(detail ? { detail } : {}) };
  };
  const steps: StepProgress[] = STEP_NAMES.map((name) =>
    name === 'freeze' ? { name, status: 'completed', runs: 1 } : (STORES as readonly string[]).includes(name) ? storeStep(name as Store) : { name, status: 'pending', runs: 0 },
  );
  const status = (row.status === 'pending' ? 'running' : row.status) as DeletionStatus;
  return {
    requestId: row.request_id,
    accountId: row.account_id,
    channel: row.channel as Channel,
    channels: [row.channel as Channel],
    status,
    receivedAt: iso(row.received_at),
    deadlineAt: iso(row.deadline_at),
    warning: false,
    overdue: false,
    passes: 0,
    steps,
    stores,
    blocked: stores.filter((s) => s.status === 'blocked').map((s) => ({ store: s.store, reason: s.reason ?? 'refused', since: s.failingSince ?? '', action: s.action ?? '' })),
  };
}

/** Once the history is gone, the receipt still says what each step did. */
function stepsFromReceipt(r: Receipt): StepView[] {
  const c = r.counts;
  const detail: Record<string, string | undefined> = {
    recurly: c.recurly && stepSummary.recurly(c.recurly),
    auth0: c.auth0 && stepSummary.auth0(c.auth0),
    media: c.media && stepSummary.media(c.media),
    database: c.database && stepSummary.database(c.database),
    verify: r.verification.clean ? stepSummary.verify(r.verification) : undefined,
  };
  return STEP_NAMES.map((name) => ({ name, status: 'completed' as const, ...(detail[name] ? { detail: detail[name] } : {}) }));
}

/**
 * A pending activity's last failure as an Error, through the client's own data converter
 * (payload codecs, then the failure converter): the public pieces of what the SDK does.
 */
async function decodeFailure(converter: LoadedDataConverter, failure: ProtoFailure): Promise<Error> {
  const decode = async (payloads: { payloads?: unknown[] | null } | null | undefined) => {
    if (!payloads?.payloads?.length) return payloads;
    let ps = payloads.payloads as Parameters<(typeof converter.payloadCodecs)[number]['decode']>[0];
    for (const codec of [...converter.payloadCodecs].reverse()) ps = await codec.decode(ps);
    return { ...payloads, payloads: ps };
  };
  const walk = async (f: ProtoFailure | null | undefined): Promise<ProtoFailure | undefined> => {
    if (!f) return undefined;
    return {
      ...f,
      encodedAttributes: f.encodedAttributes ? ((await decode({ payloads: [f.encodedAttributes] }))?.payloads?.[0] as ProtoFailure['encodedAttributes']) : f.encodedAttributes,
      applicationFailureInfo: f.applicationFailureInfo
        ? { ...f.applicationFailureInfo, details: (await decode(f.applicationFailureInfo.details)) as NonNullable<ProtoFailure['applicationFailureInfo']>['details'] }
        : f.applicationFailureInfo,
      cause: await walk(f.cause),
    };
  };
  return converter.failureConverter.failureToError((await walk(failure))!, converter.payloadConverter);
}
