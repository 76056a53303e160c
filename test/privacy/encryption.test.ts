/**
 * The payload codec, the key ring and their configuration, without a server: what the
 * real-stack tests (history.test.ts, rotation.test.ts) rely on, proved piece by piece.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { decodeOptionalFailureToOptionalError, encodeErrorToFailure } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { ConfigError, loadConfig, requireKeyRing } from '../../config';
import { createEncryptionCodec, ENCRYPTED_ENCODING, EncryptionError, getDataConverter, keyIdOf, parseKeyRing } from '../../encryption';

const key = (fill: number) => Buffer.alloc(32, fill).toString('base64');
const K1 = `k1:${key(1)}`;
const K2 = `k2:${key(2)}`;
const PERSON = { email: 'ada.lovelace@example.test', fullName: 'Ada Lovelace', phone: '+351 912345678' };

const text = (b?: Uint8Array | null) => Buffer.from(b ?? []).toString('utf8');
const bytesOf = (payloads: Payload[]) => Buffer.concat(payloads.flatMap((p) => [Buffer.from(p.data ?? []), ...Object.values(p.metadata ?? {}).map((v) => Buffer.from(v))])).toString('latin1');

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('payload encryption', () => {
  test('when a payload is encoded, then it is AES-GCM ciphertext marked binary/encrypted with the current key id, and decodes back', async () => {
    const codec = createEncryptionCodec(parseKeyRing(K1));
    const plain = defaultPayloadConverter.toPayload(PERSON);
    const [enc] = await codec.encode([plain]);
    expect(text(enc.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(keyIdOf(enc)).toBe('k1');
    // The inner encoding (json/plain) is hidden too.
    expect(Object.keys(enc.metadata!).sort()).toEqual(['encoding', 'encryption-key-id']);
    for (const v of [...Object.values(PERSON), 'json/plain']) expect(bytesOf([enc])).not.toContain(v);
    const [dec] = await codec.decode([enc]);
    expect(defaultPayloadConverter.fromPayload(dec)).toEqual(PERSON);
    // A fresh IV per payload: equal inputs do not give equal ciphertexts.
    const [again] = await codec.encode([plain]);
    expect(Buffer.from(again.data!).equals(Buffer.from(enc.data!))).toBe(false);
  });

  test('when a payload was written before encryption, then it still decodes (old histories, replay fixtures)', async () => {
    const codec = createEncryptionCodec(parseKeyRing(K1));
    const plain = defaultPayloadConverter.toPayload({ requestId: 'r-1' });
    expect(await codec.decode([plain])).toEqual([plain]);
  });

  test('when a ciphertext is altered, then decoding refuses it', async () => {
    const codec = createEncryptionCodec(parseKeyRing(K1));
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload('x')]);
    const data = Buffer.from(enc.data!);
    data[20] ^= 1;
    const err = await codec.decode([{ ...enc, data }]).catch((e) => e);
    expect(err).toBeInstanceOf(EncryptionError);
    expect((err as EncryptionError).type).toBe('not_authentic');
  });

  test('when a new current key is added, then old payloads still decode and new ones use the new key id', async () => {
    const before = createEncryptionCodec(parseKeyRing(K1));
    const [old] = await before.encode([defaultPayloadConverter.toPayload({ requestId: 'old' })]);
    // Rotation: the new key goes first (or LETHE_ENCRYPTION_KEY_ID names it); the old one stays to read.
    for (const ring of [parseKeyRing(`${K2},${K1}`), parseKeyRing(`${K1}\n${K2}`, 'k2')]) {
      const after = createEncryptionCodec(ring);
      expect(defaultPayloadConverter.fromPayload((await after.decode([old]))[0])).toEqual({ requestId: 'old' });
      const [fresh] = await after.encode([defaultPayloadConverter.toPayload({ requestId: 'new' })]);
      expect(keyIdOf(fresh)).toBe('k2');
    }
    // Dropping the old key too early is loud, and names the key id it needs.
    const err = await createEncryptionCodec(parseKeyRing(K2))
      .decode([old])
      .catch((e) => e);
    expect(err).toBeInstanceOf(EncryptionError);
    expect((err as Error).message).toContain('"k1"');
  });

  test('when a failure quotes personal data, then its message and stack trace are stored encrypted, and decode for a holder of the key', async () => {
    const converter = loadDataConverter(getDataConverter(requireKeyRing(loadConfig({ LETHE_ENCRYPTION_KEYS: K1 }))));
    const failure = await encodeErrorToFailure(converter, ApplicationFailure.create({ type: 'InvalidInput', message: `no user ${PERSON.email} (${PERSON.fullName})`, nonRetryable: true }));
    expect(failure.message).toBe('Encoded failure');
    expect(failure.stackTrace).toBe('');
    expect(text(failure.encodedAttributes!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    const wire = JSON.stringify(failure) + bytesOf([failure.encodedAttributes as Payload]);
    for (const v of Object.values(PERSON)) expect(wire).not.toContain(v);
    const back = await decodeOptionalFailureToOptionalError(converter, failure);
    expect(back?.message).toBe(`no user ${PERSON.email} (${PERSON.fullName})`);
    expect((back as ApplicationFailure).type).toBe('InvalidInput');
  });

  test('when the ring is printed, serialized or rejected, then no key material shows', () => {
    const ring = parseKeyRing(`${K1},${K2}`);
    for (const shown of [JSON.stringify(ring), inspect(ring), inspect(loadConfig({ LETHE_ENCRYPTION_KEYS: K1 }), { depth: 10 }), JSON.stringify(loadConfig({ LETHE_ENCRYPTION_KEYS: K1 }))]) {
      expect(shown).toContain('k1');
      expect(shown).not.toContain(key(1));
      expect(shown).not.toContain(key(2));
    }
    const secret = key(9).slice(0, 20); // a truncated key: the error must not echo it
    const e = configError({ LETHE_ENCRYPTION_KEYS: `k9:${secret}` });
    expect(e.message).not.toContain(secret);
  });
});

describe('encryption configuration', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-keys-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    [{ LETHE_ENCRYPTION_KEYS: 'nocolon' }, 'LETHE_ENCRYPTION_KEYS'],
    [{ LETHE_ENCRYPTION_KEYS: `k1:${Buffer.alloc(16).toString('base64')}` }, 'LETHE_ENCRYPTION_KEYS'],
    [{ LETHE_ENCRYPTION_KEYS: `${K1},${K1}` }, 'LETHE_ENCRYPTION_KEYS'],
    [{ LETHE_ENCRYPTION_KEYS: `bad id:${key(1)}` }, 'LETHE_ENCRYPTION_KEYS'],
    [{ LETHE_ENCRYPTION_KEYS: K1, LETHE_ENCRYPTION_KEYS_FILE: '/etc/hostname' }, 'LETHE_ENCRYPTION_KEYS'],
    [{ LETHE_ENCRYPTION_KEYS: K1, LETHE_ENCRYPTION_KEY_ID: 'k3' }, 'LETHE_ENCRYPTION_KEY_ID'],
    [{ LETHE_ENCRYPTION_KEYS_FILE: '/nonexistent/lethe-keys' }, 'LETHE_ENCRYPTION_KEYS_FILE'],
    [{ LETHE_CODEC_PORT: 'x' }, 'LETHE_CODEC_PORT'],
    [{ LETHE_CODEC_TOKEN: 'short' }, 'LETHE_CODEC_TOKEN'],
    [{ LETHE_CODEC_ALLOWED_ORIGINS: 'http://ui.example/path' }, 'LETHE_CODEC_ALLOWED_ORIGINS'],
    [{ LETHE_RETENTION_DAYS: '0' }, 'LETHE_RETENTION_DAYS'],
    [{ LETHE_RETENTION_DAYS: '1.5' }, 'LETHE_RETENTION_DAYS'],
  ])('when %j is given, then the one-line error names %s', (env, variable) => {
    const e = configError({ LETHE_STATE_DIR: dir, ...(env as Record<string, string>) });
    expect(e.variable).toBe(variable);
    expect(e.message.startsWith(`${variable}: `)).toBe(true);
    expect(e.message).not.toContain('\n');
  });

  test('when keys come from a secret file, then comments and newlines are allowed and the first key is current', () => {
    const file = path.join(dir, 'keys');
    fs.writeFileSync(file, `# rotated 2026-11, old key kept to read histories\n${K2}\n${K1}\n`);
    const c = loadConfig({ LETHE_STATE_DIR: dir, LETHE_ENCRYPTION_KEYS_FILE: file });
    expect(c.encryption.keys!.toJSON()).toEqual({ currentKeyId: 'k2', keyIds: ['k2', 'k1'] });
  });

  test('when nothing is configured in embedded mode, then starting a worker or client names LETHE_ENCRYPTION_KEYS', () => {
    const c = loadConfig({ LETHE_STATE_DIR: path.join(dir, 'empty') });
    expect(c.encryption.keys).toBeUndefined();
    expect(() => getDataConverter(requireKeyRing(c))).toThrow(/^LETHE_ENCRYPTION_KEYS: no encryption key configured/);
  });

  test('when production mode has no keys, then it refuses to start naming LETHE_ENCRYPTION_KEYS', () => {
    const prod = {
      LETHE_MODE: 'production',
      LETHE_API_TOKENS: 'a-long-enough-production-token',
      DATABASE_URL: 'postgres://u:p@db:5432/app',
      AZURE_STORAGE_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=abc;EndpointSuffix=core.windows.net',
      AUTH0_DOMAIN: 'tenant.eu.auth0.com',
      AUTH0_CLIENT_ID: 'id',
      AUTH0_CLIENT_SECRET: 'secret',
      RECURLY_API_KEY: 'key',
      SMTP_URL: 'smtps://mail.example.com:465',
      LETHE_PUBLIC_URL: 'https://privacy.example.com',
    };
    expect(configError(prod).variable).toBe('LETHE_ENCRYPTION_KEYS');
    expect(loadConfig({ ...prod, LETHE_ENCRYPTION_KEYS: K1 }).encryption.keys!.currentKeyId).toBe('k1');
  });

  test('when the Web UI port is set, then the codec server allows exactly the UI origins by default', () => {
    const c = loadConfig({ LETHE_STATE_DIR: dir, TEMPORAL_UI_PORT: '18233' });
    expect(c.codec).toMatchObject({ port: 8089, allowedOrigins: ['http://127.0.0.1:18233', 'http://localhost:18233'], token: undefined });
    expect(c.temporal.retentionDays).toBe(3);
  });
});
