/**
 * Step 6: read every store back. The workflow deletes again while anything remains, and never
 * reports `completed` with data left.
 */
import type { Knex } from 'knex';
import type { BlobStore } from '../../stores/blobs';
import type { Auth0Client } from '../../stores/auth0';
import type { RecurlyClient } from '../../stores/recurly';
import { classified } from '../failures';
import { DATA_MAP } from './data-map';
import { ownedRows } from './database';
import { accountPrefix } from './media';
import { requireSubject } from './subject';
import type { Verification } from '../../contract';

export const createVerifyActivities = (deps: { db: Knex; blobs: BlobStore; auth0: Auth0Client; recurly: RecurlyClient }) => ({
  async verifyDeletion(accountId: string): Promise<Verification> {
    return classified('verify', async () => {
      const subject = await requireSubject(deps.db, accountId);
      const prefix = accountPrefix(accountId);
      let blobsRemaining = 0;
      let softDeletedRemaining = 0;
      for (const c of deps.blobs.containers) {
        const n = await deps.blobs.countPrefix(c, prefix);
        blobsRemaining += n.blobs + n.snapshots + n.versions;
        softDeletedRemaining += n.softDeleted;
      }
      const rowsRemaining: Record<string, number> = {};
      for (const link of DATA_MAP) {
        const [{ n }] = await ownedRows(deps.db, link, accountId, subject.email).count<{ n: number }[]>({ n: '*' });
        rowsRemaining[link.table] = Number(n);
      }
      let auth0UsersRemaining = 0;
      for (const id of subject.auth0UserIds) if (await deps.auth0.getUser(id)) auth0UsersRemaining++;
      // A user created under the same email after the freeze is this person too.
      if (subject.email) auth0UsersRemaining += (await deps.auth0.findUsersByEmail(subject.email)).length;

      let recurly: Verification['recurly'] = 'none';
      if (subject.recurlyAccountCode) {
        const acct = await deps.recurly.getAccount(subject.recurlyAccountCode);
        recurly = !acct ? 'absent' : acct.redacted ? 'redacted' : 'present';
      }
      const clean =
        blobsRemaining === 0 &&
        softDeletedRemaining === 0 &&
        Object.values(rowsRemaining).every((n) => n === 0) &&
        auth0UsersRemaining === 0 &&
        recurly !== 'present';
      return { clean, blobsRemaining, softDeletedRemaining, rowsRemaining, auth0UsersRemaining, recurly, checkedAt: new Date().toISOString() };
    });
  },
});
