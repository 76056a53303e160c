/**
 * Access requests, steps 1-4: each store's part of the person's data, read through the same
 * data map and store modules the deletion uses (activities/deletion/data-map.ts, stores/*), and
 * staged as JSON in Lethe's archive container (never returned: Temporal history holds counts).
 *
 * Never the wrong person (CONTRACT §2): rows found by email (support requests written before the
 * person had an account) are matched as the deletion matches them, by the exact spelling when
 * another account holds the address in another letter case; Auth0 users found by email (legacy
 * accounts) are left out, with a note, while such a case twin exists, since whose login it is
 * cannot be told. Shares *to* the person (other accounts' rows naming their address) are the
 * other account's records and are not exported; the person's own shares are.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { Knex } from 'knex';
import { linkedIds, type Auth0Client } from '../../stores/auth0';
import type { RecurlyClient } from '../../stores/recurly';
import type { BlobStore } from '../../stores/blobs';
import { listCurrentBlobs, type ArchiveStore, type ListedBlob } from '../../stores/archive';
import { FailureType } from '../../contract';
import { classified } from '../failures';
import { DATA_MAP } from '../deletion/data-map';
import { emailMatchOf, ownedRows } from '../deletion/database';
import { accountPrefix } from '../deletion/media';
import { caseTwinsOf, type SubjectDeps } from '../deletion/subject';
import { vendorAttempt } from '../deletion/vendor-attempt';
import { stagedName, type GatherResult } from './types';

export interface GatherDeps extends SubjectDeps {
  db: Knex;
  blobs: BlobStore;
  auth0: Auth0Client;
  recurly: RecurlyClient;
  archive: ArchiveStore;
  attemptBudgetMs?: number;
}

interface AccountRow {
  id: string;
  email: string;
  auth0_user_id: string | null;
  recurly_account_code: string | null;
}

/** One media file as the archive lists it (staged by the media step, read by the archive step). */
export interface StagedMedia extends ListedBlob {
  path: string;
  kind?: string;
  cameraId?: string | null;
  capturedAt?: string | null;
}

async function accountOf(db: Knex, accountId: string): Promise<AccountRow> {
  const row = (await db('accounts').where({ id: accountId }).first('id', 'email', 'auth0_user_id', 'recurly_account_code')) as AccountRow | undefined;
  // Deleted since the request was filed (a deletion ran): nothing to export, nothing to retry.
  if (!row) throw ApplicationFailure.create({ type: FailureType.AccountNotFound, message: `account ${accountId} no longer exists`, nonRetryable: true });
  return row;
}

/** Values as JSON shows them: times as RFC 3339, big integers as numbers when exact. */
function plainRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v instanceof Date) out[k] = v.toISOString();
    else if (typeof v === 'string' && /^-?\d{1,15}$/.test(v) && (k === 'id' || k === 'bytes')) out[k] = Number(v);
    else out[k] = v;
  }
  return out;
}

/**
 * A blob name as a path inside the ZIP: blob names are any string, and an unzip tool that
 * meets `..`, `.`, an empty segment or a backslash could write outside the folder the person
 * chose ("zip slip"); such segments become `_`. Ordinary names are unchanged.
 */
export function safePath(name: string): string {
  return name
    .split('/')
    .map((seg) => (seg === '' || seg === '.' || seg === '..' || seg.includes('\\') ? '_' : seg))
    .join('/');
}

export const createGatherActivities = (deps: GatherDeps) => {
  const stage = async (requestId: string, store: GatherResult['store'], data: unknown) => deps.archive.put(stagedName(requestId, store), Buffer.from(JSON.stringify(data)), 'application/json');

  return {
    /** Every row of the person in every table of the data map (the deletion's own rule of ownership). */
    async gatherDatabase(req: { requestId: string; accountId: string }): Promise<GatherResult> {
      return classified(
        'database',
        async () => {
          const account = await accountOf(deps.db, req.accountId);
          const match = await emailMatchOf(deps, req.accountId, account.email);
          const tables: Record<string, Record<string, unknown>[]> = {};
          const counts: Record<string, number> = {};
          // Accounts first, as a person reads it; then the map's order.
          for (const link of [...DATA_MAP].reverse()) {
            // Other accounts' shares to the person are theirs: only the person's own rows and email-only tickets.
            const own = { ...link, recipientEmailColumn: undefined };
            const rows = (await ownedRows(deps.db, own, req.accountId, match).select('*').orderBy(link.key)) as Record<string, unknown>[];
            tables[link.table] = rows.map(plainRow);
            counts[link.table] = rows.length;
          }
          const notes = match?.exact ? ['support requests without an account are included only under the exact spelling of your address: another account uses it in other letter case'] : undefined;
          await stage(req.requestId, 'database', { tables, ...(notes ? { notes } : {}) });
          return { store: 'database', counts, ...(notes ? { notes } : {}) };
        },
        { budgetMs: deps.attemptBudgetMs },
      );
    },

    /** The login(s) at Auth0: the account's own user, with its linked identities; a legacy account's by email, unless a case twin exists. */
    async gatherAuth0(req: { requestId: string; accountId: string }): Promise<GatherResult> {
      return classified('auth0', () =>
        vendorAttempt(
          'auth0',
          () => undefined,
          async () => {
            const account = await accountOf(deps.db, req.accountId);
            const users: Record<string, unknown>[] = [];
            const notes: string[] = [];
            const ids: string[] = [];
            if (account.auth0_user_id) ids.push(account.auth0_user_id);
            else {
              const twins = await caseTwinsOf(deps, account.email, req.accountId);
              if (twins.length) notes.push('a login found only by your address is not included: another account uses the address in other letter case, so whose login it is cannot be told');
              else {
                const found = await deps.auth0.findUsersByEmail(account.email);
                // A user another account names as its login is that account's, and so is one
                // carrying, as a linked identity, the login another account names (the
                // deletion's and the correction's rule: linkedIds, stores/auth0.ts).
                const idsOf = (f: (typeof found)[number]) => [f.userId, ...linkedIds(f.user)];
                const claimed = new Set(
                  (await deps.db('accounts').whereIn('auth0_user_id', found.flatMap(idsOf)).whereNot('id', req.accountId).select('auth0_user_id')).map(
                    (r: { auth0_user_id: string }) => r.auth0_user_id,
                  ),
                );
                const mine = found.filter((f) => !idsOf(f).some((id) => claimed.has(id)));
                if (mine.length < found.length) notes.push('a login found by your address is not included: it is, or carries, the login of another account');
                ids.push(...mine.map((f) => f.userId));
              }
            }
            for (const id of ids) {
              const u = await deps.auth0.exportUser(id);
              if (u) users.push(u);
            }
            await stage(req.requestId, 'auth0', { users, ...(notes.length ? { notes } : {}) });
            const identities = users.reduce((n, u) => n + (Array.isArray(u.identities) ? u.identities.length : 0), 0);
            return { store: 'auth0', counts: { users: users.length, identities }, ...(notes.length ? { notes } : {}) };
          },
        ),
      );
    },

    /** The billing record: Recurly's account, every subscription and invoice. */
    async gatherRecurly(req: { requestId: string; accountId: string }): Promise<GatherResult> {
      return classified('recurly', () =>
        vendorAttempt(
          'recurly',
          () => undefined,
          async () => {
            const account = await accountOf(deps.db, req.accountId);
            const found = account.recurly_account_code ? await deps.recurly.exportAccount(account.recurly_account_code) : null;
            const data = { account: found?.account ?? null, subscriptions: found?.subscriptions ?? [], invoices: found?.invoices ?? [] };
            await stage(req.requestId, 'recurly', data);
            return { store: 'recurly', counts: { accounts: data.account ? 1 : 0, subscriptions: data.subscriptions.length, invoices: data.invoices.length } };
          },
        ),
      );
    },

    /**
     * The person's images and videos: every current blob under `accounts/{id}/` in each media
     * container, with the media row's kind, camera and capture time where one exists (a blob
     * without a row, an upload whose database write failed, is the person's too).
     */
    async gatherMedia(req: { requestId: string; accountId: string }): Promise<GatherResult> {
      return classified(
        'media',
        async () => {
          await accountOf(deps.db, req.accountId);
          const prefix = accountPrefix(req.accountId);
          const rows = (await deps.db('media').where({ account_id: req.accountId }).select('container', 'blob_name', 'kind', 'camera_id', 'captured_at')) as {
            container: string;
            blob_name: string;
            kind: string;
            camera_id: string | null;
            captured_at: Date;
          }[];
          const byName = new Map(rows.map((r) => [`${r.container}\u0000${r.blob_name}`, r]));
          const files: StagedMedia[] = [];
          for (const container of deps.blobs.containers) {
            for (const b of await listCurrentBlobs(deps.blobs, container, prefix)) {
              const row = byName.get(`${container}\u0000${b.name}`);
              files.push({
                ...b,
                // Their blob names, whole (their folder structure), per container: the same name may be in two.
                path: `media/${container}/${safePath(b.name)}`,
                ...(row ? { kind: row.kind, cameraId: row.camera_id, capturedAt: new Date(row.captured_at).toISOString() } : { capturedAt: null }),
              });
            }
          }
          await stage(req.requestId, 'media', { files });
          return { store: 'media', counts: { files: files.length, bytes: files.reduce((n, f) => n + f.bytes, 0) } };
        },
        { budgetMs: deps.attemptBudgetMs },
      );
    },
  };
};
