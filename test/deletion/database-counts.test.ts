/**
 * Issue 30, item 6: the database store's counts add up across attempts. An attempt that deleted
 * rows and then failed heartbeats what it deleted; Temporal hands those details to the retry,
 * which starts its counts from them, so the receipt counts every row Lethe deleted, not only the
 * last attempt's. Run on the real PostgreSQL, with the activity's retry given the details its
 * predecessor heartbeat (Temporal's MockActivityEnvironment).
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { startWorld, type TestWorld } from '../support/stack';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { seedAccount } from '../../dev/seed/fixtures';
import { createDatabaseActivities } from '../../activities/deletion/database';
import { saveSubject } from '../../stores/subjects';

describe('database counts across attempts', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => world?.close());

  test('when an attempt deleted rows and failed, then the retry counts from what it heartbeat, and each heartbeat carries the running total', async () => {
    const seed = seedDepsOf(world);
    const a = await seedAccount(seed, { media: 3, loginEvents: 2, shares: 1, supportRequests: 1, emailOnlySupportRequests: 1, subscriptions: null, auth0: 'none' }, rngFor(__filename));
    await saveSubject(world.deps, { accountId: a.id, email: a.email, auth0UserIds: [], recurlyAccountCode: null });
    // What the failed attempt had deleted before it failed: 2 login events and 4 media rows.
    const earlier = { login_events: 2, media: 4 };
    const env = new MockActivityEnvironment({ heartbeatDetails: earlier, attempt: 2 });
    const beats: Record<string, number>[] = [];
    env.on('heartbeat', (d: Record<string, number>) => beats.push({ ...d }));
    const acts = createDatabaseActivities({ db: world.deps.db, fields: world.deps.fields });
    const counts: Record<string, number> = await env.run(acts.deleteDatabaseRows, a.id);

    // This attempt's rows (read by SQL before: 3 media, 2 logins, 1 share, 2 tickets, cameras, the account) plus the earlier attempt's.
    expect(counts).toMatchObject({ media: 3 + 4, login_events: 2 + 2, shares: 1, support_requests: 2, accounts: 1 });
    expect(counts.cameras).toBeGreaterThanOrEqual(1);
    expect(beats.length).toBeGreaterThan(0);
    expect(beats[beats.length - 1]).toEqual(counts);
    expect(await world.deps.db('accounts').where({ id: a.id }).first()).toBeUndefined();
  });
});
