/**
 * Issue 4: the inactivity sweep over seeded boundary cases, on the real stack. Eligibility is
 * CONTRACT §1: no login for 24 calendar months (last_login_at, or created_at when never
 * logged in) and no live subscription (active, future, paused, or canceled but paid through).
 */
import { startWorld, TestWorld } from '../support/stack';
import { seedDepsOf } from '../support/world-seed';
import { fingerprint, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import { createSweepService, SweepRequestError, type SweepService, type SweepView } from '../../client/sweeps';
import { cutoffFor } from '../../activities/sweep/candidates';
import { bystanderOf, expectEmpty, storesOf } from '../support/stores';
import { daysAfter, newScopePrefix, scopedSeeder } from './support';
import { deletionWorkflowId, sweepProgressQuery, type SweepResult, type Receipt } from '../../contract';

describe('inactivity sweep', () => {
  let world: TestWorld;
  let seed: SeedDeps;
  let sweeps: SweepService;
  let seeder: ReturnType<typeof scopedSeeder>;
  const eligible: Record<string, SeededAccount> = {};
  const kept: Record<string, SeededAccount> = {};
  const before = new Map<string, string>();
  // A case twin of an eligible account (same email but for the first letter's case), active:
  // the sweep's deletion of its twin must leave it whole, seen through the stores' own paths.
  let twin: SeededAccount;
  let twinBefore: Record<string, unknown>;

  beforeAll(async () => {
    // Fast pace: the pacing itself is the bench's and the unit's business, not this file's.
    // Tiny pages and two pages a run (the worker's settings), so eleven accounts cross
    // continue-as-new several times; the worker sweeps only this file's id prefix.
    const prefix = newScopePrefix();
    world = await startWorld({
      env: { LETHE_SWEEP_STARTS_PER_MINUTE: '6000', LETHE_SWEEP_CONCURRENCY: '4', LETHE_SWEEP_PAGE_SIZE: '2', LETHE_SWEEP_PAGES_PER_RUN: '2', LETHE_SWEEP_SCOPE: prefix },
    });
    seed = seedDepsOf(world);
    seeder = scopedSeeder(seed, 4_2026, prefix);
    sweeps = createSweepService({ config: world.config, temporal: world.client, db: world.deps.db });

    // The boundary is the database's own calendar arithmetic (what the sweep uses), one day either side.
    const cutoff = await cutoffFor(world.deps.db, new Date().toISOString(), 24, 'UTC');
    const longAgo = daysAfter(cutoff, -200); // created ~30 months ago
    const inactive = daysAfter(cutoff, -30); // last login ~25 months ago
    const future = daysAfter(new Date(), 20);
    const past = daysAfter(new Date(), -20);
    const none = null;

    kept.minusADay = await seeder.account({ createdAt: longAgo, lastLoginAt: daysAfter(cutoff, 1), subscriptions: none });
    kept.recent = await seeder.account({ createdAt: longAgo, lastLoginAt: daysAfter(new Date(), -3), subscriptions: none });
    kept.newNeverLoggedIn = await seeder.account({ createdAt: daysAfter(new Date(), -40), lastLoginAt: null, subscriptions: none });
    kept.active = await seeder.account({ createdAt: longAgo, lastLoginAt: inactive, subscriptions: [{ state: 'active' }] });
    kept.future = await seeder.account({ createdAt: longAgo, lastLoginAt: inactive, subscriptions: [{ state: 'future', currentPeriodEndsAt: future }] });
    kept.paused = await seeder.account({ createdAt: longAgo, lastLoginAt: inactive, subscriptions: [{ state: 'paused', currentPeriodEndsAt: future }] });
    kept.canceledPaidThrough = await seeder.account({
      createdAt: longAgo,
      lastLoginAt: inactive,
      subscriptions: [
        { state: 'expired', currentPeriodEndsAt: past },
        { state: 'canceled', currentPeriodEndsAt: future },
      ],
    });

    eligible.plusADay = await seeder.account({ createdAt: longAgo, lastLoginAt: daysAfter(cutoff, -1), subscriptions: none });
    eligible.neverLoggedIn = await seeder.account({ createdAt: daysAfter(cutoff, -31), lastLoginAt: null, subscriptions: none, auth0: 'legacy' });
    eligible.expired = await seeder.account({ createdAt: longAgo, lastLoginAt: inactive, subscriptions: [{ state: 'expired', currentPeriodEndsAt: past }] });
    eligible.failed = await seeder.account({ createdAt: longAgo, lastLoginAt: inactive, subscriptions: [{ state: 'failed', currentPeriodEndsAt: past }] });
    eligible.canceledRunOut = await seeder.account({ createdAt: longAgo, lastLoginAt: inactive, subscriptions: [{ state: 'canceled', currentPeriodEndsAt: past }] });

    const e = eligible.plusADay.email;
    twin = await seeder.account({ email: e[0].toUpperCase() + e.slice(1), createdAt: longAgo, lastLoginAt: daysAfter(new Date(), -3), subscriptions: none, auth0: 'none' });

    for (const a of [...Object.values(kept), ...Object.values(eligible)]) before.set(a.id, await fingerprint(seed, a));
    twinBefore = await bystanderOf(seed, twin, [eligible.plusADay]);
  }, 180_000);
  afterAll(async () => world?.close());

  const idsOf = (xs: Record<string, SeededAccount>) =>
    Object.values(xs)
      .map((a) => a.id)
      .sort();
  // Inactive past the cut-off: the kept ones with live subscriptions, and every eligible one.
  const expectedScanned = () => idsOf(eligible).length + ['active', 'future', 'paused', 'canceledPaidThrough'].length;

  async function allIds(sweepId: string): Promise<string[]> {
    const ids: string[] = [];
    let pageToken: string | undefined;
    do {
      const view = (await sweeps.get(sweepId, { pageSize: 2, pageToken }))!;
      expect(view.accountIds!.length).toBeLessThanOrEqual(2);
      ids.push(...view.accountIds!);
      pageToken = view.nextPageToken;
    } while (pageToken);
    return ids;
  }

  test('when a dry run sweeps the boundary cases, then it lists exactly the eligible accounts, a page at a time, and deletes nothing', async () => {
    const { sweepId } = await sweeps.start({ dryRun: true });
    expect(sweepId).toMatch(/^inactivity-sweep-dry-run-/);
    const handle = world.client.workflow.getHandle(sweepId);
    const result: SweepResult = await handle.result();
    // 9 candidates in pages of 2, 2 pages a run: the sweep continued as new twice.
    expect(result).toMatchObject({ dryRun: true, scanned: expectedScanned(), eligible: 5, started: 0, pages: 5, runs: 3 });
    expect(await handle.query(sweepProgressQuery)).toMatchObject({ status: 'completed', scanned: expectedScanned(), eligible: 5, started: 0, run: 3 });

    const view = (await sweeps.get(sweepId)) as SweepView;
    expect(view).toMatchObject({ sweepId, status: 'completed', dryRun: true, scanned: expectedScanned(), eligible: 5, started: 0 });
    expect(view.finishedAt).toBeDefined();
    expect((await allIds(sweepId)).sort()).toEqual(idsOf(eligible));

    for (const a of [...Object.values(kept), ...Object.values(eligible)]) expect([a.id, await fingerprint(seed, a)]).toEqual([a.id, before.get(a.id)]);
    for (const a of Object.values(eligible)) {
      await expect(world.client.workflow.getHandle(deletionWorkflowId(a.id)).describe()).rejects.toThrow();
    }
  });

  test('when a sweep id is unknown or a page token was not issued, then get answers null or refuses the token by name', async () => {
    expect(await sweeps.get('inactivity-sweep-no-such-sweep')).toBeNull();
    expect(await sweeps.get('../etc/passwd')).toBeNull();
    const { sweepId } = await sweeps.start({ dryRun: true });
    await world.client.workflow.getHandle(sweepId).result();
    const err = await sweeps.get(sweepId, { pageToken: 'bm90LWEtdG9rZW4' }).catch((e) => e);
    expect(err).toBeInstanceOf(SweepRequestError);
    expect((err as SweepRequestError).field).toBe('pageToken');
  });

  test('when a sweep has not run yet, then get shows it running from the workflow, and failed once it is terminated', async () => {
    // A queue no worker polls: the sweep is started but never runs.
    const idle = createSweepService({ config: { ...world.config, temporal: { ...world.config.temporal, taskQueue: `idle-${Date.now()}` } }, temporal: world.client, db: world.deps.db });
    const { sweepId } = await idle.start({});
    expect(sweepId).toMatch(/^inactivity-sweep-[0-9a-f-]{36}$/);
    expect(await idle.get(sweepId)).toMatchObject({ sweepId, status: 'running', dryRun: false, scanned: 0, eligible: 0, started: 0 });
    await world.client.workflow.getHandle(sweepId).terminate('test');
    expect(await idle.get(sweepId)).toMatchObject({ sweepId, status: 'failed', finishedAt: expect.any(String) });
  });

  test('when the sweep runs for real, then it deletes exactly the eligible accounts (channel inactivity) and leaves the rest untouched', async () => {
    const { sweepId } = await sweeps.start({ dryRun: false });
    const result: SweepResult = await world.client.workflow.getHandle(sweepId).result();
    expect(result).toMatchObject({ dryRun: false, scanned: expectedScanned(), eligible: 5, started: 5 });
    const view = (await sweeps.get(sweepId))!;
    expect(view).toMatchObject({ status: 'completed', dryRun: false, eligible: 5, started: 5 });
    expect(view.accountIds).toBeUndefined();

    for (const a of Object.values(eligible)) {
      const receipt: Receipt = await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result();
      expect(receipt.channel).toBe('inactivity');
      expect(receipt.verification.clean).toBe(true);
      // The twin's rows hold a case variant of plusADay's email: its emptiness is by the exact spelling.
      expectEmpty(await storesOf(seed, a, a === eligible.plusADay ? { rule: 'exact' } : {}));
      const [request] = await world.deps.db('lethe.deletion_requests').where({ account_id: a.id });
      expect(request).toMatchObject({ channel: 'inactivity', status: 'completed', requested_by: sweepId });
    }
    for (const a of Object.values(kept)) {
      expect([a.id, await fingerprint(seed, a)]).toEqual([a.id, before.get(a.id)]);
      await expect(world.client.workflow.getHandle(deletionWorkflowId(a.id)).describe()).rejects.toThrow();
    }
    expect(await bystanderOf(seed, twin, [eligible.plusADay])).toEqual(twinBefore);
    await expect(world.client.workflow.getHandle(deletionWorkflowId(twin.id)).describe()).rejects.toThrow();
  });
});
