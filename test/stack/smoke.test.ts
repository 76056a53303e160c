import { randomUUID } from 'node:crypto';
import { startWorld, TestWorld } from '../support/stack';
import { stackCheckWorkflow } from '../../workflows';

describe('the embedded stack', () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => world?.close());

  test('when a workflow runs on the real dev server, then its activity reaches PostgreSQL, Azurite and both sandboxes', async () => {
    const result = await world.withWorker(() => world.client.workflow.execute(stackCheckWorkflow, { taskQueue: world.taskQueue, workflowId: `stack-check-${randomUUID()}` }));
    expect(result.postgres).toEqual({ ok: true, accounts: expect.any(Number) });
    expect(result.blobs).toEqual({ ok: true, containers: ['media', 'exports'] });
    expect(result.auth0.ok).toBe(true);
    expect(result.recurly.ok).toBe(true);
  });

  test('when the database is migrated, then every CONTRACT §2 table and Lethe’s own schema exist', async () => {
    const { rows } = await world.deps.db.raw(`select table_schema || '.' || table_name as t from information_schema.tables where table_schema in ('public', 'lethe') order by 1`);
    const tables = rows.map((r: { t: string }) => r.t);
    for (const t of ['accounts', 'cameras', 'media', 'subscriptions', 'login_events', 'shares', 'support_requests']) {
      expect(tables).toContain(`public.${t}`);
    }
    expect(tables).toEqual(expect.arrayContaining(['lethe.receipts', 'lethe.deletion_requests', 'lethe.frozen_accounts']));
  });
});
