/**
 * Filing deletion requests: the one path every channel takes (the API, the CLI through the
 * API, the inactivity sweep through the worker), so each gets the same validation,
 * idempotency and deadline rules. Reading requests back is client/requests.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Config } from '../config';
import {
  additionalRequestSignal,
  deletionWorkflowId,
  legalHoldSignal,
  isUuid,
  LetheAccountId,
  LetheChannel,
  LetheDeadline,
  LetheDeadlineWarning,
  LetheOverdue,
  LetheStatus,
  progressQuery,
  deletionPriorityKey,
  type Channel,
  type DeletionInput,
} from '../contract';
import { accountDeletionWorkflow } from '../workflows/deletion';
import { checkDeletionRequest, type DeletionRequestBody } from './validation';
import { getFieldCipher, type FieldCipher } from '../encryption';
import { requireKeyRing } from '../config';
import { emailCandidates } from '../stores/subjects';
import { firstTaskCompleted } from './temporal';
import { isHeld } from '../stores/holds';
import { deliver } from '../mail/deliver';
import { createMailer, type Mailer } from '../mail/transport';
import { deletionHeldMail } from '../mail/templates';
import { cancelAccessExports } from './access';

/** A request Lethe refuses: `code` is the API's error code, `field` the offending field. */
export class DeletionRequestError extends Error {
  constructor(
    readonly code: 'invalid_input' | 'account_not_found' | 'ambiguous_email',
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'DeletionRequestError';
  }
}

export type DeletionRequest = DeletionRequestBody;

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

/** A little clock skew between a caller and us is not "the future". */
const CLOCK_SKEW_MS = 60_000;
/** Bounded, so an unreachable Temporal is an answer (503) within an HTTP request's patience. */
const START_DEADLINE_MS = 20_000;
const HOUR_MS = 3_600_000;

export function createIntake(deps: { config: Pick<Config, 'deletion' | 'temporal' | 'encryption' | 'stateDir' | 'mail'>; db: Knex; temporal: Client; mailer?: Mailer }) {
  const { config, db, temporal } = deps;
  // Only a request for a held account mails from here (the deletion's own notices are the worker's).
  let mailer: Mailer | undefined = deps.mailer;
  // The payload keys, read on the first request by email (its candidates include captured subjects).
  let fields: FieldCipher | undefined;

  /**
   * The account a request names: by id, or by an email that names exactly one account in any
   * letter case, counting accounts whose deletion is under way or completed within
   * LETHE_TWIN_GUARD_DAYS (CONTRACT §2). `Bob@x` and `bob@x` may be two people: once Bob@x's
   * deletion removed its row, a repeat "delete Bob@x" would otherwise match only bob@x and
   * delete the wrong person. An ambiguous email is refused (409), never guessed; staff file by id.
   */
  async function resolveAccount(req: DeletionRequest): Promise<{ accountId: string; live: boolean }> {
    if (req.accountId !== undefined) {
      const id = req.accountId.toLowerCase();
      const row = await db('accounts').where({ id }).first('id');
      return { accountId: id, live: !!row };
    }
    const found = await emailCandidates({ db, fields: (fields ??= getFieldCipher(() => requireKeyRing(config))) }, String(req.email), config.deletion.twinGuardDays);
    const ids = [...new Set([...found.live, ...found.captured, ...found.recentlyDeleted])].sort();
    if (ids.length === 0) throw new DeletionRequestError('account_not_found', 'email', 'no account has this email');
    if (ids.length > 1) {
      throw new DeletionRequestError(
        'ambiguous_email',
        'email',
        `this email names ${ids.length} accounts when letter case is ignored (${ids.join(', ')}: live, being deleted, or deleted in the last ${config.deletion.twinGuardDays} days); Lethe never guesses which: file the request by accountId`,
      );
    }
    return { accountId: ids[0], live: found.live.includes(ids[0]) };
  }

  /** Starts the account's deletion, or joins the one under way (one execution per account). */
  async function startOrJoin(
    accountId: string,
    channel: Channel,
    receivedAt: Date,
    extra: Pick<DeletionInput, 'requestedBy' | 'selectedAt' | 'firstContactAt'> & { requestId?: string },
  ): Promise<StartedDeletion> {
    const { requestId, ...rest } = extra;
    return startInput({
      requestId: requestId ?? randomUUID(),
      accountId,
      channel,
      receivedAt: receivedAt.toISOString(),
      deadlineAt: new Date(receivedAt.getTime() + config.deletion.deadlineHours * HOUR_MS).toISOString(),
      warningAt: new Date(receivedAt.getTime() + config.deletion.warningHours * HOUR_MS).toISOString(),
      blockPolicy: config.deletion.blockPolicy,
      ...rest,
    });
  }

  async function startInput(input: DeletionInput): Promise<StartedDeletion> {
    const { accountId, channel } = input;
    const workflowId = deletionWorkflowId(accountId);
    try {
      // Retrying is safe: the workflow id makes the start idempotent.
      await temporal.withDeadline(Date.now() + START_DEADLINE_MS, () =>
        temporal.workflow.start(accountDeletionWorkflow, {
          taskQueue: config.temporal.taskQueue,
          workflowId,
          args: [input],
          // Requests from every channel for one account meet in one execution.
          workflowIdConflictPolicy: 'FAIL',
          // People's requests ahead of the sweep's on every queue (contract DELETION_PRIORITY).
          priority: { priorityKey: deletionPriorityKey(channel) },
          memo: { requestId: input.requestId },
          typedSearchAttributes: new TypedSearchAttributes([
            { key: LetheAccountId, value: accountId },
            { key: LetheStatus, value: 'pending' },
            { key: LetheChannel, value: channel },
            { key: LetheDeadline, value: new Date(input.deadlineAt) },
            { key: LetheDeadlineWarning, value: false },
            { key: LetheOverdue, value: false },
          ]),
        }),
      );
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      return join(input);
    }
    await recordRequest(input, 'pending');
    // Any access archive of the account still waiting is the person's data too: deleted now
    // (client/access.ts). Never holds up the deletion: a request it misses ends when its gathering
    // finds the account gone, or at its link's expiry.
    await cancelAccessExports({ db, temporal }, accountId).catch(() => undefined);
    return { requestId: input.requestId, accountId, workflowId, status: 'pending', receivedAt: input.receivedAt, deadlineAt: input.deadlineAt, existing: false };
  }

  /** Another channel's request for an account whose deletion runs: signal it, answer its request. */
  async function join(input: DeletionInput): Promise<StartedDeletion> {
    const workflowId = deletionWorkflowId(input.accountId);
    const handle = temporal.workflow.getHandle(workflowId);
    await handle.signal(additionalRequestSignal, { channel: input.channel, receivedAt: input.receivedAt, requestedBy: input.requestedBy });
    // The memo is there from the start. The progress is asked only of a run past its first
    // workflow task (firstTaskCompleted says why); before, the memo and this request answer.
    const desc = await handle.describe();
    const memo = desc.memo as { requestId?: string } | undefined;
    const asked = await firstTaskCompleted(temporal, { workflowId, runId: desc.runId }, Number(desc.raw.workflowExecutionInfo?.historyLength ?? 0)).catch(() => false);
    const p = asked ? await temporal.withDeadline(Date.now() + 5_000, () => handle.query(progressQuery)).catch(() => undefined) : undefined;
    const requestId = p?.requestId ?? memo?.requestId ?? '';
    let receivedAt = p?.receivedAt ?? input.receivedAt;
    let deadlineAt = p?.deadlineAt ?? input.deadlineAt;
    if (Date.parse(input.receivedAt) < Date.parse(receivedAt)) {
      receivedAt = input.receivedAt;
      deadlineAt = input.deadlineAt;
    }
    // The signal moved the workflow's deadline when this channel heard of it earlier; the
    // stored request follows here, where the change happens (the read side never writes).
    // An upsert: the first request's own insert may not have landed yet.
    if (requestId) await recordRequest({ ...input, requestId, channel: p?.channel ?? input.channel, receivedAt, deadlineAt }, 'running');
    return { requestId, accountId: input.accountId, workflowId, status: p?.status ?? 'running', receivedAt, deadlineAt, existing: true };
  }

  /**
   * Writes the request row, or moves an existing row's receipt and deadline earlier: whichever
   * of the starting request and a joining one lands first, the earliest deadline wins.
   */
  async function recordRequest(input: DeletionInput, status: 'pending' | 'running'): Promise<void> {
    await db.raw(
      `insert into lethe.deletion_requests (request_id, account_id, channel, received_at, deadline_at, requested_by, status, first_contact_at, verification)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (request_id) do update set
         received_at = least(lethe.deletion_requests.received_at, excluded.received_at),
         deadline_at = least(lethe.deletion_requests.deadline_at, excluded.deadline_at)`,
      [input.requestId, input.accountId, input.channel, input.receivedAt, input.deadlineAt, input.requestedBy ?? null, status, input.firstContactAt ?? null, verificationOf(input)],
    );
  }

  /**
   * A request whose run ended (terminated, failed) before the deletion finished: what Lethe
   * captured at the freeze is still in lethe.deletion_subjects (the account row may be gone),
   * so a new run with the same requestId, receipt time and deadline carries it to the end.
   */
  async function resumable(where: { account_id: string } | { request_id: string }): Promise<DeletionInput | undefined> {
    // A held request never ran: it starts on the hold's release (startReleased), not here.
    const row = await db('lethe.deletion_requests').where(where).whereNotIn('status', ['completed', 'skipped', 'held']).orderBy('created_at', 'desc').first();
    if (!row) return undefined;
    const captured = await db('lethe.deletion_subjects').where({ account_id: row.account_id }).first('account_id');
    const account = await db('accounts').where({ id: row.account_id }).first('id');
    if (!captured && !account) return undefined;
    const receivedAt = new Date(row.received_at);
    const deadlineAt = new Date(row.deadline_at);
    return {
      requestId: row.request_id,
      accountId: row.account_id,
      channel: row.channel as Channel,
      receivedAt: receivedAt.toISOString(),
      deadlineAt: deadlineAt.toISOString(),
      warningAt: new Date(deadlineAt.getTime() - (config.deletion.deadlineHours - config.deletion.warningHours) * HOUR_MS).toISOString(),
      blockPolicy: config.deletion.blockPolicy,
      ...(row.requested_by ? { requestedBy: row.requested_by } : {}),
    };
  }

  /** The request that deleted this account, when Lethe completed one. */
  async function completedRequestFor(accountId: string): Promise<StartedDeletion | undefined> {
    const row = await db('lethe.deletion_requests').where({ account_id: accountId.toLowerCase(), status: 'completed' }).orderBy('completed_at', 'desc').first();
    return row ? existingRequest(row) : undefined;
  }

  /**
   * A request for an account under a legal hold (CONTRACT §7): recorded with status `held`,
   * no workflow started, no store touched, and the person told the deletion is deferred under
   * a legal obligation (GDPR Art. 12(4)). A second request while held joins the first.
   * The stored deadline is a placeholder: the 72 hours count from the release (startReleased).
   */
  async function fileHeld(r: { accountId: string; channel: Channel; receivedAt: Date; requestedBy?: string; requestId?: string; firstContactAt?: string }): Promise<StartedDeletion> {
    const existing = await db('lethe.deletion_requests').where({ account_id: r.accountId, status: 'held' }).orderBy('created_at').first();
    if (existing) return existingRequest(existing);
    const requestId = r.requestId ?? randomUUID();
    const receivedAt = r.receivedAt.toISOString();
    const deadlineAt = new Date(r.receivedAt.getTime() + config.deletion.deadlineHours * HOUR_MS).toISOString();
    await db('lethe.deletion_requests').insert({
      request_id: requestId,
      account_id: r.accountId,
      channel: r.channel,
      received_at: receivedAt,
      deadline_at: deadlineAt,
      requested_by: r.requestedBy ?? null,
      status: 'held',
      first_contact_at: r.firstContactAt ?? null,
      verification: verificationOf(r),
    });
    const account = await db('accounts').where({ id: r.accountId }).first('email');
    if (account?.email) {
      // A mail server away must not lose the request: the row says `retrying`, staff can follow up.
      await deliver(
        { db, mailer: (mailer ??= createMailer(config.mail)) },
        { kind: 'deletion_held', ref: requestId, to: account.email, ...deletionHeldMail({ publicUrl: config.mail.publicUrl, requestId, receivedAt }) },
      ).catch(() => undefined);
    }
    return { requestId, accountId: r.accountId, workflowId: deletionWorkflowId(r.accountId), status: 'held', receivedAt, deadlineAt, existing: false };
  }

  /** The account's deletion run, when one is running now (its request id from the memo). */
  async function runningDeletion(accountId: string) {
    const handle = temporal.workflow.getHandle(deletionWorkflowId(accountId.toLowerCase()));
    const desc = await temporal
      .withDeadline(Date.now() + 5_000, () => handle.describe())
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });
    if (!desc || desc.status.name !== 'RUNNING') return undefined;
    return { handle, requestId: (desc.memo as { requestId?: string } | undefined)?.requestId };
  }

  return {
    /** The account a request names, by the rule above (access requests resolve through it too: client/access.ts). */
    resolveAccount,

    /**
     * A hold was placed: a deletion already running for the account stops every store not yet
     * verified and pauses its clock (the workflow marks its request `held`). The signal carries
     * no hold text. Answers whether a running deletion was held.
     */
    async holdRunning(accountId: string, at: Date): Promise<boolean> {
      const run = await runningDeletion(accountId);
      if (!run) return false;
      await run.handle.signal(legalHoldSignal, { held: true, at: at.toISOString() });
      return true;
    },

    /**
     * A hold was released and the account is under no other: a running deletion held by it goes
     * on, and each held request that never ran starts now, each with a fresh 72 hours from the
     * release (CONTRACT §7); a request's receipt time is kept.
     */
    async startReleased(accountId: string, releasedAt: Date): Promise<StartedDeletion[]> {
      const out: StartedDeletion[] = [];
      const fresh = {
        deadlineAt: new Date(releasedAt.getTime() + config.deletion.deadlineHours * HOUR_MS).toISOString(),
        warningAt: new Date(releasedAt.getTime() + config.deletion.warningHours * HOUR_MS).toISOString(),
      };
      const run = await runningDeletion(accountId);
      if (run) {
        await run.handle.signal(legalHoldSignal, { held: false, at: releasedAt.toISOString(), ...fresh });
        if (run.requestId) {
          await db('lethe.deletion_requests').where({ request_id: run.requestId }).update({ deadline_at: fresh.deadlineAt });
          const row = await db('lethe.deletion_requests').where({ request_id: run.requestId }).first();
          if (row)
            out.push({
              requestId: row.request_id,
              accountId: row.account_id,
              workflowId: deletionWorkflowId(row.account_id),
              status: 'running',
              receivedAt: new Date(row.received_at).toISOString(),
              deadlineAt: fresh.deadlineAt,
              existing: true,
            });
        }
      }
      const rows = await db('lethe.deletion_requests')
        .where({ account_id: accountId.toLowerCase(), status: 'held' })
        .modify((q) => {
          if (run?.requestId) q.whereNot({ request_id: run.requestId });
        })
        .orderBy('created_at');
      for (const row of rows) {
        const deadlineAt = new Date(releasedAt.getTime() + config.deletion.deadlineHours * HOUR_MS).toISOString();
        // The row's deadline first: recordRequest keeps the earlier of two deadlines.
        await db('lethe.deletion_requests').where({ request_id: row.request_id }).update({ deadline_at: deadlineAt, status: 'pending' });
        out.push(
          await startInput({
            requestId: row.request_id,
            accountId: row.account_id,
            channel: row.channel as Channel,
            receivedAt: new Date(row.received_at).toISOString(),
            deadlineAt,
            warningAt: new Date(releasedAt.getTime() + config.deletion.warningHours * HOUR_MS).toISOString(),
            blockPolicy: config.deletion.blockPolicy,
            ...(row.requested_by ? { requestedBy: row.requested_by } : {}),
            ...(row.first_contact_at ? { firstContactAt: new Date(row.first_contact_at).toISOString() } : {}),
          }),
        );
      }
      return out;
    },

    /** A request from a person, through any channel but the sweep's. */
    async start(req: DeletionRequest): Promise<StartedDeletion> {
      const problem = checkDeletionRequest(req);
      if (problem) throw new DeletionRequestError('invalid_input', problem.field.replace(/^body\//, ''), problem.message.replace(/^body\//, ''));
      const now = new Date();
      const receivedAt = req.receivedAt === undefined ? now : new Date(req.receivedAt);
      if (receivedAt.getTime() > now.getTime() + CLOCK_SKEW_MS) throw new DeletionRequestError('invalid_input', 'receivedAt', 'receivedAt is in the future');
      const { accountId, live } = await resolveAccount(req);
      if (!live) {
        // The account row is gone (by email: the one candidate is a deletion under way or
        // recently completed). If Lethe deleted it, the request that did answers; a deletion
        // still running, or begun and stopped half-way, is joined or resumed (same requestId).
        const done = await completedRequestFor(accountId);
        if (done) return done;
        const resume = await resumable({ account_id: accountId });
        if (resume) return startInput(resume);
        throw req.accountId !== undefined
          ? new DeletionRequestError('account_not_found', 'accountId', 'no account has this id')
          : new DeletionRequestError('account_not_found', 'email', 'no account has this email');
      }
      if (await isHeld(db, accountId)) return fileHeld({ accountId, channel: req.channel, receivedAt, requestedBy: req.requestedBy });
      return startOrJoin(accountId, req.channel, receivedAt, { requestedBy: req.requestedBy });
    },

    /**
     * Starts a new run for a request whose run ended before the deletion finished (an
     * operator's retry of a failed or terminated request); undefined when there is nothing to
     * resume (finished, or nothing was captured).
     */
    async resume(requestId: string): Promise<StartedDeletion | undefined> {
      const input = await resumable({ request_id: requestId });
      return input ? startInput(input) : undefined;
    },

    /**
     * A request the person confirmed by mail (client/front-door.ts): its id is the
     * verification's, its 72 hours count from the confirmation, its first contact is kept.
     */
    async startVerified(req: { requestId: string; accountId: string; channel: Channel; confirmedAt: Date; firstContactAt: string; requestedBy?: string }): Promise<StartedDeletion> {
      const row = await db('accounts').where({ id: req.accountId }).first('id');
      if (!row) {
        // Its rows already went with a deletion that is still running (joined) or finished (answered).
        const done = await completedRequestFor(req.accountId);
        if (done) return done;
        const resume = await resumable({ account_id: req.accountId });
        if (resume) return startInput(resume);
        throw new DeletionRequestError('account_not_found', 'accountId', 'the account was deleted since the request was made');
      }
      if (await isHeld(db, req.accountId))
        return fileHeld({ accountId: req.accountId, channel: req.channel, receivedAt: req.confirmedAt, requestedBy: req.requestedBy, requestId: req.requestId, firstContactAt: req.firstContactAt });
      return startOrJoin(req.accountId, req.channel, req.confirmedAt, { requestId: req.requestId, firstContactAt: req.firstContactAt, requestedBy: req.requestedBy });
    },

    /** The account a staff request names (by id or email), for a request that waits for the person's confirmation. */
    async accountFor(req: DeletionRequest): Promise<string> {
      const problem = checkDeletionRequest(req);
      if (problem) throw new DeletionRequestError('invalid_input', problem.field.replace(/^body\//, ''), problem.message.replace(/^body\//, ''));
      const { accountId, live } = await resolveAccount(req);
      if (!live)
        throw new DeletionRequestError(
          'account_not_found',
          req.accountId !== undefined ? 'accountId' : 'email',
          'the account is being deleted or was deleted: file without verification to see that request',
        );
      return accountId;
    },

    /** The inactivity sweep's request: `account_gone` when the account was deleted since it was read. */
    async startInactivity(req: { accountId: string; selectedAt: string; requestedBy: string }): Promise<'started' | 'account_gone' | 'held'> {
      if (!isUuid(req.accountId)) throw new DeletionRequestError('invalid_input', 'accountId', 'accountId must be a UUID');
      const row = await db('accounts').where({ id: req.accountId.toLowerCase() }).first('id');
      if (!row) return 'account_gone';
      // Held since the sweep's page read it (the page's query leaves held accounts out): no request at all.
      if (await isHeld(db, row.id)) return 'held';
      await startOrJoin(row.id, 'inactivity', new Date(), { requestedBy: req.requestedBy, selectedAt: req.selectedAt });
      return 'started';
    },
  };
}

export type Intake = ReturnType<typeof createIntake>;

/** A stored request as the intake answers it: one already filed (completed, or held), joined. */
function existingRequest(row: { request_id: string; account_id: string; status: string; received_at: Date | string; deadline_at: Date | string }): StartedDeletion {
  return {
    requestId: row.request_id,
    accountId: row.account_id,
    workflowId: deletionWorkflowId(row.account_id),
    status: row.status,
    receivedAt: new Date(row.received_at).toISOString(),
    deadlineAt: new Date(row.deadline_at).toISOString(),
    existing: true,
  };
}

/** How the requester was verified (lethe.deletion_requests.verification): a confirmed link, staff vouching, or none (the sweep). */
const verificationOf = (r: { firstContactAt?: string; channel: Channel }): 'email' | 'staff' | null => (r.firstContactAt ? 'email' : r.channel === 'inactivity' ? null : 'staff');
