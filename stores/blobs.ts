/**
 * Azure Blob Storage: the one module that knows the SDK. It speaks of "everything under a
 * prefix", including snapshots, previous versions and soft-deleted blobs, so callers never
 * handle single blobs.
 */
import {
  BlobBatchClient,
  BlobClient,
  BlobItem,
  BlobServiceClient,
  ContainerClient,
  RestError,
} from '@azure/storage-blob';

export interface BlobStore {
  readonly service: BlobServiceClient;
  readonly containers: string[];
  container(name: string): ContainerClient;
  /** Fails unless every configured container is reachable. */
  ping(): Promise<void>;
  /** Deletes every blob, snapshot and version under `prefix` in `container`, page by page. */
  deletePrefix(container: string, prefix: string, opts: DeletePrefixOptions): Promise<DeletePrefixResult>;
  /** Counts what is left under `prefix` (verification reads this). */
  countPrefix(container: string, prefix: string): Promise<PrefixCount>;
}

export interface DeletePrefixOptions {
  /** Where a previous attempt stopped: the listing continuation token of the page to redo. */
  resumeToken?: string;
  /** Called after each page is deleted, with the token that lists the next one. */
  onPage?: (progress: { nextToken?: string; deleted: number; listed: number }) => void | Promise<void>;
  pageSize?: number;
  /** Batches in flight at once. */
  concurrency?: number;
}

export interface DeletePrefixResult {
  deleted: number;
  listCalls: number;
  batchCalls: number;
}

export interface PrefixCount {
  blobs: number;
  snapshots: number;
  versions: number;
  softDeleted: number;
}

/** Blob Batch accepts at most 256 sub-requests. */
export const BATCH_LIMIT = 256;

export class BlobStoreError extends Error {
  constructor(
    /** `held`: a legal hold, an immutability policy or a lease keeps the blob (only a person can release it). */
    readonly type: 'unavailable' | 'invalid_input' | 'unauthorized' | 'held',
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'BlobStoreError';
  }
}

/**
 * Azure's Blob error codes (REST docs, "Blob Storage error codes"): 409 `BlobImmutableDueToPolicy`
 * and `BlobImmutableDueToLegalHold` for immutability; 412 `LeaseIdMissing` and the
 * `LeaseIdMismatch…` family for a blob under a lease.
 */
function isHeld(status: number | undefined, code: string | undefined): boolean {
  return (status === 409 && /^BlobImmutable/.test(code ?? '')) || (status === 412 && /^LeaseId(Missing|Mismatch)/.test(code ?? ''));
}

function classify(err: unknown, what: string): BlobStoreError {
  if (err instanceof BlobStoreError) return err;
  const status = err instanceof RestError ? err.statusCode : undefined;
  const code = (err as { code?: string })?.code ?? '';
  if (isHeld(status, code)) return new BlobStoreError('held', `${what}: refused (${status} ${code}: a hold, an immutability policy or a lease)`, status);
  if (status === 403 || status === 401) return new BlobStoreError('unauthorized', `${what}: access denied (${status})`, status);
  if (status === 400) return new BlobStoreError('invalid_input', `${what}: rejected (${code || status})`, status);
  return new BlobStoreError('unavailable', `${what}: ${status ? `HTTP ${status}` : code || (err as Error)?.message || 'failed'}`, status);
}

interface Target {
  blob: BlobClient;
  /** Only bases that have snapshots: asking for it on every blob makes some services (Azurite)
   * look snapshots up per blob, several times slower. */
  withSnapshots: boolean;
}

/** What to delete for each listed item: the base blob (with its snapshots), a lone snapshot, or a version. */
function targetsOf(items: BlobItem[], container: ContainerClient): Target[] {
  const bases = new Set(items.filter((i) => !i.snapshot && !i.versionId).map((i) => i.name));
  const hasSnapshots = new Set(items.filter((i) => i.snapshot).map((i) => i.name));
  const targets: Target[] = [];
  for (const item of items) {
    const blob = container.getBlobClient(item.name);
    if (item.snapshot) {
      // Deleting the base with its snapshots already takes them.
      if (!bases.has(item.name) || item.deleted) targets.push({ blob: blob.withSnapshot(item.snapshot), withSnapshots: false });
    } else if (item.versionId && !item.isCurrentVersion) {
      targets.push({ blob: blob.withVersion(item.versionId), withSnapshots: false });
    } else {
      targets.push({ blob, withSnapshots: hasSnapshots.has(item.name) });
    }
  }
  return targets;
}

async function runBounded<T>(tasks: (() => Promise<T>)[], concurrency: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, tasks.length) }, async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  });
  await Promise.all(lanes);
  return results;
}

export function createBlobStore(connectionString: string, containers: string[]): BlobStore {
  const service = BlobServiceClient.fromConnectionString(connectionString, {
    // Retries belong to Temporal (with backoff and a visible attempt count), not hidden here.
    retryOptions: { maxTries: 2, tryTimeoutInMs: 60_000 },
  });
  // Versions and soft-deleted blobs exist only where the account enables them; Azurite rejects
  // the listing flags, so we learn once per container whether the service accepts them.
  const fullListing = new Map<string, boolean>();

  async function listPage(container: ContainerClient, prefix: string, token: string | undefined, pageSize: number) {
    const full = fullListing.get(container.containerName) ?? true;
    try {
      const iter = container
        .listBlobsFlat({ prefix, includeSnapshots: true, includeVersions: full, includeDeleted: full })
        .byPage({ maxPageSize: pageSize, continuationToken: token });
      const page = (await iter.next()).value;
      fullListing.set(container.containerName, full);
      return { items: page?.segment.blobItems ?? [], next: page?.continuationToken || undefined };
    } catch (err) {
      if (full && err instanceof RestError && (err.statusCode === 400 || err.statusCode === 501)) {
        fullListing.set(container.containerName, false);
        return listPage(container, prefix, token, pageSize);
      }
      throw classify(err, `list ${container.containerName}`);
    }
  }

  async function deleteBatch(batchClient: BlobBatchClient, targets: Target[]): Promise<number> {
    const batch = batchClient.createBatch();
    for (const t of targets) await batch.deleteBlob(t.blob, t.withSnapshots ? { deleteSnapshots: 'include' } : {});
    let res;
    try {
      res = await batchClient.submitBatch(batch);
    } catch (err) {
      throw classify(err, 'blob batch');
    }
    let deleted = 0;
    const retryWithSnapshots: Target[] = [];
    res.subResponses.forEach((sub, i) => {
      // 404: already gone, which is what we wanted.
      if (sub.status === 202 || sub.status === 200) deleted++;
      else if (sub.status === 409 && sub.errorCode === 'SnapshotsPresent') {
        // Its snapshots were listed on another page, so we did not know about them.
        retryWithSnapshots.push({ blob: targets[i].blob, withSnapshots: true });
      } else if (isHeld(sub.status, sub.errorCode)) {
        throw new BlobStoreError('held', `blob batch sub-request refused: HTTP ${sub.status} ${sub.errorCode ?? ''} (a hold, an immutability policy or a lease)`.trim(), sub.status);
      } else if (sub.status !== 404) {
        throw new BlobStoreError(sub.status === 403 ? 'unauthorized' : 'unavailable', `blob batch sub-request failed: HTTP ${sub.status} ${sub.errorCode ?? ''}`.trim(), sub.status);
      }
    });
    if (retryWithSnapshots.length) deleted += await deleteBatch(batchClient, retryWithSnapshots);
    return deleted;
  }

  return {
    service,
    containers,
    container: (name) => service.getContainerClient(name),

    async ping() {
      for (const c of containers) {
        let exists: boolean;
        try {
          exists = await service.getContainerClient(c).exists();
        } catch (err) {
          throw classify(err, `container ${c}`);
        }
        if (!exists) throw new BlobStoreError('invalid_input', `blob container "${c}" does not exist`);
      }
    },

    async deletePrefix(containerName, prefix, opts) {
      const container = service.getContainerClient(containerName);
      const batchClient = container.getBlobBatchClient();
      const pageSize = opts.pageSize ?? 5000;
      const concurrency = opts.concurrency ?? 8;
      let token = opts.resumeToken;
      let deleted = 0;
      let listCalls = 0;
      let batchCalls = 0;
      // The next page is listed while the current one is being deleted.
      let pending = listPage(container, prefix, token, pageSize);
      pending.catch(() => undefined);
      for (;;) {
        const page = await pending;
        listCalls++;
        if (page.next) {
          pending = listPage(container, prefix, page.next, pageSize);
          // If this page's deletion fails first, the prefetch's own failure must not go unhandled.
          pending.catch(() => undefined);
        }
        const targets = targetsOf(page.items, container);
        const chunks: Target[][] = [];
        for (let i = 0; i < targets.length; i += BATCH_LIMIT) chunks.push(targets.slice(i, i + BATCH_LIMIT));
        const counts = await runBounded(chunks.map((c) => () => deleteBatch(batchClient, c)), concurrency);
        batchCalls += chunks.length;
        deleted += counts.reduce((a, b) => a + b, 0);
        token = page.next;
        await opts.onPage?.({ nextToken: token, deleted, listed: page.items.length });
        if (!token) break;
      }
      return { deleted, listCalls, batchCalls };
    },

    async countPrefix(containerName, prefix) {
      const container = service.getContainerClient(containerName);
      const count: PrefixCount = { blobs: 0, snapshots: 0, versions: 0, softDeleted: 0 };
      let token: string | undefined;
      do {
        const page = await listPage(container, prefix, token, 5000);
        for (const i of page.items) {
          if (i.deleted) count.softDeleted++;
          else if (i.snapshot) count.snapshots++;
          else if (i.versionId && !i.isCurrentVersion) count.versions++;
          else count.blobs++;
        }
        token = page.next;
      } while (token);
      return count;
    },
  };
}
