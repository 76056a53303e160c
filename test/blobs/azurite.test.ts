/**
 * What Azurite (the embedded stack's emulator) does implement: leases and snapshots. Soft delete,
 * versioning, holds and throttling are in azure-double.test.ts, against an HTTP double per
 * Azure's REST docs.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { testConfig } from '../support/stack';
import { createBlobStore, isEmulatorConnectionString } from '../../stores/blobs';
import { createMediaActivities, readMedia, accountPrefix } from '../../activities/deletion/media';
import { checkBlobRetention } from '../../worker/blob-retention';

describe('media on Azurite', () => {
  const config = testConfig();
  const blobs = createBlobStore(config.blob.connectionString, config.blob.containers, { emulator: isEmulatorConnectionString(config.blob.connectionString) });

  test("the embedded stack's connection string is the emulator's (the listing fallback is allowed there only)", () => {
    expect(blobs.emulator).toBe(true);
    expect(isEmulatorConnectionString('DefaultEndpointsProtocol=https;AccountName=lethe;AccountKey=a2V5;EndpointSuffix=core.windows.net')).toBe(false);
  });

  test('a leased blob (Azurite answers 412 LeaseIdMissing) has its lease broken, then is deleted with its snapshot', async () => {
    const id = randomUUID();
    const prefix = accountPrefix(id);
    const media = blobs.container('media');
    const leased = media.getBlockBlobClient(`${prefix}leased.jpg`);
    await leased.upload('x', 1);
    await leased.createSnapshot();
    await leased.getBlobLeaseClient().acquireLease(-1);
    await media.getBlockBlobClient(`${prefix}free.jpg`).upload('y', 1);

    const acts = createMediaActivities({ blobs, heartbeatEveryMs: 100 });
    const counts = (await new MockActivityEnvironment().run(acts.deleteMediaBlobs, id)) as Awaited<ReturnType<typeof acts.deleteMediaBlobs>>;
    expect(counts.leasesBroken).toBe(1);
    const reading = await readMedia(blobs, id);
    expect(reading.remaining).toEqual({ blobs: 0, softDeleted: 0 });
    expect(reading.pending).toBeUndefined();
  });

  test('start-up check on the emulator: ok, nothing soft-deleted to wait for', async () => {
    const lines: string[] = [];
    expect(await checkBlobRetention(blobs, { deadlineHours: 72, log: (l) => void lines.push(l) })).toMatchObject({ status: 'ok', outlivesDeadline: false });
    expect(lines).toHaveLength(1);
  });
});
