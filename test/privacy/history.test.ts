/**
 * Issue 6, done-when 1: after a real deletion (and a failed one) on a real worker process,
 * Temporal holds no readable personal data. The history is read through a client with NO
 * codec, as anyone with access to Temporal's database or API would see it; the worker's own
 * stdout and stderr are captured for the whole run and searched the same way.
 */
import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { testConfig } from '../support/stack';
import { buildDeps } from '../../worker/deps';
import { getDataConverter, ENCRYPTED_ENCODING, keyIdOf } from '../../encryption';
import { createIntake } from '../../client/intake';
import { accountDeletionWorkflow } from '../../workflows/deletion';
import { rng, seedAccount, SeedDeps } from '../../dev/seed/fixtures';
import { DATA_MAP } from '../../activities/deletion/data-map';
import { storesOf } from '../support/stores';
import { temporalConnectionOptions, type Config, requireKeyRing } from '../../config';
import { codecPayloads, encodingOf, found, haystack, isLocalActivityMarkerData, isPatchMarkerData, payloadsIn } from './support/scan';
import { additionalRequestSignal, deletionWorkflowId, type DeletionInput, type Receipt } from '../../contract';

/** The workflow's patch ids: the only plain text a patch marker may hold (those since 1.0, as docs/releasing.md lists them). */
const PATCH_IDS: string[] = ['final-read-back-skips-fresh-vendor-reads'];

/** What the SDK's core writes into a local activity marker's data (core's LocalActivityMarkerData). */
const LOCAL_ACTIVITY_MARKER_KEYS = ['seq', 'attempt', 'activity_id', 'activity_type', 'complete_time', 'backoff', 'original_schedule_time'];

const ROOT = path.resolve(__dirname, '..', '..');

describe('personal data in the orchestration layer', () => {
  let config: Config;
  let deps: ReturnType<typeof buildDeps>;
  let connection: Connection;
  let lethe: Client; // Lethe's own client: the shared data converter
  let raw: Client; // no codec: what Temporal itself stores
  let worker: ChildProcess;
  let workerLog = '';
  let workerExit: Promise<unknown>;

  beforeAll(async () => {
    config = testConfig({ LETHE_TASK_QUEUE: `test-${randomUUID()}` });
    deps = buildDeps(config);
    connection = await Connection.connect(temporalConnectionOptions(config.temporal));
    lethe = new Client({ connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(requireKeyRing(config)) });
    raw = new Client({ connection, namespace: config.temporal.namespace });
    // The real worker process (worker/main.ts, its runtime logger included), output captured.
    worker = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], {
      cwd: ROOT,
      // DEBUG: activity and workflow task logs too, so failures and their metadata are in what is searched.
      env: { ...process.env, LETHE_TASK_QUEUE: config.temporal.taskQueue, LETHE_LOG_LEVEL: 'DEBUG' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (d) => (workerLog += d));
    worker.stderr!.on('data', (d) => (workerLog += d));
    workerExit = new Promise((r) => worker.once('exit', r));
    const deadline = Date.now() + 90_000;
    while (!workerLog.includes(`polling task queue ${config.temporal.taskQueue}`)) {
      if (worker.exitCode !== null) throw new Error(`worker exited early:\n${workerLog}`);
      if (Date.now() > deadline) throw new Error(`worker did not start:\n${workerLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 120_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await connection?.close();
    await deps?.close();
  });

  /** The raw history and description of a workflow, as Temporal keeps them. */
  async function rawRecords(workflowId: string) {
    const history = await raw.workflow.getHandle(workflowId).fetchHistory();
    // Through the service, not handle.describe(): that would try (and fail) to decode the memo.
    const described = await connection.workflowService.describeWorkflowExecution({ namespace: config.temporal.namespace, execution: { workflowId } });
    return { history, described };
  }

  function expectEncryptedPayloads(records: unknown): void {
    const all = payloadsIn(records);
    expect(all.length).toBeGreaterThan(0);
    // Search attributes are indexed by the server and hold ids, channel, status and times only.
    // A patch marker's data is written by the SDK's core, not through the data converter: it
    // must hold nothing but the patch id, which the code names.
    for (const p of all.filter((x) => isPatchMarkerData(x.path))) expect(PATCH_IDS).toContain(JSON.parse(Buffer.from(p.payload.data as Uint8Array).toString('utf8')).id);
    // So is a local activity marker's data (the freeze runs as one): which activity, which
    // attempt and when, and nothing else. Its result passes the codec like any payload.
    for (const p of all.filter((x) => isLocalActivityMarkerData(x.path))) {
      const data = JSON.parse(Buffer.from(p.payload.data as Uint8Array).toString('utf8')) as Record<string, unknown>;
      expect({ path: p.path, type: data.activity_type, keys: Object.keys(data).filter((k) => !LOCAL_ACTIVITY_MARKER_KEYS.includes(k)) }).toEqual({ path: p.path, type: 'freezeAccount', keys: [] });
    }
    const others = codecPayloads(records);
    expect(others.filter((p) => encodingOf(p.payload) !== ENCRYPTED_ENCODING).map((p) => `${p.path}: ${encodingOf(p.payload)}`)).toEqual([]);
    expect(new Set(others.map((p) => keyIdOf(p.payload)))).toEqual(new Set([config.encryption.keys!.currentKeyId]));
  }

  /** Every personal value the seeded account has in any table, read from the database. */
  async function personalValues(accountId: string): Promise<string[]> {
    const a = await deps.db('accounts').where({ id: accountId }).first();
    const shares = await deps.db('shares').where({ account_id: accountId }).pluck('recipient_email');
    const ips = await deps.db('login_events').where({ account_id: accountId }).select(deps.db.raw('host(ip_address) as ip'));
    const values = [a.email, a.full_name, a.phone, a.address_line1, a.address_line2, a.city, a.postal_code, ...shares, ...ips.map((r: { ip: string }) => r.ip)];
    return values.filter((v): v is string => typeof v === 'string' && v.length > 0);
  }

  let pii: string[] = [];
  let completedId = '';
  let failedId = '';

  test('when a seeded account is deleted, then its raw history and description hold no personal value and every payload is encrypted', async () => {
    const seed: SeedDeps = { ...deps, recurlySandboxUrl: config.recurly.baseUrl };
    const a = await seedAccount(seed, { media: 4, orphanBlobs: 1, snapshots: 1, loginEvents: 2, shares: 2, supportRequests: 1, emailOnlySupportRequests: 1 }, rng(6006));
    const pre = await storesOf(seed, a);
    for (const link of DATA_MAP) expect(pre.rows[link.table]).toBeGreaterThan(0);
    pii = await personalValues(a.id);
    expect(pii.length).toBeGreaterThanOrEqual(8);

    // A support agent typing who asked into a free-text field is how personal data reaches an
    // input: Lethe never puts it there itself, and its intake refuses a `requestedBy` that is not
    // an identifier (issue 30), so the test signals it the way a caller reaching Temporal
    // directly could, to prove encryption hides it.
    const deletions = createIntake({ config, db: deps.db, temporal: lethe });
    const started = await deletions.start({ accountId: a.id, channel: 'support', requestedBy: 'agent-7' });
    completedId = started.workflowId;
    await lethe.workflow.getHandle(completedId).signal(additionalRequestSignal, { channel: 'phone', receivedAt: new Date().toISOString(), requestedBy: `agent-7 for ${pii[1]} <${a.email}>` });
    const receipt: Receipt = await lethe.workflow.getHandle(completedId).result();
    expect(receipt.verification.clean).toBe(true);

    const records = await rawRecords(completedId);
    const text = haystack(records);
    expect(found(text, pii)).toEqual([]);
    // The scan reads plain text where there is some: the ids are there, by design.
    expect(text).toContain(a.id);
    expect(text).toContain(completedId);
    expectEncryptedPayloads(records);

    // Lethe's own client reads the same history in full.
    const decoded = await lethe.workflow.getHandle(completedId).describe();
    expect(decoded.memo).toEqual({ requestId: started.requestId });
  });

  test('when a deletion fails non-retryably, then its failure messages and stack traces are encrypted in history, and readable with the key', async () => {
    const accountId = randomUUID();
    failedId = deletionWorkflowId(accountId);
    const now = Date.now();
    const input: DeletionInput = {
      requestId: randomUUID(),
      accountId,
      channel: 'support',
      receivedAt: new Date(now).toISOString(),
      deadlineAt: new Date(now + 72 * 3_600_000).toISOString(),
      warningAt: new Date(now + 48 * 3_600_000).toISOString(),
      requestedBy: `agent-7 for ${pii[0]}`,
    };
    // Started directly: the deletion service refuses unknown accounts before Temporal sees them.
    const handle = await lethe.workflow.start(accountDeletionWorkflow, { taskQueue: config.temporal.taskQueue, workflowId: failedId, args: [input] });
    const err = await handle.result().catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    // The freeze runs as a local activity (workflows/deletion.ts): its failure is the
    // workflow's cause as the activity threw it, with no activity task around it.
    expect(err.cause).toBeInstanceOf(ApplicationFailure);
    expect(err.cause.type).toBe('AccountNotFound');
    expect(err.cause.message).toBe(`account ${accountId} does not exist`);

    const records = await rawRecords(failedId);
    const failures: { message?: string | null; stackTrace?: string | null; encodedAttributes?: unknown }[] = [];
    const collect = (v: unknown): void => {
      if (!v || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
      if ('encodedAttributes' in v && 'message' in v) failures.push(v as never);
      Object.values(v).forEach(collect);
    };
    collect(records.history);
    // The application failure twice: in the freeze's local activity marker and as the workflow's failure.
    expect(failures.length).toBeGreaterThanOrEqual(2);
    for (const f of failures) {
      expect(f.message).toBe('Encoded failure');
      expect(f.stackTrace ?? '').toBe('');
      expect(f.encodedAttributes).toBeTruthy();
    }
    const text = haystack(records);
    expect(text).not.toContain('does not exist');
    expect(found(text, pii)).toEqual([]);
    expectEncryptedPayloads(records);
  });

  test('when the worker has run both deletions, then its logs hold none of the personal values, and no key', async () => {
    worker.kill('SIGTERM');
    await workerExit;
    // What was searched: the worker's start, and its (DEBUG) logs of both deletions, failure included.
    expect(workerLog).toContain(`polling task queue ${config.temporal.taskQueue}`);
    expect(workerLog).toContain(completedId);
    expect(workerLog).toMatch(new RegExp(`Activity failed[^]*${failedId}`));
    expect(found(workerLog, pii)).toEqual([]);
    const ring = config.encryption.keys!;
    for (const id of ring.keyIds) expect(workerLog).not.toContain(ring.get(id)!.toString('base64'));
  });

  test('when the stack started, then closed histories are kept 3 days (LETHE_RETENTION_DAYS) and then removed', async () => {
    const ns = await connection.workflowService.describeNamespace({ namespace: config.temporal.namespace });
    expect(Number(ns.config?.workflowExecutionRetentionTtl?.seconds)).toBe(3 * 86_400);
  });
});
