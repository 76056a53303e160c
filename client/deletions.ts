/**
 * Starting deletions and reading their status: the one path every channel takes (the API,
 * the CLI, the inactivity sweep), so each gets the same idempotency and deadline rules.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Config } from '../config';
import type { Channel, DeletionInput } from '../activities/deletion/types';
import { CHANNELS } from '../activities/deletion/types';
import {
  accountDeletionWorkflow,
  additionalRequestSignal,
  deletionWorkflowId,
  progressQuery,
  DeletionProgress,
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
    if (typeof req.email !== 'string' || !req.email.includes('@') || req.email.length > 320) {
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
        await temporal.workflow.start(accountDeletionWorkflow, {
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
        });
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
  };
}

export type DeletionService = ReturnType<typeof createDeletionService>;
