/**
 * Issue 4, the race: the sweep selects an account, and before its deletion runs the person
 * logs in, or subscribes at Recurly (not yet in the local copy). The deletion re-checks after
 * its freeze, ends `skipped` with the reason, and nothing of the account is deleted.
 *
 * The sweep's worker starts deletions on a second task queue that nobody polls yet, so the
 * test can act between selection and deletion; then a worker for that queue comes up.
 */
import { randomUUID } from 'node:crypto';
import { startWorld, testConfig, TestWorld } from '../support/stack';
import { seedDepsOf } from '../support/world-seed';
import { fingerprint, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import { createSweepService } from '../../client/sweeps';
import { createIntake } from '../../client/intake';
import { createRequestReader } from '../../client/requests';
import { cutoffFor } from '../../activities/sweep/candidates';
import { buildDeps } from '../../worker/deps';
import { createWorker } from '../../worker/worker';
import { expectEmpty, storesOf } from '../support/stores';
import { daysAfter, newScopePrefix, scopedSeeder } from './support';
import { deletionWorkflowId, progressQuery, type SkippedDeletion, type SweepResult, LetheStatus, type Receipt } from '../../contract';

describe('re-check before a sweep deletes', () => {
  const deletionQueue = `test-deletions-${randomUUID()}`;
  let world: TestWorld;
  let seed: SeedDeps;

  const prefix = newScopePrefix();
  beforeAll(async () => {
    world = await startWorld({
      env: { LETHE_SWEEP_STARTS_PER_MINUTE: '6000', LETHE_SWEEP_SCOPE: prefix },
      // The sweep's activities start deletions through this config: on the unpolled queue.
      deps: (d) => {
        const intake = createIntake({ config: testConfig({ LETHE_TASK_QUEUE: deletionQueue }), db: d.db, temporal: d.temporalClient() });
        return { ...d, startDeletion: (req) => intake.startInactivity(req) };
      },
    });
    seed = seedDepsOf(world);
  });
  afterAll(async () => world?.close());

  test('when a selected account logs in, or gains a live subscription at Recurly, before its deletion runs, then that deletion ends skipped with the reason and nothing of it is deleted', async () => {
    const seeder = scopedSeeder(seed, 4_4242, prefix);
    const cutoff = await cutoffFor(world.deps.db, new Date().toISOString(), 24, 'UTC');
    const inactive = { createdAt: daysAfter(cutoff, -300), lastLoginAt: daysAfter(cutoff, -60) };
    const logsIn = await seeder.account({ ...inactive, subscriptions: null });
    const subscribes = await seeder.account({ ...inactive, subscriptions: [{ state: 'expired', currentPeriodEndsAt: daysAfter(new Date(), -90) }] });
    const asksToo = await seeder.account({ ...inactive, subscriptions: null });
    const stillInactive = await seeder.account({ ...inactive, subscriptions: [{ state: 'failed', currentPeriodEndsAt: daysAfter(new Date(), -90) }] });

    const sweeps = createSweepService({ config: world.config, temporal: world.client, db: world.deps.db });
    const { sweepId } = await sweeps.start({ dryRun: false });
    const result: SweepResult = await world.client.workflow.getHandle(sweepId).result();
    expect(result).toMatchObject({ eligible: 4, started: 4 });

    // Between selection and deletion: a login, a subscription at Recurly only, and a login
    // by someone who also asks for deletion themselves (their request must stand).
    await world.deps.db('accounts').whereIn('id', [logsIn.id, asksToo.id]).update({ last_login_at: world.deps.db.fn.now() });
    const sub = await seed.recurly.createSubscription({ accountCode: subscribes.recurlyAccountCode!, planCode: 'timelapse-pro' });
    expect(sub.state).toBe('active');
    const deletions = createIntake({ config: testConfig({ LETHE_TASK_QUEUE: deletionQueue }), db: world.deps.db, temporal: world.client });
    const joined = await deletions.start({ accountId: asksToo.id, channel: 'in_app' });
    expect(joined.existing).toBe(true);
    const untouched = new Map<string, string>();
    for (const a of [logsIn, subscribes]) untouched.set(a.id, await fingerprint(seed, a));

    const config = testConfig({ LETHE_TASK_QUEUE: deletionQueue });
    const deps = buildDeps(config);
    const { worker, connection } = await createWorker(config, deps);
    const running = worker.run();
    try {
      const outcome = async (a: SeededAccount) => world.client.workflow.getHandle(deletionWorkflowId(a.id)).result();
      const skippedLogin: SkippedDeletion = await outcome(logsIn);
      const skippedSub: SkippedDeletion = await outcome(subscribes);
      expect(skippedLogin).toMatchObject({ skipped: true, accountId: logsIn.id, reason: expect.stringContaining('logged in') });
      expect(skippedSub).toMatchObject({ skipped: true, accountId: subscribes.id, reason: expect.stringContaining('live subscription at Recurly') });

      for (const a of [logsIn, subscribes]) {
        expect(await fingerprint(seed, a)).toBe(untouched.get(a.id));
        // Unfrozen, and the captured subject (email, vendor ids) erased as after a deletion.
        expect(await world.deps.db('lethe.frozen_accounts').where({ account_id: a.id })).toEqual([]);
        expect(await world.deps.db('lethe.deletion_subjects').where({ account_id: a.id })).toEqual([]);
        const [request] = await world.deps.db('lethe.deletion_requests').where({ account_id: a.id });
        expect(request.status).toBe('skipped');

        const handle = world.client.workflow.getHandle(deletionWorkflowId(a.id));
        const p = await handle.query(progressQuery);
        expect(p.status).toBe('skipped');
        expect(p.steps.map((s) => [s.name, s.status])).toEqual([
          ['freeze', 'completed'],
          ['recheck', 'completed'],
          ...['recurly', 'auth0', 'media', 'database', 'verify', 'receipt'].map((n) => [n, 'skipped']),
        ]);
        expect((await handle.describe()).typedSearchAttributes.get(LetheStatus)).toBe('skipped');
        const view = await createRequestReader({ config: world.config, db: world.deps.db, temporal: world.client }).get(request.request_id);
        expect(view).toMatchObject({ status: 'skipped', channel: 'inactivity', reason: p.reason });
        expect(view!.overdue).toBe(false);
      }
      expect(await world.deps.db('lethe.receipts').whereIn('account_id', [logsIn.id, subscribes.id])).toEqual([]);

      // Still inactive: deleted. Asked for it themselves: deleted despite the login.
      for (const a of [stillInactive, asksToo]) {
        const receipt: Receipt = await outcome(a);
        expect(receipt.verification.clean).toBe(true);
        expectEmpty(await storesOf(seed, a));
      }
      const both: Receipt = await outcome(asksToo);
      expect(both.channels.sort()).toEqual(['in_app', 'inactivity']);
    } finally {
      worker.shutdown();
      await running;
      await connection.close();
      await deps.close();
    }
  });
});
