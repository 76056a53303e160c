/**
 * Step 4: every blob under `accounts/{accountId}/` in every configured container, with
 * snapshots and versions, by Blob Batch. One activity for the whole account (no activity per
 * blob, so history stays small for a million blobs); it heartbeats a cursor and, after a
 * worker crash, the next attempt resumes from that cursor instead of starting over.
 *
 * Heartbeats go out on a timer while the activity works, not once per listing page: one page
 * of 5,000 items, or one SDK try under 503 `ServerBusy` (up to 60 s), outlasts the 20-second
 * heartbeat timeout, and an attempt declared dead while it still runs overlaps its retry.
 */
import { Context } from '@temporalio/activity';
import { BlobStoreError, type BlobStore, type DeleteProgress, type HeldSummary } from '../../stores/blobs';
import { classified, invalidInput } from '../failures';
import { mediaCountsOf, type MediaCursor, type StoreCounts, type StoreReading } from '../../contract';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The trailing slash matters: without it `accounts/abc` would also match `accounts/abcd…`. */
export function accountPrefix(accountId: string): string {
  if (!UUID.test(accountId)) throw invalidInput(`account id is not a UUID: ${JSON.stringify(accountId).slice(0, 60)}`);
  return `accounts/${accountId.toLowerCase()}/`;
}

export type { MediaCursor };

/** How often the media deletion heartbeats its cursor while it works (well inside the 20 s timeout). */
export const MEDIA_HEARTBEAT_EVERY_MS = 5_000;

export const createMediaActivities = (deps: { blobs: BlobStore; concurrency?: number; pageSize?: number; attemptBudgetMs?: number; heartbeatEveryMs?: number }) => ({
  async deleteMediaBlobs(accountId: string): Promise<NonNullable<StoreCounts['media']>> {
    const prefix = accountPrefix(accountId);
    // Set once the attempt has its cursor: what it has deleted, should it fail from then on.
    let soFar: (() => MediaCursor) | undefined;
    return classified(
      'media',
      async () => {
        const ctx = Context.current();
        const saved = ctx.info.heartbeatDetails as MediaCursor | undefined;
        const cursor: MediaCursor = saved
          ? { ...saved, byContainer: { ...saved.byContainer }, purged: saved.purged ?? 0, leasesBroken: saved.leasesBroken ?? 0 }
          : { containerIndex: 0, byContainer: {}, listCalls: 0, batchCalls: 0, purged: 0, leasesBroken: 0 };
        const listedByEarlierAttempts = saved?.listCalls ?? 0;
        const containers = deps.blobs.containers;
        const held: HeldSummary = { blobs: 0, legalHolds: 0, immutabilityPolicies: 0 };
        // The container being deleted: the cursor's counts before it, and what this attempt has
        // deleted in it so far, counted blob by blob (a page is only the listing's unit).
        let current: { name: string; before: MediaCursor; progress: DeleteProgress } | undefined;
        const counts = (): MediaCursor => {
          if (!current) return { ...cursor, byContainer: { ...cursor.byContainer } };
          const { name, before, progress } = current;
          return {
            ...cursor,
            byContainer: { ...cursor.byContainer, [name]: (before.byContainer[name] ?? 0) + progress.deleted },
            purged: before.purged! + progress.purged,
            leasesBroken: before.leasesBroken! + progress.leasesBroken,
          };
        };
        soFar = () => ({ ...counts(), token: undefined });
        // A retry resumes from the last page's token with the counts as of its last blob: what an
        // attempt deleted before it failed stays in the receipt's total.
        const beat = () => ctx.heartbeat(counts());
        const timer = setInterval(beat, deps.heartbeatEveryMs ?? MEDIA_HEARTBEAT_EVERY_MS);
        try {
          for (; cursor.containerIndex < containers.length; cursor.containerIndex++, cursor.token = undefined) {
            const name = containers[cursor.containerIndex];
            current = { name, before: counts(), progress: { deleted: 0, purged: 0, leasesBroken: 0 } };
            const listedBefore = cursor.listCalls;
            const res = await deps.blobs.deletePrefix(name, prefix, {
              resumeToken: cursor.token,
              concurrency: deps.concurrency,
              pageSize: deps.pageSize,
              abortSignal: ctx.cancellationSignal,
              progress: current.progress,
              onPage: ({ nextToken }) => {
                cursor.token = nextToken;
                ++cursor.listCalls;
                beat();
              },
            });
            Object.assign(cursor, counts());
            current = undefined;
            cursor.listCalls = listedBefore + res.listCalls;
            cursor.batchCalls += res.batchCalls;
            held.blobs += res.held.blobs;
            held.legalHolds += res.held.legalHolds;
            held.immutabilityPolicies += res.held.immutabilityPolicies;
            held.leases = (held.leases ?? 0) + (res.held.leases ?? 0);
            if (res.held.until && (!held.until || res.held.until > held.until)) held.until = res.held.until;
            ctx.heartbeat({ ...counts(), containerIndex: cursor.containerIndex + 1, token: undefined });
          }
        } catch (err) {
          // The last word before the failure: the SDK flushes a failing activity's last heartbeat
          // before it reports the failure, so the retry starts from these counts.
          beat();
          throw err;
        } finally {
          clearInterval(timer);
        }
        if (held.blobs > 0) {
          // Everything else is deleted; what a hold keeps waits for a person (Held → blocked).
          const kinds = [
            held.legalHolds ? `${held.legalHolds} under a legal hold` : '',
            held.immutabilityPolicies ? `${held.immutabilityPolicies} under an immutability policy` : '',
            held.leases ? `${held.leases} leased again after Lethe broke the lease` : '',
          ]
            .filter(Boolean)
            .join(', ');
          throw new BlobStoreError('held', `${held.blobs} blobs refused deletion (${kinds}${held.until ? `, policy until ${held.until}` : ''})`, 409, held);
        }
        return { ...mediaCountsOf(cursor, !!saved), listCallsThisAttempt: cursor.listCalls - listedByEarlierAttempts };
      },
      // A failure carries the counts so far: an activity that ends (a hold, its budget spent)
      // has deleted blobs that the next activity, starting afresh, will not find to count.
      { budgetMs: deps.attemptBudgetMs, details: () => (soFar ? [soFar()] : undefined) },
    );
  },
});

/**
 * What remains under the account's prefix. `remaining` counts live blobs, snapshots and versions,
 * and soft-deleted snapshots and versions where the account lets Lethe purge them
 * (`AllowPermanentDelete`). Soft-deleted base blobs (and copies Lethe may not purge) are no
 * longer readable through the data plane and nothing can remove them early: Delete Blob says
 * they stay until the soft-delete retention ends. They are `pending`, with that end as `until`.
 */
export async function readMedia(blobs: BlobStore, accountId: string): Promise<StoreReading> {
  const prefix = accountPrefix(accountId);
  const policy = blobs.emulator ? undefined : await blobs.softDeletePolicy();
  const out = { blobs: 0, softDeleted: 0 };
  let waiting = 0;
  let until: string | undefined;
  const latest = (x: string | undefined) => void (x && (!until || x > until) && (until = x));
  for (const c of blobs.containers) {
    const n = await blobs.countPrefix(c, prefix);
    out.blobs += n.blobs + n.snapshots + n.versions;
    waiting += n.softDeleted - n.softDeletedCopies;
    latest(n.softDeletedBlobsUntil);
    if (policy?.enabled && policy.allowPermanentDelete) out.softDeleted += n.softDeletedCopies;
    else {
      waiting += n.softDeletedCopies;
      latest(n.softDeletedCopiesUntil);
    }
  }
  const pending = waiting > 0 ? [{ what: `media: ${waiting} soft-deleted blobs, purged by Azure when the soft-delete retention ends`, ...(until ? { until } : {}) }] : undefined;
  return { remaining: out, ...(pending ? { pending } : {}) };
}
