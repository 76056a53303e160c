/**
 * Lethe's archive container on an account with versioning and soft delete (the HTTP double of
 * Azure's Blob REST docs, test/support/azure-double.ts; Azurite has neither): deleting an
 * archive, at its expiry or a deletion of the account, leaves no previous version, snapshot or
 * purgeable soft-deleted copy behind, as read through the Azure SDK's own listing with
 * versions, snapshots and deleted items included.
 */
import { randomUUID } from 'node:crypto';
import { createBlobStore } from '../../stores/blobs';
import { createArchiveStore } from '../../stores/archive';
import { archivePrefix, partName, stagedName } from '../../activities/access/types';
import { startAzureDouble, type AzureDouble } from '../support/azure-double';

const CONTAINER = 'lethe-access';

let double: AzureDouble | undefined;
afterEach(async () => {
  await double?.close();
  double = undefined;
});

/** Everything the account holds under `prefix`: the SDK's listing with every include. */
async function everyCopy(blobs: ReturnType<typeof createBlobStore>, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const b of blobs.container(CONTAINER).listBlobsFlat({ prefix, includeVersions: true, includeSnapshots: true, includeDeleted: true })) {
    out.push(`${b.name}${b.versionId ? `@v${b.versionId}` : ''}${b.snapshot ? `@s${b.snapshot}` : ''}${b.deleted ? ' (deleted)' : ''}`);
  }
  return out;
}

describe("the access archive's container (HTTP double per Azure's REST docs)", () => {
  test('when an archive written in several versions is deleted on an account with versioning and soft delete, then no version, snapshot or deleted copy is left, and a neighbour’s archive is untouched', async () => {
    double = await startAzureDouble({ versioning: true, softDelete: { days: 14, allowPermanentDelete: true } }, ['media', CONTAINER]);
    const blobs = createBlobStore(double.connectionString, ['media'], { retryOptions: { maxTries: 1, tryTimeoutInMs: 10_000 } });
    const archive = createArchiveStore(blobs, CONTAINER);
    const id = randomUUID();
    const other = randomUUID();
    // A part rewritten by a retried attempt (three versions), a snapshot, staged files.
    for (let i = 0; i < 3; i++) double.put(CONTAINER, partName(id, 1, 2));
    double.put(CONTAINER, partName(id, 2, 2));
    double.snapshot(CONTAINER, partName(id, 2, 2));
    double.put(CONTAINER, stagedName(id, 'media'));
    double.put(CONTAINER, stagedName(id, 'media'));
    double.put(CONTAINER, partName(other, 1, 1));
    expect((await everyCopy(blobs, archivePrefix(id))).length).toBe(7);

    expect(await archive.deletePrefix(archivePrefix(id))).toBeGreaterThanOrEqual(3);
    expect(await everyCopy(blobs, archivePrefix(id))).toEqual([]);
    expect(double.all(CONTAINER, archivePrefix(id))).toEqual([]);
    expect(await everyCopy(blobs, archivePrefix(other))).toHaveLength(1);
  });

  test('when versioning is on without soft delete, then every previous version goes by its id', async () => {
    double = await startAzureDouble({ versioning: true }, ['media', CONTAINER]);
    const blobs = createBlobStore(double.connectionString, ['media'], { retryOptions: { maxTries: 1, tryTimeoutInMs: 10_000 } });
    const archive = createArchiveStore(blobs, CONTAINER);
    const id = randomUUID();
    for (let i = 0; i < 4; i++) double.put(CONTAINER, partName(id, 1, 1));
    await archive.deletePrefix(archivePrefix(id));
    expect(await everyCopy(blobs, archivePrefix(id))).toEqual([]);
  });
});
