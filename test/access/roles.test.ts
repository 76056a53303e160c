/**
 * Who may call what (issue 17): one named token per role against the API on the real stack.
 * The routes come from the Fastify app itself, so a route added without an entry here (or
 * without a role declaration in the app) fails this file.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { startWorld, testConfig, TestWorld } from '../support/stack';
import { startApi, TestApi } from '../support/api';
import { credentialEntry, ROLES, type Role } from '../../config';
import { createApiServer } from '../../client/api/server';
import { createScheduleService, type ScheduleService } from '../../client/schedule';

/** One probe of a route: the body or query it sends, the least role it needs, the status an allowed caller gets. */
interface Probe {
  label?: string;
  body?: unknown;
  needs: Role | 'public';
  allowed: number[];
}

const ID = randomUUID();
const window = { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' };

/**
 * The intended access model. Probes that are allowed touch nothing of anyone's: unknown ids
 * (404), a Schedule id that does not exist (404), sweeps scoped to an id prefix no account has.
 */
const MATRIX: Record<string, Probe[]> = {
  'GET /healthz': [{ needs: 'public', allowed: [200, 503] }],
  'POST /v1/deletion-requests': [{ body: { accountId: ID, channel: 'support' }, needs: 'requester', allowed: [404] }],
  'GET /v1/deletion-requests/{requestId}': [{ needs: 'requester', allowed: [404] }],
  'GET /v1/deletion-requests': [{ needs: 'operator', allowed: [200] }],
  'GET /v1/requests': [{ needs: 'operator', allowed: [200] }],
  'POST /v1/deletion-requests/{requestId}/retry': [{ body: {}, needs: 'operator', allowed: [404] }],
  'POST /v1/deletion-requests/{requestId}/resolve': [{ body: { store: 'media', justification: 'held by counsel, removed by hand', by: 'staff-1' }, needs: 'operator', allowed: [404] }],
  'GET /v1/deletion-requests/{requestId}/actions': [{ needs: 'operator', allowed: [404] }],
  'POST /v1/deletion-requests/retry': [{ body: { status: 'failed', dryRun: true }, needs: 'operator', allowed: [200] }],
  'POST /v1/sweeps': [
    { label: 'dry run', body: { dryRun: true }, needs: 'operator', allowed: [202] },
    { label: 'real sweep', body: { dryRun: false }, needs: 'admin', allowed: [202] },
    { label: 'real sweep by default', body: {}, needs: 'admin', allowed: [202] },
  ],
  'GET /v1/sweeps/{sweepId}': [{ needs: 'operator', allowed: [404] }],
  'GET /v1/schedule': [{ needs: 'operator', allowed: [404] }],
  'POST /v1/schedule/pause': [{ body: { note: 'access test' }, needs: 'admin', allowed: [404] }],
  'POST /v1/schedule/resume': [{ body: {}, needs: 'admin', allowed: [404] }],
  'POST /v1/schedule/trigger': [{ body: {}, needs: 'admin', allowed: [404] }],
  'POST /v1/schedule/backfill': [{ body: window, needs: 'admin', allowed: [404] }],
  'GET /v1/audit': [{ needs: 'operator', allowed: [200] }],
  // Legal holds: a hold on an account nobody has, a release of a hold that does not exist.
  'POST /v1/holds': [{ body: { accountId: ID, reason: 'access test' }, needs: 'admin', allowed: [201] }],
  'POST /v1/holds/{holdId}/release': [{ body: { justification: 'access test' }, needs: 'admin', allowed: [404] }],
  'GET /v1/holds': [{ needs: 'admin', allowed: [200] }],
  // The front door: no token needed (an address nobody has: the same 202 as any); inbound mail for admin or the `inbound` role (JSON is not a mail: 415).
  'POST /v1/public/requests': [{ body: { email: `nobody-${ID}@example.test`, type: 'deletion' }, needs: 'public', allowed: [202] }],
  'POST /v1/inbound-email': [{ body: { from: 'x' }, needs: 'admin', allowed: [415] }],
  // Access requests (CONTRACT §8): as the deletion routes; an account nobody has, a request that does not exist.
  'POST /v1/access-requests': [{ body: { accountId: ID, channel: 'support' }, needs: 'requester', allowed: [404] }],
  'GET /v1/access-requests/{requestId}': [{ needs: 'requester', allowed: [404] }],
  'POST /v1/access-requests/{requestId}/retry': [{ body: {}, needs: 'operator', allowed: [404] }],
  // Correction requests: an account nobody has (404), a request that does not exist (404).
  'POST /v1/correction-requests': [{ body: { accountId: ID, changes: { full_name: 'Access Test' }, channel: 'support' }, needs: 'operator', allowed: [404] }],
  'GET /v1/correction-requests/{requestId}': [{ needs: 'operator', allowed: [404] }],
  'GET /v1/correction-requests': [{ needs: 'operator', allowed: [200] }],
  'POST /v1/correction-requests/{requestId}/retry': [{ body: {}, needs: 'operator', allowed: [404] }],
  'GET /metrics': [{ needs: 'operator', allowed: [200] }],
  'GET /openapi.json': [{ needs: 'requester', allowed: [200] }],
  'GET /docs': [{ needs: 'requester', allowed: [200] }],
};

const pathOf = (route: string): string => route.split(' ')[1].replace('{requestId}', ID).replace('{sweepId}', `no-such-sweep-${ID}`).replace('{holdId}', ID);

describe('access by role', () => {
  let world: TestWorld;
  let api: TestApi;
  const suffix = randomBytes(3).toString('hex');
  const tokens = Object.fromEntries(ROLES.map((r) => [r, randomBytes(32).toString('base64url')])) as Record<Role, string>;
  const nameOf = (r: Role) => `access-${r}-${suffix}`;
  // Through loadConfig, as the API process reads them: digests only.
  const credentials = () => testConfig({ LETHE_API_TOKENS: ROLES.map((r) => credentialEntry(nameOf(r), r, tokens[r])).join(',') }).api.credentials;

  beforeAll(async () => {
    world = await startWorld({
      env: {
        // Sweeps this file starts see no account (no id starts with a fresh 12-digit prefix)...
        LETHE_SWEEP_SCOPE: randomBytes(6).toString('hex'),
        // ...and the Schedule routes aim at one that does not exist.
        LETHE_SWEEP_SCHEDULE_ID: `access-none-${suffix}`,
      },
    });
    api = await startApi(world, { config: { tokens: [], credentials: credentials() } });
  });
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  test('when the app registers its routes, then every one has an entry in this matrix and every entry a route', () => {
    expect(api.routes.length).toBeGreaterThan(10);
    expect([...new Set(api.routes)].sort()).toEqual(Object.keys(MATRIX).sort());
  });

  test('when a route is added without a role, then the app refuses it at registration', async () => {
    const app = createApiServer({ config: world.config, db: world.deps.db, temporal: world.client });
    try {
      let refused: unknown;
      try {
        app.get('/v1/unguarded', async () => 'open');
        await app.ready();
      } catch (err) {
        refused = err;
      }
      expect(String(refused)).toContain('route GET /v1/unguarded declares no role');
    } finally {
      await app.close().catch(() => undefined);
    }
  });

  describe.each(ROLES)('a %s token', (role) => {
    test('gets each route allowed or 403 by the matrix; a 403 names the role needed and the token, never the token itself', async () => {
      const wrong: string[] = [];
      for (const [route, probes] of Object.entries(MATRIX)) {
        const [method] = route.split(' ');
        for (const p of probes) {
          const res = await api.request(method, pathOf(route), { token: tokens[role], body: p.body });
          const what = `${route}${p.label ? ` (${p.label})` : ''}`;
          const denied = p.needs !== 'public' && ROLES.indexOf(role) < ROLES.indexOf(p.needs);
          if (denied) {
            const ok =
              res.status === 403 &&
              res.body?.error === 'forbidden' &&
              res.body.requiredRole === p.needs &&
              res.body.role === role &&
              res.body.tokenName === nameOf(role) &&
              res.body.message.includes(p.needs) &&
              res.body.message.includes(nameOf(role)) &&
              !res.text.includes(tokens[role]);
            if (!ok) wrong.push(`${what}: expected 403 needing ${p.needs}, got ${res.status} ${res.text.slice(0, 200)}`);
          } else if (!p.allowed.includes(res.status)) {
            wrong.push(`${what}: expected ${p.allowed.join('/')}, got ${res.status} ${res.text.slice(0, 200)}`);
          }
        }
      }
      expect(wrong).toEqual([]);
    });
  });

  test('when a token is unknown, then 401 before any role is considered', async () => {
    const res = await api.request('POST', '/v1/sweeps', { token: randomBytes(32).toString('base64url'), body: { dryRun: true } });
    expect(res.status).toBe(401);
  });

  describe('the Schedule and real sweeps', () => {
    let schedules: ScheduleService;
    let scheduled: TestApi;
    const scheduleId = `access-schedule-${suffix}`;

    beforeAll(async () => {
      // A Schedule of this file's own (never the deployment's), on this world's task queue.
      const config = testConfig({ LETHE_TASK_QUEUE: world.taskQueue, LETHE_SWEEP_SCHEDULE_ID: scheduleId, LETHE_SWEEP_SCOPE: world.config.sweep.scopePrefix! });
      schedules = createScheduleService({ config, temporal: world.client });
      await schedules.ensure();
      scheduled = await startApi({ ...world, config: { ...world.config, sweep: config.sweep } }, { config: { tokens: [], credentials: credentials() } });
    });
    afterAll(async () => {
      await scheduled?.close();
      await schedules?.remove();
    });

    test('when a requester (or an operator) asks for a real sweep or a Schedule change, then 403 and nothing changes', async () => {
      const audit = async () => (await scheduled.request('GET', `/v1/audit?limit=1000&since=${new Date(Date.now() - 3_600_000).toISOString()}`, { token: tokens.admin })).body.items;
      const before = (await audit()).length;
      for (const role of ['requester', 'operator'] as const) {
        for (const body of [{}, { dryRun: false }, undefined]) {
          const res = await scheduled.request('POST', '/v1/sweeps', { token: tokens[role], body });
          expect([role, res.status, res.body?.requiredRole]).toEqual([role, 403, 'admin']);
        }
        for (const verb of ['pause', 'trigger', 'backfill']) {
          const res = await scheduled.request('POST', `/v1/schedule/${verb}`, { token: tokens[role], body: verb === 'backfill' ? window : {} });
          expect([role, verb, res.status, res.body?.requiredRole]).toEqual([role, verb, 403, 'admin']);
        }
      }
      const d = await schedules.describe();
      expect(d.paused).toBe(false);
      expect(d.actionsTaken).toBe(0);
      expect(d.running).toEqual([]);
      expect((await audit()).length).toBe(before);

      // The same calls with the admin's token do change it.
      const paused = await scheduled.request('POST', '/v1/schedule/pause', { token: tokens.admin, body: { note: 'access test' } });
      expect([paused.status, paused.body.scheduleId, paused.body.paused]).toEqual([200, scheduleId, true]);
      const resumed = await scheduled.request('POST', '/v1/schedule/resume', { token: tokens.admin, body: {} });
      expect([resumed.status, resumed.body.paused]).toEqual([200, false]);
    });
  });
});
