/**
 * AES-256-GCM PayloadCodec: every payload Lethe sends to Temporal (workflow inputs, results,
 * activity arguments, heartbeats, queries, memos, and failure messages with their stack
 * traces) is stored encrypted, so the orchestration layer never holds a readable copy of
 * anything about a person.
 *
 * Wire format, the one Temporal's encryption samples use so any codec server reads it:
 * metadata `encoding: binary/encrypted` and `encryption-key-id: <id>`; data is
 * iv (12 bytes) || ciphertext || GCM tag (16 bytes), over the original Payload serialized as
 * protobuf (so its own metadata, e.g. `encoding: json/plain`, is hidden too).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { KeyRing } from './keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export type EncryptionErrorType = 'unknown_key' | 'malformed' | 'not_authentic';

/** A payload this process cannot decrypt; the message names the key id, never a key. */
export class EncryptionError extends Error {
  constructor(
    readonly type: EncryptionErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'EncryptionError';
  }
}

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const text = (b: Uint8Array | null | undefined): string | undefined => (b ? Buffer.from(b).toString('utf8') : undefined);

export function encrypt(plain: Uint8Array, key: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

export function decrypt(sealed: Uint8Array, key: Buffer, keyId: string): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new EncryptionError('malformed', `encrypted payload (key ${keyId}) is too short`);
  const buf = Buffer.from(sealed);
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV_BYTES));
  decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(buf.subarray(IV_BYTES, buf.length - TAG_BYTES)), decipher.final()]);
  } catch {
    // GCM refuses a wrong key and a tampered payload alike.
    throw new EncryptionError('not_authentic', `encrypted payload failed authentication with key ${keyId} (wrong key material, or the payload was altered)`);
  }
}

/** The key id a payload was encrypted with; undefined when it is not encrypted. */
export function keyIdOf(payload: Payload): string | undefined {
  if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return undefined;
  return text(payload.metadata?.[KEY_ID_METADATA]) ?? '';
}

export function createEncryptionCodec(ring: KeyRing): PayloadCodec {
  return {
    async encode(payloads: Payload[]): Promise<Payload[]> {
      const { id, key } = ring.current();
      return payloads.map((payload) => ({
        metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(id) },
        data: encrypt(temporal.api.common.v1.Payload.encode(payload).finish(), key),
      }));
    },

    async decode(payloads: Payload[]): Promise<Payload[]> {
      return payloads.map((payload) => {
        const keyId = keyIdOf(payload);
        // Payloads written before encryption was switched on (and the replay fixtures) stay readable.
        if (keyId === undefined) return payload;
        if (keyId === '') throw new EncryptionError('malformed', `encrypted payload has no ${KEY_ID_METADATA} metadata`);
        const key = ring.get(keyId);
        if (!key) {
          throw new EncryptionError('unknown_key', `payload was encrypted with key "${keyId}", which is not configured (configured: ${ring.keyIds.join(', ')}); add it back to LETHE_ENCRYPTION_KEYS`);
        }
        if (!payload.data) throw new EncryptionError('malformed', `encrypted payload (key ${keyId}) has no data`);
        return temporal.api.common.v1.Payload.decode(decrypt(payload.data, key, keyId)) as Payload;
      });
    },
  };
}
