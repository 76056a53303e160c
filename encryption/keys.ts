/**
 * The AES-256 keys that encrypt Temporal payloads. A ring holds every key that may still be
 * needed to read a history (histories outlive a rotation by up to the namespace's retention)
 * and names one current key that encrypts everything new.
 *
 * Format, in LETHE_ENCRYPTION_KEYS or the file LETHE_ENCRYPTION_KEYS_FILE names:
 *   keyid:base64key[,keyid:base64key...]   (commas or newlines; `#` starts a comment line)
 * The first key is current unless LETHE_ENCRYPTION_KEY_ID names another.
 *
 * Key material never leaves this module in readable form: the ring serializes and inspects
 * as its key ids only, and no error message repeats an entry.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

export const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A malformed key list; the caller names the variable it came from. */
export class KeyRingError extends Error {
  readonly type = 'key_ring_invalid';
  constructor(problem: string) {
    super(problem);
    this.name = 'KeyRingError';
  }
}

export class KeyRing {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly currentKeyId: string;

  constructor(keys: ReadonlyMap<string, Buffer>, currentKeyId: string) {
    if (keys.size === 0) throw new KeyRingError('holds no key');
    if (!keys.has(currentKeyId)) throw new KeyRingError(`names "${currentKeyId}" as current, but no key has that id`);
    this.#keys = keys;
    this.currentKeyId = currentKeyId;
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  current(): { id: string; key: Buffer } {
    return { id: this.currentKeyId, key: this.#keys.get(this.currentKeyId)! };
  }

  get(id: string): Buffer | undefined {
    return this.#keys.get(id);
  }

  /** The same keys with another current one: how a rotation is rolled out. */
  withCurrent(id: string): KeyRing {
    return new KeyRing(this.#keys, id);
  }

  toJSON(): { currentKeyId: string; keyIds: string[] } {
    return { currentKeyId: this.currentKeyId, keyIds: this.keyIds };
  }

  [inspect.custom](): string {
    return `KeyRing(current: ${this.currentKeyId}, ids: ${this.keyIds.join(', ')})`;
  }
}

/** Parses a key list; `currentKeyId` (LETHE_ENCRYPTION_KEY_ID) overrides "the first is current". */
export function parseKeyRing(text: string, currentKeyId?: string): KeyRing {
  const entries = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) throw new KeyRingError('holds no key; expected keyid:base64key[,keyid:base64key...]');
  const keys = new Map<string, Buffer>();
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon).trim() : '';
    const encoded = colon > 0 ? entry.slice(colon + 1).trim() : '';
    // Entry numbers, never the entry itself: it holds the key.
    if (!KEY_ID.test(id)) throw new KeyRingError(`entry ${i + 1} must be keyid:base64key with a key id of letters, digits, '.', '_' or '-' (at most 64)`);
    if (keys.has(id)) throw new KeyRingError(`key id "${id}" appears twice`);
    const key = BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) throw new KeyRingError(`key "${id}" must be ${KEY_BYTES} bytes of base64 (AES-256), e.g. from: openssl rand -base64 32`);
    keys.set(id, key);
  });
  return new KeyRing(keys, currentKeyId || entries[0].slice(0, entries[0].indexOf(':')).trim());
}

/** A fresh key entry for a key list: what the embedded stack writes on its first start. */
export function generateKeyEntry(idPrefix = 'key'): string {
  const id = `${idPrefix}-${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`;
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}
