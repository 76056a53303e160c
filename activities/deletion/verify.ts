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
import { readRows } from './database';
import { readMedia } from './media';
import { requireSubject, type Subject, type SubjectDeps } from './subject';
import type { Store, StoreReading, StoreVerification, Verification } from '../../contract';
import { readAuth0 } from './auth0';
import { readRecurly } from './recurly';

type Deps = SubjectDeps & { db: Knex; blobs: BlobStore; auth0: Auth0Client; recurly: RecurlyClient };

export const createVerifyActivities = (deps: Deps) => {
  const read: Record<Store, (accountId: string, subject: Subject) => Promise<StoreReading>> = {
    media: (accountId) => readMedia(deps.blobs, accountId),
    database: (accountId, subject) => readRows(deps, accountId, subject.email),
    // The workflow reads a store back only after its deletion succeeded (workflows/stores.ts).
    auth0: (_accountId, subject) => readAuth0(deps.auth0, subject, { afterDeletion: true }),
    recurly: (_accountId, subject) => readRecurly(deps.recurly, subject),
  };

  return {
    async verifyStore(input: { accountId: string; store: Store }): Promise<StoreVerification> {
      return classified('verify', async () => {
        const subject = await requireSubject(deps, input.accountId);
        const reading = await read[input.store](input.accountId, subject);
        return { store: input.store, clean: Object.values(reading.remaining).every((n) => n === 0), ...reading, checkedAt: new Date().toISOString() };
      });
    },

    async verifyDeletion(accountId: string): Promise<Verification> {
      return classified('verify', async () => {
        const subject = await requireSubject(deps, accountId);
        const media = (await read.media(accountId, subject)).remaining;
        const rowsRemaining = (await read.database(accountId, subject)).remaining;
        const auth0 = (await read.auth0(accountId, subject)).remaining;
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
