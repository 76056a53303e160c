/**
 * Reading the stores back. Each store is verified on its own (`verifyStore`) as soon as its
 * deletion finished, so one store's trouble never holds back another's proof; `verifyDeletion`
 * reads all four (deletions recorded before the stores ran apart, and the final check).
 */
import type { Knex } from 'knex';
import type { BlobStore } from '../../stores/blobs';
import type { Auth0Client } from '../../stores/auth0';
import type { RecurlyClient } from '../../stores/recurly';
import { classified } from '../failures';
import { DATA_MAP } from './data-map';
import { ownedRows } from './database';
import { accountPrefix } from './media';
import { requireSubject, type Subject } from './subject';
import type { Store, StoreVerification, Verification } from '../../contract';

type Deps = { db: Knex; blobs: BlobStore; auth0: Auth0Client; recurly: RecurlyClient };

export const createVerifyActivities = (deps: Deps) => {
  const read: Record<Store, (accountId: string, subject: Subject) => Promise<Record<string, number>>> = {
    async media(accountId) {
      const prefix = accountPrefix(accountId);
      const out = { blobs: 0, softDeleted: 0 };
      for (const c of deps.blobs.containers) {
        const n = await deps.blobs.countPrefix(c, prefix);
        out.blobs += n.blobs + n.snapshots + n.versions;
        out.softDeleted += n.softDeleted;
      }
      return out;
    },
    async database(accountId, subject) {
      const rows: Record<string, number> = {};
      for (const link of DATA_MAP) {
        const [{ n }] = await ownedRows(deps.db, link, accountId, subject.email).count<{ n: number }[]>({ n: '*' });
        rows[link.table] = Number(n);
      }
      return rows;
    },
    async auth0(_accountId, subject) {
      let users = 0;
      for (const id of subject.auth0UserIds) if (await deps.auth0.getUser(id)) users++;
      // A user created under the same email after the freeze is this person too.
      if (subject.email) users += (await deps.auth0.findUsersByEmail(subject.email)).length;
      return { users };
    },
    async recurly(_accountId, subject) {
      if (!subject.recurlyAccountCode) return { account: 0 };
      const acct = await deps.recurly.getAccount(subject.recurlyAccountCode);
      return { account: acct && !acct.redacted ? 1 : 0 };
    },
  };

  return {
    async verifyStore(input: { accountId: string; store: Store }): Promise<StoreVerification> {
      return classified('verify', async () => {
        const subject = await requireSubject(deps.db, input.accountId);
        const remaining = await read[input.store](input.accountId, subject);
        return { store: input.store, clean: Object.values(remaining).every((n) => n === 0), remaining, checkedAt: new Date().toISOString() };
      });
    },

    async verifyDeletion(accountId: string): Promise<Verification> {
      return classified('verify', async () => {
        const subject = await requireSubject(deps.db, accountId);
        const media = await read.media(accountId, subject);
        const rowsRemaining = await read.database(accountId, subject);
        const auth0 = await read.auth0(accountId, subject);
        let recurly: Verification['recurly'] = 'none';
        if (subject.recurlyAccountCode) {
          const acct = await deps.recurly.getAccount(subject.recurlyAccountCode);
          recurly = !acct ? 'absent' : acct.redacted ? 'redacted' : 'present';
        }
        const clean = media.blobs === 0 && media.softDeleted === 0 && Object.values(rowsRemaining).every((n) => n === 0) && auth0.users === 0 && recurly !== 'present';
        return {
          clean,
          blobsRemaining: media.blobs,
          softDeletedRemaining: media.softDeleted,
          rowsRemaining,
          auth0UsersRemaining: auth0.users,
          recurly,
          checkedAt: new Date().toISOString(),
        };
      });
    },
  };
};
