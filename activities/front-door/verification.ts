/**
 * The activities of a request that waits for the person's confirmation (workflows/verification.ts).
 *
 * Who may confirm is whoever reads the account's mailbox: the link goes only to the address on
 * file, never to the address typed into a form or a mail's `From` (both can be anyone's). The
 * link carries the request's id and a 256-bit secret; Lethe keeps only the secret's SHA-256, so
 * neither Temporal's history nor Lethe's tables can confirm anything.
 *
 * The same for both kinds a row can ask for (`kind`: a deletion, or a copy of the data, which is
 * as much a matter of the right person: it sends everything to the mailbox): only the mail's
 * words differ.
 *
 * Refused before any link is sent, and recorded with the reason: an address that names no
 * account, or more than one in any letter case (CONTRACT §2: never guessed), and an account whose
 * address changed within LETHE_ADDRESS_CHANGE_HOLD (a takeover changes the address, then asks).
 */
import type { Knex } from 'knex';
import { log } from '@temporalio/activity';
import type { Config } from '../../config';
import type { FieldCipher } from '../../encryption/fields';
import { emailCandidates } from '../../stores/subjects';
import { confirmLink, newToken, verificationContext, watchAddress } from '../../stores/verifications';
import type { VerificationStatus } from '../../contract';
import { noAccountMail, refusedMail, verificationMail, verificationReminder, type RequestKind } from '../../mail/templates';
import type { Mailer } from '../../mail/transport';
import { deliver } from './deliver';

export type FrontDoorActivityConfig = Pick<Config, 'frontDoor' | 'mail'> & { deletion: Pick<Config['deletion'], 'twinGuardDays'> };

export function createVerificationActivities(deps: { db: Knex; fields: FieldCipher; mailer: () => Mailer; config: FrontDoorActivityConfig }) {
  const { db, fields, config } = deps;
  const row = (verificationId: string) => db('lethe.verifications').where({ verification_id: verificationId });

  /** What the row asks for: the mail and the page say which (a copy goes to this mailbox; a deletion cannot be undone). */
  const kindOf = (v: { kind?: string }): RequestKind => (v.kind === 'access' ? 'access' : 'deletion');

  async function mailLink(v: { verification_id: string; kind: string; channel: string; expires_at: Date }, to: string, reminder: boolean): Promise<void> {
    const { token, hash } = newToken(v.verification_id);
    await db('lethe.verification_tokens').insert({ token_hash: hash, verification_id: v.verification_id });
    const link = confirmLink(config.mail.publicUrl, token);
    const expiresAt = new Date(v.expires_at).toISOString();
    const channel = v.channel === 'web' || v.channel === 'email' ? v.channel : 'staff';
    const mail = reminder
      ? verificationReminder({ link, expiresAt, kind: kindOf(v), publicUrl: config.mail.publicUrl })
      : verificationMail({ link, expiresAt, kind: kindOf(v), channel, publicUrl: config.mail.publicUrl });
    await deliver({ db, mailer: deps.mailer() }, { kind: reminder ? 'verification_reminder' : 'verification', ref: v.verification_id, to, ...mail });
    await row(v.verification_id).increment('mails_sent', 1).update({ updated_at: db.fn.now() });
  }

  async function settle(verificationId: string, status: VerificationStatus, reason: string | null, keepAddress: boolean): Promise<VerificationStatus> {
    await row(verificationId)
      .where({ status: 'received' })
      .update({ status, reason, updated_at: db.fn.now(), ...(keepAddress ? {} : { email_sealed: null }) });
    log.info('public request settled before any link', { verificationId, status });
    return status;
  }

  return {
    /** Finds the one account, checks its address, and mails it the link; or records why not. */
    async prepareVerification(verificationId: string): Promise<VerificationStatus> {
      const v = await row(verificationId).first();
      if (!v) throw new Error(`no verification ${verificationId} in lethe.verifications`);
      if (v.status !== 'received') return v.status as VerificationStatus;
      const typed = v.email_sealed ? fields.open(v.email_sealed, verificationContext(verificationId)) : null;

      let accountId: string | null = v.account_id;
      if (!accountId) {
        if (!typed) throw new Error(`verification ${verificationId} has neither an account nor an address`);
        const found = await emailCandidates({ db, fields }, typed, config.deletion.twinGuardDays);
        const all = [...new Set([...found.live, ...found.captured, ...found.recentlyDeleted])];
        if (all.length > 1) return settle(verificationId, 'ambiguous', `the address names ${all.length} accounts in some letter case; an operator files by account id`, true);
        if (found.live.length !== 1) {
          // Mail to the privacy address gets one polite answer a day; a form gets none (no enumeration).
          if (v.channel === 'email' && typed && !(await answeredToday(v.email_hash))) {
            await deliver({ db, mailer: deps.mailer() }, { kind: 'no_account', ref: verificationId, to: typed, ...noAccountMail({ publicUrl: config.mail.publicUrl }) });
            await row(verificationId).increment('mails_sent', 1);
          }
          return settle(verificationId, 'no_account', all.length ? 'the account is being deleted or was deleted' : 'no account has this address', false);
        }
        accountId = found.live[0];
      }
      const account = await db('accounts').where({ id: accountId }).first('id', 'email');
      if (!account) return settle(verificationId, 'no_account', 'the account is gone', false);
      await row(verificationId).update({ account_id: accountId });

      const { changedAt } = await watchAddress(db, fields, accountId, account.email);
      if (config.frontDoor.addressChangeHoldMs > 0 && changedAt && Date.now() - changedAt.getTime() < config.frontDoor.addressChangeHoldMs) {
        await deliver(
          { db, mailer: deps.mailer() },
          { kind: 'refused', ref: verificationId, to: account.email, ...refusedMail({ reason: 'needs_operator', kind: kindOf(v), publicUrl: config.mail.publicUrl }) },
        );
        return settle(
          verificationId,
          'needs_operator',
          `the account's address changed at ${changedAt.toISOString()}, within ${config.frontDoor.addressChangeHoldMs / 3_600_000} h: an operator verifies the person`,
          true,
        );
      }

      await mailLink(v, account.email, false);
      await row(verificationId).where({ status: 'received' }).update({ status: 'awaiting_confirmation', email_sealed: null, updated_at: db.fn.now() });
      return 'awaiting_confirmation';
    },

    /** The one reminder, with a fresh link, if the request is still unconfirmed. */
    async remindVerification(verificationId: string): Promise<boolean> {
      const v = await row(verificationId).first();
      if (!v || v.status !== 'awaiting_confirmation' || !v.account_id) return false;
      const account = await db('accounts').where({ id: v.account_id }).first('email');
      if (!account) return false;
      await mailLink(v, account.email, true);
      return true;
    },

    /** Ends an unconfirmed request; a confirmation that got in first wins. */
    async expireVerification(verificationId: string): Promise<{ status: VerificationStatus; requestId?: string }> {
      await row(verificationId).whereIn('status', ['received', 'awaiting_confirmation']).update({ status: 'expired', email_sealed: null, updated_at: db.fn.now() });
      const v = await row(verificationId).first('status', 'request_id');
      return { status: v.status, ...(v.request_id ? { requestId: v.request_id } : {}) };
    },
  };

  async function answeredToday(emailHash: string | null): Promise<boolean> {
    if (!emailHash) return true;
    const since = new Date(Date.now() - 86_400_000);
    const r = await db('lethe.verifications').where({ email_hash: emailHash, status: 'no_account' }).where('mails_sent', '>', 0).where('updated_at', '>', since).first('verification_id');
    return !!r;
  }
}
