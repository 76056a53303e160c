/**
 * The archive is deleted when its link expires: the access workflow on Temporal's time-skipping
 * server, with the real activities over the test stack (PostgreSQL, Azurite, Mailpit), so a
 * week's link runs in seconds and the archive read is the real one in Lethe's container.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { buildDeps, type WorkerDeps } from '../../worker/deps';
import { createActivities } from '../../activities';
import { accessProgressQuery, accessRequestWorkflow, accessWorkflowId } from '../../workflows/access';
import type { AccessInput } from '../../activities/access/types';
import { BLOCK_POLICY } from '../../contract';
import { seedAccount } from '../../dev/seed/fixtures';
import { testConfig } from '../support/stack';
import { rngFor } from '../support/world-seed';
import { until } from '../support/until';
import { startTimeSkipping, workflowBundle, type TimeSkipping } from '../support/time-skipping';

const DAY = 86_400_000;

describe('an access archive on the time-skipping server (real activities)', () => {
  let ts: TimeSkipping;
  let deps: WorkerDeps;
  const rand = rngFor(__filename);
  beforeAll(async () => {
    ts = await startTimeSkipping();
    deps = buildDeps(testConfig());
  }, 120_000);
  afterAll(async () => {
    await deps?.close();
    await ts?.close();
  });

  test('when the week of its link has passed, then the workflow has deleted the archive, and not a day before', async () => {
    const a = await seedAccount({ db: deps.db, blobs: deps.blobs, auth0: deps.auth0, recurly: deps.recurly }, { media: 4, auth0: 'none', subscriptions: null }, rand);
    const requestId = randomUUID();
    const now = await ts.env.currentTimeMs();
    const input: AccessInput = {
      requestId,
      accountId: a.id,
      channel: 'support',
      receivedAt: new Date(now).toISOString(),
      deadlineAt: new Date(now + 3 * DAY).toISOString(),
      blockPolicy: BLOCK_POLICY,
      linkTtlMs: 7 * DAY,
      partBytes: 2 * 1024 ** 3,
    };
    await deps.db('lethe.access_requests').insert({ request_id: requestId, account_id: a.id, channel: 'support', received_at: input.receivedAt, deadline_at: input.deadlineAt, status: 'pending' });
    const container = deps.blobs.service.getContainerClient(deps.config.access!.container);
    const parts = async () => {
      const names: string[] = [];
      for await (const b of container.listBlobsFlat({ prefix: `access/${requestId}/` })) names.push(b.name);
      return names;
    };
    const taskQueue = `ts-access-${randomUUID()}`;
    const worker = await Worker.create({ connection: ts.env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: createActivities(deps) });
    await worker.runUntil(async () => {
      const handle = await ts.env.client.workflow.start(accessRequestWorkflow, { taskQueue, workflowId: accessWorkflowId(requestId), args: [input] });
      const ready = await until('the archive to be ready', async () => ((await handle.query(accessProgressQuery)).status === 'ready' ? handle.query(accessProgressQuery) : undefined), 120_000);
      expect(await parts()).toEqual([`access/${requestId}/your-data.zip`]);
      // Six days on: the link still lives, so does the archive.
      await ts.env.sleep(6 * DAY);
      // Past the 72-hour deadline too: met when the archive was ready, so not overdue.
      expect(await handle.query(accessProgressQuery)).toMatchObject({ status: 'ready', overdue: false });
      expect(await parts()).toHaveLength(1);
      const done = await handle.result();
      expect(done.status).toBe('expired');
      expect(Date.parse(done.archive!.deletedAt!)).toBeGreaterThanOrEqual(Date.parse(ready.archive!.expiresAt));
      expect(Date.parse(ready.archive!.expiresAt) - Date.parse(ready.completedAt!)).toBe(7 * DAY);
    });
    expect(await parts()).toEqual([]);
    const row = await deps.db('lethe.access_requests').where({ request_id: requestId }).first();
    expect(row.status).toBe('expired');
    expect(row.archive_deleted_at).not.toBeNull();
  }, 300_000);
});
