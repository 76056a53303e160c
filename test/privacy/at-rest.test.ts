/**
 * Issue 17, done-when 4: no plaintext personal data in Lethe's own tables while a deletion
 * runs, and a key rotation mid-deletion does not strand it.
 *
 * A deletion is paused half-way (Recurly's sandbox answers 500 to everything, so the request
 * turns `blocked` with the other stores emptied and the freeze's capture still held). Every
 * column of every table in schema `lethe` is read as text and searched for the person's email,
 * name, phone, address and vendor ids. Then the worker is replaced by one whose current key is
 * new (the old one kept to read, as an operator rolls a rotation out), Recurly recovers, an
 * operator's retry runs, and the deletion completes under the new key.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { startWorld, testConfig, type TestWorld } from '../support/stack';
import { startPrivateStores, type PrivateStores } from '../support/private-stores';
import { armFault } from '../sandboxes/helpers/sandboxAdmin';
import { storesOf } from '../support/stores';
import { until } from '../support/until';
import { rngFor } from '../support/world-seed';
import { seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { createIntake } from '../../client/intake';
import { createRequestReader } from '../../client/requests';
import { buildDeps, type WorkerDeps } from '../../worker/deps';
import { createWorker } from '../../worker/worker';
import { createFieldCipher, getDataConverter, parseKeyRing } from '../../encryption';
import { deletionWorkflowId, retryStoresSignal, type Receipt } from '../../contract';
import type { Knex } from 'knex';
import { createDb } from '../../stores/db';
import * as lethe001 from '../../migrations/lethe/001_lethe_schema';
import { temporalConnectionOptions, requireKeyRing } from '../../config';
import { sealedSubjects, SealSubjectsError } from '../../migrations/lethe/006_sealed_subjects';
import { accountsWithSubjectEmail, loadSubject, sealSubject } from '../../activities/deletion/subject';

const OLD = `at-rest-old:${randomBytes(32).toString('base64')}`;
const NEW = `at-rest-new:${randomBytes(32).toString('base64')}`;
// The key file the global stack configured must not shadow the keys this test sets.
const keys = (list: string) => ({ LETHE_ENCRYPTION_KEYS: list, LETHE_ENCRYPTION_KEYS_FILE: '', LETHE_ENCRYPTION_KEY_ID: '' });
// A store refusing for 2 s shows blocked; only an operator's retry (not the 10-minute cadence) finishes it.
const BLOCKING = { LETHE_STORE_ATTEMPT_BUDGET: '4s', LETHE_BLOCK_AFTER: '2s', LETHE_BLOCK_AFTER_TRANSIENT: '2s', LETHE_STORE_RETRY_EVERY: '10m' };

/** Every column of every table in schema `lethe`, each value cast to text (json, arrays, bytea included). */
async function letheColumnsAsText(db: Knex): Promise<{ where: string; text: string }[]> {
  const cols: { table_name: string; column_name: string }[] = (
    await db.raw(`select table_name, column_name from information_schema.columns c
                   join information_schema.tables t using (table_schema, table_name)
                  where table_schema = 'lethe' and t.table_type = 'BASE TABLE' order by 1, 2`)
  ).rows;
  const out: { where: string; text: string }[] = [];
  for (const c of cols) {
    const rows: { v: string | null }[] = (await db.raw(`select ??::text as v from ?? where ?? is not null`, [c.column_name, `lethe.${c.table_name}`, c.column_name])).rows;
    for (const r of rows) if (r.v) out.push({ where: `lethe.${c.table_name}.${c.column_name}`, text: r.v });
  }
  return out;
}

describe('personal data at rest in Lethe’s tables', () => {
  let stores: PrivateStores;
  let before: TestWorld;
  let seed: SeedDeps;
  let after: { worker: Worker; running: Promise<void>; deps: WorkerDeps; client: Client; connection: Connection } | undefined;
  const rand = rngFor(__filename);

  beforeAll(async () => {
    stores = await startPrivateStores();
    before = await startWorld({ env: { ...stores.env, ...keys(OLD), ...BLOCKING } });
    seed = { ...before.deps, recurlySandboxUrl: stores.recurly.url };
  }, 120_000);
  afterAll(async () => {
    if (after) {
      if (after.worker.getState() === 'RUNNING') after.worker.shutdown();
      await after.running.catch(() => undefined);
      await after.connection.close();
      await after.deps.close();
    }
    await before?.close();
    await stores?.close();
  });

  test('when a deletion is paused mid-way, then no column of schema lethe holds the email, name, phone or vendor ids in plain text; and after a key rotation the deletion completes', async () => {
    const a = await seedAccount(seed, { media: 3, loginEvents: 1, shares: 1, supportRequests: 2 }, rand);
    const db = before.deps.db;
    const account = await db('accounts').where({ id: a.id }).first();
    const shares = await db('shares').where({ account_id: a.id }).pluck('recipient_email');
    // What must not appear: the account's own fields, and what the freeze captures for later steps.
    const needles = [a.email, account.full_name, account.phone, account.address_line1, a.auth0UserId, a.recurlyAccountCode, ...shares].filter(
      (x): x is string => typeof x === 'string' && x.length >= 5,
    );
    expect(needles.length).toBeGreaterThanOrEqual(5);

    await armFault(stores.recurly.url, { mode: '500', count: 100_000 });
    const intake = createIntake({ config: before.config, db, temporal: before.client });
    const reader = createRequestReader({ config: before.config, db, temporal: before.client });
    const started = await intake.start({ accountId: a.id, channel: 'support', requestedBy: 'at-rest-test' });
    await until(
      'the request blocked on Recurly, the other stores done',
      async () => {
        const v = await reader.get(started.requestId).catch(() => null);
        return v?.status === 'blocked' ? v : undefined;
      },
      90_000,
    );
    expect(await db('accounts').where({ id: a.id }).first()).toBeUndefined();

    const subject = await db('lethe.deletion_subjects').where({ account_id: a.id }).first();
    expect(subject).toBeDefined();
    const columns = await letheColumnsAsText(db);
    expect(columns.some((c) => c.where === 'lethe.deletion_subjects.sealed')).toBe(true);
    const found = columns.flatMap((c) => needles.filter((n) => c.text.toLowerCase().includes(n.toLowerCase())).map((n) => `${c.where} holds ${JSON.stringify(n)}`));
    expect(found).toEqual([]);

    // The capture is there (the scan was not vacuous) and opens to the email with the old key.
    const fields = createFieldCipher(parseKeyRing(OLD));
    expect(fields.keyIdOf(subject.sealed)).toBe('at-rest-old');
    expect(JSON.parse(fields.open(subject.sealed, `lethe.deletion_subjects:${a.id}`)).email).toBe(a.email);
    // The lookup by email goes through the keyed hash, case-insensitively.
    expect(subject.email_hash).toMatch(/^at-rest-old:[0-9a-f]{64}$/);
    expect(await accountsWithSubjectEmail({ db, fields }, a.email.toUpperCase())).toEqual([a.id]);

    // Rotation: the worker of the old key stops; one whose current key is new takes its task queue.
    before.worker.shutdown();
    await until('the old-key worker stopped', async () => (before.worker.getState() === 'STOPPED' ? true : undefined), 60_000);
    const config = testConfig({ ...stores.env, ...keys(`${NEW},${OLD}`), ...BLOCKING, LETHE_TASK_QUEUE: before.taskQueue });
    expect(config.encryption.keys!.currentKeyId).toBe('at-rest-new');
    const deps = buildDeps(config);
    const { worker, connection: native } = await createWorker(config, deps);
    const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
    const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(requireKeyRing(config)) });
    const running = worker.run();
    after = { worker, running: running.finally(() => native.close()), deps, client, connection };

    await fetch(`${stores.recurly.url}/__sandbox/faults`, { method: 'DELETE' });
    const handle = client.workflow.getHandle(deletionWorkflowId(a.id));
    await handle.signal(retryStoresSignal, { by: 'at-rest-test', actionId: randomUUID() });
    // Bounded: a worker that cannot open the old key's capture retries without end.
    const receipt = (await Promise.race([
      handle.result(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('the deletion did not complete within 120 s of the retry after the rotation')), 120_000).unref()),
    ])) as Receipt;
    expect(receipt.requestId).toBe(started.requestId);
    expect(receipt.verification.clean).toBe(true);
    const left = await storesOf(seed, a);
    expect(left.recurly === null || left.recurly.redacted).toBe(true);
    expect(left.blobs).toBe(0);
    // The capture is erased with the receipt.
    expect(await db('lethe.deletion_subjects').where({ account_id: a.id })).toEqual([]);
  }, 300_000);
});

describe('migration 006 over rows captured in plain text', () => {
  let admin: Knex;
  let db: Knex;
  const name = `lethe_m006_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    admin = createDb(testConfig().database.url, { poolMax: 1 });
    await admin.raw(`create database ??`, [name]);
    const url = new URL(testConfig().database.url);
    url.pathname = `/${name}`;
    db = createDb(url.toString(), { poolMax: 2 });
    // The table as migrations 001-005 leave it (only 001 shapes deletion_subjects).
    await lethe001.up(db);
    await db('lethe.deletion_subjects').insert([
      { account_id: '0b7e1d0c-1111-4aaa-8bbb-000000000001', email: 'Ada.Lovelace@example.com', auth0_user_ids: ['auth0|ada'], recurly_account_code: 'ada-code' },
      { account_id: '0b7e1d0c-1111-4aaa-8bbb-000000000002', email: null, auth0_user_ids: [], recurly_account_code: null },
    ]);
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.raw(`drop database if exists ?? with (force)`, [name]).catch(() => undefined);
    await admin?.destroy();
  });

  test("when no sealer is given, then it refuses, naming the table and what to do, and changes nothing; with the worker's sealer it seals every row and drops the plaintext columns", async () => {
    const err = await db.transaction((trx) => sealedSubjects().up(trx)).catch((e) => e);
    expect(err).toBeInstanceOf(SealSubjectsError);
    expect((err as Error).message).toMatch(/lethe\.deletion_subjects holds 2 row\(s\).*start the Lethe worker/);
    expect(await db('lethe.deletion_subjects').orderBy('account_id').pluck('email')).toEqual(['Ada.Lovelace@example.com', null]);

    const fields = createFieldCipher(parseKeyRing(OLD));
    await db.transaction((trx) => sealedSubjects((s) => sealSubject(fields, s)).up(trx));
    const cols: string[] = (await db.raw(`select column_name from information_schema.columns where table_schema = 'lethe' and table_name = 'deletion_subjects' order by 1`)).rows.map(
      (r: { column_name: string }) => r.column_name,
    );
    expect(cols).toEqual(['account_id', 'captured_at', 'email_hash', 'sealed']);
    const text = JSON.stringify(await db('lethe.deletion_subjects').select());
    expect(text).not.toMatch(/lovelace|auth0\|ada|ada-code/i);
    const deps = { db, fields };
    expect(await loadSubject(deps, '0b7e1d0c-1111-4aaa-8bbb-000000000001')).toEqual({
      accountId: '0b7e1d0c-1111-4aaa-8bbb-000000000001',
      email: 'Ada.Lovelace@example.com',
      auth0UserIds: ['auth0|ada'],
      recurlyAccountCode: 'ada-code',
    });
    expect(await accountsWithSubjectEmail(deps, 'ada.lovelace@EXAMPLE.com')).toEqual(['0b7e1d0c-1111-4aaa-8bbb-000000000001']);
    // A sealed value moved into another account's row does not open there.
    const [one] = await db('lethe.deletion_subjects').where({ account_id: '0b7e1d0c-1111-4aaa-8bbb-000000000001' }).pluck('sealed');
    await db('lethe.deletion_subjects').where({ account_id: '0b7e1d0c-1111-4aaa-8bbb-000000000002' }).update({ sealed: one });
    await expect(loadSubject(deps, '0b7e1d0c-1111-4aaa-8bbb-000000000002')).rejects.toThrow(/failed authentication/);
  });
});
