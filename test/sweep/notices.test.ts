/**
 * The inactivity notice ladder on the real stack (issue 34, CONTRACT §7): the real sweep
 * workflow on a worker with `LETHE_INACTIVITY_NOTICES=30d,7d`, mailing through the outbound
 * path (mail/deliver.ts) to the test stack's Mailpit, read back through Mailpit's API v1
 * (test/support/mailpit.ts, recipients compared exactly as spelt). Tiny pages (2 accounts, 2
 * pages a run) so the notices ride the keyset paging and continue-as-new like the deletions.
 * The day-by-day walk is test/sweep/notices-time-skipping.test.ts.
 */
import { startWorld, TestWorld } from '../support/stack';
import { seedDepsOf } from '../support/world-seed';
import type { AccountSpec, SeededAccount } from '../../dev/seed/fixtures';
import { createSweepService, type SweepService, type SweepView } from '../../client/sweeps';
import { cutoffFor } from '../../activities/sweep/candidates';
import { readableUtc } from '../../mail/templates';
import { mailsTo, waitForMail } from '../support/mailpit';
import { daysAfter, newScopePrefix, scopedSeeder } from './support';
import { deletionWorkflowId } from '../../contract';
import { workerMetricsText } from '../../worker/metrics';

const DAY = 86_400_000;
const SUBJECT = 'Your account will be deleted for inactivity unless you sign in';

describe('inactivity notices through Mailpit', () => {
  let world: TestWorld;
  let sweeps: SweepService;
  const a: Record<string, SeededAccount> = {};
  const since: Record<string, Date> = {};

  /** Only rows in the database: what a notice needs (no blobs, no vendor records). */
  const bare: AccountSpec = { media: 0, orphanBlobs: 0, snapshots: 0, auth0: 'none', subscriptions: null, loginEvents: 0, shares: 0, supportRequests: 0, emailOnlySupportRequests: 0 };

  beforeAll(async () => {
    const prefix = newScopePrefix();
    world = await startWorld({
      env: { LETHE_INACTIVITY_NOTICES: '30d,7d', LETHE_SWEEP_STARTS_PER_MINUTE: '6000', LETHE_SWEEP_PAGE_SIZE: '2', LETHE_SWEEP_PAGES_PER_RUN: '2', LETHE_SWEEP_SCOPE: prefix },
    });
    const seeder = scopedSeeder(seedDepsOf(world), 34_3034, prefix);
    sweeps = createSweepService({ config: world.config, temporal: world.client, db: world.deps.db });
    const db = world.deps.db;
    // Eligible in N days: inactive since the cut-off a sweep N days from now computes (less an hour).
    const eligibleIn = async (days: number) => new Date(Date.parse(await cutoffFor(db, daysAfter(new Date(), days).toISOString(), 24, 'UTC')) - 3_600_000);
    const seed = async (name: string, lastLoginAt: Date, email?: string) => {
      since[name] = lastLoginAt;
      a[name] = await seeder.account({ ...bare, createdAt: daysAfter(lastLoginAt, -10), lastLoginAt, ...(email ? { email } : {}) });
    };
    await seed('in30', await eligibleIn(20));
    await seed('in7', await eligibleIn(3));
    await seed('far', await eligibleIn(40));
    await seed('backlog', await eligibleIn(-30));
    await seed('ready', await eligibleIn(-30));
    // The case twin of `in30`: another person (the same address but for its first letter's
    // case), signed in last week; never within a rung.
    await seed('twin', daysAfter(new Date(), -7), a.in30.email.charAt(0).toUpperCase() + a.in30.email.slice(1));
    // `ready` had its last notice 8 days ago (by an earlier sweep): its week is over.
    const notified = daysAfter(new Date(), -8);
    await db('lethe.inactivity_notices').insert({
      account_id: a.ready.id,
      rung: '7d',
      lead_ms: 7 * DAY,
      inactive_since: since.ready,
      notified_at: notified,
      delete_from: daysAfter(notified, 7),
      status: 'sent',
    });
  }, 180_000);
  afterAll(async () => world?.close());

  async function run(dryRun: boolean): Promise<SweepView> {
    const { sweepId } = await sweeps.start({ dryRun });
    await world.client.workflow.getHandle(sweepId).result();
    return (await sweeps.get(sweepId))!;
  }

  test('when a dry run sweeps, then it lists the notices it would send and mails nobody', async () => {
    const view = await run(true);
    expect(view).toMatchObject({ status: 'completed', dryRun: true, noticesSent: 3, deferred: 1, started: 0 });
    expect(view.notices?.map((n) => [n.accountId, n.rung]).sort()).toEqual(
      [
        [a.in30.id, '30d'],
        [a.in7.id, '7d'],
        [a.backlog.id, '7d'],
      ].sort(),
    );
    for (const k of ['in30', 'in7', 'backlog']) expect({ k, mails: (await mailsTo(a[k].email)).length }).toEqual({ k, mails: 0 });
    expect(await world.deps.db('lethe.inactivity_notices').whereIn('account_id', [a.in30.id, a.in7.id, a.backlog.id]).select('account_id')).toEqual([]);
  });

  test('when a real sweep runs, then each account within a rung gets its one notice, with its date and what keeps the account; the backlog waits; the account whose week is over is deleted with its notices; nobody else is mailed', async () => {
    const started = new Date(Date.now() - 1_000);
    const view = await run(false);
    expect(view).toMatchObject({ status: 'completed', dryRun: false, noticesSent: 3, deferred: 1, started: 1 });
    const { reference_time: ref } = await world.deps.db('lethe.sweeps').where({ sweep_id: view.sweepId }).first('reference_time');
    const referenceTime = new Date(ref).getTime();

    const notice = async (k: string) => {
      const m = await waitForMail({ to: a[k].email, subject: new RegExp(SUBJECT), after: started });
      expect(m.to).toEqual([a[k].email]);
      expect(m.headers['Auto-Submitted']).toEqual(['auto-generated']);
      expect(m.text).toContain('Under our privacy policy we delete accounts that are inactive for over 24 months');
      expect(m.text).toContain('Sign in or keep a live subscription to keep the account.');
      return m;
    };
    // 20 days out: the 30-day rung, dated the day it passes 24 months.
    const { eligible_at } = (await world.deps.db.raw(`select (?::timestamptz + interval '24 months') as eligible_at`, [since.in30])).rows[0];
    // The worker's metrics (this process's registry; the dry run before counted nothing).
    const metrics = await workerMetricsText();
    expect(metrics).toContain('lethe_inactivity_notices_total{rung="30d",outcome="sent"} 1');
    expect(metrics).toContain('lethe_inactivity_notices_total{rung="7d",outcome="sent"} 2');
    expect(metrics).toContain('lethe_sweep_deletions_deferred_total{reason="notice"} 1');

    expect((await notice('in30')).text).toContain(`yours will be deleted from ${readableUtc(eligible_at)}`);
    // 3 days out: the 7-day rung, and not before a week from this sweep.
    expect((await notice('in7')).text).toContain(`yours will be deleted from ${readableUtc(new Date(referenceTime + 7 * DAY))}`);
    // The backlog: its notice now, its deletion a week on.
    expect((await notice('backlog')).text).toContain(`yours will be deleted from ${readableUtc(new Date(referenceTime + 7 * DAY))}`);
    const rows = await world.deps.db('lethe.inactivity_notices').whereIn('account_id', [a.in30.id, a.in7.id, a.backlog.id]).select('account_id', 'rung', 'status');
    expect(rows.map((r) => [r.account_id, r.rung, r.status]).sort()).toEqual(
      [
        [a.in30.id, '30d', 'sent'],
        [a.in7.id, '7d', 'sent'],
        [a.backlog.id, '7d', 'sent'],
      ].sort(),
    );

    // `ready` is deleted, and its notices with it (the deletion's database step).
    const result = await world.client.workflow.getHandle(deletionWorkflowId(a.ready.id)).result();
    expect(result).toMatchObject({ accountId: a.ready.id });
    expect(await world.deps.db('lethe.inactivity_notices').where({ account_id: a.ready.id }).select('rung')).toEqual([]);

    // Nobody outside a rung: 40 days out, and the twin (its spelling exactly; Mailpit's own search is case-blind).
    const notices = async (k: string) => (await mailsTo(a[k].email)).filter((m) => m.subject === SUBJECT).length;
    expect(await mailsTo(a.far.email)).toEqual([]);
    expect(await mailsTo(a.twin.email)).toEqual([]);
    // (`ready` is mailed that its deletion completed, as every deletion's person is: no notice.)
    expect(await notices('ready')).toBe(0);
    expect(await notices('in30')).toBe(1);
  }, 180_000);

  test('when a second sweep runs the same day, then no rung is mailed twice and the backlog still waits', async () => {
    const view = await run(false);
    expect(view).toMatchObject({ status: 'completed', noticesSent: 0, deferred: 1, started: 0 });
    for (const k of ['in30', 'in7', 'backlog']) expect({ k, mails: (await mailsTo(a[k].email)).length }).toEqual({ k, mails: 1 });
  }, 120_000);
});
