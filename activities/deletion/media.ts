/**
 * Step 4: every blob under `accounts/{accountId}/` in every configured container, with
 * snapshots and versions, by Blob Batch. One activity for the whole account (no activity per
 * blob, so history stays small for a million blobs); it heartbeats a cursor and, after a
 * worker crash, the next attempt resumes from that cursor instead of starting over.
 */
import { Context } from '@temporalio/activity';
import type { BlobStore } from '../../stores/blobs';
import { classified, invalidInput } from '../failures';
import type { StoreCounts, StoreReading } from '../../contract';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The trailing slash matters: without it `accounts/abc` would also match `accounts/abcd…`. */
export function accountPrefix(accountId: string): string {
  if (!UUID.test(accountId)) throw invalidInput(`account id is not a UUID: ${JSON.stringify(accountId).slice(0, 60)}`);
  return `accounts/${accountId.toLowerCase()}/`;
}

export interface MediaCursor {
  containerIndex: number;
  token?: string;
  byContainer: Record<string, number>;
  listCalls: number;
  batchCalls: number;
}

export const createMediaActivities = (deps: { blobs: BlobStore; concurrency?: number; pageSize?: number; attemptBudgetMs?: number }) => ({
  async deleteMediaBlobs(accountId: string): Promise<NonNullable<StoreCounts['media']>> {
    const prefix = accountPrefix(accountId);
    return classified('media', async () => {
      const ctx = Context.current();
      const saved = ctx.info.heartbeatDetails as MediaCursor | undefined;
      const cursor: MediaCursor = saved ? { ...saved, byContainer: { ...saved.byContainer } } : { containerIndex: 0, byContainer: {}, listCalls: 0, batchCalls: 0 };
      const listedByEarlierAttempts = saved?.listCalls ?? 0;
      const containers = deps.blobs.containers;
      for (; cursor.containerIndex < containers.length; cursor.containerIndex++, cursor.token = undefined) {
        const name = containers[cursor.containerIndex];
        const before = cursor.byContainer[name] ?? 0;
        const listedBefore = cursor.listCalls;
        const res = await deps.blobs.deletePrefix(name, prefix, {
          resumeToken: cursor.token,
          concurrency: deps.concurrency,
          pageSize: deps.pageSize,
          onPage: ({ nextToken, deleted }) => {
            cursor.token = nextToken;
            cursor.byContainer[name] = before + deleted;
            ctx.heartbeat({ ...cursor, listCalls: ++cursor.listCalls });
          },
        });
        cursor.byContainer[name] = before + res.deleted;
        cursor.listCalls = listedBefore + res.listCalls;
        cursor.batchCalls += res.batchCalls;
        ctx.heartbeat({ ...cursor, containerIndex: cursor.containerIndex + 1, token: undefined });
      }
      const blobsDeleted = Object.values(cursor.byContainer).reduce((a, b) => a + b, 0);
      return {
        blobsDeleted,
        byContainer: cursor.byContainer,
        listCalls: cursor.listCalls,
        batchCalls: cursor.batchCalls,
        resumed: !!saved,
        listCallsThisAttempt: cursor.listCalls - listedByEarlierAttempts,
      };
    }, { budgetMs: deps.attemptBudgetMs });
  },
});

/** What remains under the account's prefix: blobs (with snapshots and versions) and soft-deleted ones. */
export async function readMedia(blobs: BlobStore, accountId: string): Promise<StoreReading> {
  const prefix = accountPrefix(accountId);
  const out = { blobs: 0, softDeleted: 0 };
  for (const c of blobs.containers) {
    const n = await blobs.countPrefix(c, prefix);
    out.blobs += n.blobs + n.snapshots + n.versions;
    out.softDeleted += n.softDeleted;
  }
  return { remaining: out };
}
