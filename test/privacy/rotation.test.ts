/**
 * Issue 6, done-when 2: key rotation on the real stack. A deletion's history is written under
 * an old key; then a new current key is added (the old one kept to read), as an operator
 * rolls a rotation out. Old histories still decode, and everything new uses the new key.
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { startWorld, TestWorld } from '../support/stack';
import { seedDepsOf } from '../support/world-seed';
import { rng, seedAccount } from '../../dev/seed/fixtures';
import { createIntake } from '../../client/intake';
import { EncryptionError, ENCRYPTED_ENCODING, getDataConverter, getPayloadCodec, keyIdOf } from '../../encryption';
import { loadConfig, requireKeyRing } from '../../config';
import { codecPayloads, encodingOf } from './support/scan';
import type { Receipt } from '../../contract';

const OLD = `lethe-2026-01:${randomBytes(32).toString('base64')}`;
const NEW = `lethe-2026-11:${randomBytes(32).toString('base64')}`;
// The file the global stack configured must not shadow the keys this test sets.
const keys = (list: string) => ({ LETHE_ENCRYPTION_KEYS: list, LETHE_ENCRYPTION_KEYS_FILE: '', LETHE_ENCRYPTION_KEY_ID: '' });

const encryptedPayloads = codecPayloads;

describe('key rotation', () => {
  const rand = rng(6062);
  let before: TestWorld;
  let after: TestWorld;
  let oldWorkflowId = '';
  let oldReceipt: Receipt;

  afterAll(async () => {
    await before?.close();
    await after?.close();
  });

  test('when a deletion runs under the old key, then its history carries the old key id', async () => {
    before = await startWorld({ env: keys(OLD) });
    const deletions = createIntake({ config: before.config, db: before.deps.db, temporal: before.client });
    const a = await seedAccount(seedDepsOf(before), { media: 2 }, rand);
    oldWorkflowId = (await deletions.start({ accountId: a.id, channel: 'email' })).workflowId;
    oldReceipt = await before.client.workflow.getHandle(oldWorkflowId).result();
    const payloads = encryptedPayloads(await before.client.workflow.getHandle(oldWorkflowId).fetchHistory());
    expect(payloads.length).toBeGreaterThan(5);
    expect(new Set(payloads.map((p) => keyIdOf(p.payload)))).toEqual(new Set(['lethe-2026-01']));
  });

  test('when a new current key is added beside the old one, then the old history still decodes in full', async () => {
    after = await startWorld({ env: keys(`${NEW},${OLD}`) });
    expect(after.config.encryption.keys!.currentKeyId).toBe('lethe-2026-11');
    const handle = after.client.workflow.getHandle(oldWorkflowId);
    expect(await handle.result()).toEqual(oldReceipt);
    expect((await handle.describe()).memo).toEqual({ requestId: oldReceipt.requestId });
    const codec = getPayloadCodec(requireKeyRing(after.config));
    for (const { payload } of encryptedPayloads(await handle.fetchHistory())) {
      const [plain] = await codec.decode([payload]);
      expect(encodingOf(plain)).not.toBe(ENCRYPTED_ENCODING);
      expect(() => defaultPayloadConverter.fromPayload(plain)).not.toThrow();
    }
  });

  test('when the rotated worker and client run a new deletion, then its payloads use the new key id only', async () => {
    const deletions = createIntake({ config: after.config, db: after.deps.db, temporal: after.client });
    const a = await seedAccount(seedDepsOf(after), { media: 2 }, rand);
    const started = await deletions.start({ accountId: a.id, channel: 'api' });
    const receipt: Receipt = await after.client.workflow.getHandle(started.workflowId).result();
    expect(receipt.verification.clean).toBe(true);
    const payloads = encryptedPayloads(await after.client.workflow.getHandle(started.workflowId).fetchHistory());
    expect(new Set(payloads.map((p) => keyIdOf(p.payload)))).toEqual(new Set(['lethe-2026-11']));
  });

  test('when the old key is dropped too early, then reading the old history fails loudly, naming the missing key id', async () => {
    const config = loadConfig({ ...process.env, ...keys(NEW) });
    const client = new Client({ connection: after.client.connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(requireKeyRing(config)) });
    const err = await client.workflow
      .getHandle(oldWorkflowId)
      .result()
      .catch((e) => e);
    expect(err).toBeInstanceOf(EncryptionError);
    expect((err as EncryptionError).type).toBe('unknown_key');
    expect((err as Error).message).toContain('"lethe-2026-01"');
  });
});
