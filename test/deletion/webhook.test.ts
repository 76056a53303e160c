/**
 * Issue 17, done-when 3: the operators' webhook is signed (Stripe's scheme: `Lethe-Signature:
 * t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`) and its delivery retried with backoff, a
 * bounded number of times, with the outcome in the worker's metrics.
 *
 * The receiver here verifies the way docs/operations.md tells an operator to, written from the scheme
 * rather than imported from Lethe, so a signature Lethe computes any other way fails it. It
 * answers 503 to the first attempt of each delivery (the retry must come, with the same
 * delivery id and a fresh signature), and 500 to everything about one account (that notice's
 * delivery must end, counted as failed).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { startWorld, testConfig, type TestWorld } from '../support/stack';
import { startPrivateStores, type PrivateStores } from '../support/private-stores';
import { armFault } from '../sandboxes/helpers/sandboxAdmin';
import { until } from '../support/until';
import { rngFor } from '../support/world-seed';
import { seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { createIntake } from '../../client/intake';
import { createNotifyActivities, type DeadlineNotice } from '../../activities/deletion/notify';
import { workerRegistry } from '../../worker/metrics';
import { deletionWorkflowId, retryStoresSignal, type Receipt } from '../../contract';

const SECRET = randomBytes(32).toString('hex');
const TOLERANCE_S = 300;

/** The verifier in docs/operations.md: raw body, header, secret, and the receiver's clock. */
function verify(rawBody: string, header: string | undefined, secret: string, nowSeconds = Math.floor(Date.now() / 1000)): { ok: true } | { ok: false; why: string } {
  const parts = Object.fromEntries((header ?? '').split(',').map((kv) => kv.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || !parts.v1) return { ok: false, why: 'no signature' };
  if (Math.abs(nowSeconds - t) > TOLERANCE_S) return { ok: false, why: 'timestamp outside tolerance' };
  const expected = createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  const given = Buffer.from(parts.v1, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, why: 'signature mismatch' };
  return { ok: true };
}

interface Seen {
  body: string;
  signature?: string;
  delivery?: string;
  answered: number;
}

describe('signed operator webhooks', () => {
  let stores: PrivateStores;
  let world: TestWorld;
  let seed: SeedDeps;
  let hook: http.Server;
  let hookUrl = '';
  const seen: Seen[] = [];
  /** Accounts whose notices the receiver refuses every time. */
  const refuse = new Set<string>();
  const rand = rngFor(__filename);

  beforeAll(async () => {
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const signature = req.headers['lethe-signature'] as string | undefined;
        const delivery = req.headers['lethe-delivery'] as string | undefined;
        const firstTry = !seen.some((s) => s.delivery && s.delivery === delivery);
        let status: number;
        if (!verify(body, signature, SECRET).ok) status = 400;
        else if (refuse.has((JSON.parse(body) as { accountId?: string }).accountId ?? '')) status = 500;
        else status = firstTry ? 503 : 204;
        seen.push({ body, signature, delivery, answered: status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/lethe`;
    stores = await startPrivateStores();
    world = await startWorld({
      env: {
        ...stores.env,
        LETHE_WEBHOOK_URL: hookUrl,
        LETHE_WEBHOOK_SECRET: SECRET,
        // A Recurly refusal shows `blocked` after 2 s, which posts the notice.
        LETHE_STORE_ATTEMPT_BUDGET: '4s',
        LETHE_BLOCK_AFTER: '2s',
        LETHE_BLOCK_AFTER_TRANSIENT: '2s',
        LETHE_STORE_RETRY_EVERY: '10m',
      },
    });
    seed = { ...world.deps, recurlySandboxUrl: stores.recurly.url };
  }, 120_000);
  afterAll(async () => {
    await world?.close();
    await stores?.close();
    await new Promise((r) => hook?.close(r));
  });

  const metric = async (re: RegExp): Promise<number> => Number(re.exec(await workerRegistry.metrics())?.[1] ?? 0);

  test('when a store turns blocked, then the notice arrives signed over its exact body, is retried after a 503, and a tampered or replayed copy is rejected', async () => {
    const delivered0 = await metric(/^lethe_webhook_deliveries_total\{kind="blocked",outcome="delivered"\} (\d+)/m);
    const failed0 = await metric(/^lethe_webhook_deliveries_total\{kind="blocked",outcome="failed"\} (\d+)/m);
    const retries0 = await metric(/^lethe_webhook_retries_total\{kind="blocked"\} (\d+)/m);

    const ok = await seedAccount(seed, { media: 2 }, rand);
    const dead = await seedAccount(seed, { media: 2 }, rand);
    refuse.add(dead.id);
    await armFault(stores.recurly.url, { mode: '500', count: 100_000 });
    const intake = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
    const started = await intake.start({ accountId: ok.id, channel: 'support', requestedBy: 'webhook-test' });
    await intake.start({ accountId: dead.id, channel: 'support', requestedBy: 'webhook-test' });

    const mine = (id: string) => seen.filter((s) => (JSON.parse(s.body) as { accountId?: string }).accountId === id);
    const accepted = await until('the blocked notice accepted', async () => mine(ok.id).find((s) => s.answered === 204), 90_000);
    const notice = JSON.parse(accepted.body) as DeadlineNotice & { event: string };
    expect(notice).toMatchObject({ event: 'deletion.blocked', kind: 'blocked', requestId: started.requestId, accountId: ok.id });
    expect(accepted.body).not.toContain(ok.email);
    // The first attempt got 503; the retry is the same delivery, signed again.
    const attempts = mine(ok.id).filter((s) => s.delivery === accepted.delivery);
    expect(attempts.map((s) => s.answered)).toEqual([503, 204]);
    expect(attempts.every((s) => verify(s.body, s.signature, SECRET).ok)).toBe(true);

    // A copy with one byte of the body changed, or with an older t under the same v1: refused.
    const post = async (body: string, signature: string) => (await fetch(hookUrl, { method: 'POST', headers: { 'lethe-signature': signature, 'content-type': 'application/json' }, body })).status;
    expect(await post(accepted.body.replace(ok.id, dead.id), accepted.signature!)).toBe(400);
    const t = Number(/t=(\d+)/.exec(accepted.signature!)![1]);
    expect(await post(accepted.body, accepted.signature!.replace(`t=${t}`, `t=${t - 1}`))).toBe(400);
    expect(await post(accepted.body, '')).toBe(400);
    // The genuine copy replayed after the tolerance: refused on its timestamp alone.
    expect(verify(accepted.body, accepted.signature, SECRET, t + TOLERANCE_S + 1)).toEqual({ ok: false, why: 'timestamp outside tolerance' });
    expect(verify(accepted.body, accepted.signature, SECRET, t)).toEqual({ ok: true });
    expect(verify(accepted.body, accepted.signature, `${SECRET}x`, t)).toEqual({ ok: false, why: 'signature mismatch' });

    // The refused account's notice: tried 5 times (bounded), then counted as failed.
    await until('the refused notice given up', async () => ((await metric(/^lethe_webhook_deliveries_total\{kind="blocked",outcome="failed"\} (\d+)/m)) > failed0 ? true : undefined), 90_000);
    // (A later notice about the same request may have begun meanwhile: a delivery of its own.)
    // (The tampered copy posted above carries the refused account's id and no delivery header:
    // only Lethe's own deliveries count.)
    const fromLethe = mine(dead.id).filter((s) => s.delivery !== undefined);
    const refused = fromLethe.filter((s) => s.delivery === fromLethe[0].delivery);
    expect(refused.map((s) => s.answered)).toEqual([500, 500, 500, 500, 500]);
    expect(await metric(/^lethe_webhook_deliveries_total\{kind="blocked",outcome="delivered"\} (\d+)/m)).toBeGreaterThan(delivered0);
    expect(await metric(/^lethe_webhook_retries_total\{kind="blocked"\} (\d+)/m)).toBeGreaterThanOrEqual(retries0 + 1 + 4);

    // Both deletions still finish once Recurly is back.
    await fetch(`${stores.recurly.url}/__sandbox/faults`, { method: 'DELETE' });
    for (const a of [ok, dead]) {
      const handle = world.client.workflow.getHandle(deletionWorkflowId(a.id));
      await handle.signal(retryStoresSignal, { by: 'webhook-test', actionId: randomUUID() });
      expect(((await handle.result()) as Receipt).verification.clean).toBe(true);
    }
  }, 240_000);

  test('when the receiver refuses a notice as a client error, then Lethe does not retry it, and the activity still succeeds with the failure in its result', async () => {
    const calls: string[] = [];
    const gone = http.createServer((req, res) => {
      calls.push(String(req.headers['lethe-signature']));
      req.resume();
      res.writeHead(410).end();
    });
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/`;
      const { notifyOperators } = createNotifyActivities({ webhookUrl: url, webhookSecret: SECRET, retry: { attempts: 4, baseMs: 10, capMs: 20, timeoutMs: 2_000 } });
      const notice: DeadlineNotice = { kind: 'overdue', requestId: randomUUID(), accountId: randomUUID(), workflowId: 'x', deadlineAt: new Date().toISOString() };
      const result = await new MockActivityEnvironment().run(notifyOperators, notice);
      expect(result).toEqual({ delivered: false, attempts: 1, failed: 'webhook answered HTTP 410' });
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    } finally {
      await new Promise((r) => gone.close(r));
    }
  });
});

describe('webhook delivery id', () => {
  test('when the activity delivering a notice is retried (its worker died mid-delivery), then the retry carries the same Lethe-Delivery id, and another notice a different one', async () => {
    const ids: string[] = [];
    const receiver = http.createServer((req, res) => {
      ids.push(String(req.headers['lethe-delivery']));
      req.resume();
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;
      const notice: DeadlineNotice = { kind: 'warning', requestId: randomUUID(), accountId: randomUUID(), workflowId: 'x', deadlineAt: new Date().toISOString() };
      // Two runs of the activity with the same input, as Temporal retries it: two fresh activity contexts.
      for (const n of [notice, notice, { ...notice, kind: 'overdue' as const }]) {
        const { notifyOperators } = createNotifyActivities({ webhookUrl: url, webhookSecret: SECRET });
        expect(await new MockActivityEnvironment().run(notifyOperators, n)).toEqual({ delivered: true, attempts: 1 });
      }
      expect(ids).toHaveLength(3);
      expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(ids[1]).toBe(ids[0]);
      expect(ids[2]).not.toBe(ids[0]);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });
});

describe('webhook secret configuration', () => {
  const base = { LETHE_WEBHOOK_URL: 'https://ops.example.test/lethe', LETHE_WEBHOOK_SECRET: '', LETHE_WEBHOOK_SECRET_FILE: '' };

  test('when the secret is short, given twice, or missing in production, then start-up fails naming the variable; a mounted file is read and trimmed', () => {
    expect(() => testConfig({ ...base, LETHE_WEBHOOK_SECRET: 'too-short' })).toThrow(/^LETHE_WEBHOOK_SECRET: must be at least 16 characters/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-webhook-'));
    const file = path.join(dir, 'secret');
    fs.writeFileSync(file, `${SECRET}\n`);
    expect(() => testConfig({ ...base, LETHE_WEBHOOK_SECRET: SECRET, LETHE_WEBHOOK_SECRET_FILE: file })).toThrow(/^LETHE_WEBHOOK_SECRET: set either LETHE_WEBHOOK_SECRET or LETHE_WEBHOOK_SECRET_FILE/);
    expect(testConfig({ ...base, LETHE_WEBHOOK_SECRET_FILE: file }).deletion.webhookSecret).toBe(SECRET);
    expect(() => testConfig({ ...base, LETHE_WEBHOOK_SECRET_FILE: path.join(dir, 'absent') })).toThrow(/^LETHE_WEBHOOK_SECRET_FILE: cannot read .*ENOENT/);
    // The embedded stack may post unsigned (with a warning in the log); production may not.
    expect(testConfig(base).deletion.webhookSecret).toBeUndefined();
    expect(() => testConfig({ ...base, LETHE_MODE: 'production' })).toThrow(/^LETHE_WEBHOOK_SECRET: is required in production mode when LETHE_WEBHOOK_URL is set/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
