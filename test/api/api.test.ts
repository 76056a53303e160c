/**
 * The HTTP API against the real stack (server on port 0, a worker on its own task queue):
 * every route's success and error cases, security, the OpenAPI document, and the metrics.
 */
import { randomUUID } from 'node:crypto';
import { ServiceError } from '@temporalio/client';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startWorld, TestWorld } from '../support/stack';
import { seedDepsOf } from '../support/world-seed';
import { startApi, TestApi, waitForStatus } from '../support/api';
import { rng, seedAccount, SeedDeps } from '../../dev/seed/fixtures';
import { connectTemporal } from '../../client/temporal';
import { expectEmpty, storesOf } from '../support/stores';
import { deletionWorkflowId } from '../../contract';
import { newScopePrefix } from '../sweep/support';
import { until } from '../support/until';

const HOUR = 3_600_000;

describe('HTTP API', () => {
  let world: TestWorld;
  let seed: SeedDeps;
  let api: TestApi;
  const rand = rng(5005);
  // The worker's sweeps see only accounts under this id prefix (LETHE_SWEEP_SCOPE): the
  // database is shared, and a sweep test must count exactly the accounts it made.
  const sweepPrefix = newScopePrefix();
  const emails: string[] = [];
  const requestIds: string[] = [];

  const account = async (spec: Parameters<typeof seedAccount>[1] = {}) => {
    const a = await seedAccount(seed, { media: 3, ...spec }, rand);
    emails.push(a.email);
    return a;
  };
  const file = async (body: Record<string, unknown>) => {
    const res = await api.request('POST', '/v1/deletion-requests', { body });
    if (res.body?.requestId) requestIds.push(res.body.requestId);
    return res;
  };

  beforeAll(async () => {
    world = await startWorld({ env: { LETHE_SWEEP_SCOPE: sweepPrefix } });
    seed = seedDepsOf(world);
    api = await startApi(world);
  });
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  describe('POST /v1/deletion-requests', () => {
    test('when a request names an account, then it is accepted with a Location, and the status view ends with the receipt', async () => {
      const a = await account({ media: 4, subscriptions: [{ state: 'active' }] });
      const res = await file({ accountId: a.id, channel: 'support', requestedBy: 'agent-7' });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ accountId: a.id, status: 'pending', existing: false });
      expect(res.headers.get('location')).toBe(`/v1/deletion-requests/${res.body.requestId}`);
      expect(Date.parse(res.body.deadlineAt) - Date.parse(res.body.receivedAt)).toBe(72 * HOUR);

      const view = await waitForStatus(api, res.body.requestId);
      expect(view).toMatchObject({ requestId: res.body.requestId, accountId: a.id, channel: 'support', status: 'completed', overdue: false, warning: false, source: 'tables' });
      expect(view.steps.map((s: { name: string }) => s.name)).toEqual(expect.arrayContaining(['freeze', 'recurly', 'auth0', 'media', 'database', 'verify', 'receipt']));
      expect(view.steps.every((s: { status: string }) => s.status === 'completed')).toBe(true);
      expect(view.receipt).toMatchObject({ requestId: res.body.requestId, accountId: a.id, verification: { clean: true } });
      expect(view.receipt.counts.media.blobsDeleted).toBeGreaterThanOrEqual(4);
      expect(view.receipt.counts.recurly.subscriptionsTerminated).toBe(1);
      expect(JSON.stringify(view)).not.toContain(a.email);
      expectEmpty(await storesOf(seed, a));
    });

    test('when the same account is asked for twice, then the second answer has the same requestId', async () => {
      const a = await account({ media: 40 });
      const first = await file({ accountId: a.id, channel: 'api' });
      const second = await file({ email: a.email.toUpperCase(), channel: 'phone' });
      expect(first.status).toBe(202);
      expect([200, 202]).toContain(second.status);
      expect(second.body.requestId).toBe(first.body.requestId);
      expect(second.body.existing).toBe(true);
      const view = await waitForStatus(api, first.body.requestId);
      expect(view.status).toBe('completed');
      // Once deleted, asking again by id answers the request that did it.
      const again = await file({ accountId: a.id, channel: 'email' });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ requestId: first.body.requestId, status: 'completed', existing: true });
    });

    test('when receivedAt is earlier, then the deadline counts from it', async () => {
      const a = await account();
      const receivedAt = new Date(Date.now() - 5 * HOUR).toISOString();
      const res = await file({ accountId: a.id, channel: 'phone', receivedAt });
      expect(res.status).toBe(202);
      expect(res.body.receivedAt).toBe(receivedAt);
      expect(res.body.deadlineAt).toBe(new Date(Date.parse(receivedAt) + 72 * HOUR).toISOString());
      await waitForStatus(api, res.body.requestId);
    });

    test('when a request reached the company 80 hours ago, then it is overdue and listed as such', async () => {
      const a = await account();
      const res = await file({ accountId: a.id, channel: 'email', receivedAt: new Date(Date.now() - 80 * HOUR).toISOString() });
      const view = await waitForStatus(api, res.body.requestId);
      expect(view.status).toBe('completed');
      expect(view.overdue).toBe(true);
      const list = await api.request('GET', '/v1/deletion-requests?overdue=true&limit=200');
      expect(list.body.items.map((i: { requestId: string }) => i.requestId)).toContain(res.body.requestId);
      expect(list.body.items.every((i: { overdue: boolean }) => i.overdue)).toBe(true);
    });

    test('when the email holds % or _, then they are characters, not patterns', async () => {
      const tag = randomUUID().slice(0, 8);
      const literal = await account({ email: `under_score.${tag}@example.test` });
      await account({ email: `underXscore.${tag}@example.test` });
      // `%` would match anything in LIKE; `=` on lower() finds nothing.
      expect((await file({ email: `under%.${tag}@example.test`, channel: 'api' })).status).toBe(404);
      expect((await file({ email: `UNDER_SCORE.${tag}@EXAMPLE.TEST`, channel: 'api' })).body.accountId).toBe(literal.id);
    });

    test.each([
      [{ accountId: 'not-a-uuid', channel: 'api' }, 'body/accountId'],
      [{ channel: 'api' }, 'body/accountId'],
      [{ accountId: randomUUID(), email: 'x@example.test', channel: 'api' }, 'body/accountId'],
      [{ accountId: randomUUID() }, 'body/channel'],
      [{ accountId: randomUUID(), channel: 'fax' }, 'body/channel'],
      [{ accountId: randomUUID(), channel: 'inactivity' }, 'body/channel'],
      [{ accountId: randomUUID(), channel: 'api', receivedAt: 'yesterday' }, 'body/receivedAt'],
      [{ accountId: randomUUID(), channel: 'api', receivedAt: '2026-11-28T10:00:00' }, 'body/receivedAt'],
      [{ accountId: randomUUID(), channel: 'api', receivedAt: new Date(Date.now() + 86_400_000).toISOString() }, 'body/receivedAt'],
      [{ accountId: randomUUID(), channel: 'api', recievedAt: '2026-11-28T10:00:00Z' }, 'body/recievedAt'],
      [{ email: 'no-at-sign', channel: 'api' }, 'body/email'],
      [{ accountId: 42, channel: 'api' }, 'body/accountId'],
      [{ accountId: randomUUID(), channel: 'api', requestedBy: '' }, 'body/requestedBy'],
    ])('when the body is %j, then 400 names %s', async (body, field) => {
      const res = await file(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_input', field });
      expect(res.body.message).toContain(field);
    });

    test('when the body is not a JSON object, then 400 (or 415) says so', async () => {
      expect((await api.request('POST', '/v1/deletion-requests', { raw: '{"channel":', headers: { 'content-type': 'application/json' } })).body).toMatchObject({
        error: 'invalid_input',
        field: 'body',
      });
      expect((await api.request('POST', '/v1/deletion-requests', { raw: '[1]', headers: { 'content-type': 'application/json' } })).body).toMatchObject({
        field: 'body',
        message: 'body must be a JSON object',
      });
      expect((await api.request('POST', '/v1/deletion-requests', { raw: '', headers: { 'content-type': 'application/json' } })).status).toBe(400);
      expect((await api.request('POST', '/v1/deletion-requests')).status).toBe(400);
      expect((await api.request('POST', '/v1/deletion-requests', { raw: 'channel=api', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(415);
    });

    test('when the body is over 16 KiB, then 413', async () => {
      const res = await api.request('POST', '/v1/deletion-requests', { body: { accountId: randomUUID(), channel: 'api', requestedBy: 'x'.repeat(20_000) } });
      expect(res.status).toBe(413);
      expect(res.body.error).toBe('payload_too_large');
    });

    test('when the account does not exist, then 404 names the field', async () => {
      const byId = await file({ accountId: randomUUID(), channel: 'api' });
      expect(byId.status).toBe(404);
      expect(byId.body).toMatchObject({ error: 'account_not_found', field: 'body/accountId' });
      const byEmail = await file({ email: `nobody.${randomUUID()}@example.test`, channel: 'api' });
      expect(byEmail.status).toBe(404);
      expect(byEmail.body.field).toBe('body/email');
    });
  });

  describe('GET /v1/deletion-requests/{requestId}', () => {
    test('when the request id is unknown, then 404; when it is not a UUID, then 400 naming it', async () => {
      const unknown = await api.request('GET', `/v1/deletion-requests/${randomUUID()}`);
      expect(unknown.status).toBe(404);
      expect(unknown.body.error).toBe('not_found');
      const bad = await api.request('GET', '/v1/deletion-requests/not-a-uuid');
      expect(bad.status).toBe(400);
      expect(bad.body.field).toBe('params/requestId');
    });

    test('when the workflow was terminated, then the view says failed with the reason, and the record follows', async () => {
      const a = await account({ media: 300 });
      const res = await file({ accountId: a.id, channel: 'api' });
      // Terminated once under way: its freeze has recorded the request running. (A terminate that
      // lands while the freeze is still writing can leave the row running after the read recorded
      // it failed; the reconciler's periodic pass sets it right within a couple of minutes.)
      for (let i = 0; i < 100; i++, await new Promise((r) => setTimeout(r, 100))) {
        const r = await world.deps.db('lethe.deletion_requests').where({ request_id: res.body.requestId }).first('status');
        if (r?.status === 'running') break;
      }
      await world.client.workflow.getHandle(deletionWorkflowId(a.id)).terminate('operator stopped it');
      // Asked live: the default read answers a running request from the tables, which the reconciler's pass corrects within a minute.
      const view = await waitForStatus(api, res.body.requestId, 20_000, { live: true });
      expect(view.status).toBe('failed');
      expect(view.reason).toContain('operator stopped it');
      // The reconciler records what the read saw, in the background: give it a moment.
      let row: { status: string } | undefined;
      for (let i = 0; i < 50 && row?.status !== 'failed'; i++, await new Promise((r) => setTimeout(r, 100))) {
        row = await world.deps.db('lethe.deletion_requests').where({ request_id: res.body.requestId }).first();
      }
      expect(row?.status).toBe('failed');
      const failed = await api.request('GET', '/v1/deletion-requests?status=failed&limit=200');
      expect(failed.body.items.map((i: { requestId: string }) => i.requestId)).toContain(res.body.requestId);
    });

    test("when the run's workflow task fails on every worker, then the view says it is stalled, since when, and what to look at", async () => {
      // As after a deploy whose workers lack the run's workflow code: a type no worker registers.
      const a = await account();
      const requestId = randomUUID();
      const now = new Date();
      await world.deps
        .db('lethe.deletion_requests')
        .insert({ request_id: requestId, account_id: a.id, channel: 'api', received_at: now, deadline_at: new Date(now.getTime() + 72 * HOUR), status: 'pending' });
      requestIds.push(requestId);
      const handle = await world.client.workflow.start('accountDeletionWorkflowOfAnotherBuild', {
        taskQueue: world.config.temporal.taskQueue,
        workflowId: deletionWorkflowId(a.id),
        args: [],
        memo: { requestId },
      });
      try {
        const view = await until(
          'the view to say stalled',
          async () => {
            const r = await api.request('GET', `/v1/deletion-requests/${requestId}`);
            return r.body?.stalled ? r.body : undefined;
          },
          90_000,
          500,
        );
        expect(view).toMatchObject({ status: 'pending', source: 'workflow', stalled: { attempts: expect.any(Number), reason: expect.stringContaining('workflow task has failed or timed out') } });
        expect(view.stalled.attempts).toBeGreaterThanOrEqual(3);
        expect(Math.abs(Date.parse(view.stalled.since) - now.getTime())).toBeLessThan(30_000);
        // A healthy run is never called stalled (the filed one above finished without it).
        const healthy = await file({ accountId: (await account()).id, channel: 'api' });
        expect((await waitForStatus(api, healthy.body.requestId)).stalled).toBeUndefined();
      } finally {
        await handle.terminate('test done');
      }
    });

    test('when the workflow history has expired, then the view comes from the records and the receipt', async () => {
      const requestId = randomUUID();
      const accountId = randomUUID();
      const receivedAt = new Date(Date.now() - 10 * 86_400_000);
      const completedAt = new Date(receivedAt.getTime() + 3 * HOUR);
      const deadlineAt = new Date(receivedAt.getTime() + 72 * HOUR);
      await world.deps
        .db('lethe.deletion_requests')
        .insert({ request_id: requestId, account_id: accountId, channel: 'email', received_at: receivedAt, deadline_at: deadlineAt, status: 'completed', completed_at: completedAt });
      await world.deps.db('lethe.receipts').insert({
        request_id: requestId,
        account_id: accountId,
        channel: 'email',
        received_at: receivedAt,
        deadline_at: deadlineAt,
        completed_at: completedAt,
        counts: JSON.stringify({ media: { blobsDeleted: 7, byContainer: { media: 7 } }, database: { accounts: 1 }, channels: ['email', 'phone'], passes: 1, overdue: false }),
        verification: JSON.stringify({ clean: true, blobsRemaining: 0 }),
      });
      // A completed request with its receipt answers from the tables without asking Temporal; `?live=true` asks, and finds no history.
      const view = (await api.request('GET', `/v1/deletion-requests/${requestId}`)).body;
      expect(view).toMatchObject({ status: 'completed', source: 'tables', channels: ['email', 'phone'], overdue: false, completedAt: completedAt.toISOString() });
      expect((await api.request('GET', `/v1/deletion-requests/${requestId}?live=true`)).body).toMatchObject({ status: 'completed', source: 'records' });
      expect(view.receipt.counts.media.blobsDeleted).toBe(7);
      expect(view.steps.find((s: { name: string }) => s.name === 'media')).toMatchObject({ status: 'completed', detail: '7 blobs deleted' });

      // A request whose run vanished without a receipt did not complete.
      const lost = randomUUID();
      await world.deps.db('lethe.deletion_requests').insert({ request_id: lost, account_id: randomUUID(), channel: 'api', received_at: receivedAt, deadline_at: deadlineAt, status: 'running' });
      const lostView = (await api.request('GET', `/v1/deletion-requests/${lost}`)).body;
      expect(lostView).toMatchObject({ status: 'failed', source: 'records', overdue: true });
      expect(lostView.reason).toMatch(/expired/);
    });
  });

  describe('GET /v1/deletion-requests', () => {
    test('when filtered by status and channel and paged, then every item matches and pages do not overlap', async () => {
      // Rows of this test's own, a second apart: three that match, and between them two that do
      // not (another channel, another status).
      const t0 = Date.now();
      const row = (i: number, channel: string, status: string) => {
        const receivedAt = new Date(t0 - 5 * HOUR);
        return {
          request_id: randomUUID() as string,
          account_id: randomUUID(),
          channel,
          status,
          received_at: receivedAt,
          deadline_at: new Date(receivedAt.getTime() + 72 * HOUR),
          completed_at: status === 'completed' ? new Date(t0 - HOUR) : null,
          created_at: new Date(t0 - i * 1000),
        };
      };
      const rows = [row(1, 'email', 'completed'), row(2, 'phone', 'completed'), row(3, 'email', 'completed'), row(4, 'email', 'skipped'), row(5, 'email', 'completed')];
      const matching = rows.filter((r) => r.channel === 'email' && r.status === 'completed').map((r) => r.request_id);
      const others = rows.filter((r) => !matching.includes(r.request_id)).map((r) => r.request_id);
      await world.deps.db('lethe.deletion_requests').insert(rows);
      try {
        // Other test files file requests meanwhile (newer ones come first): page until ours are
        // all seen, which is a handful of pages unless the order or the cursor is wrong.
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let pages = 0; !matching.every((id) => seen.includes(id)); pages++) {
          if (pages > 0 && !cursor) throw new Error(`the pages ended before this test's rows were all listed (saw ${seen.length})`);
          if (pages >= 200) throw new Error('200 pages without reaching this test’s rows');
          const page = await api.request('GET', `/v1/deletion-requests?status=completed&channel=email&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
          expect(page.status).toBe(200);
          expect(page.body.items.length).toBe(1);
          expect(page.body.items.every((i: { status: string; channel: string }) => i.status === 'completed' && i.channel === 'email')).toBe(true);
          const [id] = page.body.items.map((i: { requestId: string }) => i.requestId);
          // A cursor that lets its own row through again repeats it page after page.
          expect({ page: pages, repeats: seen.includes(id) }).toEqual({ page: pages, repeats: false });
          seen.push(id);
          cursor = page.body.nextCursor;
        }
        // Newest first: ours in the order they were made, and none of the two that do not match.
        expect(seen.filter((id) => matching.includes(id))).toEqual(matching);
        expect(seen.filter((id) => others.includes(id))).toEqual([]);
      } finally {
        await world.deps
          .db('lethe.deletion_requests')
          .whereIn(
            'request_id',
            rows.map((r) => r.request_id),
          )
          .del();
      }
    });

    test.each([
      ['status=done', 'querystring/status'],
      ['channel=fax', 'querystring/channel'],
      ['overdue=maybe', 'querystring/overdue'],
      ['limit=0', 'querystring/limit'],
      ['limit=500', 'querystring/limit'],
      ['stauts=running', 'querystring/stauts'],
      ['cursor=bm90LWEtY3Vyc29y', 'querystring/cursor'],
    ])('when the query is %s, then 400 names %s', async (q, field) => {
      const res = await api.request('GET', `/v1/deletion-requests?${q}`);
      expect(res.status).toBe(400);
      expect(res.body.field).toBe(field);
      expect(res.body.message).toContain(field);
    });
  });

  describe('security', () => {
    test('when the token is missing or wrong, then every route but /healthz answers 401', async () => {
      const doc = (await api.request('GET', '/openapi.json')).body;
      const routes: [string, string][] = [];
      for (const [p, item] of Object.entries(doc.paths as Record<string, Record<string, { security?: unknown[] }>>)) {
        // The front door's public request (`security: []` in the document) takes no token by design.
        for (const [m, op] of Object.entries(item))
          if (!(Array.isArray(op.security) && op.security.length === 0)) routes.push([m.toUpperCase(), p.replace('{requestId}', randomUUID()).replace('{sweepId}', 'sweep-1')]);
      }
      expect(routes.length).toBeGreaterThanOrEqual(9);
      for (const [method, p] of routes) {
        for (const token of [null, 'wrong-token-wrong-token', `${api.token}x`]) {
          const res = await api.request(method, p, { token, body: method === 'POST' ? {} : undefined });
          if (p === '/healthz') expect(res.status).toBe(200);
          else {
            expect([method, p, res.status]).toEqual([method, p, 401]);
            expect(res.body.error).toBe('unauthorized');
            expect(res.headers.get('www-authenticate')).toBe('Bearer');
          }
        }
      }
      // Not "Basic", not the token without its scheme, not an unknown route either.
      expect((await api.request('GET', '/v1/deletion-requests', { token: null, headers: { authorization: `Basic ${api.token}` } })).status).toBe(401);
      expect((await api.request('GET', '/v1/deletion-requests', { token: null, headers: { authorization: api.token } })).status).toBe(401);
      expect((await api.request('GET', '/v1/nothing-here', { token: null })).status).toBe(401);
      expect((await api.request('GET', '/v1/nothing-here')).status).toBe(404);
    });

    test('when a token goes over its rate, then 429 with Retry-After, and another token is unaffected', async () => {
      const tokens = ['first-token-0123456789', 'second-token-0123456789'];
      const limited = await startApi(world, { config: { tokens, rateLimitPerMinute: 3 } });
      try {
        const statuses = [];
        for (let i = 0; i < 4; i++) statuses.push((await limited.request('GET', '/v1/deletion-requests?limit=1', { token: tokens[0] })).status);
        expect(statuses).toEqual([200, 200, 200, 429]);
        const refused = await limited.request('GET', '/v1/deletion-requests?limit=1', { token: tokens[0] });
        expect(refused.body.error).toBe('rate_limited');
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
        expect((await limited.request('GET', '/v1/deletion-requests?limit=1', { token: tokens[1] })).status).toBe(200);
      } finally {
        await limited.close();
      }
    });

    test('when requests were served, then the logs hold routes and statuses, never tokens, emails or ids', async () => {
      // Requests of this test's own: one filed by email, then its status read.
      const a = await account({ media: 1 });
      const filed = await file({ email: a.email, channel: 'email' });
      expect(filed.status).toBe(202);
      await waitForStatus(api, filed.body.requestId);
      const lines = api.logs.join('');
      expect(lines).toContain('"route":"/v1/deletion-requests"');
      expect(lines).toContain('"route":"/v1/deletion-requests/:requestId"');
      expect(lines).toContain('"status":202');
      expect(lines).not.toContain(api.token);
      for (const e of emails) expect(lines.toLowerCase()).not.toContain(e.toLowerCase());
      for (const id of requestIds) expect(lines).not.toContain(id);
      expect(lines).not.toMatch(/authorization/i);
    });
  });

  describe('operations', () => {
    test('when /healthz is asked without a token, then it answers that Temporal and PostgreSQL are reachable', async () => {
      const res = await api.request('GET', '/healthz', { token: null });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok', checks: { postgres: 'ok', temporal: 'ok' } });
    });

    test('when Temporal cannot be reached, then /healthz answers 503 naming it and a request answers 503', async () => {
      const a = await account();
      const temporal = await connectTemporal({ ...world.config, temporal: { ...world.config.temporal, address: '127.0.0.1:9' } });
      const down = await startApi(world, { deps: { temporal } });
      try {
        const health = await down.request('GET', '/healthz', { token: null });
        expect(health.status).toBe(503);
        expect(health.body).toEqual({ status: 'unavailable', checks: { postgres: 'ok', temporal: 'unreachable' } });
        const res = await down.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'api' } });
        expect(res.status).toBe(503);
        expect(res.body.error).toBe('unavailable');
      } finally {
        await down.close();
        await temporal.connection.close().catch(() => undefined);
      }
    });

    test.each([
      [1, 'CANCELLED: Call cancelled'],
      [8, 'RESOURCE_EXHAUSTED: namespace rate limit exceeded'],
    ])('when Temporal answers a start with gRPC status %i (busy, not down), then the request answers 503 "retry shortly", not 500', async (code, text) => {
      const a = await account();
      // The real client, except that every start meets the status a busy server gives.
      const workflow = new Proxy(world.client.workflow, {
        get: (target, prop, receiver) =>
          prop === 'start' ? () => Promise.reject(new ServiceError('Failed to start Workflow', { cause: Object.assign(new Error(`${code} ${text}`), { code }) })) : Reflect.get(target, prop, receiver),
      });
      const temporal = new Proxy(world.client, { get: (target, prop, receiver) => (prop === 'workflow' ? workflow : Reflect.get(target, prop, receiver)) });
      const busy = await startApi(world, { deps: { temporal } });
      try {
        const res = await busy.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'api' } });
        expect({ status: res.status, error: res.body.error, message: res.body.message }).toEqual({ status: 503, error: 'unavailable', message: expect.stringContaining('retry shortly') });
      } finally {
        await busy.close();
      }
    });

    test('when the OpenAPI document is read, then it validates and lists every route', async () => {
      const res = await api.request('GET', '/openapi.json');
      expect(res.status).toBe(200);
      const doc = res.body;
      await SwaggerParser.validate(structuredClone(doc));
      const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`));
      // Every route the server answers (HEAD twins aside) is in the document, and nothing else.
      expect([...listed].sort()).toEqual([...api.routes].sort());
      for (const route of ROUTES) expect(listed).toContain(route);
      expect(doc.paths['/healthz'].get.security).toEqual([]);
      expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
      expect(doc.paths['/v1/deletion-requests'].post.requestBody.content['application/json'].schema.properties.channel.enum).toEqual(['api', 'email', 'phone', 'support', 'in_app']);
    });

    test('when the docs page is read, then it is HTML describing each route', async () => {
      const res = await api.request('GET', '/docs');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      for (const route of ROUTES) expect(res.text).toContain(route.split(' ')[1]);
    });

    test('when deletions ran, then /metrics shows the counters moved, without personal data', async () => {
      const inApp = await account();
      const byEmail = await account();
      // An open request of this test's own past its deadline (a failed one an operator has not
      // dealt with yet): the overdue gauge must count it.
      const overdueRow = {
        request_id: randomUUID(),
        account_id: randomUUID(),
        channel: 'api',
        status: 'failed',
        received_at: new Date(Date.now() - 80 * HOUR),
        deadline_at: new Date(Date.now() - 8 * HOUR),
      };
      await world.deps.db('lethe.deletion_requests').insert(overdueRow);
      try {
        const before = await api.request('GET', '/metrics');
        const count = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"/]/g, (c) => `\\${c}`)} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
        const series = {
          inApp: 'lethe_deletion_requests_total{channel="in_app",outcome="accepted"}',
          email: 'lethe_deletion_requests_total{channel="email",outcome="accepted"}',
          notFound: 'lethe_deletion_requests_total{channel="api",outcome="not_found"}',
          accepted202: 'lethe_api_requests_total{method="POST",route="/v1/deletion-requests",status_code="202"}',
        };
        const first = await file({ accountId: inApp.id, channel: 'in_app' });
        const second = await file({ email: byEmail.email, channel: 'email' });
        expect([first.status, second.status]).toEqual([202, 202]);
        expect((await file({ accountId: randomUUID(), channel: 'api' })).status).toBe(404);
        await waitForStatus(api, first.body.requestId);
        await waitForStatus(api, second.body.requestId);
        const after = await api.request('GET', '/metrics');
        expect(after.status).toBe(200);
        expect(after.headers.get('content-type')).toMatch(/text\/plain/);
        // This server's own counters: exactly what this test did moved them.
        expect(Object.fromEntries(Object.entries(series).map(([k, s]) => [k, count(after.text, s) - count(before.text, s)]))).toEqual({ inApp: 1, email: 1, notFound: 1, accepted202: 2 });
        // The gauges read the shared records: at least this test's overdue request.
        expect(count(after.text, 'lethe_deletions_overdue{channel="api"}')).toBeGreaterThanOrEqual(1);
        expect(after.text).toMatch(/lethe_deletions_in_flight\{channel="api"\} \d+/);
        expect(after.text).toMatch(/lethe_deletions_near_deadline\{channel="\w+"\} \d+/);
        expect(after.text).toContain('lethe_api_metrics_database_up 1');
        for (const a of [inApp, byEmail]) expect(after.text).not.toContain(a.id);
        for (const id of [...requestIds, overdueRow.request_id]) expect(after.text).not.toContain(id);
        for (const e of emails) expect(after.text).not.toContain(e);
      } finally {
        await world.deps.db('lethe.deletion_requests').where({ request_id: overdueRow.request_id }).del();
      }
    });
  });

  describe('/v1/sweeps', () => {
    test('when a dry-run sweep is started, then 202 with a Location, and it reports exactly the eligible accounts without deleting', async () => {
      // This file's worker sweeps only ids under sweepPrefix; the three accounts there are this
      // test's: one eligible, one as inactive but kept by a live subscription (scanned, not
      // eligible), one active last month (not even scanned).
      const under = () => `${sweepPrefix}${randomUUID().slice(8)}`;
      const longAgo = (days: number) => new Date(Date.now() - days * 86_400_000);
      const stale = await account({ id: under(), media: 1, createdAt: longAgo(900), lastLoginAt: longAgo(800), subscriptions: null });
      const staleButPaying = await account({ id: under(), media: 1, createdAt: longAgo(900), lastLoginAt: longAgo(800), subscriptions: [{ state: 'active' }] });
      const recent = await account({ id: under(), media: 1, createdAt: longAgo(900), lastLoginAt: longAgo(30), subscriptions: null });
      const res = await api.request('POST', '/v1/sweeps', { body: { dryRun: true } });
      expect(res.status).toBe(202);
      expect(res.headers.get('location')).toBe(`/v1/sweeps/${encodeURIComponent(res.body.sweepId)}`);
      const sweepPath = `/v1/sweeps/${encodeURIComponent(res.body.sweepId)}`;
      const deadline = Date.now() + 90_000;
      let view;
      for (;;) {
        view = (await api.request('GET', sweepPath)).body;
        if (view.status !== 'running' || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(view).toMatchObject({ sweepId: res.body.sweepId, status: 'completed', dryRun: true, scanned: 2, eligible: 1, started: 0 });
      // Every eligible id, a page at a time.
      const ids: string[] = [];
      let pageToken: string | undefined;
      do {
        const page = (await api.request('GET', `${sweepPath}?pageSize=1000${pageToken ? `&pageToken=${pageToken}` : ''}`)).body;
        ids.push(...page.accountIds);
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(ids).toEqual([stale.id]);
      const badToken = await api.request('GET', `${sweepPath}?pageToken=bogus`);
      expect([badToken.status, badToken.body.field]).toEqual([400, 'querystring/pageToken']);
      for (const a of [stale, staleButPaying, recent]) expect(await world.deps.db('accounts').where({ id: a.id }).first()).toBeDefined();
    });

    test('when the body, the id or the page token is wrong, then 400 names the field; an unknown sweep is 404', async () => {
      const bad = await api.request('POST', '/v1/sweeps', { body: { dryRun: 'yes' } });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ field: 'body/dryRun', message: 'body/dryRun must be a boolean' });
      expect((await api.request('POST', '/v1/sweeps', { body: { dryrun: true } })).body.field).toBe('body/dryrun');
      expect((await api.request('GET', '/v1/sweeps/no-such-sweep')).status).toBe(404);
      expect((await api.request('GET', '/v1/sweeps/bad%20id')).body.field).toBe('params/sweepId');
      expect((await api.request('GET', '/v1/sweeps/no-such-sweep?pageSize=0')).body.field).toBe('querystring/pageSize');
    });
  });
});

const ROUTES = [
  'POST /v1/deletion-requests',
  'GET /v1/deletion-requests',
  'GET /v1/deletion-requests/{requestId}',
  'POST /v1/sweeps',
  'GET /v1/sweeps/{sweepId}',
  'GET /healthz',
  'GET /metrics',
  'GET /openapi.json',
  'GET /docs',
];
