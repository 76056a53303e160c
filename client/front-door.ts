/**
 * The front door (CONTRACT §6): requests from the person, and staff requests that ask the
 * person to confirm. Every one becomes a row in lethe.verifications and a verification
 * workflow (workflows/verification.ts), which finds the account, mails the link to the address
 * on file, reminds once and expires. The person's confirmation comes back here: the link's
 * secret is checked against its hash, used once, and the request is filed with the confirmation
 * as its receipt time: a deletion through the intake every channel uses, a copy of the data (an
 * access request, `kind: 'access'`) through the access service's own filing (client/access.ts).
 * Both kinds take the same path to the person's mailbox: a copy sends everything about the
 * account to it, so it must be the holder who asks as surely as for a deletion.
 *
 * No account enumeration: `file` does the same work whether or not the address names an
 * account (a row, a workflow start); the lookup happens later, in the workflow's activity.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { requireKeyRing } from '../config';
import { getFieldCipher, type FieldCipher } from '../encryption';
import { emailLookupKey } from '../stores/subjects';
import { verificationConfirmedSignal, verificationWorkflowId, type Channel, type VerificationChannel, type VerificationInput, type VerificationStatus } from '../contract';
import { requestVerificationWorkflow } from '../workflows/verification';
import { tokenHash, verificationContext } from '../stores/verifications';
import type { Intake, StartedDeletion } from './intake';
import { createAccessService, type AccessService } from './access';

/** What a person may ask for at the front door (`type` of `POST /v1/public/requests`; lethe.verifications.kind). */
export const PUBLIC_REQUEST_TYPES = ['deletion', 'access'] as const;
export type PublicRequestType = (typeof PUBLIC_REQUEST_TYPES)[number];

/** What a confirmation started: a deletion (the intake's answer), or an access request. */
export type Confirmed = ({ kind: 'deletion' } & StartedDeletion) | { kind: 'access'; requestId: string; accountId: string; status: string; receivedAt: string; deadlineAt: string; existing: boolean };

/** Why a link does not confirm: each answers its own page. */
export type LinkProblem = 'invalid' | 'expired' | 'used' | 'locked';

export class LinkError extends Error {
  constructor(
    readonly problem: LinkProblem,
    message: string,
    /** The request a used link already confirmed: its reference may be shown to whoever holds the link. */
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'LinkError';
  }
}

export interface VerificationView {
  requestId: string;
  accountId: string | null;
  channel: string;
  status: VerificationStatus;
  firstContactAt: string;
  expiresAt: string | null;
  confirmedAt: string | null;
  /** The deletion the confirmation filed or joined. */
  deletionRequestId: string | null;
}

const NOT_CLAIMED = Symbol('not claimed');

/** A row of lethe.verifications (migrations/lethe/009_front_door.ts). */
interface VerificationRow {
  verification_id: string;
  kind: PublicRequestType;
  channel: string;
  account_id: string;
  status: VerificationStatus;
  requested_by: string | null;
  first_contact_at: Date;
  expires_at: Date;
  request_id: string | null;
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A link's token: `<verificationId>.<43 base64url characters>` (256 bits). */
const TOKEN = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/;

export function createFrontDoor(deps: {
  config: Pick<Config, 'frontDoor' | 'temporal' | 'encryption' | 'stateDir' | 'deletion' | 'access'>;
  db: Knex;
  temporal: Client;
  intake: Intake;
  /** Files a confirmed access request; default the access service over the intake's account rule. */
  access?: Pick<AccessService, 'file'>;
}) {
  const { config, db, temporal, intake } = deps;
  let fields: FieldCipher | undefined;
  const cipher = () => (fields ??= getFieldCipher(() => requireKeyRing(config)));
  let accessService: Pick<AccessService, 'file'> | undefined = deps.access;
  const access = () => (accessService ??= createAccessService({ config, db, temporal, resolve: intake.resolveAccount }));

  async function begin(row: { verificationId: string; kind: PublicRequestType; channel: VerificationChannel; accountId?: string; email?: string; requestedBy?: string }): Promise<VerificationInput> {
    const now = new Date();
    const expiresAt = new Date(now.getTime() + config.frontDoor.verificationTtlMs);
    const input: VerificationInput = {
      verificationId: row.verificationId,
      // The workflow does not read it (the activities read the row's kind), but the history should say what was asked.
      kind: row.kind,
      channel: row.channel,
      firstContactAt: now.toISOString(),
      expiresAt: expiresAt.toISOString(),
      ...(config.frontDoor.reminderBeforeMs > 0 ? { reminderAt: new Date(expiresAt.getTime() - config.frontDoor.reminderBeforeMs).toISOString() } : {}),
    };
    await db('lethe.verifications').insert({
      verification_id: row.verificationId,
      kind: row.kind,
      channel: row.channel,
      account_id: row.accountId ?? null,
      email_sealed: row.email ? cipher().seal(row.email, verificationContext(row.verificationId)) : null,
      email_hash: row.email ? cipher().lookupHash(emailLookupKey(row.email)) : null,
      status: 'received',
      requested_by: row.requestedBy ?? null,
      first_contact_at: now,
      expires_at: expiresAt,
    });
    await temporal.workflow.start(requestVerificationWorkflow, {
      taskQueue: config.temporal.taskQueue,
      workflowId: verificationWorkflowId(row.verificationId),
      args: [input],
    });
    return input;
  }

  /** Parses a link's token and finds its request; wrong secrets count toward the lock. */
  async function lookup(token: string): Promise<{ v: VerificationRow; hash: string; usedAt: Date | null }> {
    const m = TOKEN.exec(token.trim());
    if (!m || !UUID.test(m[1])) throw new LinkError('invalid', 'this link is not complete or not valid; open it again from the mail, or ask again');
    const [, verificationId, secret] = m;
    const hash = tokenHash(secret);
    const v = await db('lethe.verifications').where({ verification_id: verificationId }).first();
    if (!v) throw new LinkError('invalid', 'this link is not valid; open it again from the mail, or ask again');
    const t = await db('lethe.verification_tokens').where({ token_hash: hash, verification_id: verificationId }).first('used_at');
    if (!t) {
      const [after] = await db('lethe.verifications').where({ verification_id: verificationId }).increment('wrong_attempts', 1).returning(['wrong_attempts', 'status']);
      if (after.wrong_attempts >= config.frontDoor.maxWrongAttempts && after.status === 'awaiting_confirmation') {
        await db('lethe.verifications')
          .where({ verification_id: verificationId, status: 'awaiting_confirmation' })
          .update({ status: 'locked', reason: 'too many wrong links', updated_at: db.fn.now() });
      }
      throw new LinkError('invalid', 'this link is not valid; open it again from the mail, or ask again');
    }
    if (v.status === 'confirmed') throw new LinkError('used', 'this request was already confirmed', v.request_id ?? undefined);
    if (v.status === 'locked') throw new LinkError('locked', 'this request was locked after too many wrong links; ask again from the privacy page');
    if (v.status === 'expired' || (v.expires_at && new Date(v.expires_at).getTime() <= Date.now())) throw new LinkError('expired', 'this link has expired; ask again from the privacy page');
    if (v.status !== 'awaiting_confirmation') throw new LinkError('invalid', 'this request cannot be confirmed');
    if (t.used_at) throw new LinkError('used', 'this link was already used', v.request_id ?? undefined);
    return { v, hash, usedAt: t.used_at };
  }

  return {
    /** A public request (the privacy page, the public API, a mail to the privacy address). */
    async file(req: { email: string; channel: 'web' | 'email'; kind?: PublicRequestType }): Promise<{ verificationId: string }> {
      const verificationId = randomUUID();
      await begin({ verificationId, kind: req.kind ?? 'deletion', channel: req.channel, email: req.email });
      return { verificationId };
    },

    /** A staff request with `verification: "email"`: the account is known; the person confirms. */
    async fileForAccount(req: { accountId: string; channel: Channel; requestedBy?: string }): Promise<VerificationView> {
      const verificationId = randomUUID();
      await begin({ verificationId, kind: 'deletion', channel: req.channel as VerificationChannel, accountId: req.accountId, requestedBy: req.requestedBy });
      return (await this.view(verificationId))!;
    },

    /** What `GET /privacy/confirm` shows: whether the link would confirm (it changes nothing but a wrong link's count). */
    async inspect(token: string): Promise<{ verificationId: string; kind: PublicRequestType; expiresAt: string }> {
      const { v } = await lookup(token);
      return { verificationId: v.verification_id, kind: v.kind === 'access' ? 'access' : 'deletion', expiresAt: new Date(v.expires_at).toISOString() };
    },

    /**
     * The person's confirmation: the link is used once, the deletion or the access request filed
     * (or joined) with the confirmation as its receipt time, and the waiting workflow told. If
     * filing fails (Temporal away, the account being deleted), the link is left unused so the
     * person can try again.
     */
    async confirm(token: string): Promise<Confirmed> {
      const { v, hash } = await lookup(token);
      const confirmedAt = new Date();
      const claimed = await db
        .transaction(async (trx) => {
          const used = await trx('lethe.verification_tokens').where({ token_hash: hash }).whereNull('used_at').update({ used_at: confirmedAt });
          const ok = await trx('lethe.verifications')
            .where({ verification_id: v.verification_id, status: 'awaiting_confirmation' })
            .where('expires_at', '>', confirmedAt)
            .update({ status: 'confirmed', confirmed_at: confirmedAt, updated_at: confirmedAt });
          if (used !== 1 || ok !== 1) throw NOT_CLAIMED;
          return true;
        })
        .catch((e) => (e === NOT_CLAIMED ? false : Promise.reject(e)));
      if (!claimed) {
        // Another confirmation, or the expiry, got there first: the lookup now says which.
        await lookup(token);
        throw new LinkError('used', 'this link was already used');
      }
      let started: Confirmed;
      try {
        if (v.kind === 'access') {
          // By the account the verification found (never the typed address again): the access
          // service checks it is live and not being deleted, and joins an open request.
          const filed = await access().file({
            accountId: v.account_id,
            // `web`: the privacy page or public API; `email`: a mail to the privacy address.
            channel: v.channel === 'web' ? 'web' : 'email',
            receivedAt: confirmedAt.toISOString(),
            ...(v.requested_by ? { requestedBy: v.requested_by } : {}),
          });
          started = {
            kind: 'access',
            requestId: filed.requestId,
            accountId: filed.accountId,
            status: filed.status,
            receivedAt: filed.receivedAt,
            deadlineAt: filed.deadlineAt,
            existing: filed.existing,
          };
        } else {
          const deletion = await intake.startVerified({
            requestId: v.verification_id,
            accountId: v.account_id,
            channel: v.channel as Channel,
            confirmedAt,
            firstContactAt: new Date(v.first_contact_at).toISOString(),
            requestedBy: v.requested_by ?? undefined,
          });
          started = { kind: 'deletion', ...deletion };
        }
      } catch (err) {
        await db.transaction(async (trx) => {
          await trx('lethe.verification_tokens').where({ token_hash: hash }).update({ used_at: null });
          await trx('lethe.verifications').where({ verification_id: v.verification_id }).update({ status: 'awaiting_confirmation', confirmed_at: null });
        });
        throw err;
      }
      await db('lethe.verifications').where({ verification_id: v.verification_id }).update({ request_id: started.requestId });
      await temporal.workflow
        .getHandle(verificationWorkflowId(v.verification_id))
        .signal(verificationConfirmedSignal, { requestId: started.requestId })
        // The workflow's expiry reads the database, which already says confirmed.
        .catch(() => undefined);
      return started;
    },

    /**
     * A deletion request that waits (or waited) for the person, by its id; undefined when there is
     * none. An access request's verification is not a deletion and is not answered here.
     */
    async view(verificationId: string): Promise<VerificationView | undefined> {
      if (!UUID.test(verificationId)) return undefined;
      const v = await db('lethe.verifications').where({ verification_id: verificationId, kind: 'deletion' }).first();
      if (!v) return undefined;
      return {
        requestId: v.verification_id,
        accountId: v.account_id,
        channel: v.channel,
        status: v.status === 'received' ? 'awaiting_confirmation' : v.status,
        firstContactAt: new Date(v.first_contact_at).toISOString(),
        expiresAt: v.expires_at ? new Date(v.expires_at).toISOString() : null,
        confirmedAt: v.confirmed_at ? new Date(v.confirmed_at).toISOString() : null,
        deletionRequestId: v.request_id,
      };
    },
  };
}

export type FrontDoor = ReturnType<typeof createFrontDoor>;
