/**
 * The audit trail (issue 17): each state-changing call of this run, through the API and the
 * CLI, is found with who did it, and the trail holds none of the person's email, name or phone
 * even though the request named the account by its email.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { startWorld, testConfig, TestWorld } from '../support/stack';
import { startApi, TestApi } from '../support/api';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { until } from '../support/until';
import { seedAccount } from '../../dev/seed/fixtures';
import { credentialEntry, ROLES, type Role } from '../../config';
import { createScheduleService, type ScheduleService } from '../../client/schedule';
import { createAuditTrail } from '../../client/audit';

const LETHE = path.resolve(__dirname, '..', '..', 'bin', 'lethe');

function lethe(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(LETHE, args, { env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('audit trail', () => {
  let world: TestWorld;
  let api: TestApi;
  let schedules: ScheduleService;
  const rand = rngFor(__filename);
  const suffix = randomBytes(3).toString('hex');
  const scheduleId = `audit-schedule-${suffix}`;
  const operatorOnCli = `ops-${suffix}`;
  const tokens = Object.fromEntries(ROLES.map((r) => [r, randomBytes(32).toString('base64url')])) as Record<Role, string>;
  const nameOf = (r: Role) => `audit-${r}-${suffix}`;

  beforeAll(async () => {
    const env = { LETHE_SWEEP_SCOPE: randomBytes(6).toString('hex'), LETHE_SWEEP_SCHEDULE_ID: scheduleId };
    world = await startWorld({ env });
    schedules = createScheduleService({ config: world.config, temporal: world.client });
    await schedules.ensure();
    const { credentials } = testConfig({ LETHE_API_TOKENS: ROLES.map((r) => credentialEntry(nameOf(r), r, tokens[r])).join(',') }).api;
    api = await startApi(world, { config: { tokens: [], credentials } });
  });
  afterAll(async () => {
    await api?.close();
    await schedules?.remove();
    await world?.close();
  });

  test('when each role does its part through the API and the CLI, then the trail names who did each, and holds no email, name or phone', async () => {
    const started = new Date().toISOString();
    const account = await seedAccount(seedDepsOf(world), { media: 2 }, rand);
    const person = await world.deps.db('accounts').where({ id: account.id }).first('email', 'full_name', 'phone');
    expect(person.email).toBe(account.email);

    // requester: files by email (the person's data reaches the API, and must stop there)
    const filed = await api.request('POST', '/v1/deletion-requests', { token: tokens.requester, body: { email: account.email, channel: 'email', requestedBy: 'desk-7' } });
    expect(filed.status).toBe(202);
    const requestId: string = filed.body.requestId;
    // operator: a retry of the running deletion, and a dry-run sweep
    const retried = await api.request('POST', `/v1/deletion-requests/${requestId}/retry`, { token: tokens.operator, body: {} });
    expect(retried.status).toBe(202);
    const dry = await api.request('POST', '/v1/sweeps', { token: tokens.operator, body: { dryRun: true } });
    expect(dry.status).toBe(202);
    // admin: a real (scoped) sweep, and the Schedule paused and resumed
    const real = await api.request('POST', '/v1/sweeps', { token: tokens.admin, body: {} });
    expect(real.status).toBe(202);
    expect((await api.request('POST', '/v1/schedule/pause', { token: tokens.admin, body: { note: `paused by ${person.full_name}` } })).status).toBe(200);
    expect((await api.request('POST', '/v1/schedule/resume', { token: tokens.admin })).status).toBe(200);
    // the CLI, which changes the Schedule through Temporal and has no token: its operator identity
    const cli = await lethe(['schedule', 'pause', '--note', 'cli audit test'], { LETHE_SWEEP_SCHEDULE_ID: scheduleId, LETHE_OPERATOR: operatorOnCli });
    expect([cli.code, cli.stderr]).toEqual([0, '']);

    const res = await api.request('GET', `/v1/audit?since=${started}&limit=1000`, { token: tokens.operator });
    expect(res.status).toBe(200);
    const mine = (res.body.items as { actor: string; via: string; action: string; requestId?: string; accountId?: string; sweepId?: string; scheduleId?: string; details?: Record<string, unknown> }[])
      .filter((e) => e.actor.endsWith(suffix) || e.actor.startsWith(`cli:${operatorOnCli}@`) || e.requestId === requestId)
      .reverse()
      .map((e) => ({ actor: e.actor.startsWith('cli:') ? 'cli' : e.actor, via: e.via, action: e.action, id: e.requestId ?? e.sweepId ?? e.scheduleId, details: e.details }));
    expect(mine).toEqual([
      { actor: nameOf('requester'), via: 'api', action: 'deletion_request.filed', id: requestId, details: { channel: 'email', existing: false, verification: 'staff', requestedBy: 'desk-7' } },
      { actor: nameOf('operator'), via: 'api', action: 'deletion_request.retried', id: requestId, details: expect.objectContaining({ outcome: 'signalled' }) },
      { actor: nameOf('operator'), via: 'api', action: 'sweep.started', id: dry.body.sweepId, details: { dryRun: true } },
      { actor: nameOf('admin'), via: 'api', action: 'sweep.started', id: real.body.sweepId, details: { dryRun: false } },
      { actor: nameOf('admin'), via: 'api', action: 'schedule.paused', id: scheduleId, details: undefined },
      { actor: nameOf('admin'), via: 'api', action: 'schedule.resumed', id: scheduleId, details: undefined },
      { actor: 'cli', via: 'cli', action: 'schedule.paused', id: scheduleId, details: undefined },
    ]);
    expect(res.body.items.find((e: { action: string; requestId?: string }) => e.requestId === requestId && e.action === 'deletion_request.filed').accountId).toBe(account.id);

    // The whole table, not only this run's rows: none of the person's data anywhere in it.
    const everything = JSON.stringify(await world.deps.db('lethe.audit_log').select());
    for (const value of [person.email, person.email.toLowerCase(), person.full_name, person.phone].filter(Boolean)) expect(everything).not.toContain(value);
    for (const token of Object.values(tokens)) expect(everything).not.toContain(token);

    // The CLI reads the same trail with an operator's token; a requester's is refused (exit 4).
    const viaCli = await lethe(['audit', '--actor', nameOf('admin'), '--since', started, '--json'], { LETHE_API_URL: api.url, LETHE_API_TOKEN: tokens.operator });
    expect(viaCli.code).toBe(0);
    expect(JSON.parse(viaCli.stdout).items.map((e: { action: string }) => e.action)).toEqual(['schedule.resumed', 'schedule.paused', 'sweep.started']);
    const human = await lethe(['audit', '--request', requestId], { LETHE_API_URL: api.url, LETHE_API_TOKEN: tokens.operator });
    expect(human.stdout).toContain(`${nameOf('requester')}  api  deletion_request.filed`);
    const refused = await lethe(['audit'], { LETHE_API_URL: api.url, LETHE_API_TOKEN: tokens.requester });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(`needs the operator role; the token "${nameOf('requester')}" has the requester role`);

    // The deletion goes on to completion whatever the trail did (its account is gone after).
    await until(
      'the deletion completes',
      async () => {
        const r = await api.request('GET', `/v1/deletion-requests/${requestId}`, { token: tokens.requester });
        return r.body.status === 'completed' ? r : undefined;
      },
      90_000,
    );
  });

  test('when entries are older than the retention period, then pruning removes them and keeps the rest', async () => {
    const audit = createAuditTrail({ db: world.deps.db });
    const actor = `prune-${suffix}`;
    await audit.record({ actor, via: 'api', action: 'sweep.started', sweepId: 'old' });
    await audit.record({ actor, via: 'api', action: 'sweep.started', sweepId: 'recent' });
    await world.deps
      .db('lethe.audit_log')
      .where({ actor, sweep_id: 'old' })
      .update({ at: new Date(Date.now() - 31 * 86_400_000) });
    await audit.prune(30);
    expect((await audit.list({ actor })).items.map((e) => e.sweepId)).toEqual(['recent']);
  });
});
