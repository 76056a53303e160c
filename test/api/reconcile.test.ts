/**
 * The reconciler's periodic pass reads a page of open requests at a time. It once read the same
 * oldest page every time: with more requests open than a page (an Auth0 outage leaves
 * thousands open), a run terminated among the younger ones was never recorded. A database of
 * its own, so the rows it plants (open, years past their deadline) do not show in the shared
 * stack's lists and overdue gauges.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { migrateLetheSchema } from '../../migrations';
import { createReconciler } from '../../client/reconcile';
import { freshDatabase, type FreshDatabase } from '../support/fresh-database';

describe('reconciler pass', () => {
  let fresh: FreshDatabase;
  let db: Knex;

  beforeAll(async () => {
    fresh = await freshDatabase('lethe_reconcile');
    db = fresh.db;
    await migrateLetheSchema(db);
  });
  afterAll(() => fresh?.drop());

  test('when more requests are open than one pass reads, then successive passes read every one of them, and a request the read finds ended is recorded', async () => {
    // 25 open requests, several in the same microsecond-precise second, plus finished ones the pass must skip.
    const base = Date.parse('2024-03-01T00:00:00Z');
    const open = Array.from({ length: 25 }, (_, i) => ({
      request_id: randomUUID(),
      created_at: new Date(base + Math.floor(i / 3) * 1000).toISOString().replace('Z', `${String(i).padStart(3, '0')}Z`),
    }));
    const rows = [...open.map((r) => ({ ...r, status: 'blocked' })), ...['completed', 'failed'].map((status) => ({ request_id: randomUUID(), created_at: new Date(base).toISOString(), status }))];
    await db('lethe.deletion_requests').insert(rows.map((r) => ({ ...r, account_id: randomUUID(), channel: 'support', received_at: r.created_at, deadline_at: r.created_at })));

    const reconciler = createReconciler({ db });
    const seen: string[] = [];
    const ended = open[17].request_id;
    const reader = {
      get: async (requestId: string) => {
        seen.push(requestId);
        // What the read side does when Temporal says the run was terminated.
        if (requestId === ended) reconciler.note(requestId, 'failed');
        return null;
      },
    };
    const sizes: number[] = [];
    const pass = async (limit: number) => {
      sizes.push(await reconciler.pass(reader, limit));
      await reconciler.flush();
    };
    for (let i = 0; i < 4; i++) await pass(10);
    await pass(30);

    // Three passes read each open request once, oldest first (three share each millisecond);
    // the fourth starts over, and the fifth goes on from there without the one recorded ended.
    expect(sizes).toEqual([10, 10, 5, 10, 14]);
    expect(seen.slice(0, 25)).toEqual(open.map((r) => r.request_id));
    expect(seen.slice(25, 35)).toEqual(open.slice(0, 10).map((r) => r.request_id));
    expect(seen.slice(35)).toEqual(
      open
        .slice(10)
        .filter((r) => r.request_id !== ended)
        .map((r) => r.request_id),
    );
    expect(await db('lethe.deletion_requests').where({ request_id: ended }).first()).toMatchObject({ status: 'failed' });
  });
});
