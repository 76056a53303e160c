/**
 * Access requests when things go wrong, on the real stack: an operator's retry of a blocked
 * store (`lethe access retry`, POST /v1/access-requests/{id}/retry); a run cancelled through
 * Temporal cleans up what the other stores staged; a run terminated outside Lethe is recorded
 * `failed` by the reconciler's pass, with a reason, and a retry starts it again; a request filed
 * while a deletion of the account is starting is refused; a deletion that meets a run that has
 * already ended still empties its archive folder.
 */
import { randomUUID } from 'node:crypto';
import { startWorld, type TestWorld } from '../support/stack';
import { startApi, type TestApi } from '../support/api';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { sandboxUrls } from '../support/stores';
import { until } from '../support/until';
import { runLethe } from '../support/cli';
import { armFault } from '../sandboxes/helpers/sandboxAdmin';
import { seedAccount } from '../../dev/seed/fixtures';
import { accessWorkflowId } from '../../workflows/access';
import { deletionWorkflowId } from '../../contract';
import { createReconciler } from '../../client/reconcile';

const TIMEOUT = 240_000;

describe('access requests: retry, cancellation, runs ended outside Lethe, deletions starting', () => {
  let world: TestWorld;
  let api: TestApi;
  const rand = rngFor(__filename);
  beforeAll(async () => {
    // A failing store shows blocked at once and waits long between tries: only a retry brings it back soon.
    world = await startWorld({ env: { LETHE_STORE_ATTEMPT_BUDGET: '3s', LETHE_BLOCK_AFTER: '1s', LETHE_BLOCK_AFTER_TRANSIENT: '1s', LETHE_STORE_RETRY_EVERY: '10m' } });
    api = await startApi(world);
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  const get = async (id: string) => (await api.request('GET', `/v1/access-requests/${id}`)).body;
  const folder = async (id: string) => {
    const names: string[] = [];
    for await (const b of world.deps.blobs.service.getContainerClient(world.config.access!.container).listBlobsFlat({ prefix: `access/${id}/` })) names.push(b.name);
    return names;
  };
  const file = async (accountId: string) => {
    const r = await api.request('POST', '/v1/access-requests', { body: { accountId, channel: 'support' } });
    expect(r.status).toBe(202);
    return r.body.requestId as string;
  };
  const statusIs = (id: string, status: string, ms = 90_000) => until(`access request ${id} ${status}`, async () => ((await get(id)).status === status ? get(id) : undefined), ms);

  test(
    'when Recurly refuses, then an operator’s retry brings a blocked request to ready at once once Recurly is back, and a run cancelled through Temporal deletes what the other stores staged',
    async () => {
      const seed = seedDepsOf(world);
      const a = await seedAccount(seed, { media: 2, auth0: 'none', subscriptions: [{ state: 'active' }] }, rand);
      const b = await seedAccount(seed, { media: 2, auth0: 'none', subscriptions: [{ state: 'active' }] }, rand);
      const recurly = sandboxUrls(seed).recurly;
      // Only these accounts' Recurly paths fail: the sandbox is shared with the other test files.
      const mine = [a, b].map((x) => `/accounts/code-${x.recurlyAccountCode}`);
      for (const pathPrefix of mine) await armFault(recurly, { mode: '500', count: 100_000, pathPrefix });
      let ra = '';
      let rb = '';
      try {
        ra = await file(a.id);
        rb = await file(b.id);
        for (const id of [ra, rb]) {
          await until(
            `${id}: Recurly blocked, the other stores staged`,
            async () => {
              const v = await get(id);
              const by = Object.fromEntries((v.stores ?? []).map((s: { name: string; status: string }) => [s.name, s.status]));
              return v.status === 'blocked' && by.recurly === 'blocked' && by.database === 'done' && by.media === 'done' && by.auth0 === 'done' ? v : undefined;
            },
            90_000,
          );
        }
        expect((await folder(rb)).filter((n) => n.includes('/staging/'))).toHaveLength(3);
      } finally {
        for (const pathPrefix of mine) await fetch(`${recurly}/__sandbox/faults?pathPrefix=${encodeURIComponent(pathPrefix)}`, { method: 'DELETE' });
      }
      // Each store's next try on its own is 22 s or more after its failure: the retry is what brings A back.
      const asked = Date.now();
      const retried = await runLethe(api, ['access', 'retry', ra, '--by', 'agent-7']);
      expect([retried.code, retried.code === 0 ? '' : retried.stderr]).toEqual([0, '']);
      expect(retried.stdout).toMatch(/Retry asked for/);
      await statusIs(ra, 'ready', 10_000);
      expect(Date.now() - asked).toBeLessThan(10_000);
      // B, still blocked, is cancelled through Temporal (not through Lethe): what it staged goes, and it says cancelled.
      await world.client.workflow.getHandle(accessWorkflowId(rb)).cancel();
      await statusIs(rb, 'cancelled', 60_000);
      expect(await folder(rb)).toEqual([]);
      expect(await world.deps.db('lethe.operator_actions').where({ request_id: ra, action: 'retry' }).first('by')).toEqual({ by: 'agent-7' });
      expect(await world.deps.db('lethe.audit_log').where({ request_id: ra, action: 'access_request.retried' }).first('details')).toMatchObject({ details: { outcome: 'signalled' } });
      // A ready request has nothing to retry; an unknown one is not found.
      expect((await api.request('POST', `/v1/access-requests/${ra}/retry`, { body: {} })).status).toBe(409);
      expect((await api.request('POST', `/v1/access-requests/${randomUUID()}/retry`, { body: {} })).status).toBe(404);
      expect((await runLethe(api, ['access', 'retry', randomUUID()])).code).toBe(3);
    },
    TIMEOUT,
  );

  test(
    'when a run is terminated with the Temporal client, then the reconciler’s pass records the request failed with a reason, and a retry starts it again to ready',
    async () => {
      const a = await seedAccount(seedDepsOf(world), { media: 1, auth0: 'none', subscriptions: null }, rand);
      const id = await file(a.id);
      await statusIs(id, 'ready');
      await world.client.workflow.getHandle(accessWorkflowId(id)).terminate('stopped by hand');
      const reconciler = createReconciler({ db: world.deps.db, temporal: world.client });
      const failed = await until(
        'the pass to record the terminated run',
        async () => {
          await reconciler.pass({ get: async () => null });
          const v = await get(id);
          return v.status === 'failed' ? v : undefined;
        },
        60_000,
        1_000,
      );
      expect(failed.reason).toMatch(/ended outside Lethe \(terminated\)/);
      const r = await api.request('POST', `/v1/access-requests/${id}/retry`, { body: { by: 'agent-8' } });
      expect(r.status).toBe(202);
      expect(['pending', 'running', 'ready']).toContain(r.body.status);
      await statusIs(id, 'ready');
      expect((await world.deps.db('lethe.audit_log').where({ request_id: id, action: 'access_request.retried' }).first('details')).details).toMatchObject({ outcome: 'resumed' });
    },
    TIMEOUT,
  );

  test(
    'when a deletion of the account has started but its intake has not recorded it yet, then an access request is refused and nothing is started',
    async () => {
      const a = await seedAccount(seedDepsOf(world), { media: 0, auth0: 'none', subscriptions: null }, rand);
      // The intake starts the run, then records the request: a run on a queue nobody polls, no row yet.
      const handle = await world.client.workflow.start('accountDeletionWorkflow', {
        taskQueue: `nobody-${randomUUID()}`,
        workflowId: deletionWorkflowId(a.id),
        args: [],
        memo: { requestId: randomUUID() },
      });
      try {
        const r = await api.request('POST', '/v1/access-requests', { body: { accountId: a.id, channel: 'support' } });
        expect([r.status, r.body.error]).toEqual([409, 'deletion_in_progress']);
        expect(await world.deps.db('lethe.access_requests').where({ account_id: a.id })).toEqual([]);
      } finally {
        await handle.terminate('test over');
      }
    },
    TIMEOUT,
  );

  test(
    'when a deletion starts while a request’s run has already ended with its archive written, then that archive is deleted all the same',
    async () => {
      const a = await seedAccount(seedDepsOf(world), { media: 2, auth0: 'none', subscriptions: null }, rand);
      const id = await file(a.id);
      await statusIs(id, 'ready');
      expect(await folder(id)).toHaveLength(1);
      expect(await world.deps.db('lethe.access_requests').where({ request_id: id }).first('archive_prefix')).toEqual({ archive_prefix: `access/${id}/` });
      // Its timer gone: nothing in the run would ever delete the archive now.
      await world.client.workflow.getHandle(accessWorkflowId(id)).terminate('stopped by hand');
      const del = await api.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'support' } });
      expect(del.status).toBe(202);
      await until('the archive folder to be empty', async () => ((await folder(id)).length === 0 ? true : undefined), 60_000, 500);
      const row = await until(
        'the request recorded cancelled',
        async () => {
          const r = await world.deps.db('lethe.access_requests').where({ request_id: id }).first();
          return r.status === 'cancelled' ? r : undefined;
        },
        30_000,
      );
      expect(row.archive_deleted_at).not.toBeNull();
    },
    TIMEOUT,
  );
});
