/**
 * Access requests, the end: the link mailed to the account's address on file, the request's
 * record kept in step, and the archive deleted when its link expires (or the account is deleted).
 *
 * The link is a secret: it is made here, put into the mail and dropped. It is never returned to
 * the workflow (so never in history), logged, or recorded (lethe.outbound_mail keeps the kind,
 * the request and the outcome only).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import type { ArchiveStore } from '../../stores/archive';
import type { Mailer } from '../../mail/transport';
import { deliver } from '../../mail/deliver';
import { accessReadyMail } from '../../mail/templates';
import { FailureType } from '../../contract';
import { classified } from '../failures';
import { archivePrefix, partName, type AccessStatus } from './types';

export interface DeliverDeps {
  db: Knex;
  archive: ArchiveStore;
  mailer: () => Mailer;
  publicUrl: string;
}

export const createAccessDeliveryActivities = (deps: DeliverDeps) => ({
  /** Mails the read-only links (one per part) to the address on file; `failed` when the address refuses for good. */
  async mailArchiveLinks(req: { requestId: string; accountId: string; parts: number; bytes: number; expiresAt: string }): Promise<'sent' | 'failed'> {
    return classified('mail', async () => {
      const account = await deps.db('accounts').where({ id: req.accountId }).first('email');
      if (!account?.email) throw ApplicationFailure.create({ type: FailureType.AccountNotFound, message: `account ${req.accountId} no longer exists`, nonRetryable: true });
      const expiresOn = new Date(req.expiresAt);
      const links: string[] = [];
      for (let part = 1; part <= req.parts; part++) links.push(await deps.archive.readLink(partName(req.requestId, part, req.parts), expiresOn));
      const mail = accessReadyMail({ publicUrl: deps.publicUrl, requestId: req.requestId, links, expiresAt: expiresOn, bytes: req.bytes });
      return deliver({ db: deps.db, mailer: deps.mailer() }, { kind: 'access_ready', ref: req.requestId, to: account.email as string, ...mail });
    });
  },

  /** Deletes the request's archive (its parts and anything staged); answers how many blobs went. */
  async deleteAccessArchive(requestId: string): Promise<number> {
    return classified('archive', async () => {
      const n = await deps.archive.deletePrefix(archivePrefix(requestId));
      await deps.db('lethe.access_requests').where({ request_id: requestId }).whereNotNull('archive_prefix').whereNull('archive_deleted_at').update({ archive_deleted_at: new Date() });
      return n;
    });
  },

  /** The request's record follows the workflow (the API's list and the gauges read it). */
  async markAccessRequest(req: { requestId: string; status: AccessStatus; completedAt?: string; expiresAt?: string; counts?: Record<string, Record<string, number>> }): Promise<void> {
    await deps
      .db('lethe.access_requests')
      .where({ request_id: req.requestId })
      .update({
        status: req.status,
        ...(req.completedAt ? { completed_at: req.completedAt } : {}),
        ...(req.expiresAt ? { archive_expires_at: req.expiresAt } : {}),
        ...(req.counts ? { counts: JSON.stringify(req.counts) } : {}),
      });
  },
});
