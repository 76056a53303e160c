/**
 * Access requests (CONTRACT §8, docs/access.md): filing one (the API, the CLI through the API)
 * and reading it back; and the hook by which a deletion of the account deletes any archive
 * still waiting (client/intake.ts calls `cancelAccessExports` when a deletion starts).
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
import { accessAccountDeletedSignal, accessProgressQuery, accessRequestWorkflow, accessWorkflowId } from '../workflows/access';
import type { AccessInput, AccessProgress, AccessStatus } from '../activities/access/types';
import { EMAIL_PATTERN, identifierSchema, strictAjv, describeViolation, uuidSchema } from './validation';

export interface AccessRequestBody {
  accountId?: string;
  email?: string;
  channel: RequestChannel;
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
    readonly code: 'invalid_input' | 'account_not_found' | 'ambiguous_email' | 'deletion_in_progress' | 'not_found',
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'AccessRequestError';
  }
}

export interface AccessView {
  requestId: string;
  accountId: string;
  channel: string;
  status: AccessStatus;
  receivedAt: string;
  deadlineAt: string;
  overdue: boolean;
  completedAt?: string;
  requestedBy?: string;
  stores?: AccessProgress['stores'];
  blocked?: AccessProgress['blocked'];
  /** Parts, size and expiry; never a link (the links go to the account's address only). */
  archive?: { parts: number; bytes: number; expiresAt: string; deletedAt?: string };
  /** Per store, what was gathered, as counts: no personal data. */
  receipt?: { counts: Record<string, Record<string, number>> };
}

const HOUR_MS = 3_600_000;
const CLOCK_SKEW_MS = 60_000;
const OPEN: AccessStatus[] = ['pending', 'running', 'blocked', 'ready'];

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
    const done = v.completedAt ? Date.parse(v.completedAt) : Date.now();
    v.overdue = done > Date.parse(v.deadlineAt) && status !== 'cancelled';
    if (status === 'pending' || status === 'running' || status === 'blocked') {
      // The live progress (each store, what blocks it) from the workflow while it gathers.
      const p = await temporal.withDeadline(Date.now() + 5_000, () => temporal.workflow.getHandle(accessWorkflowId(v.requestId)).query(accessProgressQuery)).catch(() => undefined);
      if (p) Object.assign(v, { status: p.status === 'ready' ? v.status : p.status, stores: p.stores, overdue: p.overdue || v.overdue, ...(p.blocked ? { blocked: p.blocked } : {}) });
    }
    return v;
  }

  return {
    async file(body: AccessRequestBody): Promise<AccessView & { existing: boolean }> {
      if (!validate(body)) {
        const d = describeViolation(validate.errors![0], 'body', body);
        throw new AccessRequestError('invalid_input', (d.field ?? 'body').replace(/^body\//, ''), d.message.replace(/^body\//, ''));
      }
      const now = new Date();
      const receivedAt = body.receivedAt === undefined ? now : new Date(body.receivedAt);
      if (receivedAt.getTime() > now.getTime() + CLOCK_SKEW_MS) throw new AccessRequestError('invalid_input', 'receivedAt', 'receivedAt is in the future');
      let resolved: { accountId: string; live: boolean };
      try {
        resolved = await deps.resolve(body);
      } catch (err) {
        const e = err as { code?: string; field?: string; message: string };
        if (e.code === 'account_not_found' || e.code === 'ambiguous_email' || e.code === 'invalid_input') throw new AccessRequestError(e.code, e.field, e.message);
        throw err;
      }
      const field = body.accountId !== undefined ? 'accountId' : 'email';
      if (!resolved.live) throw new AccessRequestError('account_not_found', field, `no account has this ${field === 'accountId' ? 'id' : 'email'}`);
      const accountId = resolved.accountId;
      // Its data is being deleted: a copy would be made of what is going away, and then deleted with it.
      const deleting = await db('lethe.deletion_requests').where({ account_id: accountId }).whereIn('status', ['pending', 'running', 'blocked']).first('request_id');
      if (deleting) throw new AccessRequestError('deletion_in_progress', field, `the account is being deleted (deletion request ${deleting.request_id as string}): no copy can be made`);
      // One open request per account: a second joins the first.
      const open = await db('lethe.access_requests').where({ account_id: accountId }).whereIn('status', ['pending', 'running', 'blocked']).orderBy('created_at').first();
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
      await db('lethe.access_requests').insert({
        request_id: requestId,
        account_id: accountId,
        channel: body.channel,
        received_at: input.receivedAt,
        deadline_at: input.deadlineAt,
        requested_by: body.requestedBy ?? null,
        status: 'pending',
      });
      try {
        await temporal.withDeadline(Date.now() + 20_000, () =>
          temporal.workflow.start(accessRequestWorkflow, { taskQueue: config.temporal.taskQueue, workflowId: accessWorkflowId(requestId), args: [input], memo: { requestId } }),
        );
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) {
          await db('lethe.access_requests').where({ request_id: requestId }).del();
          throw err;
        }
      }
      return {
        ...(await view({ request_id: requestId, account_id: accountId, channel: body.channel, received_at: input.receivedAt, deadline_at: input.deadlineAt, status: 'pending' })),
        existing: false,
      };
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
 * Answers how many were told. A request whose run is gone has nothing running to write one.
 */
export async function cancelAccessExports(deps: { db: Knex; temporal: Client }, accountId: string): Promise<number> {
  const rows: { request_id: string }[] = await deps.db('lethe.access_requests').where({ account_id: accountId.toLowerCase() }).whereIn('status', OPEN).select('request_id');
  let told = 0;
  for (const r of rows) {
    try {
      await deps.temporal.workflow.getHandle(accessWorkflowId(r.request_id)).signal(accessAccountDeletedSignal);
      told++;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return told;
}
