/**
 * Issue 22, the stack heals itself. A stack of its own (what `npm start` runs: every store on
 * disk, worker, API, codec server and Web UI) takes a deletion before each component is
 * SIGKILLed by pid, as a crash or the OOM killer would, one at a time: each comes back without
 * a person (a new pid and the supervisor's "restarted" line), /healthz returns to 200, every
 * request completes, every target is empty in every store, and the bystanders are untouched.
 *
 * Two things about the dev stack shape the order. Azurite saves its blob index every 5 s, so a
 * SIGKILL can undo the last seconds of deletes: it is killed first, 6 s after seeding, while the
 * only deletion in flight is held in its Auth0 step (an injected 5 s hang), before any blob is
 * deleted. The vendor sandboxes keep their records in memory, so a restart empties them: they
 * are killed last, after the bystanders' vendor records have been checked untouched; from then
 * on the bystanders are compared over the database and the blobs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeStackPorts, startStack, RunningStack, StackPorts } from '../../dev/stack/embedded';
import { freePort, waitFor } from '../../dev/stack/net';
import { loadConfig, type Config } from '../../config';
import { buildDeps } from '../../worker/deps';
import { fingerprint, rng, seedAccount, SeedDeps, SeededAccount } from '../../dev/seed/fixtures';
import { expectEmpty, storesOf } from '../support/stores';
import type { Auth0Client } from '../../stores/auth0';
import type { RecurlyClient } from '../../stores/recurly';

jest.setTimeout(10 * 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Killed in this order (see the file comment); the worker early, so activities it strands time out while the rest runs. */
const ORDER = ['azurite', 'worker', 'temporal', 'postgres', 'codec-server', 'api', 'auth0-sandbox', 'recurly-sandbox'] as const;

/** The database and the blobs only: what a sandbox restart cannot change. */
const NO_VENDORS = {
  auth0: { findUsersByEmail: async () => [], getUser: async () => null } as unknown as Auth0Client,
  recurly: {} as RecurlyClient,
};
const storeFingerprint = (seed: SeedDeps, a: SeededAccount) => fingerprint({ ...seed, ...NO_VENDORS }, { ...a, auth0UserId: null, recurlyAccountCode: null });

/** Reads through a PostgreSQL restart: the test's own reads must not be the thing that fails. */
async function patiently<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 30) throw err;
      await sleep(1000);
    }
  }
}

describe('the stack heals itself', () => {
  let stack: RunningStack | undefined;
  let stateDir: string;
  let config: Config;
  let deps: ReturnType<typeof buildDeps> | undefined;
  let api: string;
  const lines: string[] = [];
  /** Every process group leader the stack had: none may be left after stop. */
  const leaders = new Set<number>();

  beforeAll(async () => {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-self-healing-'));
    fs.chmodSync(stateDir, 0o755);
    const ports: StackPorts = { ...(await freeStackPorts()), codec: await freePort() };
    stack = await startStack({
      stateDir,
      ports,
      durable: true,
      headless: false,
      withWorker: true,
      withApi: true,
      env: { LETHE_SWEEP_SCHEDULE: 'off' },
      sandboxRateLimits: { auth0PerSecond: 10_000, recurlyPerMinute: 1_000_000 },
      log: (l) => {
        lines.push(l);
        process.stderr.write(`[self-healing] ${l}\n`);
      },
    });
    config = loadConfig({ ...process.env, ...stack.env });
    api = `http://127.0.0.1:${ports.api}`;
  });

  afterAll(async () => {
    await deps?.close().catch(() => undefined);
    await stack?.stop();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${api}${p}`, {
      method,
      headers: { authorization: `Bearer ${stack!.apiToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: ((await res.json().catch(() => undefined)) ?? {}) as { requestId?: string; status?: string } };
  };
  const healthy = async () => (await fetch(`${api}/healthz`).catch(() => undefined))?.status === 200;
  const fault = (base: string, spec: Record<string, unknown>) =>
    fetch(`${base}/__sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) }).then((r) => expect(r.status).toBe(201));
  const freshSeed = (): SeedDeps => {
    deps = buildDeps(config);
    return { ...deps, recurlySandboxUrl: config.recurly.baseUrl };
  };

  test('when each component is SIGKILLed in turn while deletions run, then each comes back, every request completes, and nothing else is touched', async () => {
    const sup = stack!.supervisor;
    for (const name of ORDER) leaders.add(sup.get(name)!.pid!);
    let seed = freshSeed();
    const rand = rng(2222);
    const targets: SeededAccount[] = [];
    for (let i = 0; i < ORDER.length; i++) {
      targets.push(
        await seedAccount(
          seed,
          { media: 6, snapshots: 2, orphanBlobs: 1, auth0: 'linked', subscriptions: [{ state: 'active' }], loginEvents: 2, shares: 1, supportRequests: 1, emailOnlySupportRequests: 1 },
          rand,
        ),
      );
    }
    const bystanders: SeededAccount[] = [];
    for (let i = 0; i < 4; i++) {
      // One with an id a character away from a target's: a prefix match without its slash would take its blobs.
      const twin = i === 0 ? targets[0].id.slice(0, 35) + (targets[0].id.endsWith('0') ? '1' : '0') : undefined;
      bystanders.push(
        await seedAccount(
          seed,
          { id: twin, media: 4, snapshots: 1, orphanBlobs: 1, auth0: i % 2 ? 'legacy' : 'linked', subscriptions: [{ state: 'active' }], supportRequests: 1, emailOnlySupportRequests: 1 },
          rand,
        ),
      );
    }
    const fullBefore = await Promise.all(bystanders.map((b) => fingerprint(seed, b)));
    const storesBefore = await Promise.all(bystanders.map((b) => storeFingerprint(seed, b)));
    // Azurite's index is saved every 5 s: let the seeded blobs reach its disk before it is killed.
    await sleep(6_000);

    const filed: { requestId: string; component: string }[] = [];
    const timings: string[] = [];
    for (const [i, name] of ORDER.entries()) {
      const svc = sup.get(name)!;
      if (name === 'azurite') await fault(config.auth0.baseUrl!, { mode: 'hang', count: 1, hangMs: 5_000 });
      if (name === 'auth0-sandbox') {
        // The sandboxes are about to lose their records: until now, nobody else's were touched.
        expect(await Promise.all(bystanders.map((b) => fingerprint(seed, b)))).toEqual(fullBefore);
      }
      const res = await call('POST', '/v1/deletion-requests', { accountId: targets[i].id, channel: 'api', requestedBy: 'self-healing-test' });
      expect(res.status).toBe(202);
      filed.push({ requestId: res.body.requestId!, component: name });
      // In flight when its component dies.
      expect(['pending', 'running']).toContain((await call('GET', `/v1/deletion-requests/${res.body.requestId!}`)).body.status);

      const oldPid = svc.pid!;
      const restarts = svc.restarts;
      const worker = sup.get('worker')!;
      const workerRestarts = worker.restarts;
      const mark = lines.length;
      const t0 = Date.now();
      process.kill(oldPid, 'SIGKILL');
      await waitFor(`${name} to be restarted`, async () => svc.restarts > restarts && svc.pid !== undefined, { timeoutMs: 150_000, intervalMs: 250 });
      const newPid = svc.pid!;
      leaders.add(newPid);
      expect(newPid).not.toBe(oldPid);
      const said = lines.slice(mark);
      expect(said).toContainEqual(expect.stringMatching(new RegExp(`^${name} killed by SIGKILL \\(pid ${oldPid}, unexpected\\).*restarting in \\d+\\.\\ds \\(attempt 1\\)`)));
      expect(said).toContainEqual(expect.stringMatching(new RegExp(`^${name} restarted \\(pid ${oldPid} -> ${newPid}, down \\d+\\.\\ds, attempt 1\\)`)));
      if (name === 'auth0-sandbox') {
        // The worker's Auth0 token was issued by the lost sandbox: it is restarted with it.
        await waitFor('the worker to restart after the Auth0 sandbox', async () => worker.restarts > workerRestarts, { timeoutMs: 150_000, intervalMs: 250 });
        leaders.add(worker.pid!);
        expect(lines.slice(mark)).toContainEqual(expect.stringMatching(/^restarting worker because auth0-sandbox restarted/));
        await deps!.close();
        seed = freshSeed(); // so is the test's own
      }
      await waitFor(`/healthz to answer 200 after ${name} restarted`, healthy, { timeoutMs: 120_000, intervalMs: 500 });
      timings.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    }

    // Every request completes.
    const t1 = Date.now();
    await waitFor(
      'every request to complete',
      async () => {
        const views = await Promise.all(filed.map((f) => call('GET', `/v1/deletion-requests/${f.requestId}`)));
        const open = views.filter((v) => v.body.status !== 'completed');
        if (open.some((v) => ['failed', 'skipped'].includes(v.body.status ?? ''))) throw new Error(`a request ended badly: ${JSON.stringify(open.map((v) => v.body))}`);
        return open.length === 0;
      },
      { timeoutMs: 5 * 60_000, intervalMs: 2_000 },
    );
    const receipts = await patiently(() =>
      seed
        .db('lethe.receipts')
        .whereIn(
          'request_id',
          filed.map((f) => f.requestId),
        )
        .select('account_id'),
    );
    expect(receipts.map((r) => r.account_id).sort()).toEqual(targets.map((t) => t.id).sort());
    // Every target is gone from every store; the bystanders' rows and blobs are what they were.
    await deps!.close();
    seed = freshSeed();
    for (const t of targets) expectEmpty(await storesOf(seed, t));
    expect(await Promise.all(bystanders.map((b) => storeFingerprint(seed, b)))).toEqual(storesBefore);
    expect(await healthy()).toBe(true);
    // The supervisor's own log says what it did.
    const journal = fs.readFileSync(path.join(stateDir, 'logs', 'supervisor.log'), 'utf8');
    for (const name of ORDER) expect(journal).toMatch(new RegExp(`Z ${name} restarted \\(pid \\d+ -> \\d+`));
    process.stderr.write(`[self-healing] back within: ${timings.join(', ')}; all ${filed.length} requests completed ${Math.round((Date.now() - t1) / 1000)}s after the last restart\n`);
  });

  test('when the healed stack is stopped, then no process it ever started is left', async () => {
    expect(leaders.size).toBeGreaterThanOrEqual(ORDER.length);
    await stack!.stop();
    await sleep(500);
    // Process groups: a postgres backend outliving its postmaster would show up here.
    const left = execFileSync('ps', ['-eo', 'pid=,pgid=,stat=,args='])
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([, pgid, stat]) => leaders.has(Number(pgid)) && !stat.startsWith('Z'));
    expect(left.map((cols) => cols.join(' '))).toEqual([]);
  });
});
