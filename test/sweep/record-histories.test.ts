/**
 * Records the histories test/deletion/replay.test.ts replays for the sweep's workflows: a
 * scoped dry-run sweep that continues as new (its first and last run), and a sweep's
 * deletion that the re-check skips and one it lets through. Recorded through Lethe's data
 * converter (encryption/) like production, with the committed TEST-ONLY key of
 * test/support/histories.ts instead of the stack's generated one (a worker and client of its
 * own here), so they replay in any later run; replay.test.ts checks they are ciphertext.
 *
 *   LETHE_RECORD_HISTORIES=1 npx jest test/sweep/record-histories.test.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { testConfig } from '../support/stack';
import { buildDeps } from '../../worker/deps';
import { createWorker } from '../../worker/worker';
import { createSweepService } from '../../client/sweeps';
import { createIntake } from '../../client/intake';
import { cutoffFor } from '../../activities/sweep/candidates';
import { scopedSeeder, daysAfter, newScopePrefix } from './support';
import { deletionWorkflowId } from '../../contract';
import { getDataConverter } from '../../encryption';
import { temporalConnectionOptions, requireKeyRing } from '../../config';
import { HISTORIES_DIR, HISTORY_RECORDING_ENV, HISTORY_TEST_KEY_ID } from '../support/histories';

const SWEEP_HISTORIES = ['sweep-dry-run-first-run', 'sweep-dry-run-last-run', 'sweep-real-last-run', 'deletion-inactivity-completed', 'deletion-inactivity-skipped'];

if (!process.env.LETHE_RECORD_HISTORIES) {
  // Not a skip: without the variable this file checks that what it records is committed and
  // was recorded with the test key (replay.test.ts checks every payload and replays them).
  test('when not recording, then the histories this file records are committed, encrypted with the test key', () => {
    for (const name of SWEEP_HISTORIES) {
      const text = fs.readFileSync(path.join(HISTORIES_DIR, `${name}.json`), 'utf8');
      expect({ name, keyId: text.includes(Buffer.from(HISTORY_TEST_KEY_ID).toString('base64')) }).toEqual({ name, keyId: true });
    }
  });
}

if (process.env.LETHE_RECORD_HISTORIES) {
  test('record: a continued-as-new dry-run sweep, a real sweep, and sweep deletions skipped and completed', async () => {
    const taskQueue = `record-${randomUUID()}`;
    const prefix = newScopePrefix();
    const config = testConfig({
      LETHE_TASK_QUEUE: taskQueue,
      LETHE_SWEEP_STARTS_PER_MINUTE: '6000',
      LETHE_SWEEP_PAGE_SIZE: '2',
      LETHE_SWEEP_PAGES_PER_RUN: '2',
      LETHE_SWEEP_SCOPE: prefix,
      ...HISTORY_RECORDING_ENV,
    });
    expect(config.encryption.keys?.currentKeyId).toBe(HISTORY_TEST_KEY_ID);
    const dataConverter = getDataConverter(requireKeyRing(config));
    const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
    const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter });
    const base = buildDeps(config);
    const intake = createIntake({ config, db: base.db, temporal: client });
    const deps = { ...base, temporalClient: () => client, startDeletion: intake.startInactivity };
    // The deployment's worker: the deletions' Auth0 and Recurly activities run on the vendors' own queues.
    const { worker, connection: nc } = await createWorker(config, deps);
    const running = worker.run();
    const save = async (name: string, workflowId: string, runId?: string) => {
      const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
      fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), JSON.stringify(history));
    };
    try {
      const seeder = scopedSeeder({ ...deps, recurlySandboxUrl: config.recurly.baseUrl }, 4_0001, prefix);
      const cutoff = await cutoffFor(deps.db, new Date().toISOString(), 24, 'UTC');
      const inactive = { createdAt: daysAfter(cutoff, -400), lastLoginAt: daysAfter(cutoff, -40) };
      for (let i = 0; i < 4; i++) await seeder.account({ ...inactive, subscriptions: null, media: 1 });
      await seeder.account({ ...inactive, subscriptions: [{ state: 'active' }] });

      const sweeps = createSweepService({ config, temporal: client, db: deps.db });
      const dry = await sweeps.start({ dryRun: true });
      await client.workflow.getHandle(dry.sweepId).result();
      const runs: { runId: string; start: number }[] = [];
      for await (const w of client.workflow.list({ query: `WorkflowId = "${dry.sweepId}"` })) runs.push({ runId: w.runId, start: w.startTime.getTime() });
      runs.sort((a, b) => a.start - b.start);
      expect(runs.length).toBeGreaterThanOrEqual(2);
      await save('sweep-dry-run-first-run', dry.sweepId, runs[0].runId);
      await save('sweep-dry-run-last-run', dry.sweepId, runs[runs.length - 1].runId);

      const real = await sweeps.start({ dryRun: false });
      const result = await client.workflow.getHandle(real.sweepId).result();
      expect(result.started).toBe(4);
      await save('sweep-real-last-run', real.sweepId);

      // Re-checked and let through: one the sweep started.
      const [first] = await deps.db('lethe.sweep_candidates').where({ sweep_id: real.sweepId }).pluck('account_id');
      await client.workflow.getHandle(deletionWorkflowId(first)).result();
      await save('deletion-inactivity-completed', deletionWorkflowId(first));

      // Re-checked and skipped: logged in after it was "selected".
      const active = await seeder.account({ ...inactive, subscriptions: null });
      await deps.db('accounts').where({ id: active.id }).update({ last_login_at: deps.db.fn.now() });
      await intake.startInactivity({ accountId: active.id, selectedAt: daysAfter(new Date(), -1).toISOString(), requestedBy: 'record-histories' });
      const skipped = await client.workflow.getHandle(deletionWorkflowId(active.id)).result();
      expect(skipped.skipped).toBe(true);
      await save('deletion-inactivity-skipped', deletionWorkflowId(active.id));
    } finally {
      worker.shutdown();
      await running;
      await nc.close();
      await connection.close();
      await deps.close();
    }
  }, 600_000);
}
