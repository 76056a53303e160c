/**
 * `lethe` (bin/lethe) as an operator runs it: from another directory, against the API on the
 * real stack. Each command's human and --json output, and the exit codes.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startWorld, testConfig, TestWorld } from '../support/stack';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { startApi, TestApi } from '../support/api';
import { seedAccount, SeedDeps } from '../../dev/seed/fixtures';
import { createScheduleService } from '../../client/schedule';
import { createWorker } from '../../worker/worker';
import { deletionWorkflowId } from '../../contract';
import { runCli } from '../../client/cli/main';
import type { Io } from '../../client/cli/command';

const LETHE = path.resolve(__dirname, '..', '..', 'bin', 'lethe');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's --json output, asserted field by field
  json: any;
}

describe('lethe CLI', () => {
  let world: TestWorld;
  let seed: SeedDeps;
  let api: TestApi;
  const rand = rngFor(__filename);
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-cli-'));

  const lethe = (args: string[], env: Record<string, string | undefined> = {}): Promise<Run> =>
    new Promise((resolve) => {
      const base: Record<string, string | undefined> = { ...process.env, LETHE_API_URL: api.url, LETHE_API_TOKEN: api.token, ...env };
      for (const [k, v] of Object.entries(base)) if (v === undefined) delete base[k];
      execFile(LETHE, args, { cwd: elsewhere, env: base as NodeJS.ProcessEnv, timeout: 120_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        let json: unknown;
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
        resolve({ code, stdout, stderr, json });
      });
    });

  beforeAll(async () => {
    world = await startWorld();
    seed = seedDepsOf(world);
    api = await startApi(world);
  });
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  test('when asked for help, then every command explains itself and exits 0; no or an unknown command exits 2', async () => {
    const top = await lethe(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Exit codes:');
    // Each command's own help in process: one spawn costs seconds on a loaded machine, and the
    // spawned binary is what --help above and "help status" below already prove.
    for (const cmd of ['request', 'status', 'list', 'retry', 'resolve', 'sweep', 'schedule', 'audit', 'token', 'seed']) {
      expect(top.stdout).toContain(`  ${cmd} `);
      let out = '';
      const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: () => true }, env: {} } as unknown as Io;
      expect([cmd, await runCli([cmd, '--help'], io)]).toEqual([cmd, 0]);
      expect(out).toContain(`Usage: lethe ${cmd}`);
    }
    expect((await lethe(['help', 'status'])).stdout).toContain('Usage: lethe status');
    expect((await lethe([])).code).toBe(2);
    const unknown = await lethe(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command');
  });

  test('when a deletion is requested and waited for, then it prints the request, the progress and the receipt', async () => {
    const a = await seedAccount(seed, { media: 5 }, rand);
    const req = await lethe(['request', '--account', a.id, '--channel', 'support', '--requested-by', 'agent-9']);
    expect(req.code).toBe(0);
    expect(req.stdout).toContain('Deletion request accepted.');
    const requestId = /request\s+([0-9a-f-]{36})/.exec(req.stdout)![1];
    expect(req.stdout).toContain(`lethe status ${requestId} --wait`);

    const waited = await lethe(['status', requestId, '--wait', '--interval', '0.2']);
    expect(waited.code).toBe(0);
    expect(waited.stdout).toMatch(/Status\s+completed/);
    expect(waited.stdout).toMatch(/Deadline .*\(met\)/);
    expect(waited.stdout).toContain('Receipt');
    expect(waited.stdout).toMatch(/media\s+\d+ blobs deleted/);
    expect(waited.stdout).toContain('every store is empty');

    const json = await lethe(['status', requestId, '--json']);
    expect(json.code).toBe(0);
    expect(json.json).toMatchObject({ requestId, accountId: a.id, status: 'completed', receipt: { verification: { clean: true } } });
    expect(json.stdout).not.toContain(a.email);
  });

  test('when requested by email with --json, then the JSON answer carries the request and a second request joins it', async () => {
    const a = await seedAccount(seed, { media: 60 }, rand);
    const first = await lethe(['request', '--email', a.email.toUpperCase(), '--channel', 'email', '--received-at', new Date(Date.now() - 3_600_000).toISOString(), '--json']);
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({ accountId: a.id, existing: false, location: `/v1/deletion-requests/${first.json.requestId}` });
    const second = await lethe(['request', '--account', a.id, '--channel', 'phone']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(first.json.requestId);
    expect(second.stdout).toMatch(/already (under way|deleted)/);
    expect((await lethe(['status', first.json.requestId, '--wait', '--json', '--interval', '0.2'])).json.status).toBe('completed');
  });

  test.each([
    [['request', '--channel', 'api'], 2, 'exactly one of --account or --email'],
    [['request', '--account', randomUUID(), '--email', 'x@example.test', '--channel', 'api'], 2, 'exactly one'],
    [['request', '--account', randomUUID()], 2, '--channel is required'],
    [['request', '--account', randomUUID(), '--channel', 'fax'], 2, '--channel must be one of api, email, phone, support, in_app'],
    [['request', '--account', randomUUID(), '--channel', 'inactivity'], 2, '--channel must be one of'],
    [['request', '--account', 'nope', '--channel', 'api'], 2, '--account'],
    [['request', '--account', randomUUID(), '--channel', 'api', '--received-at', 'yesterday'], 2, '--received-at'],
    [['request', '--account', randomUUID(), '--channel', 'api', '--colour', 'red'], 2, "Unknown option '--colour'"],
    [['request', '--account', randomUUID(), '--channel', 'api'], 3, 'no account has this id'],
    [['status'], 2, 'give one REQUEST_ID'],
    [['status', randomUUID()], 3, 'no deletion request has id'],
    [['status', 'not-a-uuid'], 2, 'params/requestId'],
    [['status', randomUUID(), '--timeout', '0', '--wait'], 2, '--timeout must be a positive number'],
    [['list', '--status', 'done'], 2, 'querystring/status must be one of'],
    [['list', '--cursor', 'x', '--all'], 2, 'not both'],
    [['sweep', 'fly'], 2, 'unknown argument'],
    [['schedule', 'fly'], 2, 'give one of pause, resume, trigger, describe, backfill'],
    [['schedule', 'backfill', '--from', '2026-01-02T00:00:00Z'], 2, 'backfill needs --from and --to'],
  ])('when run as %j, then it exits %i saying %j', async (args, code, text) => {
    const r = await lethe(args as string[]);
    expect([r.code, r.stderr]).toEqual([code, expect.stringContaining(text as string)]);
  });

  test('when the token is wrong or missing, then exit 4; from the state dir file, then it works', async () => {
    const wrong = await lethe(['list'], { LETHE_API_TOKEN: 'not-the-token-at-all' });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toContain('missing or invalid bearer token');
    expect(wrong.stderr).not.toContain('not-the-token-at-all');
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-state-'));
    const none = await lethe(['list'], { LETHE_API_TOKEN: undefined, LETHE_API_TOKENS: undefined, LETHE_STATE_DIR: empty });
    expect(none.code).toBe(4);
    expect(none.stderr).toContain('no API token');
    fs.writeFileSync(path.join(empty, 'api-token'), `${api.token}\n`);
    expect((await lethe(['list', '--limit', '1'], { LETHE_API_TOKEN: undefined, LETHE_API_TOKENS: undefined, LETHE_STATE_DIR: empty })).code).toBe(0);
  });

  test('when the API cannot be reached, then exit 5', async () => {
    const r = await lethe(['list'], { LETHE_API_URL: 'http://127.0.0.1:9' });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('cannot reach the Lethe API');
  });

  test('when listing, then a table by default, JSON with --json, and the filters apply', async () => {
    const human = await lethe(['list', '--status', 'completed']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^REQUEST\s+ACCOUNT\s+CHANNEL\s+STATUS\s+RECEIVED\s+DEADLINE\s+OVERDUE/);
    const json = await lethe(['list', '--status', 'completed', '--channel', 'support', '--json']);
    expect(json.code).toBe(0);
    expect(json.json.items.length).toBeGreaterThanOrEqual(1);
    expect(json.json.items.every((i: { status: string; channel: string }) => i.status === 'completed' && i.channel === 'support')).toBe(true);
    const paged = await lethe(['list', '--limit', '1', '--json']);
    expect(paged.json.items).toHaveLength(1);
    expect(paged.json.nextCursor).toEqual(expect.any(String));
    const all = await lethe(['list', '--limit', '1', '--all', '--json']);
    expect(all.json.items.length).toBeGreaterThanOrEqual(2);
    const overdue = await lethe(['list', '--overdue', '--json']);
    expect(overdue.json.items.every((i: { overdue: boolean }) => i.overdue)).toBe(true);
  });

  test('when a deletion failed, then status exits 1 and says why', async () => {
    const a = await seedAccount(seed, { media: 200 }, rand);
    const req = await lethe(['request', '--account', a.id, '--channel', 'api', '--json']);
    await world.client.workflow.getHandle(deletionWorkflowId(a.id)).terminate('stopped by the CLI test');
    const r = await lethe(['status', req.json.requestId, '--wait', '--interval', '0.2']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Status\s+failed/);
    expect(r.stdout).toContain('stopped by the CLI test');
  });

  test('when --wait runs out of time, then exit 6 and the deletion goes on; when a worker comes, then the progress shows each step', async () => {
    // An API whose task queue has no worker yet: the request stays pending.
    const config = { ...world.config, temporal: { ...world.config.temporal, taskQueue: `idle-${randomUUID()}` } };
    const idle = await startApi({ ...world, config });
    const a = await seedAccount(seed, { media: 3 }, rand);
    let late: Awaited<ReturnType<typeof createWorker>> | undefined;
    try {
      const req = await lethe(['request', '--account', a.id, '--channel', 'api', '--json'], { LETHE_API_URL: idle.url });
      const r = await lethe(['status', req.json.requestId, '--wait', '--timeout', '1', '--interval', '0.3'], { LETHE_API_URL: idle.url });
      expect(r.code).toBe(6);
      expect(r.stderr).toContain('still pending after 1 s');

      const waiting = lethe(['status', req.json.requestId, '--wait', '--interval', '0.2'], { LETHE_API_URL: idle.url });
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      late = await createWorker(config, world.deps);
      const running = late.worker.run();
      const waited = await waiting;
      late.worker.shutdown();
      await running;
      expect(waited.code).toBe(0);
      expect(waited.stdout).toMatch(/Status\s+completed/);
      // Progress on stderr, a line per step change, while stdout stays the final answer.
      expect(waited.stderr).toContain(`Waiting for ${req.json.requestId}`);
      for (const step of ['freeze', 'recurly', 'auth0', 'media', 'database', 'verify', 'receipt']) expect(waited.stderr).toMatch(new RegExp(`✓ ${step}\\s+completed`));
    } finally {
      await world.client.workflow
        .getHandle(deletionWorkflowId(a.id))
        .terminate('test cleanup')
        .catch(() => undefined);
      await late?.connection.close();
      await idle.close();
    }
    // A second worker bundles the workflows (tens of seconds on a loaded machine) before the deletion runs.
  }, 240_000);

  test('when seeding, then demo data is written to the stack the environment names', async () => {
    const r = await lethe(['seed', '--accounts', '1', '--media-per-account', '1', '--seed', '424242']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('seeded 1 accounts');
    expect((await lethe(['seed', '--accounts', 'many'])).code).toBe(1);
  });

  test('when a dry-run sweep is run and waited for, then it reports without deleting', async () => {
    const r = await lethe(['sweep', '--dry-run', '--wait', '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ status: 'completed', dryRun: true, started: 0 });
    const human = await lethe(['sweep', 'status', r.json.sweepId]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/Status\s+completed/);
    expect((await lethe(['sweep', 'status', 'no-such-sweep'])).code).toBe(3);
  });

  test('when the schedule is paused, described and resumed, then describe shows it; without Temporal, exit 5', async () => {
    // The worker process creates the Schedule at start; the test worker does not, so create it
    // here (on a task queue no worker polls, so a run it might start does nothing).
    const schedules = createScheduleService({ config: testConfig({ LETHE_TASK_QUEUE: 'lethe-deletions' }), temporal: world.client });
    const created = (await schedules.ensure()) === 'created';
    try {
      const paused = await lethe(['schedule', 'pause', '--note', 'cli test']);
      expect([paused.code, paused.stderr]).toEqual([0, '']);
      expect(paused.stdout).toContain('Paused');
      const described = await lethe(['schedule', 'describe', '--json']);
      expect(described.code).toBe(0);
      expect(described.json).toMatchObject({ scheduleId: 'lethe-inactivity-sweep', paused: true, note: 'cli test', workflowType: 'inactivitySweepWorkflow' });
      const human = await lethe(['schedule', 'describe']);
      expect(human.stdout).toMatch(/^Schedule\s+lethe-inactivity-sweep\s+PAUSED \(cli test\)/);
      expect(human.stdout).toMatch(/Runs\s+inactivitySweepWorkflow daily at \d\d:\d\d/);
      const resumed = await lethe(['schedule', 'resume', '--json']);
      expect(resumed.json).toEqual({ ok: true, action: 'resume' });
      expect((await lethe(['schedule', 'describe', '--json'])).json.paused).toBe(false);
    } finally {
      if (created) await schedules.remove();
    }
    const down = await lethe(['schedule', 'describe'], { TEMPORAL_ADDRESS: '127.0.0.1:9' });
    expect(down.code).toBe(5);
    expect(down.stderr).toContain('cannot reach Temporal at 127.0.0.1:9');
  });
});
