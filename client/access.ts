/**
 * Access requests (CONTRACT §8, docs/access.md): filing one (the API, the CLI through the API),
 * reading it back, an operator's retry; and the hook by which a deletion of the account deletes
 * any archive still waiting (client/intake.ts calls `cancelAccessExports` when a deletion starts).
 *
 * No archive outlives a deletion of its account. A request's folder in the archive container
 * (`archive_prefix`) is recorded when it is filed, before anything is written there; filing
 * looks for a deletion under way after that row exists, and again after its run has started,
 * while the intake looks for the account's requests after its deletion started: whichever
 * comes second sees the other. A run that has ended (failed, terminated) with its folder not
 * yet emptied is given a run of its own that only empties it.
 *
 * The account is resolved exactly as the deletion intake resolves it (`resolve`, the intake's
 * own: by id, or by an email naming one account in any letter case, case twins refused): a copy
 * of one person's data must never go to another.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { BLOCK_POLICY, REQUEST_CHANNELS, type RequestChannel } from '../contract';
import { deletionWorkflowId, isUuid } from '../contract';
import { accessAccountDeletedSignal, accessProgressQuery, accessRequestWorkflow, accessRetrySignal, accessWorkflowId } from '../workflows/access';
import type { AccessInput, AccessStatus, AccessView } from '../activities/access/types';
import { archivePrefix } from '../contract/access';
import { EMAIL_PATTERN, identifierSchema, strictAjv, describeViolation, uuidSchema } from './validation';

export interface AccessRequestBody {
  accountId?: string;
  email?: string;
  /** `web`: confirmed through the privacy page or public API (client/front-door.ts); staff's API schema does not offer it. */
  channel: RequestChannel | 'web';
  receivedAt?: string;
  requestedBy?: string;
}

export const accessRequestBody = {
  type: 'object',
  description: 'Exactly one of accountId or email. Unknown fields are refused (400 naming them).',
  additionalProperties: false,
  required: ['channel'],
  properties: {
    accountId: { ...uuidSchema, description: 'The account whose data is asked for' },
    email: { type: 'string', minLength: 3, maxLength: 320, pattern: EMAIL_PATTERN, description: 'Matched as the deletion intake matches it: one account in any letter case, case twins refused (409)' },
    channel: { type: 'string', enum: [...REQUEST_CHANNELS], description: 'Where the request reached the company' },
    receivedAt: { type: 'string', format: 'date-time', description: 'When the request reached the company (default now, never in the future); the deadline counts from it' },
    requestedBy: identifierSchema('Who filed it (a staff id or service name)'),
  },
  anyOf: [{ required: ['accountId'] }, { required: ['email'] }],
  not: { required: ['accountId', 'email'] },
} as const;

const validate = strictAjv().compile(accessRequestBody);

/** A request Lethe refuses: the API maps `code` to its status (400, 404, 409). */
export class AccessRequestError extends Error {
  constructor(
    readonly code: 'invalid_input' | 'account_not_found' | 'ambiguous_email' | 'deletion_in_progress' | 'not_found' | 'conflict',
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'AccessRequestError';
  }
}

export type { AccessView };

const HOUR_MS = 3_600_000;
const CLOCK_SKEW_MS = 60_000;
const OPEN: AccessStatus[] = ['pending', 'running', 'blocked', 'ready'];
/** Still gathering or writing: the statuses an operator's retry signals. */
const GATHERING: AccessStatus[] = ['pending', 'running', 'blocked'];
const DELETION_OPEN = ['pending', 'running', 'blocked'];

/**
 * The deletion under way for the account, if any: an open deletion request, a freeze, or a
 * deletion run that has started and whose request the intake has not recorded yet (it records
 * the request after the start). A deletion held, or waiting for the person's confirmation, is
 * not under way: nothing is being deleted yet.
 */
export async function deletionUnderWay(deps: { db: Knex; temporal: Client }, accountId: string): Promise<string | undefined> {
  const { db, temporal } = deps;
  const open = await db('lethe.deletion_requests').where({ account_id: accountId }).whereIn('status', DELETION_OPEN).first('request_id');
  if (open) return open.request_id as string;
  const frozen = await db('lethe.frozen_accounts').where({ account_id: accountId, state: 'deleting' }).first('request_id');
  if (frozen) return frozen.request_id as string;
  try {
    const d = await temporal.withDeadline(Date.now() + 10_000, () => temporal.workflow.getHandle(deletionWorkflowId(accountId)).describe());
    const requestId = (d.memo as { requestId?: string } | undefined)?.requestId;
    if (d.status.name !== 'RUNNING' || !requestId) return undefined;
    const row = await db('lethe.deletion_requests').where({ request_id: requestId }).first('status');
    return row ? undefined : requestId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/**
 * The account a request names, resolved by the deletion intake's own rule (client/intake.ts
 * `resolveAccount`); `live`: the account row exists.
 */
export type ResolveAccount = (req: { accountId?: string; email?: string; channel: RequestChannel }) => Promise<{ accountId: string; live: boolean }>;

export function createAccessService(deps: { config: Pick<Config, 'deletion' | 'temporal' | 'access'>; db: Knex; temporal: Client; resolve: ResolveAccount }) {
  const { config, db, temporal } = deps;
  // A hand-made config without the slice: loadConfig's defaults (LETHE_ACCESS_LINK_TTL, LETHE_ACCESS_PART_MB).
  const access = config.access ?? { linkTtlMs: 7 * 24 * HOUR_MS, partBytes: 2048 * 1024 * 1024 };

  async function view(row: Record<string, unknown>): Promise<AccessView> {
    const status = row.status as AccessStatus;
    const v: AccessView = {
      requestId: row.request_id as string,
      accountId: row.account_id as string,
      channel: row.channel as string,
      status,
      receivedAt: new Date(row.received_at as string).toISOString(),
      deadlineAt: new Date(row.deadline_at as string).toISOString(),
      overdue: false,
      ...(row.requested_by ? { requestedBy: row.requested_by as string } : {}),
      ...(row.completed_at ? { completedAt: new Date(row.completed_at as string).toISOString() } : {}),
      ...(row.archive_parts
        ? {
            archive: {
              parts: Number(row.archive_parts),
              bytes: Number(row.archive_bytes),
              expiresAt: new Date(row.archive_expires_at as string).toISOString(),
              ...(row.archive_deleted_at ? { deletedAt: new Date(row.archive_deleted_at as string).toISOString() } : {}),
            },
          }
        : {}),
      // The PII-free receipt: what each store gave, as counts (written when the archive is ready).
      ...(row.counts ? { receipt: { counts: (typeof row.counts === 'string' ? JSON.parse(row.counts) : row.counts) as Record<string, Record<string, number>> } } : {}),
    };
    if (status === 'failed') {
      // A run that ended outside Lethe: the reconciler's entry says how (client/reconcile.ts).
      const ended = await db('lethe.audit_log').where({ request_id: v.requestId, action: 'access_request.reconciled' }).orderBy('seq', 'desc').first('details');
      const how = (typeof ended?.details === 'string' ? JSON.parse(ended.details) : ended?.details)?.outcome as string | undefined;
      if (how) v.reason = `the run ended outside Lethe (${how.toLowerCase().replace(/_/g, ' ')}): nothing was mailed; retry it to gather again`;
    }
    const done = v.completedAt ? Date.parse(v.completedAt) : Date.now();
    v.overdue = done > Date.parse(v.deadlineAt) && status !== 'cancelled';
    if (status === 'pending' || status === 'running' || status === 'blocked') {
      // The live progress (each store, what blocks it) from the workflow while it gathers.
      const p = await temporal.withDeadline(Date.now() + 5_000, () => temporal.workflow.getHandle(accessWorkflowId(v.requestId)).query(accessProgressQuery)).catch(() => undefined);
      if (p) Object.assign(v, { status: p.status === 'ready' ? v.status : p.status, stores: p.stores, overdue: p.overdue || v.overdue, ...(p.blocked ? { blocked: p.blocked } : {}) });
    }
    return v;
  }

  async function startRun(input: AccessInput): Promise<void> {
    try {
      await temporal.withDeadline(Date.now() + 20_000, () =>
        temporal.workflow.start(accessRequestWorkflow, { taskQueue: config.temporal.taskQueue, workflowId: accessWorkflowId(input.requestId), args: [input], memo: { requestId: input.requestId } }),
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
        await db('lethe.access_requests').where({ request_id: input.requestId, status: 'pending' }).whereNull('completed_at').del();
        throw err;
      }
    }
  }

  async function runIsRunning(requestId: string): Promise<boolean> {
    try {
      return (await temporal.workflow.getHandle(accessWorkflowId(requestId)).describe()).status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  async function tellDeleted(requestId: string): Promise<void> {
    await temporal.workflow
      .getHandle(accessWorkflowId(requestId))
      .signal(accessAccountDeletedSignal)
      .catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
  }

  return {
    async file(body: AccessRequestBody): Promise<AccessView & { existing: boolean }> {
      // `web` comes only from the front door's confirmation, never through the staff route's schema.
      if (!validate(body.channel === 'web' ? { ...body, channel: 'api' } : body)) {
        const d = describeViolation(validate.errors![0], 'body', body);
        throw new AccessRequestError('invalid_input', (d.field ?? 'body').replace(/^body\//, ''), d.message.replace(/^body\//, ''));
      }
      const now = new Date();
      const receivedAt = body.receivedAt === undefined ? now : new Date(body.receivedAt);
      if (receivedAt.getTime() > now.getTime() + CLOCK_SKEW_MS) throw new AccessRequestError('invalid_input', 'receivedAt', 'receivedAt is in the future');
      let resolved: { accountId: string; live: boolean };
      try {
        resolved = await deps.resolve({ ...body, channel: body.channel === 'web' ? 'api' : body.channel });
      } catch (err) {
        const e = err as { code?: string; field?: string; message: string };
        if (e.code === 'account_not_found' || e.code === 'ambiguous_email' || e.code === 'invalid_input') throw new AccessRequestError(e.code, e.field, e.message);
        throw err;
      }
      const field = body.accountId !== undefined ? 'accountId' : 'email';
      if (!resolved.live) throw new AccessRequestError('account_not_found', field, `no account has this ${field === 'accountId' ? 'id' : 'email'}`);
      const accountId = resolved.accountId;
      // Its data is being deleted: a copy would be made of what is going away, and then deleted with it.
      const refuse = (id: string) => new AccessRequestError('deletion_in_progress', field, `the account is being deleted (deletion request ${id}): no copy can be made`);
      const before = await deletionUnderWay({ db, temporal }, accountId);
      if (before) throw refuse(before);
      // One open request per account: a second joins the first.
      const open = await db('lethe.access_requests').where({ account_id: accountId }).whereIn('status', GATHERING).orderBy('created_at').first();
      if (open) return { ...(await view(open)), existing: true };

      const requestId = randomUUID();
      const input: AccessInput = {
        requestId,
        accountId,
        channel: body.channel,
        receivedAt: receivedAt.toISOString(),
        deadlineAt: new Date(receivedAt.getTime() + config.deletion.deadlineHours * HOUR_MS).toISOString(),
        ...(body.requestedBy ? { requestedBy: body.requestedBy } : {}),
        blockPolicy: config.deletion.blockPolicy ?? BLOCK_POLICY,
        linkTtlMs: access.linkTtlMs,
        partBytes: access.partBytes,
      };
      // The folder is recorded before anything can be written there: a deletion of the account
      // that starts from here on finds this request, and what it may leave (cancelAccessExports).
      await db('lethe.access_requests').insert({
        request_id: requestId,
        account_id: accountId,
        channel: body.channel,
        received_at: input.receivedAt,
        deadline_at: input.deadlineAt,
        requested_by: body.requestedBy ?? null,
        status: 'pending',
        archive_prefix: archivePrefix(requestId),
      });
      // A deletion that started between the first look and the row: refused, nothing started.
      const between = await deletionUnderWay({ db, temporal }, accountId).catch(async (err: unknown) => {
        await db('lethe.access_requests').where({ request_id: requestId }).del();
        throw err;
      });
      if (between) {
        await db('lethe.access_requests').where({ request_id: requestId }).del();
        throw refuse(between);
      }
      await startRun(input);
      // A deletion whose intake looked for this account's requests before the run existed had
      // no run to tell: looked at once more now that it does, and the run told if so.
      if (await deletionUnderWay({ db, temporal }, accountId).catch(() => undefined)) await tellDeleted(requestId);
      return {
        ...(await view({ request_id: requestId, account_id: accountId, channel: body.channel, received_at: input.receivedAt, deadline_at: input.deadlineAt, status: 'pending' })),
        existing: false,
      };
    },

    /**
     * An operator's retry (CONTRACT §5's semantics, for access): a request still gathering or
     * writing tries its failing stores now; a failed one (its run failed, or was terminated) is
     * started again as a new run of the same request, which gathers everything afresh. A request
     * whose archive is ready, expired or cancelled has nothing to retry (409); nor has one whose
     * account is being deleted. Recorded in lethe.operator_actions with who asked.
     */
    async retry(requestId: string, by: string): Promise<{ view: AccessView; actionId: string; outcome: 'signalled' | 'resumed' }> {
      const row = isUuid(requestId) ? await db('lethe.access_requests').where({ request_id: requestId.toLowerCase() }).first() : undefined;
      if (!row) throw new AccessRequestError('not_found', undefined, `no access request has id ${requestId}`);
      const status = row.status as AccessStatus;
      const id = row.request_id as string;
      if (!GATHERING.includes(status) && status !== 'failed') throw new AccessRequestError('conflict', undefined, `access request ${id} is ${status}: there is nothing to retry`);
      const actionId = randomUUID();
      const running = await runIsRunning(id);
      if (running) {
        await db('lethe.operator_actions').insert({ action_id: actionId, request_id: id, action: 'retry', by });
        await temporal.workflow.getHandle(accessWorkflowId(id)).signal(accessRetrySignal);
        return { view: (await this.get(id))!, actionId, outcome: 'signalled' };
      }
      const accountId = row.account_id as string;
      if (!(await db('accounts').where({ id: accountId }).first('id'))) throw new AccessRequestError('conflict', undefined, `account ${accountId} no longer exists: there is nothing to copy`);
      const deleting = await deletionUnderWay({ db, temporal }, accountId);
      if (deleting) throw new AccessRequestError('deletion_in_progress', undefined, `the account is being deleted (deletion request ${deleting}): no copy can be made`);
      await db('lethe.operator_actions').insert({ action_id: actionId, request_id: id, action: 'retry', by });
      await db('lethe.access_requests')
        .where({ request_id: id })
        .update({
          status: 'pending',
          completed_at: null,
          archive_parts: null,
          archive_bytes: null,
          archive_expires_at: null,
          archive_deleted_at: null,
          counts: null,
          archive_prefix: archivePrefix(id),
        });
      await startRun({
        requestId: id,
        accountId,
        channel: row.channel as string,
        receivedAt: new Date(row.received_at as string).toISOString(),
        deadlineAt: new Date(row.deadline_at as string).toISOString(),
        ...(row.requested_by ? { requestedBy: row.requested_by as string } : {}),
        blockPolicy: config.deletion.blockPolicy ?? BLOCK_POLICY,
        linkTtlMs: access.linkTtlMs,
        partBytes: access.partBytes,
      });
      return { view: (await this.get(id))!, actionId, outcome: 'resumed' };
    },

    async get(requestId: string): Promise<AccessView | null> {
      const row = await db('lethe.access_requests').where({ request_id: requestId.toLowerCase() }).first();
      return row ? view(row) : null;
    },
  };
}

export type AccessService = ReturnType<typeof createAccessService>;

/**
 * A deletion of the account is starting: every access request still open (gathering, or its
 * archive waiting for download) is told, and deletes its archive at once (workflows/access.ts).
 * A request whose run has ended (failed, terminated) while its folder in the archive container
 * (`archive_prefix`) was not yet emptied gets a run of its own that only empties it. Answers how
 * many were told or started.
 */
export async function cancelAccessExports(deps: { db: Knex; temporal: Client }, accountId: string): Promise<number> {
  const rows: { request_id: string; status: AccessStatus; channel: string; received_at: Date; deadline_at: Date }[] = await deps
    .db('lethe.access_requests')
    .where({ account_id: accountId.toLowerCase() })
    .where((q) => void q.whereIn('status', OPEN).orWhere((w) => void w.whereNotNull('archive_prefix').whereNull('archive_deleted_at')))
    .select('request_id', 'status', 'channel', 'received_at', 'deadline_at');
  let told = 0;
  for (const r of rows) {
    const handle = deps.temporal.workflow.getHandle(accessWorkflowId(r.request_id));
    let running = false;
    let taskQueue: string | undefined;
    try {
      const d = await handle.describe();
      running = d.status.name === 'RUNNING';
      taskQueue = d.taskQueue;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    if (running) {
      await handle.signal(accessAccountDeletedSignal);
      told++;
      continue;
    }
    // Filed a moment ago, its run not started yet: the filing looks again once it has (file above).
    if (r.status === 'pending') continue;
    // On the queue of the run that wrote it (its history gone: nothing is known to remain).
    if (!taskQueue) continue;
    const input: AccessInput = {
      requestId: r.request_id,
      accountId: accountId.toLowerCase(),
      channel: r.channel,
      receivedAt: new Date(r.received_at).toISOString(),
      deadlineAt: new Date(r.deadline_at).toISOString(),
      blockPolicy: BLOCK_POLICY,
      linkTtlMs: 0,
      partBytes: 0,
      purgeOnly: true,
    };
    try {
      await deps.temporal.workflow.start(accessRequestWorkflow, { taskQueue, workflowId: accessWorkflowId(r.request_id), args: [input], memo: { requestId: r.request_id } });
      told++;
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }
  return told;
}
