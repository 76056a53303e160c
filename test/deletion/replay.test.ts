/**
 * Determinism guard: histories recorded by Lethe 1.0's workflows (test/histories/*.json) must
 * replay against today's code. A change that would break running deletions in production fails
 * here instead. (Lethe was never deployed before 1.0: the histories of its pre-release shapes,
 * and the patches that kept them replaying, were dropped at the cut.)
 *
 * The histories are stored as production stores them: every payload encrypted by Lethe's
 * codec, here with the committed TEST-ONLY key of test/support/histories.ts. They replay
 * through the same data converter the worker uses (codec and failure converter), which is
 * also how an operator replays a history saved from production (docs/operations.md, "Replay a
 * workflow's history").
 *
 * To record new histories after an intended, patched change (with the test key, never the
 * stack's own), first keep the current deletion-*.json under a name that says what they
 * predate (as `*-before-<change>.json`): recording overwrites them, and they are what a
 * deploy of the change meets in production. Then:
 *   LETHE_RECORD_HISTORIES=1 npx jest --ci test/deletion/replay.test.ts test/sweep/record-histories.test.ts
 * To replay a production history locally (never commit it): save it without a codec, then
 *   LETHE_REPLAY_HISTORY=/path/history.json LETHE_REPLAY_KEYS_FILE=/path/keys npx jest --ci test/deletion/replay.test.ts
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { Worker } from '@temporalio/worker';
import { startWorld } from '../support/stack';
import { seedDepsOf } from '../support/world-seed';
import {
  b64,
  bypassesCodec,
  decodeAll,
  historyFiles,
  HISTORIES_DIR,
  HISTORY_RECORDING_ENV,
  HISTORY_TEST_KEY_ID,
  payloadsIn,
  readHistory,
  replayCodec,
  replayHistoryFile,
  splitAfterFreeze,
} from '../support/histories';
import { rng, seedAccount } from '../../dev/seed/fixtures';
import { createIntake } from '../../client/intake';
import { WORKFLOWS_PATH } from '../../worker/worker';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA, parseKeyRing } from '../../encryption';

const TEMPORAL = path.resolve(__dirname, '..', '..', '.tools', 'bin', 'temporal');
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** `temporal workflow show --output json`, the command docs/operations.md gives operators, without a codec. */
function showWithCli(address: string, namespace: string, workflowId: string): Promise<string> {
  const env: Record<string, string> = {};
  // Its own TEMPORAL_* settings could point the CLI elsewhere or add a codec; the documented command has none.
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('TEMPORAL_')) env[k] = v;
  return new Promise((resolve, reject) =>
    execFile(
      TEMPORAL,
      ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', address, '--namespace', namespace],
      { env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`temporal workflow show failed: ${stderr || err.message}`)) : resolve(stdout)),
    ),
  );
}

/** The account ids a history is about, from where Temporal keeps them in plain text by design. */
function accountIdsOf(json: unknown): string[] {
  const text = JSON.stringify(json);
  const ids = new Set<string>();
  for (const m of text.matchAll(/"workflowId":"deletion-([0-9a-f-]{36})"/g)) ids.add(m[1]);
  return [...ids];
}

/** Replaces every encrypted payload of a history's JSON by what the codec decodes it to. */
async function decryptInPlace(json: unknown, codec: ReturnType<typeof replayCodec>): Promise<void> {
  if (Array.isArray(json)) {
    for (const x of json) await decryptInPlace(x, codec);
    return;
  }
  if (typeof json !== 'object' || json === null) return;
  const o = json as Record<string, unknown>;
  const meta = o.metadata as Record<string, string> | undefined;
  if (meta && typeof meta === 'object' && b64(meta.encoding) === ENCRYPTED_ENCODING && typeof o.data === 'string') {
    const [p] = await codec.decode([{ metadata: Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, Buffer.from(v, 'base64')])), data: Buffer.from(o.data, 'base64') }]);
    o.metadata = Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
    o.data = Buffer.from(p.data ?? []).toString('base64');
    return;
  }
  for (const v of Object.values(o)) await decryptInPlace(v, codec);
}

describe('workflow replay', () => {
  if (process.env.LETHE_RECORD_HISTORIES) {
    test('record: histories of a single-channel and a two-channel deletion, encrypted with the test key, saved by the CLI as docs/operations.md says', async () => {
      if (!fs.existsSync(TEMPORAL)) throw new Error(`${TEMPORAL} is missing: run bash scripts/install-tools.sh`);
      const world = await startWorld({ env: HISTORY_RECORDING_ENV });
      try {
        expect(world.config.encryption.keys?.currentKeyId).toBe(HISTORY_TEST_KEY_ID);
        const seed = seedDepsOf(world);
        const deletions = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
        const a = await seedAccount(seed, { media: 4, orphanBlobs: 1, snapshots: 1 }, rng(101));
        const b = await seedAccount(seed, { media: 2, auth0: 'legacy', subscriptions: null }, rng(102));
        const one = await deletions.start({ accountId: a.id, channel: 'api' });
        const two = await deletions.start({ accountId: b.id, channel: 'email' });
        await deletions.start({ email: b.email, channel: 'support', receivedAt: new Date(Date.now() - 60_000).toISOString() });
        for (const [name, id] of [
          ['deletion-single-channel', one.workflowId],
          ['deletion-two-channels', two.workflowId],
        ]) {
          await world.client.workflow.getHandle(id).result();
          const out = await showWithCli(world.config.temporal.address, world.config.temporal.namespace, id);
          fs.writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), out);
        }
      } finally {
        await world.close();
      }
    }, 180_000);
  }

  const encrypted = historyFiles(HISTORIES_DIR);
  const name = (f: string) => path.relative(HISTORIES_DIR, f);
  // test.each refuses an empty table while jest collects the file, which would also stop a
  // recording run; a missing history fails the listing test below instead.
  const each = (files: string[]) => (files.length > 0 ? files.map(name) : ['(no history files)']);

  test('there are encrypted histories of every recorded kind', () => {
    expect(encrypted.map((f) => path.basename(f)).sort()).toEqual([
      'deletion-inactivity-completed.json',
      'deletion-inactivity-skipped.json',
      'deletion-single-channel.json',
      'deletion-two-channels.json',
      'sweep-dry-run-first-run.json',
      'sweep-dry-run-last-run.json',
      'sweep-real-last-run.json',
    ]);
  });

  test("the deletion histories carry no patch marker: they are 1.0's shape, which replays through every patch since (docs/releasing.md)", () => {
    // A patch's new branch is guarded only once a history recorded with it is committed.
    const patches = fs
      .readdirSync(HISTORIES_DIR)
      .filter((f) => f.startsWith('deletion-') && f.endsWith('.json'))
      .flatMap((f) => (readHistory(path.join(HISTORIES_DIR, f)).events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch').map(() => f));
    expect(patches).toEqual([]);
  });

  describe('when a first workflow task ended with the freeze, and the stores began in the next', () => {
    // How load-faults recorded a deletion whose first task also carried a signal and a query
    // (2 of ~11 runs): replayed after a worker restart, the freeze resolves from its marker a
    // task earlier than it ran, and what the workflow asks next must not depend on which task
    // that is. Each history is reshaped so (splitAfterFreeze) and replayed.
    let dir: string;
    beforeAll(() => void (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-split-'))));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test.each(['deletion-single-channel.json', 'deletion-two-channels.json'])('then %s, so reshaped, replays', async (file) => {
      await replayHistoryFile(splitAfterFreeze(path.join(HISTORIES_DIR, file), dir));
    });
  });

  test.each(each(encrypted))('when %s is read, then its payloads are ciphertext under the test key and hold no email or account id', async (file) => {
    const full = path.join(HISTORIES_DIR, file);
    const raw = fs.readFileSync(full, 'utf8');
    expect(raw).not.toMatch(EMAIL);
    const json = JSON.parse(raw) as unknown;
    const ids = accountIdsOf(json);
    const payloads = payloadsIn(json).filter((p) => bypassesCodec(p.where) !== 'search_attribute');
    expect(payloads.length).toBeGreaterThan(0);
    for (const p of payloads) {
      const where = `${file} ${p.where}`;
      const bytes = Buffer.from(p.data, 'base64').toString('latin1');
      expect({ where, email: EMAIL.test(bytes), accountIds: ids.filter((id) => bytes.includes(id)) }).toEqual({ where, email: false, accountIds: [] });
      // The SDK's patch markers hold only a patch id, its local activity markers' data only which
      // activity ran when; neither passes a codec.
      if (bypassesCodec(p.where) === 'patch_marker' || bypassesCodec(p.where) === 'local_activity_marker') continue;
      expect({ where, encoding: b64(p.metadata.encoding), keyId: b64(p.metadata[KEY_ID_METADATA]) }).toEqual({ where, encoding: ENCRYPTED_ENCODING, keyId: HISTORY_TEST_KEY_ID });
    }
    // The same search over the decrypted payloads finds what the ciphertext hides, so it is not vacuous.
    const decrypted = (await decodeAll(full, replayCodec())).map((d) => d.text).join('\n');
    if (ids.length > 0) expect(ids.some((id) => decrypted.includes(id))).toBe(true);
    else expect(decrypted).toMatch(UUID);
    expect(decrypted).not.toMatch(EMAIL);
  });

  test('when the ciphertext check reads a history decrypted to plain payloads, then it finds readable payloads (the check can fail)', async () => {
    const json = JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, 'deletion-single-channel.json'), 'utf8')) as unknown;
    await decryptInPlace(json, replayCodec());
    const readable = payloadsIn(json).filter((p) => !bypassesCodec(p.where) && b64(p.metadata.encoding) !== ENCRYPTED_ENCODING);
    expect(readable.length).toBeGreaterThan(0);
    const [id] = accountIdsOf(json);
    expect(readable.some((p) => b64(p.data).includes(id))).toBe(true);
  });

  test.each(each(encrypted))('when %s is replayed through Lethe codec against the current workflow code, then it is deterministic', async (file) => {
    await replayHistoryFile(path.join(HISTORIES_DIR, file));
  });

  test('when an encrypted history is replayed without the codec, then replay fails naming the encrypted encoding', async () => {
    const history = readHistory(path.join(HISTORIES_DIR, 'deletion-single-channel.json'));
    await expect(Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, history, 'replay-without-codec')).rejects.toThrow(ENCRYPTED_ENCODING);
  });

  test('when an encrypted history is replayed with the wrong key material, then replay fails naming the key', async () => {
    const wrong = parseKeyRing(`${HISTORY_TEST_KEY_ID}:${Buffer.alloc(32, 7).toString('base64')}`);
    await expect(replayHistoryFile(path.join(HISTORIES_DIR, 'deletion-single-channel.json'), wrong)).rejects.toThrow(`failed authentication with key ${HISTORY_TEST_KEY_ID}`);
  });

  if (process.env.LETHE_REPLAY_HISTORY) {
    // An operator's own history (docs/operations.md): replayed, never committed.
    test.each(process.env.LETHE_REPLAY_HISTORY.split(',').filter(Boolean))('when %s (LETHE_REPLAY_HISTORY) is replayed through Lethe codec, then it is deterministic', async (file) => {
      await replayHistoryFile(path.resolve(file));
    });
  }
});
