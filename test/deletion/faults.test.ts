/**
 * Deletions finish through vendor throttling and outages, a storage outage in the middle of
 * media deletion, and a worker killed mid-way (which resumes from its cursor). Each test runs
 * against stores of its own so the faults reach no other test.
 */
import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { startWorld, testConfig } from '../support/stack';
import { buildDeps } from '../../worker/deps';
import { startPrivateStores, PrivateStores } from '../support/private-stores';
import { armFault, stats } from '../sandboxes/helpers/sandboxAdmin';
import { expectEmpty, storesOf } from '../support/stores';
import { rng, seedAccount, SeedDeps } from '../../dev/seed/fixtures';
import { createIntake } from '../../client/intake';
import { getDataConverter, decodePayloads } from '../../encryption';
import type { MediaCursor } from '../../activities/deletion/media';
import type { Receipt } from '../../contract';
import { temporalConnectionOptions, requireKeyRing } from '../../config';
import { sleep, until } from '../support/until';

const ROOT = path.resolve(__dirname, '..', '..');
/** Generous: on a loaded 2-core machine, seeding thousands of blobs, an outage and the backoff after it take minutes. */
const FAULT_TEST_TIMEOUT_MS = 20 * 60_000;

type Describable = {
  describe(): Promise<{
    raw: { pendingActivities?: { activityType?: { name?: string | null } | null; attempt?: number | null; heartbeatDetails?: { payloads?: unknown[] | null } | null }[] | null };
  }>;
};

const deletedIn = (c: MediaCursor) => Object.values(c.byContainer).reduce((x, y) => x + y, 0);

/** The media deletion's cursor as the server last received it (what a retried attempt is given), and its attempt. */
async function serverCursor(handle: Describable): Promise<{ cursor: MediaCursor; attempt: number } | undefined> {
  const d = await handle.describe();
  const pending = d.raw.pendingActivities?.find((p) => p.activityType?.name === 'deleteMediaBlobs');
  const payload = pending?.heartbeatDetails?.payloads?.[0];
  if (!payload) return undefined;
  // Heartbeat details are encrypted like every payload; decode as the SDK would.
  const [decoded] = await decodePayloads(requireKeyRing(testConfig()), [payload as never]);
  return { cursor: defaultPayloadConverter.fromPayload<MediaCursor>(decoded), attempt: pending?.attempt ?? 0 };
}

/** The media deletion's cursor as the server last received it, once it has deleted `min` blobs. */
async function heartbeatedCursor(handle: Describable, min: number): Promise<MediaCursor> {
  return until(
    `a heartbeated cursor past ${min} blobs`,
    async () => {
      const c = (await serverCursor(handle))?.cursor;
      return c && deletedIn(c) >= min ? c : undefined;
    },
    5 * 60_000,
  );
}

/** Blobs (with snapshots) under the account's prefix, in every container. */
async function blobsLeft(deps: { blobs: SeedDeps['blobs'] }, accountId: string): Promise<number> {
  let n = 0;
  for (const c of deps.blobs.containers) {
    for await (const _ of deps.blobs.container(c).listBlobsFlat({ prefix: `accounts/${accountId}/`, includeSnapshots: true })) n++;
  }
  return n;
}

describe('deletion under faults', () => {
  let stores: PrivateStores;
  beforeAll(async () => {
    stores = await startPrivateStores();
  });
  afterAll(async () => stores?.close());

  test(
    'when Auth0 throttles, Recurly fails and Azurite goes away during media deletion, then the deletion still completes',
    async () => {
      const world = await startWorld({ env: { ...stores.env, LETHE_BLOB_PAGE_SIZE: '50', LETHE_BLOB_BATCH_CONCURRENCY: '1' } });
      try {
        const seed: SeedDeps = { ...world.deps, recurlySandboxUrl: stores.recurly.url };
        const a = await seedAccount(seed, { media: 1500, orphanBlobs: 10, snapshots: 20 }, rng(7));
        await armFault(stores.auth0.url, { mode: '429', count: 3, retryAfterSeconds: 2, pathPrefix: '/api/v2/users' });
        await armFault(stores.recurly.url, { mode: '500', count: 3, pathPrefix: '/accounts' });
        const deletions = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
        const started = await deletions.start({ accountId: a.id, channel: 'support' });
        const handle = world.client.workflow.getHandle(started.workflowId);

        // Take storage away once media deletion has made (heartbeated) progress; bring it back later.
        await heartbeatedCursor(handle, 100);
        await stores.azurite.stop();
        await sleep(5_000);
        await stores.azurite.start();

        const receipt: Receipt = await handle.result();
        expectEmpty(await storesOf(seed, a));
        expect(receipt.verification.clean).toBe(true);
        // The outage interrupted media deletion and the retry carried on from the cursor.
        expect(receipt.counts.media!.resumed).toBe(true);
        const auth0Stats = await stats(stores.auth0.url);
        const recurlyStats = await stats(stores.recurly.url);
        const statusCount = (s: typeof auth0Stats, code: string) => Object.values(s.statuses).reduce((n, m) => n + (m[code] ?? 0), 0);
        expect(statusCount(auth0Stats, '429')).toBe(3);
        expect(statusCount(recurlyStats, '500')).toBe(3);
      } finally {
        await world.close();
      }
    },
    FAULT_TEST_TIMEOUT_MS,
  );

  test(
    'when the worker process is killed during media deletion, then a new worker resumes from the cursor instead of starting over',
    async () => {
      // Workers are separate processes here, on a queue of their own, so one can be killed.
      const config = testConfig({ ...stores.env, LETHE_TASK_QUEUE: `test-${randomUUID()}` });
      const deps = buildDeps(config);
      const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
      const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(requireKeyRing(config)) });
      const workerEnv = { ...process.env, ...stores.env, LETHE_TASK_QUEUE: config.temporal.taskQueue, LETHE_BLOB_PAGE_SIZE: '100', LETHE_BLOB_BATCH_CONCURRENCY: '1' };
      const startWorker = (): ChildProcess => spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], { cwd: ROOT, env: workerEnv, stdio: 'ignore' });
      let worker = startWorker();
      try {
        const seed: SeedDeps = { ...deps, recurlySandboxUrl: stores.recurly.url };
        const a = await seedAccount(seed, { media: 3000, orphanBlobs: 0, snapshots: 0 }, rng(8));
        const totalPages = Math.ceil(2400 / 100) + Math.ceil(600 / 100); // images in media, videos in exports
        const deletions = createIntake({ config, db: deps.db, temporal: client });
        const started = await deletions.start({ accountId: a.id, channel: 'in_app' });
        const handle = client.workflow.getHandle(started.workflowId);

        const cursor = await heartbeatedCursor(handle, 800);
        worker.kill('SIGKILL');
        await new Promise((r) => worker.once('exit', r));
        // With no worker alive nothing deletes, so what the next attempt will be given and what it
        // will find are read exactly: the last heartbeat the server kept (one may have landed after
        // `cursor` was read), and the blobs left, counted until two counts 2 s apart agree (Azurite
        // may still be executing a batch whose client died).
        const resumedFrom = await serverCursor(handle);
        expect(resumedFrom?.attempt).toBe(1);
        let left = await blobsLeft(deps, a.id);
        for (;;) {
          await sleep(2_000);
          const again = await blobsLeft(deps, a.id);
          if (again === left) break;
          left = again;
        }
        worker = startWorker();

        const receipt: Receipt = await handle.result();
        expectEmpty(await storesOf(seed, a));
        const media = receipt.counts.media!;
        expect(media.resumed).toBe(true);
        // The count below is short by what the dead attempt deleted after its last heartbeat: said so.
        expect(media.atLeast).toBe(true);
        // The new attempt listed only what was left after the cursor, not every page again.
        expect(media.listCallsThisAttempt).toBeLessThan(totalPages);
        expect(media.listCallsThisAttempt).toBeLessThanOrEqual(totalPages - cursor.listCalls + 2);
        // The fault model: the new attempt starts from the server's last heartbeat and counts what
        // it deletes on top; blobs the dead attempt deleted after that heartbeat are counted by
        // neither (gone before the new attempt lists). So the figure is exactly the heartbeat's
        // count plus what was left at the kill, with no tolerance: both were read while no worker
        // ran. It is below 3000 by exactly those uncounted blobs; emptiness above proves completeness.
        const fromHeartbeat = deletedIn(resumedFrom!.cursor);
        expect(fromHeartbeat).toBeGreaterThanOrEqual(deletedIn(cursor));
        expect(left).toBeGreaterThan(0);
        expect(media.blobsDeleted).toBe(fromHeartbeat + left);
        expect(3000 - media.blobsDeleted).toBeGreaterThanOrEqual(0);
        process.stderr.write(`[faults] killed at ${fromHeartbeat} heartbeated, ${left} left: ${3000 - fromHeartbeat - left} deleted after the last heartbeat and uncounted\n`);
      } finally {
        worker.kill('SIGKILL');
        await connection.close();
        await deps.close();
      }
    },
    FAULT_TEST_TIMEOUT_MS,
  );
});
