/**
 * Correction requests (CONTRACT §8, docs/correction.md), the client side: filing one (checked,
 * sealed, one workflow started), reading it back, an operator's retry, and the person's
 * confirmation of a new email address through the link mailed to it.
 *
 * Refused when filed, each with a clear error and before anything is written: an unknown
 * account (404), a deleted one (410), one under a legal hold or being deleted (409), and a new
 * email that another account holds in any letter case (409 naming that account by id, never
 * its address). The workflow checks all of it again before each store changes.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { requireKeyRing } from '../config';
import { getFieldCipher, type FieldCipher } from '../encryption';
import { isHeld } from '../stores/holds';
import { caseTwinsOf } from '../stores/subjects';
import { tokenHash } from '../stores/verifications';
import {
  correctionContext,
  correctionEmailConfirmedSignal,
  correctionProgressQuery,
  correctionRetrySignal,
  correctionWorkflowId,
  CORRECTION_FIELDS,
  type CorrectionField,
  type CorrectionInput,
  type CorrectionProgress,
  type CorrectionReceipt,
  type CorrectionStatus,
} from '../contract/correction';
import { accountCorrectionWorkflow } from '../workflows/correction';
import { FINISHED_STATUSES } from '../contract';
import { ApiError } from './api/errors';

export type CorrectionChanges = Partial<Record<CorrectionField, string | null>>;

export interface CorrectionRequestBody {
  accountId: string;
  changes: CorrectionChanges;
  channel: string;
  requestedBy?: string;
}

export interface CorrectionView {
  requestId: string;
  accountId: string;
  channel: string;
  status: CorrectionStatus;
  /** The fields asked for, by name. */
  fields: CorrectionField[];
  receivedAt: string;
  completedAt?: string;
  email?: { status: string; confirmBy?: string };
  stores?: CorrectionProgress['stores'];
  blocked?: { store: string; reason: string; since: string }[];
  reason?: string;
  receipt?: CorrectionReceipt;
}

/** Why a confirmation link does not confirm: each answers its own page. */
export class CorrectionLinkError extends Error {
  constructor(
    readonly problem: 'invalid' | 'expired' | 'used',
    message: string,
  ) {
    super(message);
    this.name = 'CorrectionLinkError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TOKEN = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/;
/** Recurly's limits (api.yaml `Address`: street1/street2 50; `AccountUpdate`: names and email 255) bound every store's. */
const MAX_LENGTH: Record<CorrectionField, number> = {
  full_name: 255,
  phone: 16,
  email: 255,
  address_line1: 50,
  address_line2: 50,
  city: 255,
  region: 255,
  postal_code: 20,
  country: 2,
};
/** May be cleared (null): the columns a person may have no value in. */
const CLEARABLE: readonly CorrectionField[] = ['phone', 'address_line2', 'region'];

/**
 * The changes as they will be applied, or a 400 naming the field: text trimmed, a phone in
 * E.164 (what Auth0 takes, "following the E.164 recommendation"; spaces, dashes, dots and
 * brackets dropped), a country as its ISO 3166-1 alpha-2 code (Recurly's `Address.country`).
 */
export function normaliseChanges(changes: Record<string, unknown>, emailPattern: RegExp): CorrectionChanges {
  const out: CorrectionChanges = {};
  const bad = (field: string, message: string) => new ApiError(400, 'invalid_input', `body/changes/${field} ${message}`, `body/changes/${field}`);
  const names = Object.keys(changes);
  if (names.length === 0) throw new ApiError(400, 'invalid_input', 'body/changes must name at least one field to correct', 'body/changes');
  for (const field of names) {
    if (!(CORRECTION_FIELDS as readonly string[]).includes(field)) throw bad(field, `is not a field a correction changes (one of ${CORRECTION_FIELDS.join(', ')})`);
    const f = field as CorrectionField;
    const raw = changes[f];
    if (raw === null) {
      if (!CLEARABLE.includes(f)) throw bad(f, `may not be cleared (only ${CLEARABLE.join(', ')} may be null)`);
      out[f] = null;
      continue;
    }
    if (typeof raw !== 'string') throw bad(f, 'must be a string');
    let v = raw.trim();
    if (v === '') throw bad(f, `must not be empty${CLEARABLE.includes(f) ? ' (null clears it)' : ''}`);
    // eslint-disable-next-line no-control-regex -- control characters are what this refuses (PostgreSQL refuses NUL; no name holds one)
    if (/[\u0000-\u001f\u007f]/.test(v)) throw bad(f, 'must not hold control characters');
    if (f === 'phone') {
      v = v.replace(/[\s().-]/g, '');
      if (!/^\+[1-9][0-9]{6,14}$/.test(v)) throw bad(f, 'must be an international number: + and the country code, then 7 to 15 digits in all (E.164)');
    }
    if (f === 'email' && !emailPattern.test(v)) throw bad(f, 'must be an email address like name@example.com');
    if (f === 'country') {
      if (!/^[A-Za-z]{2}$/.test(v)) throw bad(f, 'must be a two-letter ISO 3166-1 country code, like PT');
      v = v.toUpperCase();
    }
    if (v.length > MAX_LENGTH[f]) throw bad(f, `must be at most ${MAX_LENGTH[f]} characters`);
    out[f] = v;
  }
  return out;
}

export function createCorrectionService(deps: { config: Pick<Config, 'frontDoor' | 'temporal' | 'encryption' | 'stateDir' | 'deletion'>; db: Knex; temporal: Client; fields?: FieldCipher }) {
  const { config, db, temporal } = deps;
  let cipher = deps.fields;
  const fields = () => (cipher ??= getFieldCipher(() => requireKeyRing(config)));
  const row = (requestId: string) => db('lethe.correction_requests').where({ request_id: requestId.toLowerCase() });

  /** The account may be corrected now, or the error that says why not. */
  async function refuseIfNeeded(accountId: string): Promise<void> {
    const account = await db('accounts').where({ id: accountId }).first('id');
    const frozen = await db('lethe.frozen_accounts').where({ account_id: accountId }).first('state', 'request_id');
    if (!account || frozen?.state === 'deleted') {
      const deleted = frozen ?? (await db('lethe.receipts').where({ account_id: accountId }).first('request_id'));
      if (deleted) throw new ApiError(410, 'account_deleted', `account ${accountId} was deleted (request ${deleted.request_id}): there is nothing left to correct`, 'body/accountId');
      throw new ApiError(404, 'account_not_found', `body/accountId: no account ${accountId}`, 'body/accountId');
    }
    if (await isHeld(db, accountId)) {
      throw new ApiError(
        409,
        'account_held',
        `account ${accountId} is under a legal hold: its records are kept as they are until the hold is released; correct it after the release`,
        'body/accountId',
      );
    }
    const open = await db('lethe.deletion_requests').where({ account_id: accountId }).whereNotIn('status', FINISHED_STATUSES).first('request_id');
    if (frozen || open) {
      throw new ApiError(409, 'account_being_deleted', `account ${accountId} is being deleted (request ${open?.request_id ?? frozen.request_id}): it cannot be corrected`, 'body/accountId');
    }
  }

  return {
    async file(body: CorrectionRequestBody, emailPattern: RegExp): Promise<{ requestId: string; accountId: string; status: CorrectionStatus; receivedAt: string; fields: CorrectionField[] }> {
      const accountId = body.accountId.toLowerCase();
      const changes = normaliseChanges(body.changes as Record<string, unknown>, emailPattern);
      await refuseIfNeeded(accountId);
      if (typeof changes.email === 'string') {
        const current = await db('accounts').where({ id: accountId }).first('email');
        if (current?.email === changes.email) throw new ApiError(400, 'invalid_input', 'body/changes/email is already the account’s address', 'body/changes/email');
        const [other] = await caseTwinsOf({ db, fields: fields() }, changes.email, accountId);
        if (other) {
          throw new ApiError(
            409,
            'email_taken',
            `body/changes/email: another account (${other}) holds this address in some letter case; two accounts must never share an address, so it is applied nowhere`,
            'body/changes/email',
          );
        }
      }
      const requestId = randomUUID();
      const now = new Date();
      const names = Object.keys(changes) as CorrectionField[];
      const emailExpiresAt = typeof changes.email === 'string' ? new Date(now.getTime() + config.frontDoor.verificationTtlMs) : undefined;
      await db('lethe.correction_requests').insert({
        request_id: requestId,
        account_id: accountId,
        channel: body.channel,
        requested_by: body.requestedBy ?? null,
        fields: JSON.stringify(names),
        changes_sealed: fields().seal(JSON.stringify(changes), correctionContext(requestId, 'changes')),
        status: 'pending',
        email_expires_at: emailExpiresAt ?? null,
        received_at: now,
      });
      const input: CorrectionInput = {
        requestId,
        accountId,
        fields: names,
        ...(emailExpiresAt ? { emailExpiresAt: emailExpiresAt.toISOString() } : {}),
        blockPolicy: config.deletion.blockPolicy,
      };
      try {
        await temporal.workflow.start(accountCorrectionWorkflow, { taskQueue: config.temporal.taskQueue, workflowId: correctionWorkflowId(requestId), args: [input] });
      } catch (err) {
        // Nothing was started: the values do not stay behind.
        await row(requestId).update({ status: 'failed', reason: 'the workflow could not be started', changes_sealed: null, completed_at: db.fn.now() });
        throw err;
      }
      return { requestId, accountId, status: 'pending', receivedAt: now.toISOString(), fields: names };
    },

    async view(requestId: string): Promise<CorrectionView | undefined> {
      if (!UUID.test(requestId.toLowerCase())) return undefined;
      const r = await row(requestId).first();
      if (!r) return undefined;
      const base = rowView(r, true);
      if (['completed', 'refused', 'failed'].includes(r.status)) return base;
      // Running: the workflow's progress says where each store stands.
      try {
        const p = await temporal.workflow.getHandle(correctionWorkflowId(requestId)).query(correctionProgressQuery);
        const blocked = p.stores.filter((s) => s.status === 'blocked').map((s) => ({ store: s.store, reason: s.detail ?? 'failing', since: s.since ?? base.receivedAt }));
        return {
          ...base,
          status: p.status === 'pending' ? base.status : p.status,
          stores: p.stores,
          ...(p.email ? { email: { status: p.email, ...(p.email === 'awaiting_confirmation' && r.email_expires_at ? { confirmBy: new Date(r.email_expires_at).toISOString() } : {}) } } : {}),
          ...(p.reason ? { reason: p.reason } : {}),
          ...(p.receipt ? { receipt: p.receipt } : {}),
          ...(blocked.length ? { blocked } : {}),
        };
      } catch {
        // No run (not started yet, or gone) or Temporal away: the table's word is still an answer.
        return base;
      }
    },

    /** Newest first, from Lethe's table (never a Temporal call per row), by status and account. */
    async list(q: { status?: CorrectionStatus; accountId?: string; limit?: number }): Promise<CorrectionView[]> {
      const query = db('lethe.correction_requests')
        .orderBy('received_at', 'desc')
        .limit(Math.min(Math.max(q.limit ?? 100, 1), 1000));
      if (q.status) query.where({ status: q.status });
      if (q.accountId) query.where({ account_id: q.accountId.toLowerCase() });
      const rows = await query;
      return rows.map((r) => rowView(r, false));
    },

    /** An operator's retry: every failing store of a running request is tried again now. */
    async retry(requestId: string): Promise<CorrectionView | undefined> {
      const v = await this.view(requestId);
      if (!v) return undefined;
      if (['completed', 'refused', 'failed'].includes(v.status)) throw new ApiError(409, 'conflict', `correction request ${v.requestId} has ended (${v.status}): nothing to retry`, 'params/requestId');
      await temporal.workflow.getHandle(correctionWorkflowId(v.requestId)).signal(correctionRetrySignal);
      return v;
    },

    /** What the link's page shows: whether it would confirm. Changes nothing. */
    async inspectLink(token: string): Promise<{ requestId: string; expiresAt: string }> {
      const r = await lookup(token);
      return { requestId: r.request_id, expiresAt: new Date(r.email_expires_at).toISOString() };
    },

    /**
     * The person's confirmation of the new address: the link works once, before its expiry,
     * and the waiting workflow is told; the address is applied there, to every store.
     */
    async confirmLink(token: string): Promise<{ requestId: string; accountId: string }> {
      const r = await lookup(token);
      const now = new Date();
      const n = await row(r.request_id)
        .where({ email_status: 'awaiting_confirmation', email_token_hash: r.email_token_hash })
        .where('email_expires_at', '>', now)
        // The hash stays: a second click is then told the link was used only if it holds the secret.
        .update({ email_status: 'confirmed', email_confirmed_at: now, status: 'running', updated_at: now });
      if (n !== 1) throw new CorrectionLinkError('used', 'this link was already used, or has just expired');
      await temporal.workflow.getHandle(correctionWorkflowId(r.request_id)).signal(correctionEmailConfirmedSignal);
      return { requestId: r.request_id, accountId: r.account_id };
    },
  };

  async function lookup(token: string): Promise<{ request_id: string; account_id: string; email_expires_at: Date; email_token_hash: string }> {
    const m = TOKEN.exec(token.trim());
    if (!m || !UUID.test(m[1])) throw new CorrectionLinkError('invalid', 'this link is not complete or not valid; open it again from the mail');
    const r = await row(m[1]).first('request_id', 'account_id', 'email_status', 'email_expires_at', 'email_token_hash', 'email_confirmed_at');
    const hash = tokenHash(m[2]);
    // The secret first: without it, a request id alone must not tell whether its address was confirmed.
    if (!r || r.email_token_hash !== hash) throw new CorrectionLinkError('invalid', 'this link is not valid; open it again from the mail');
    if ((r.email_status === 'confirmed' || r.email_status === 'applied') && r.email_confirmed_at) throw new CorrectionLinkError('used', 'this address was already confirmed');
    if (r.email_status !== 'awaiting_confirmation' || new Date(r.email_expires_at).getTime() <= Date.now())
      throw new CorrectionLinkError('expired', 'this link has expired; ask our support team again');
    return r;
  }
}

export type CorrectionService = ReturnType<typeof createCorrectionService>;

/**
 * A request's row as the API shows it, values never included; `confirmBy` (when a new address
 * waits for its link) only where one request is read.
 */
function rowView(r: CorrectionRow, withConfirmBy: boolean): CorrectionView {
  const confirmBy = withConfirmBy && r.email_status === 'awaiting_confirmation' && r.email_expires_at ? { confirmBy: new Date(r.email_expires_at).toISOString() } : {};
  return {
    requestId: r.request_id,
    accountId: r.account_id,
    channel: r.channel,
    status: r.status,
    fields: r.fields,
    receivedAt: new Date(r.received_at).toISOString(),
    ...(r.completed_at ? { completedAt: new Date(r.completed_at).toISOString() } : {}),
    ...(r.email_status ? { email: { status: r.email_status, ...confirmBy } } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.receipt ? { receipt: r.receipt } : {}),
  };
}

/** The columns of lethe.correction_requests a view shows (migration 015). */
interface CorrectionRow {
  request_id: string;
  account_id: string;
  channel: CorrectionView['channel'];
  status: CorrectionStatus;
  fields: CorrectionField[];
  received_at: Date | string;
  completed_at: Date | string | null;
  email_status: NonNullable<CorrectionView['email']>['status'] | null;
  email_expires_at: Date | string | null;
  reason: string | null;
  receipt: CorrectionReceipt | null;
}
