/**
 * Personal data in Lethe's own tables (lethe.deletion_subjects), sealed with the payload
 * codec's key ring: the same keys, the same rotation (LETHE_ENCRYPTION_KEYS,
 * LETHE_ENCRYPTION_KEY_ID), so one key list governs everything Lethe stores about a person.
 *
 * Sealed text: `v1:<keyId>:<base64 iv || ciphertext || GCM tag>`. The key id travels with the
 * ciphertext, so a value sealed before a rotation opens afterwards while its key stays in the
 * ring. The row's identity (table and account id) is the GCM additional data: a sealed value
 * copied into another account's row does not open, so a deletion never acts on another
 * person's email.
 *
 * Equality lookups (by email) use a keyed hash, never the plaintext: HMAC-SHA256 under a key
 * derived from each ring key with HKDF (info `lethe/lookup-hash/v1`), stored as
 * `<keyId>:<hex>`. A row is hashed under the key that was current when it was written; a
 * lookup hashes the value under every key in the ring and matches any. So a rotation (new
 * current key, old keys kept) never loses a row: old rows keep matching through the old key's
 * hash, new rows use the new key. Dropping a key from the ring makes the rows written under it
 * unreadable and unfindable at once, which is why a key stays in the ring until no running
 * deletion was captured under it (deletions end within the 72-hour deadline; the ring keeps
 * keys for the history retention, which is longer).
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { EncryptionError } from './codec';
import type { KeyRing } from './keys';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const LOOKUP_INFO = 'lethe/lookup-hash/v1';

/** Seals and opens personal fields, and hashes them for equality lookups. */
export interface FieldCipher {
  /** `context` names where the value lives (table and row id); opening needs the same one. */
  seal(plain: string, context: string): string;
  open(sealed: string, context: string): string;
  /** The keyed hash to store beside a sealed value (under the current key). */
  lookupHash(value: string): string;
  /** Every hash a stored row may carry for this value: one per key in the ring. */
  lookupHashes(value: string): string[];
  /** The key id a sealed value was written with (undefined when it is not a sealed value). */
  keyIdOf(sealed: string): string | undefined;
}

/** Is this text a sealed value (the shape only; opening checks the rest)? */
export const isSealed = (text: unknown): boolean => typeof text === 'string' && /^v1:[A-Za-z0-9][A-Za-z0-9._-]{0,63}:[A-Za-z0-9+/]+={0,2}$/.test(text);

function lookupKey(key: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), LOOKUP_INFO, 32));
}

export function createFieldCipher(ring: KeyRing): FieldCipher {
  // Derived once per process: HKDF is cheap, but lookups hash under every key.
  const lookupKeys = new Map<string, Buffer>();
  const lookupKeyOf = (id: string): Buffer => {
    let k = lookupKeys.get(id);
    if (!k) lookupKeys.set(id, (k = lookupKey(ring.get(id)!)));
    return k;
  };
  const hashWith = (id: string, value: string): string => `${id}:${createHmac('sha256', lookupKeyOf(id)).update(value, 'utf8').digest('hex')}`;

  return {
    seal(plain, context) {
      const { id, key } = ring.current();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${VERSION}:${id}:${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64')}`;
    },

    open(sealed, context) {
      if (!isSealed(sealed)) throw new EncryptionError('malformed', `a sealed field of ${context} is not of the form v1:<keyId>:<base64>`);
      const [, id, encoded] = sealed.split(':');
      const key = ring.get(id);
      if (!key) {
        throw new EncryptionError(
          'unknown_key',
          `a sealed field of ${context} was encrypted with key "${id}", which is not configured (configured: ${ring.keyIds.join(', ')}); add it back to LETHE_ENCRYPTION_KEYS`,
        );
      }
      const buf = Buffer.from(encoded, 'base64');
      if (buf.length < IV_BYTES + TAG_BYTES) throw new EncryptionError('malformed', `a sealed field of ${context} (key ${id}) is too short`);
      const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
      try {
        return Buffer.concat([decipher.update(buf.subarray(IV_BYTES, buf.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        // GCM refuses a wrong key, an altered value and a value moved from another row alike.
        throw new EncryptionError('not_authentic', `a sealed field of ${context} failed authentication with key ${id} (wrong key material, altered, or copied from another row)`);
      }
    },

    lookupHash: (value) => hashWith(ring.currentKeyId, value),
    lookupHashes: (value) => ring.keyIds.map((id) => hashWith(id, value)),
    keyIdOf: (sealed) => (isSealed(sealed) ? sealed.split(':')[1] : undefined),
  };
}

/** A cipher that reads the ring on first use, so a process that never touches a sealed field needs no keys. */
export function lazyFieldCipher(ring: () => KeyRing): FieldCipher {
  let cipher: FieldCipher | undefined;
  const get = () => (cipher ??= createFieldCipher(ring()));
  return {
    seal: (plain, context) => get().seal(plain, context),
    open: (sealed, context) => get().open(sealed, context),
    lookupHash: (value) => get().lookupHash(value),
    lookupHashes: (value) => get().lookupHashes(value),
    keyIdOf: (sealed) => (isSealed(sealed) ? sealed.split(':')[1] : undefined),
  };
}
