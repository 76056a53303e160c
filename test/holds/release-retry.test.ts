/**
 * A release whose start fails (Temporal unreachable at that moment) on the real stack: the API
 * answers 503 saying the hold is released but what it held did not start; the held request stays
 * `held`; the same release sent again starts it (200), with 72 hours from the first release, and
 * a release with nothing left to start is 409 as before. The first API's intake fails its one
 * `startReleased` call as a client would with Temporal away; the second is the real one.
 * And a hold that ends by its `until`: the API's pass (called here directly) starts what it held;
 * and a deletion run that starts just after a hold is placed is found and held.
 */
import { startWorld, TestWorld } from '../support/stack';
import { startApi, TestApi } from '../support/api';
import { seedDepsOf } from '../support/world-seed';
import type { SeededAccount } from '../../dev/seed/fixtures';
import { createIntake } from '../../client/intake';
import { createAuditTrail } from '../../client/audit';
import { startLapsedHolds } from '../../client/api/routes/holds';
import { newScopePrefix, scopedSeeder } from '../sweep/support';
import { randomUUID } from 'node:crypto';
import { BLOCK_POLICY, deletionWorkflowId, legalHoldSignal } from '../../contract';
import { accountDeletionWorkflow } from '../../workflows/deletion';
import { until } from '../support/until';

const HOUR = 3_600_000;

describe('legal holds: a release retried after Temporal was away', () => {
  let world: TestWorld;
  let away: TestApi;
  let back: TestApi;
  let account: SeededAccount;

  beforeAll(async () => {
    world = await startWorld();
    const seeder = scopedSeeder(seedDepsOf(world), 34_2027, newScopePrefix());
    account = await seeder.account({ media: 1, orphanBlobs: 0, snapshots: 0, auth0: 'none', subscriptions: null });
    const intake = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
    away = await startApi(world, {
      deps: {
        intake: {
          ...intake,
          startReleased: async () => {
            throw new Error('14 UNAVAILABLE: No connection established');
          },
        },
      },
    });
    back = await startApi(world);
  }, 180_000);
  afterAll(async () => {
    await away?.close();
    await back?.close();
    await world?.close();
  });

  test('when the release cannot start the held request, then it says so (503), the request stays held, and the same release again starts it with 72 hours from the first release', async () => {
    const placed = await away.request('POST', '/v1/holds', { body: { accountId: account.id, reason: 'tax audit 2026' } });
    expect(placed.status).toBe(201);
    const filed = await away.request('POST', '/v1/deletion-requests', { body: { accountId: account.id, channel: 'support', requestedBy: 'agent-34' } });
    expect(filed.body).toMatchObject({ status: 'held' });
    const requestId = filed.body.requestId as string;
    // Deferred by a hold, its clock paused: gauged (the database is shared, so at least this one).
    expect((await away.request('GET', '/metrics')).text).toMatch(/^lethe_deletion_requests_held [1-9]\d*$/m);

    const first = await away.request('POST', `/v1/holds/${placed.body.holdId}/release`, { body: { justification: 'audit closed' } });
    expect(first.status).toBe(503);
    expect(first.body.message).toContain('send this release again');
    const hold = await world.deps.db('lethe.holds').where({ hold_id: placed.body.holdId }).first('released_at');
    expect(hold.released_at).not.toBeNull();
    expect(await world.deps.db('lethe.deletion_requests').where({ request_id: requestId }).first('status')).toEqual({ status: 'held' });

    const again = await back.request('POST', `/v1/holds/${placed.body.holdId}/release`, { body: { justification: 'audit closed (again)' } });
    expect(again.status).toBe(200);
    expect(again.body.started).toEqual([{ requestId, deadlineAt: new Date(new Date(hold.released_at).getTime() + 72 * HOUR).toISOString() }]);
    const result = await world.client.workflow.getHandle(deletionWorkflowId(account.id)).result();
    expect(result).toMatchObject({ requestId });

    // Nothing left to start: a third release is refused as before.
    expect((await back.request('POST', `/v1/holds/${placed.body.holdId}/release`, { body: { justification: 'once more' } })).status).toBe(409);
  }, 180_000);

  test('when a hold ends by its until, then its held request starts with 72 hours from that moment, without a release, and the hold reads released by Lethe', async () => {
    const other = await scopedSeeder(seedDepsOf(world), 34_2028, newScopePrefix()).account({ media: 0, orphanBlobs: 0, snapshots: 0, auth0: 'none', subscriptions: null });
    const until = new Date(Date.now() + 2_000).toISOString();
    const placed = await back.request('POST', '/v1/holds', { body: { accountId: other.id, reason: 'order until a date', until } });
    expect(placed.status).toBe(201);
    const filed = await back.request('POST', '/v1/deletion-requests', { body: { accountId: other.id, channel: 'api' } });
    expect(filed.body).toMatchObject({ status: 'held' });
    const deps = { db: world.deps.db, intake: createIntake({ config: world.config, db: world.deps.db, temporal: world.client }), audit: createAuditTrail({ db: world.deps.db }) };
    // Still in force: nothing starts.
    expect(await startLapsedHolds(deps)).toEqual([]);
    await new Promise((r) => setTimeout(r, Date.parse(until) - Date.now() + 200));
    // This pass, or the APIs' own (every minute) if it came first: either starts it once.
    const started = await startLapsedHolds(deps);
    const row = await world.deps.db('lethe.deletion_requests').where({ request_id: filed.body.requestId }).first('status', 'deadline_at');
    expect({ started: started.length <= 1, status: row.status === 'held' }).toEqual({ started: true, status: false });
    expect(new Date(row.deadline_at).toISOString()).toBe(new Date(Date.parse(until) + 72 * HOUR).toISOString());
    const list = await back.request('GET', `/v1/holds?accountId=${other.id}`);
    expect(list.body.items).toEqual([expect.objectContaining({ active: false, releasedAt: new Date(until).toISOString(), releasedBy: 'lethe (until passed)' })]);
    expect(await world.client.workflow.getHandle(deletionWorkflowId(other.id)).result()).toMatchObject({ requestId: filed.body.requestId });
    // Done: a second pass finds nothing.
    expect(await startLapsedHolds(deps)).toEqual([]);
  }, 180_000);

  test('when one lapsed hold cannot start its request, then the next account in the same pass still starts, and the failed one stays held with its hold open', async () => {
    const seeder = scopedSeeder(seedDepsOf(world), 34_2030, newScopePrefix());
    const spec = { media: 0, orphanBlobs: 0, snapshots: 0, auth0: 'none', subscriptions: null } as const;
    const [stuck, next] = [await seeder.account(spec), await seeder.account(spec)];
    // The stuck account's hold ends first, so the pass meets it first.
    const ends = [Date.now() + 2_000, Date.now() + 2_500].map((t) => new Date(t).toISOString());
    const filed: string[] = [];
    for (const [i, a] of [stuck, next].entries()) {
      expect((await back.request('POST', '/v1/holds', { body: { accountId: a.id, reason: 'order until a date', until: ends[i] } })).status).toBe(201);
      const res = await back.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'api' } });
      expect(res.body).toMatchObject({ status: 'held' });
      filed.push(res.body.requestId);
    }
    const intake = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
    const failing = {
      startReleased: (accountId: string, at: Date) => (accountId === stuck.id ? Promise.reject(new Error('14 UNAVAILABLE: No connection established')) : intake.startReleased(accountId, at)),
    };
    const logged: object[] = [];
    await new Promise((r) => setTimeout(r, Date.parse(ends[1]) - Date.now() + 200));
    const started = await startLapsedHolds({ db: world.deps.db, intake: failing, audit: createAuditTrail({ db: world.deps.db }), log: (_m, f) => logged.push(f) });
    expect(started).not.toContain(stuck.id);
    const status = async (requestId: string) => (await world.deps.db('lethe.deletion_requests').where({ request_id: requestId }).first('status')).status;
    expect(await status(filed[1])).not.toBe('held');
    // The API's own pass (every minute) may have come first and started both; otherwise the stuck one waits, its hold open, and was logged.
    if ((await status(filed[0])) === 'held') {
      expect(logged).toEqual([expect.objectContaining({ accountId: stuck.id })]);
      expect(await world.deps.db('lethe.holds').where({ account_id: stuck.id }).whereNull('released_at').count({ n: '*' })).toEqual([{ n: 1 }]);
    }
  }, 180_000);

  test('when a deletion run starts a moment after a hold is placed (its request passed the hold check just before), then the API finds the run and holds it', async () => {
    const late = await scopedSeeder(seedDepsOf(world), 34_2029, newScopePrefix()).account({ media: 0, orphanBlobs: 0, snapshots: 0, auth0: 'none', subscriptions: null });
    const placed = await back.request('POST', '/v1/holds', { body: { accountId: late.id, reason: 'preservation order' } });
    expect(placed.status).toBe(201);
    // The run such a request starts, on a queue no worker polls: it waits at its first task.
    const now = Date.now();
    const handle = await world.client.workflow.start(accountDeletionWorkflow, {
      taskQueue: `unpolled-${randomUUID()}`,
      workflowId: deletionWorkflowId(late.id),
      args: [
        {
          requestId: randomUUID(),
          accountId: late.id,
          channel: 'api',
          receivedAt: new Date(now).toISOString(),
          deadlineAt: new Date(now + 72 * HOUR).toISOString(),
          warningAt: new Date(now + 48 * HOUR).toISOString(),
          blockPolicy: BLOCK_POLICY,
        },
      ],
    });
    try {
      const held = await until(
        "the legal hold signal in the run's history",
        async () => ((await handle.fetchHistory()).events ?? []).some((e) => e.workflowExecutionSignaledEventAttributes?.signalName === legalHoldSignal.name) || undefined,
        20_000,
        250,
      );
      expect(held).toBe(true);
    } finally {
      await handle.terminate('test done');
    }
  }, 60_000);
});
