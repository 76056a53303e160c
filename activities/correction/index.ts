/**
 * The activities of a correction request (workflows/correction.ts, docs/correction.md): the
 * checks that refuse it, each store's change and read-back, and the link to a new address.
 *
 * The new values are read here from lethe.correction_requests (sealed, bound to the request) and
 * never returned: what goes back to the workflow is field names and outcomes. Every store's step
 * checks again, just before it writes, what the API checked when the request was filed: the
 * account must not be under a legal hold, being deleted or gone, and a new email must not be
 * another account's in any letter case (CONTRACT §2: case twins are different people).
 */
import type { Knex } from 'knex';
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { Config } from '../../config';
import type { FieldCipher } from '../../encryption/fields';
import { linkedIds, type Auth0Client } from '../../stores/auth0';
import type { RecurlyClient } from '../../stores/recurly';
import { isHeld } from '../../stores/holds';
import { caseTwinsOf } from '../../stores/subjects';
import { newToken } from '../../stores/verifications';
import { FailureType } from '../../contract';
import { correctionEmailMail } from '../../mail/templates';
import type { Mailer } from '../../mail/transport';
import { deliver } from '../../mail/deliver';
import { classified } from '../failures';
import {
  CORRECTION_REFUSED,
  correctionContext,
  FIELDS_IN,
  type CorrectionEmailStatus,
  type CorrectionField,
  type CorrectionReceipt,
  type CorrectionStore,
  type CorrectionStoreResult,
} from '../../contract/correction';

/** The values asked for, as the API normalised them: `null` clears a nullable column. */
export type CorrectionChanges = Partial<Record<CorrectionField, string | null>>;

/** What the request found before changing anything, sealed beside it. */
interface Subject {
  auth0UserId: string | null;
  recurlyCode: string | null;
}

const refused = (message: string) => ApplicationFailure.create({ type: CORRECTION_REFUSED, message, nonRetryable: true });

const ADDRESS: Record<string, 'street1' | 'street2' | 'city' | 'region' | 'postalCode' | 'country'> = {
  address_line1: 'street1',
  address_line2: 'street2',
  city: 'city',
  region: 'region',
  postal_code: 'postalCode',
  country: 'country',
};

/** Deletions that are not over (CONTRACT §5 statuses), whose account must not change meanwhile. */
const ENDED_DELETIONS = ['completed', 'failed', 'skipped'];

/**
 * Why this account may not be corrected now, or undefined: a legal hold keeps its records as
 * they are; an account being deleted (or deleted) is the deletion's, and a correction writing
 * behind it would put data back into a store the deletion already emptied.
 */
export async function refusalFor(db: Knex, accountId: string): Promise<{ code: 'account_held' | 'account_being_deleted' | 'account_deleted'; message: string } | undefined> {
  if (await isHeld(db, accountId)) {
    return { code: 'account_held', message: `account ${accountId} is under a legal hold: its records are kept as they are until the hold is released; correct it after the release` };
  }
  const frozen = await db('lethe.frozen_accounts').where({ account_id: accountId }).first('state', 'request_id');
  if (frozen?.state === 'deleted') return { code: 'account_deleted', message: `account ${accountId} was deleted (request ${frozen.request_id}): there is nothing left to correct` };
  const open = await db('lethe.deletion_requests').where({ account_id: accountId }).whereNotIn('status', ENDED_DELETIONS).first('request_id');
  if (frozen || open) {
    return { code: 'account_being_deleted', message: `account ${accountId} is being deleted (request ${open?.request_id ?? frozen.request_id}): a correction now would write behind the deletion` };
  }
  return undefined;
}

/**
 * Another account that holds `email` in some letter case (a live account, or one whose deletion
 * captured it), by id, or undefined. The email is never in the answer.
 */
export async function emailHolder(deps: { db: Knex; fields: FieldCipher }, accountId: string, email: string): Promise<string | undefined> {
  return (await caseTwinsOf(deps, email, accountId.toLowerCase()))[0];
}

export const emailTakenMessage = (other: string) =>
  `email: another account (${other}) holds this address in some letter case; two accounts must never share one (CONTRACT §2), so the address is applied nowhere`;

export function createCorrectionActivities(deps: { db: Knex; fields: FieldCipher; auth0: Auth0Client; recurly: RecurlyClient; mailer: () => Mailer; config: Pick<Config, 'mail'> }) {
  const { db, fields } = deps;
  const row = (requestId: string) => db('lethe.correction_requests').where({ request_id: requestId });

  async function load(requestId: string): Promise<{ accountId: string; changes: CorrectionChanges; subject?: Subject; emailStatus: string | null; emailExpiresAt: Date | null }> {
    const r = await row(requestId).first();
    if (!r) throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: `no correction request ${requestId} in lethe.correction_requests`, nonRetryable: true });
    if (!r.changes_sealed) throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: `correction request ${requestId} has ended: its values are erased`, nonRetryable: true });
    const changes = JSON.parse(fields.open(r.changes_sealed, correctionContext(requestId, 'changes'))) as CorrectionChanges;
    const subject = r.subject_sealed ? (JSON.parse(fields.open(r.subject_sealed, correctionContext(requestId, 'subject'))) as Subject) : undefined;
    return { accountId: r.account_id, changes, subject, emailStatus: r.email_status, emailExpiresAt: r.email_expires_at ? new Date(r.email_expires_at) : null };
  }

  /**
   * Refuses before anything of this step changes. A new email is checked by every store's step,
   * the database's and Recurly's too, against the accounts and against Auth0: the three steps run
   * at once, so a refusal found only by the Auth0 step would come after the others had written the
   * address (the request would end `refused` with the address half applied).
   */
  async function check(accountId: string, changes: CorrectionChanges, phase: 'profile' | 'email' | 'prepare', ownAuth0UserId: string | null | undefined): Promise<void> {
    const why = await refusalFor(db, accountId);
    if (why) throw refused(why.message);
    if (!(await db('accounts').where({ id: accountId }).first('id'))) throw refused(`account ${accountId} no longer exists: there is nothing to correct`);
    if (phase !== 'profile' && typeof changes.email === 'string') {
      const other = await emailHolder({ db, fields }, accountId, changes.email);
      if (other) throw refused(emailTakenMessage(other));
      if (ownAuth0UserId !== undefined) await refuseAuth0Holder(changes.email, ownAuth0UserId, accountId);
    }
  }

  /**
   * Auth0 may hold the new address under a login that no account row names (CONTRACT §2), in
   * the spelling asked for, lower-cased (a database user), or in another letter case (a social
   * or enterprise user, which only user search finds): any login but this account's own refuses.
   */
  async function refuseAuth0Holder(email: string, ownUserId: string | null, accountId: string): Promise<void> {
    const users = [...(await deps.auth0.findUsersByEmail(email)).map((u) => u.userId), ...(await deps.auth0.searchByEmail(email)).map((u) => u.userId)];
    if (users.some((id) => id !== ownUserId)) throw refused(`email: another Auth0 user holds this address in some letter case; the address is applied nowhere (account ${accountId})`);
  }

  /**
   * The Auth0 login of an account with no \`auth0_user_id\` (a legacy account): the one user Auth0
   * holds under its address, and only when that user is no other account's login and no other
   * account holds the address in another letter case. Auth0 keeps a database user's email
   * lower-cased, so \`Ann@x\`'s login answers a lookup for \`ann@x\`: the deletion's rule
   * (activities/deletion/auth0.ts, refuseOtherAccounts), so a correction never writes another
   * person's login. Either case stops for a person (Precondition, so \`blocked\`).
   */
  async function legacyLogin(accountId: string, email: string): Promise<string | null> {
    const users = await deps.auth0.findUsersByEmail(email);
    if (users.length === 0) return null;
    if (users.length > 1) {
      throw ApplicationFailure.create({
        type: FailureType.Precondition,
        message: `account ${accountId} has no Auth0 user id and ${users.length} Auth0 users hold its address: set accounts.auth0_user_id to the right one, then retry`,
      });
    }
    const { userId, user } = users[0];
    // Its linked secondaries too: one of them may be the login another account names.
    const ids = [userId, ...linkedIds(user)];
    const claimed = await db('accounts').whereIn('auth0_user_id', ids).whereNot('id', accountId).first('id');
    const twins = await caseTwinsOf({ db, fields }, email, accountId);
    if (claimed || twins.length) {
      throw ApplicationFailure.create({
        type: FailureType.Precondition,
        message: `account ${accountId} has no Auth0 user id, and Auth0 user ${userId}, found by its address, may be the login of account(s) ${(claimed ? [claimed.id as string] : twins).join(', ')}${claimed ? '' : ', which hold the address in another letter case'}: nothing was changed at Auth0. Set accounts.auth0_user_id to this person's own login, then retry`,
      });
    }
    return userId;
  }

  /** The fields of this phase that this store keeps, in the order they were asked. */
  const fieldsFor = (changes: CorrectionChanges, store: CorrectionStore, phase: 'profile' | 'email'): CorrectionField[] =>
    (Object.keys(changes) as CorrectionField[]).filter((f) => (phase === 'email') === (f === 'email') && FIELDS_IN[store].includes(f));

  async function correctDatabase(accountId: string, changes: CorrectionChanges, wanted: CorrectionField[]): Promise<CorrectionStoreResult> {
    const set = Object.fromEntries(wanted.map((f) => [f, changes[f] ?? null]));
    const n = await db('accounts').where({ id: accountId }).update(set);
    if (n !== 1) throw refused(`account ${accountId} no longer exists: there is nothing to correct`);
    const back = await db('accounts').where({ id: accountId }).first(wanted);
    const differ = wanted.filter((f) => (back?.[f] ?? null) !== (changes[f] ?? null));
    if (differ.length) throw ApplicationFailure.create({ type: FailureType.DataRemains, message: `database read back: ${differ.join(', ')} not as corrected` });
    return { outcome: 'applied', fields: wanted };
  }

  async function correctAuth0(userId: string, changes: CorrectionChanges, wanted: CorrectionField[]): Promise<CorrectionStoreResult> {
    if (!(await deps.auth0.getProfile(userId))) return { outcome: 'absent', fields: [] };
    await deps.auth0.updateProfile(userId, {
      ...(wanted.includes('full_name') ? { name: changes.full_name ?? undefined } : {}),
      ...(wanted.includes('phone') ? { phoneNumber: changes.phone ?? null } : {}),
      ...(wanted.includes('email') ? { email: changes.email ?? undefined } : {}),
    });
    const back = await deps.auth0.getProfile(userId);
    if (!back) return { outcome: 'absent', fields: [] };
    const differ = wanted.filter((f) => {
      if (f === 'full_name') return back.name !== changes.full_name;
      if (f === 'phone') return (back.phoneNumber ?? null) !== (changes.phone ?? null);
      // Auth0 keeps a database user's email lower-cased (reference.md, users.listUsersByEmail).
      return back.databaseUser ? back.email !== changes.email?.toLowerCase() : back.email !== changes.email;
    });
    if (differ.length) throw ApplicationFailure.create({ type: FailureType.DataRemains, message: `Auth0 read back: ${differ.join(', ')} not as corrected` });
    return { outcome: 'applied', fields: wanted };
  }

  async function correctRecurly(code: string, changes: CorrectionChanges, wanted: CorrectionField[], scope: string, accountId: string): Promise<CorrectionStoreResult> {
    if (!(await deps.recurly.getProfile(code))) return { outcome: 'absent', fields: [] };
    const name = wanted.includes('full_name') ? splitName(changes.full_name ?? '') : undefined;
    // Any part of the address (or the phone, which Recurly keeps in it) changes: the whole address
    // is sent as the database holds it with the correction, since api.yaml does not say whether
    // an update merges or replaces `address`; either way Recurly ends with the same one.
    const address: Record<string, string> = {};
    if (wanted.some((f) => ADDRESS[f] || f === 'phone')) {
      const current = await db('accounts')
        .where({ id: accountId })
        .first('phone', ...Object.keys(ADDRESS));
      if (!current) throw refused(`account ${accountId} no longer exists: there is nothing to correct`);
      const value = (f: string) => (f in changes ? changes[f as CorrectionField] : current[f]) ?? '';
      for (const [f, to] of Object.entries(ADDRESS)) address[to] = value(f);
      address.phone = value('phone');
    }
    await deps.recurly.correctAccount(
      code,
      {
        ...(name ? { firstName: name.first, lastName: name.last } : {}),
        ...(wanted.includes('email') ? { email: changes.email ?? '' } : {}),
        ...(Object.keys(address).length ? { address: address as never } : {}),
      },
      { idempotencyScope: scope },
    );
    const back = await deps.recurly.getProfile(code);
    if (!back) return { outcome: 'absent', fields: [] };
    const differ = wanted.filter((f) => {
      if (f === 'full_name') return back.firstName !== name!.first || back.lastName !== name!.last;
      if (f === 'email') return back.email !== changes.email;
      if (f === 'phone') return back.address.phone !== (changes.phone ?? '');
      return back.address[ADDRESS[f]] !== (changes[f] ?? '');
    });
    if (differ.length) throw ApplicationFailure.create({ type: FailureType.DataRemains, message: `Recurly read back: ${differ.join(', ')} not as corrected` });
    return { outcome: 'applied', fields: wanted };
  }

  return {
    /**
     * Refuses before anything changes (see `check`), finds the account's Auth0 user (by its id,
     * or for a legacy account by its address as Auth0 stores it) and Recurly account, and keeps
     * them sealed beside the request: a new email applied later must not change whom they name.
     */
    async prepareCorrection(requestId: string): Promise<{ present: Record<CorrectionStore, boolean> }> {
      return classified('correction.prepare', async () => {
        const r = await load(requestId);
        await check(r.accountId, r.changes, 'prepare', undefined);
        let subject = r.subject;
        if (!subject) {
          const account = await db('accounts').where({ id: r.accountId }).first('email', 'auth0_user_id', 'recurly_account_code');
          const auth0UserId: string | null = account.auth0_user_id ?? (await legacyLogin(r.accountId, account.email));
          subject = { auth0UserId, recurlyCode: account.recurly_account_code ?? null };
          await row(requestId).update({ subject_sealed: fields.seal(JSON.stringify(subject), correctionContext(requestId, 'subject')), status: 'running', updated_at: db.fn.now() });
        }
        if (typeof r.changes.email === 'string') await refuseAuth0Holder(r.changes.email, subject.auth0UserId, r.accountId);
        return { present: { database: true, auth0: subject.auth0UserId !== null, recurly: subject.recurlyCode !== null } };
      });
    },

    /** One store's part of a phase: checked, applied, read back. Answers the fields applied, by name. */
    async correctStore(requestId: string, store: CorrectionStore, phase: 'profile' | 'email'): Promise<CorrectionStoreResult> {
      return classified(`correction.${store}`, async () => {
        const r = await load(requestId);
        if (phase === 'email' && r.emailStatus !== 'confirmed' && r.emailStatus !== 'applied') {
          // Never applied before the person confirmed the link (the workflow asks only then; this guards the rest).
          throw ApplicationFailure.create({ type: FailureType.InvalidInput, message: `the new email of ${requestId} is not confirmed`, nonRetryable: true });
        }
        await check(r.accountId, r.changes, phase, r.subject?.auth0UserId ?? null);
        const wanted = fieldsFor(r.changes, store, phase);
        if (wanted.length === 0) return { outcome: 'applied', fields: [] };
        const result =
          store === 'database'
            ? await correctDatabase(r.accountId, r.changes, wanted)
            : store === 'auth0'
              ? r.subject?.auth0UserId
                ? await correctAuth0(r.subject.auth0UserId, r.changes, wanted)
                : { outcome: 'absent' as const, fields: [] }
              : r.subject?.recurlyCode
                ? await correctRecurly(r.subject.recurlyCode, r.changes, wanted, `correction ${requestId} ${phase}`, r.accountId)
                : { outcome: 'absent' as const, fields: [] };
        log.info('correction applied', { requestId, store, phase, fields: result.fields, outcome: result.outcome });
        return result;
      });
    },

    /** Mails the link to the new address (only there), keeping the secret's hash. */
    async mailCorrectionLink(requestId: string): Promise<void> {
      const r = await load(requestId);
      if (r.emailStatus !== null && r.emailStatus !== 'awaiting_confirmation') return;
      if (typeof r.changes.email !== 'string') return;
      const { token, hash } = newToken(requestId);
      await row(requestId).update({ email_token_hash: hash, email_status: 'awaiting_confirmation', status: 'awaiting_confirmation', updated_at: db.fn.now() });
      const link = `${deps.config.mail.publicUrl.replace(/\/+$/, '')}/corrections/confirm?token=${encodeURIComponent(token)}`;
      const mail = correctionEmailMail({ link, expiresAt: r.emailExpiresAt ?? new Date(Date.now() + 86_400_000), publicUrl: deps.config.mail.publicUrl });
      await deliver({ db, mailer: deps.mailer() }, { kind: 'correction_email', ref: requestId, to: r.changes.email, ...mail });
    },

    /** Ends an unconfirmed new address; a confirmation that got in first wins. Answers where it stands. */
    async expireCorrectionEmail(requestId: string): Promise<CorrectionEmailStatus> {
      await row(requestId).where({ email_status: 'awaiting_confirmation' }).update({ email_status: 'expired', status: 'running', updated_at: db.fn.now() });
      const r = await row(requestId).first('email_status');
      return r.email_status as CorrectionEmailStatus;
    },

    /** Records the outcome and the receipt (names only) and erases the values and the subject. */
    async finishCorrection(
      requestId: string,
      outcome: { status: 'completed' | 'refused' | 'failed'; reason?: string; receipt?: CorrectionReceipt; emailStatus?: CorrectionEmailStatus },
    ): Promise<void> {
      await row(requestId).update({
        status: outcome.status,
        reason: outcome.reason ?? null,
        receipt: outcome.receipt ? JSON.stringify(outcome.receipt) : null,
        ...(outcome.emailStatus ? { email_status: outcome.emailStatus } : {}),
        changes_sealed: null,
        subject_sealed: null,
        completed_at: db.fn.now(),
        updated_at: db.fn.now(),
      });
    },
  };
}

/**
 * Recurly keeps a first and a last name: the last word is the last name, the rest the first
 * (a one-word name is a first name). The database and Auth0 keep the name whole.
 */
export function splitName(full: string): { first: string; last: string } {
  const words = full.trim().split(/\s+/).filter(Boolean);
  if (words.length <= 1) return { first: words[0] ?? '', last: '' };
  return { first: words.slice(0, -1).join(' '), last: words[words.length - 1] };
}
