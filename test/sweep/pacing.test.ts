/**
 * The sweep page activity on its own (MockActivityEnvironment, the test database, a stub
 * deletion service): pace and concurrency of deletion starts, the time budget that hands back
 * a cursor mid-page, and a retried attempt resuming from its heartbeat. Rows under an id
 * prefix of this file's own; the stub starts nothing, so nothing is deleted.
 */
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Knex } from 'knex';
import { testConfig } from '../support/stack';
import { createDb } from '../../stores/db';
import { createSweepActivities } from '../../activities/sweep/sweep';
import { cutoffFor, scopeRange } from '../../activities/sweep/candidates';
import { daysAfter } from './support';
import type { SweepPageInput, SweepPageResult } from '../../contract';
import type { SweepConfig } from '../../config';

describe('sweep page activity', () => {
  let db: Knex;
  const prefix = randomBytes(4).toString('hex');
  const ids = Array.from({ length: 12 }, (_, i) => `${prefix}-0000-4000-8000-${String(i).padStart(12, '0')}`);
  let base: Omit<SweepPageInput, 'sweepId'>;

  beforeAll(async () => {
    db = createDb(testConfig().database.url, { poolMax: 4 });
    const now = new Date().toISOString();
    const cutoff = await cutoffFor(db, now, 24, 'UTC');
    // Twelve inactive accounts, one a day apart, so their key order is their index order.
    await db('accounts').insert(ids.map((id, i) => ({ id, email: `pace-${id}@example.test`, created_at: daysAfter(cutoff, -900), last_login_at: daysAfter(cutoff, -100 + i) })));
    base = { dryRun: false, cutoff, referenceTime: now, totals: { scanned: 0, eligible: 0, started: 0 }, pageNumber: 1 };
  });
  afterAll(async () => {
    await db('lethe.sweeps').where('sweep_id', 'like', `pace-${prefix}-%`).del();
    await db('accounts').whereIn('id', ids).del();
    await db.destroy();
  });

  function stubbed(env: Record<string, string>, onStart: (accountId: string) => Promise<void | 'account_gone'>, tuning: Partial<SweepConfig> = {}) {
    const starts: { accountId: string; at: number }[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const acts = createSweepActivities({
      // The worker's settings: this file's id prefix, one page for all twelve.
      sweep: { ...testConfig(env).sweep, scopePrefix: prefix, pageSize: 100, ...tuning },
      db,
      startDeletion: async (req) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        starts.push({ accountId: req.accountId, at: Date.now() });
        expect(req).toMatchObject({ selectedAt: expect.any(String), requestedBy: expect.any(String) });
        try {
          return (await onStart(req.accountId)) ?? 'started';
        } finally {
          inFlight--;
        }
      },
    });
    return { acts, starts, maxInFlight: () => maxInFlight };
  }

  async function begin(acts: ReturnType<typeof createSweepActivities>, name: string): Promise<string> {
    const sweepId = `pace-${prefix}-${name}`;
    await new MockActivityEnvironment().run(acts.beginSweep, { sweepId, dryRun: false, referenceTime: base.referenceTime });
    return sweepId;
  }

  test('when the scope names a prefix, then the page range covers exactly the uuids starting with it', () => {
    expect(scopeRange({ accountIdPrefix: 'ab' })).toEqual(['ab000000-0000-0000-0000-000000000000', 'abffffff-ffff-ffff-ffff-ffffffffffff']);
    expect(() => scopeRange({ accountIdPrefix: 'xyz' })).toThrow(/hex/);
  });

  test('when a page starts deletions, then no faster than LETHE_SWEEP_STARTS_PER_MINUTE and at most LETHE_SWEEP_CONCURRENCY at once, in key order', async () => {
    // 600 a minute: one every 100 ms; each start takes 150 ms, so two overlap at most.
    const s = stubbed({ LETHE_SWEEP_STARTS_PER_MINUTE: '600', LETHE_SWEEP_CONCURRENCY: '3' }, () => new Promise((r) => setTimeout(r, 150)));
    const sweepId = await begin(s.acts, 'pace');
    const t0 = Date.now();
    const r = (await new MockActivityEnvironment().run(s.acts.sweepPage, { ...base, sweepId })) as SweepPageResult;
    expect(r).toEqual({ scanned: 12, eligible: 12, started: 12, sweepTotals: { eligible: 12, started: 12 } });
    expect(s.starts.map((x) => x.accountId)).toEqual(ids);
    // Slots are fixed from the page's start (one every 100 ms, the first no earlier than t0): a
    // start may fire late (a loaded machine delays the first by its database round trip), never
    // early, so the i-th is no earlier than t0 + i × 100 ms. The 1 ms is Node's timer rounding.
    for (let i = 1; i < s.starts.length; i++) expect(s.starts[i].at - t0).toBeGreaterThanOrEqual(i * 100 - 1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(11 * 95);
    expect(s.maxInFlight()).toBeLessThanOrEqual(3);
    expect(await db('lethe.sweeps').where({ sweep_id: sweepId }).first()).toMatchObject({ scanned: 12, eligible: 12, started: 12, pages: 1 });
  });

  test('when a page runs out of its time budget, then it hands back a cursor mid-page, and the next page carries on from there', async () => {
    const env = { LETHE_SWEEP_STARTS_PER_MINUTE: '60000', LETHE_SWEEP_CONCURRENCY: '1' };
    const s = stubbed(env, () => new Promise((r) => setTimeout(r, 30)), { pageTimeBudgetMs: 70 });
    const sweepId = await begin(s.acts, 'budget');
    const first = (await new MockActivityEnvironment().run(s.acts.sweepPage, { ...base, sweepId })) as SweepPageResult;
    expect(first.started).toBeGreaterThanOrEqual(1);
    expect(first.started).toBeLessThan(12);
    expect(first.nextCursor?.accountId).toBe(ids[first.started - 1]);
    // The next page, on a worker with the default budget (5 minutes), takes the rest.
    const unhurried = stubbed(env, () => new Promise((r) => setTimeout(r, 30)));
    const rest = (await new MockActivityEnvironment().run(unhurried.acts.sweepPage, { ...base, sweepId, cursor: first.nextCursor, totals: first, pageNumber: 2 })) as SweepPageResult;
    expect(first.started + rest.started).toBe(12);
    expect(rest.nextCursor).toBeUndefined();
    expect([...s.starts, ...unhurried.starts].map((x) => x.accountId)).toEqual(ids);
  });

  test('when an attempt is retried after a heartbeat, then it resumes after the heartbeated key and its counts include the earlier attempt', async () => {
    const s = stubbed({ LETHE_SWEEP_STARTS_PER_MINUTE: '60000' }, async () => undefined);
    const sweepId = await begin(s.acts, 'resume');
    const { rows } = await db.raw(`select to_char(last_login_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as k from accounts where id = ?`, [ids[4]]);
    // What the first attempt left: every candidate recorded, the first five started.
    await db('lethe.sweep_candidates').insert(ids.map((id, i) => ({ sweep_id: sweepId, account_id: id, started_at: i < 5 ? new Date() : null })));
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { through: { inactiveSince: rows[0].k, accountId: ids[4] }, counts: { scanned: 5, eligible: 5, started: 5 } } });
    const r = (await env.run(s.acts.sweepPage, { ...base, sweepId })) as SweepPageResult;
    expect(r).toEqual({ scanned: 12, eligible: 12, started: 12, sweepTotals: { eligible: 12, started: 12 } });
    expect(s.starts.map((x) => x.accountId).sort()).toEqual(ids.slice(5));
  });

  test('when an account is deleted between the read and the start, then it is scanned and eligible but not counted started', async () => {
    const gone = new Set([ids[2], ids[7]]);
    const s = stubbed({ LETHE_SWEEP_STARTS_PER_MINUTE: '60000' }, async (id) => {
      if (gone.has(id)) return 'account_gone';
    });
    const sweepId = await begin(s.acts, 'gone');
    const r = (await new MockActivityEnvironment().run(s.acts.sweepPage, { ...base, sweepId })) as SweepPageResult;
    expect(r).toEqual({ scanned: 12, eligible: 12, started: 10, sweepTotals: { eligible: 12, started: 10 } });
  });

  // Found by the reliability suite: heartbeats are throttled, so a worker killed mid-page leaves
  // a heartbeat behind what it started, and the accounts it deleted since are not re-read.
  test('when a retried attempt finds accounts the lost attempt started already gone, then the sweep still counts them eligible and started', async () => {
    const s = stubbed({ LETHE_SWEEP_STARTS_PER_MINUTE: '60000' }, async () => undefined);
    const sweepId = await begin(s.acts, 'crash');
    const { rows } = await db.raw(`select to_char(last_login_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as k from accounts where id = ?`, [ids[1]]);
    // The lost attempt recorded all twelve and started five; its last heartbeat says two.
    await db('lethe.sweep_candidates').insert(ids.map((id, i) => ({ sweep_id: sweepId, account_id: id, started_at: i < 5 ? new Date() : null })));
    await db('accounts').whereIn('id', ids.slice(2, 5)).del(); // deleted by the deletions it started
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { through: { inactiveSince: rows[0].k, accountId: ids[1] }, counts: { scanned: 2, eligible: 2, started: 2 } } });
    const r = (await env.run(s.acts.sweepPage, { ...base, sweepId })) as SweepPageResult;
    // Four at a time: which of them reaches the stub first is not the question here.
    expect(s.starts.map((x) => x.accountId).sort()).toEqual(ids.slice(5));
    expect(r.sweepTotals).toEqual({ eligible: 12, started: 12 });
    expect(await db('lethe.sweeps').where({ sweep_id: sweepId }).first()).toMatchObject({ eligible: 12, started: 12 });
  });
});
