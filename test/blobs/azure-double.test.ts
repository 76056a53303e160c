/**
 * The blob adapter and the media activities against an HTTP double that answers as Azure's Blob
 * REST documentation says (test/support/azure-double.ts): soft delete, versioning, permanent
 * delete, legal holds, immutability policies, leases and throttling, none of which Azurite
 * implements. The activities run through MockActivityEnvironment.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { createBlobStore, BlobStoreError, type BlobStore } from '../../stores/blobs';
import { createMediaActivities, readMedia, accountPrefix } from '../../activities/deletion/media';
import { checkBlobRetention } from '../../worker/blob-retention';
import { startAzureDouble, type AzureDouble, type AccountSettings } from '../support/azure-double';
import { FailureType, isMediaCursor } from '../../contract';

const CONTAINERS = ['media', 'exports'];
const DAY_MS = 86_400_000;

let double: AzureDouble | undefined;
afterEach(async () => {
  await double?.close();
  double = undefined;
});

async function world(settings: AccountSettings, opts: { emulator?: boolean } = {}): Promise<{ d: AzureDouble; blobs: BlobStore; id: string; prefix: string }> {
  double = await startAzureDouble(settings, CONTAINERS);
  const blobs = createBlobStore(double.connectionString, CONTAINERS, { emulator: opts.emulator, retryOptions: { maxTries: 1, tryTimeoutInMs: 10_000 } });
  const id = randomUUID();
  return { d: double, blobs, id, prefix: accountPrefix(id) };
}

async function runDelete(
  blobs: BlobStore,
  id: string,
  opts: { heartbeatEveryMs?: number; pageSize?: number; concurrency?: number; heartbeatDetails?: unknown; onHeartbeat?: (d: unknown) => void } = {},
) {
  const env = new MockActivityEnvironment(opts.heartbeatDetails === undefined ? undefined : { heartbeatDetails: opts.heartbeatDetails });
  if (opts.onHeartbeat) env.on('heartbeat', opts.onHeartbeat);
  const acts = createMediaActivities({ blobs, pageSize: opts.pageSize, concurrency: opts.concurrency, heartbeatEveryMs: opts.heartbeatEveryMs });
  return (await env.run(acts.deleteMediaBlobs, id)) as Awaited<ReturnType<typeof acts.deleteMediaBlobs>>;
}

const clean = (r: { remaining: Record<string, number> }) => Object.values(r.remaining).every((n) => n === 0);

describe("media on a real Azure account (HTTP double per Azure's REST docs)", () => {
  test("soft delete on: deletion verifies clean, the soft-deleted blobs pending until the retention ends (HTTP double per Azure's REST docs)", async () => {
    const { d, blobs, id, prefix } = await world({ softDelete: { days: 14 } });
    for (let i = 0; i < 3; i++) d.put('media', `${prefix}img-${i}.jpg`);
    d.snapshot('media', `${prefix}img-0.jpg`);
    d.put('exports', `${prefix}video.mp4`);
    const bystander = `accounts/${randomUUID()}/img.jpg`;
    d.put('media', bystander);

    const counts = await runDelete(blobs, id);
    expect(counts.blobsDeleted).toBe(4);
    // Soft delete keeps every deleted item, marked deleted (List Blobs `include=deleted` shows them).
    expect(d.all('media', prefix).every((e) => e.deleted)).toBe(true);
    expect(d.all('media', prefix)).toHaveLength(4);

    const before = Date.now();
    const reading = await readMedia(blobs, id);
    expect(clean(reading)).toBe(true);
    expect(reading.remaining).toEqual({ blobs: 0, softDeleted: 0 });
    expect(reading.pending).toHaveLength(1);
    expect(reading.pending![0].what).toMatch(/5 soft-deleted blobs/);
    const until = Date.parse(reading.pending![0].until!);
    expect(until).toBeGreaterThanOrEqual(before + 14 * DAY_MS - 60_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 14 * DAY_MS + 60_000);
    // The other account's blob is untouched.
    expect(d.all('media', bystander)).toEqual([{ container: 'media', name: bystander }]);
  });

  test("soft delete with permanent delete allowed: soft-deleted snapshots are purged (deletetype=permanent), base blobs pending (HTTP double per Azure's REST docs)", async () => {
    const { d, blobs, id, prefix } = await world({ softDelete: { days: 7, allowPermanentDelete: true } });
    d.put('media', `${prefix}a.jpg`);
    const snap = d.snapshot('media', `${prefix}a.jpg`);
    const counts = await runDelete(blobs, id);
    expect(counts.softDeletedPurged).toBe(1);
    const purge = d.requests.flatMap((r) => r.sub ?? []).find((s) => s.includes('deletetype=permanent'));
    expect(purge).toContain(`snapshot=${encodeURIComponent(snap)}`);
    // Only the soft-deleted base blob is left, and only Azure's retention removes it.
    const left = d.all('media', prefix);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ name: `${prefix}a.jpg`, deleted: true });
    expect(left[0].snapshot).toBeUndefined();
    const reading = await readMedia(blobs, id);
    expect(clean(reading)).toBe(true);
    expect(reading.pending![0].what).toMatch(/1 soft-deleted blobs/);
  });

  test("versioning: every version is deleted by its version id, the current one after its base (HTTP double per Azure's REST docs)", async () => {
    const { d, blobs, id, prefix } = await world({ versioning: true });
    const name = `${prefix}cam/1.jpg`;
    const v1 = d.put('media', name)!;
    const v2 = d.put('media', name)!;
    const v3 = d.put('media', name)!;
    await runDelete(blobs, id, { pageSize: 2 });
    expect(d.all('media', prefix)).toEqual([]);
    const subs = d.requests.flatMap((r) => r.sub ?? []);
    for (const v of [v1, v2, v3]) expect(subs.some((s) => s.includes(`versionid=${encodeURIComponent(v)}`))).toBe(true);
    const reading = await readMedia(blobs, id);
    expect(reading.remaining).toEqual({ blobs: 0, softDeleted: 0 });
    expect(reading.pending).toBeUndefined();
  });

  test("versioning with soft delete and permanent delete: deleted versions are purged for good (HTTP double per Azure's REST docs)", async () => {
    const { d, blobs, id, prefix } = await world({ versioning: true, softDelete: { days: 30, allowPermanentDelete: true } });
    d.put('media', `${prefix}x.jpg`);
    d.put('media', `${prefix}x.jpg`);
    await runDelete(blobs, id);
    expect(d.all('media', prefix)).toEqual([]);
    const reading = await readMedia(blobs, id);
    expect(clean(reading)).toBe(true);
    expect(reading.pending).toBeUndefined();
  });

  test("versioning with soft delete, permanent delete off: soft-deleted versions are pending, not remaining (HTTP double per Azure's REST docs)", async () => {
    const { d, blobs, id, prefix } = await world({ versioning: true, softDelete: { days: 30 } });
    d.put('media', `${prefix}x.jpg`);
    d.put('media', `${prefix}x.jpg`);
    await runDelete(blobs, id);
    expect(d.all('media', prefix).every((e) => e.deleted)).toBe(true);
    const reading = await readMedia(blobs, id);
    expect(clean(reading)).toBe(true);
    expect(reading.pending![0].what).toMatch(/2 soft-deleted blobs/);
    // Lethe never asked for a permanent delete the account does not allow.
    expect(d.requests.flatMap((r) => r.sub ?? []).some((s) => s.includes('deletetype'))).toBe(false);
  });

  test("a listing error on a real (non-emulator) account is an error, not a silent fallback (HTTP double per Azure's REST docs)", async () => {
    const { d, blobs, id, prefix } = await world({ versioning: true });
    d.put('media', `${prefix}a.jpg`);
    d.put('media', `${prefix}a.jpg`);
    d.fail({ op: 'list', status: 400, code: 'InvalidQueryParameterValue' });
    await expect(blobs.deletePrefix('media', prefix, {})).rejects.toMatchObject({ name: 'BlobStoreError', type: 'unavailable' });
    // Nothing was deleted, and a later listing still asks for every copy.
    expect(d.all('media', prefix)).toHaveLength(2);
    d.fail({ op: 'list', status: 400, code: 'InvalidQueryParameterValue' });
    await expect(readMedia(blobs, id)).rejects.toBeInstanceOf(BlobStoreError);
    await blobs.deletePrefix('media', prefix, {});
    const lists = d.requests.filter((r) => r.query.comp === 'list');
    expect(lists.every((r) => /versions/.test(r.query.include) && /deleted/.test(r.query.include))).toBe(true);
    expect(d.all('media', prefix)).toEqual([]);
  });

  test("the emulator option, and only it, retries a rejected listing without versions and deleted blobs (HTTP double per Azure's REST docs)", async () => {
    const { d, blobs, prefix } = await world({}, { emulator: true });
    d.put('media', `${prefix}a.jpg`);
    d.fail({ op: 'list', status: 400, code: 'InvalidQueryParameterValue' });
    const res = await blobs.deletePrefix('media', prefix, {});
    expect(res.deleted).toBe(1);
    const lists = d.requests.filter((r) => r.query.comp === 'list');
    expect(lists.at(-1)!.query.include).toBe('snapshots');
  });

  test("a 409 BlobImmutableDueToLegalHold or BlobImmutableDueToPolicy is Held with the blob count and the policy expiry; the rest is deleted (HTTP double per Azure's REST docs)", async () => {
    const { d, blobs, id, prefix } = await world({});
    for (let i = 0; i < 5; i++) d.put('media', `${prefix}b-${i}.jpg`);
    d.attrs('media', `${prefix}b-1.jpg`).legalHold = true;
    d.attrs('media', `${prefix}b-2.jpg`).legalHold = true;
    const until = new Date(Date.now() + 90 * DAY_MS);
    d.attrs('media', `${prefix}b-3.jpg`).immutableUntil = until;
    const err = await runDelete(blobs, id).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.type).toBe(FailureType.Held);
    expect(failure.message).toMatch(/3 blobs refused deletion \(2 under a legal hold, 1 under an immutability policy, policy until /);
    const stated = /policy until (\S+)\)/.exec(failure.message)![1];
    expect(Math.abs(Date.parse(stated) - until.getTime())).toBeLessThan(1000);
    expect(
      d
        .all('media', prefix)
        .map((e) => e.name)
        .sort(),
    ).toEqual([`${prefix}b-1.jpg`, `${prefix}b-2.jpg`, `${prefix}b-3.jpg`]);
    // The two it deleted ride on the failure: the workflow counts them in the receipt, since the
    // next activity (once the hold is released) finds only the three.
    expect(failure.details).toEqual([expect.objectContaining({ byContainer: { media: 2, exports: 0 }, token: undefined })]);
    expect(isMediaCursor(failure.details![0])).toBe(true);
  });

  test("a 412 LeaseIdMissing: the lease is broken (Lease Blob, action break), then the blob deleted (HTTP double per Azure's REST docs)", async () => {
    const { d, blobs, id, prefix } = await world({});
    d.put('media', `${prefix}leased.jpg`);
    d.put('media', `${prefix}free.jpg`);
    d.attrs('media', `${prefix}leased.jpg`).leased = true;
    const counts = await runDelete(blobs, id);
    expect(counts.leasesBroken).toBe(1);
    expect(counts.blobsDeleted).toBe(2);
    expect(d.all('media', prefix)).toEqual([]);
    const breaks = d.requests.filter((r) => r.query.comp === 'lease');
    expect(breaks).toHaveLength(1);
    expect(breaks[0].headers!['x-ms-lease-action']).toBe('break');
    expect(breaks[0].headers!['x-ms-lease-break-period']).toBe('0');
  });

  test("503 ServerBusy is transient (Unavailable, retried), not a hold (HTTP double per Azure's REST docs)", async () => {
    const { d, blobs, id, prefix } = await world({});
    d.put('media', `${prefix}a.jpg`);
    d.fail({ op: 'batch', status: 503, code: 'ServerBusy' });
    await expect(runDelete(blobs, id)).rejects.toMatchObject({ type: FailureType.Unavailable, nonRetryable: false, message: expect.stringMatching(/503/) });
    await runDelete(blobs, id);
    expect(d.all('media', prefix)).toEqual([]);
  });

  test("an attempt that fails halfway through a page stops, heartbeats what it deleted, and its retry's total counts every blob (HTTP double per Azure's REST docs)", async () => {
    // CI met this: a 2,000-blob account whose first attempt failed inside its one page; the retry
    // listed only what was left and the receipt said 464 blobs deleted.
    const { d, blobs, id, prefix } = await world({});
    const total = 1_000; // one page (5,000 a page), four batches of at most 256
    for (let i = 0; i < total; i++) d.put('media', `${prefix}${String(i).padStart(4, '0')}.jpg`);
    d.fail({ op: 'batch', status: 503, code: 'ServerBusy', after: 1 });
    const beats: { byContainer: Record<string, number>; token?: string }[] = [];
    const batches = () => d.requests.filter((r) => r.query.comp === 'batch').length;
    await expect(runDelete(blobs, id, { concurrency: 2, onHeartbeat: (x) => beats.push(x as (typeof beats)[number]) })).rejects.toMatchObject({ type: FailureType.Unavailable, nonRetryable: false });
    const gone = total - d.all('media', prefix).length;
    const sentAtFailure = batches();
    await new Promise((r) => setTimeout(r, 300));
    // No batch goes out after the attempt has failed (a lane that went on would delete uncounted).
    expect(batches()).toBe(sentAtFailure);
    expect(d.all('media', prefix)).toHaveLength(total - gone);
    expect(gone).toBeGreaterThan(0);
    expect(gone).toBeLessThan(total);
    // The last heartbeat holds every blob the attempt deleted, and the page's start to resume from.
    const last = beats.at(-1)!;
    expect(last.byContainer.media).toBe(gone);
    expect(last.token).toBeUndefined();

    const retry = await runDelete(blobs, id, { concurrency: 2, heartbeatDetails: last });
    expect(d.all('media', prefix)).toEqual([]);
    expect(retry.resumed).toBe(true);
    expect(retry.blobsDeleted).toBe(total);
    expect(retry.byContainer.media).toBe(total);
  });

  test("heartbeats go out on a timer while a slow listing is in flight (HTTP double per Azure's REST docs)", async () => {
    const { d, blobs, id, prefix } = await world({});
    d.put('media', `${prefix}a.jpg`);
    d.listDelayMs = 1_500;
    let beforeFirstBatch = 0;
    await runDelete(blobs, id, {
      heartbeatEveryMs: 100,
      onHeartbeat: () => {
        if (!d.requests.some((r) => r.query.comp === 'batch')) beforeFirstBatch++;
      },
    });
    // The first listing took 1.5 s with no page finished: only a timer heartbeats in that time.
    expect(beforeFirstBatch).toBeGreaterThanOrEqual(5);
  });

  test("start-up check: a soft-delete retention past the deadline is a warning with its figures; within it, ok; unreadable, unknown (HTTP double per Azure's REST docs)", async () => {
    let lines: string[] = [];
    const log = (l: string) => void lines.push(l);
    const { blobs } = await world({ softDelete: { days: 14 } });
    const warn = await checkBlobRetention(blobs, { deadlineHours: 72, log });
    expect(warn).toMatchObject({ status: 'warning', outlivesDeadline: true, retentionHours: 336, deadlineHours: 72, softDelete: { enabled: true, days: 14, allowPermanentDelete: false } });
    expect(lines).toEqual([expect.stringMatching(/^WARNING: blob soft delete keeps deleted media recoverable for 14 days, past the 72 h deadline/)]);
    await double!.close();

    lines = [];
    const short = await world({ softDelete: { days: 2, allowPermanentDelete: true } });
    expect(await checkBlobRetention(short.blobs, { deadlineHours: 72, log })).toMatchObject({ status: 'ok', outlivesDeadline: false, softDelete: { days: 2, allowPermanentDelete: true } });
    await double!.close();

    const denied = await world({});
    denied.d.fail({ op: 'properties', status: 403, code: 'AuthorizationPermissionMismatch' });
    expect(await checkBlobRetention(denied.blobs, { deadlineHours: 72 })).toMatchObject({ status: 'unknown', softDelete: null });
  });
});
