import fs from 'node:fs';
import path from 'node:path';
import { KeyRing, KeyRingError, parseKeyRing } from '../encryption/keys';
import { ConfigError, type Env } from './env';
import { EMBEDDED_KEYS_FILE } from './defaults';
import type { Config, Mode } from './types';

/**
 * The payload keys: LETHE_ENCRYPTION_KEYS or the file LETHE_ENCRYPTION_KEYS_FILE names; in
 * embedded mode also the key file a running embedded stack keeps in the state dir, so a worker
 * or CLI started beside `npm start` reads what it writes. Errors never quote key material.
 */
export function keyRing(env: Env, mode: Mode, stateDir: string): KeyRing | undefined {
  const inline = env.LETHE_ENCRYPTION_KEYS || undefined;
  const file = env.LETHE_ENCRYPTION_KEYS_FILE || undefined;
  const currentId = env.LETHE_ENCRYPTION_KEY_ID || undefined;
  if (inline && file) throw new ConfigError('LETHE_ENCRYPTION_KEYS', 'set either LETHE_ENCRYPTION_KEYS or LETHE_ENCRYPTION_KEYS_FILE, not both');
  const embeddedFile = path.join(stateDir, EMBEDDED_KEYS_FILE);
  let source: { variable: string; text: string } | undefined;
  if (inline) source = { variable: 'LETHE_ENCRYPTION_KEYS', text: inline };
  else if (file || (mode === 'embedded' && fs.existsSync(embeddedFile))) {
    const where = file ?? embeddedFile;
    try {
      source = { variable: 'LETHE_ENCRYPTION_KEYS_FILE', text: fs.readFileSync(where, 'utf8') };
    } catch (err) {
      throw new ConfigError('LETHE_ENCRYPTION_KEYS_FILE', `cannot read ${where} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (!source) {
    if (currentId) throw new ConfigError('LETHE_ENCRYPTION_KEY_ID', 'is set but no keys are (LETHE_ENCRYPTION_KEYS or LETHE_ENCRYPTION_KEYS_FILE)');
    // Production requires keys: assertProduction says so, after the checks that come first.
    return undefined;
  }
  let ring: KeyRing;
  try {
    ring = parseKeyRing(source.text);
  } catch (err) {
    if (err instanceof KeyRingError) throw new ConfigError(source.variable, err.message);
    throw err;
  }
  if (!currentId) return ring;
  if (!ring.get(currentId)) throw new ConfigError('LETHE_ENCRYPTION_KEY_ID', `names "${currentId}", but no configured key has that id (configured: ${ring.keyIds.join(', ')})`);
  return ring.withCurrent(currentId);
}

/**
 * A secret given inline (`NAME`) or in a mounted file (`NAME_FILE`, e.g. a Kubernetes or
 * Docker secret; surrounding whitespace trimmed). Errors name the variable, never the value.
 */
export function secretOrFile(env: Env, name: string): string | undefined {
  const inline = env[name] || undefined;
  const file = env[`${name}_FILE`] || undefined;
  if (inline && file) throw new ConfigError(name, `set either ${name} or ${name}_FILE, not both`);
  if (!file) return inline;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`${name}_FILE`, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!text) throw new ConfigError(`${name}_FILE`, `${file} is empty`);
  return text;
}

/**
 * The secrets a `<NAME>_FILE` variable may hold instead (the official postgres image's
 * convention): a connection string carrying a password or account key counts. The API tokens
 * (LETHE_API_TOKENS_FILE, one entry a line), the encryption keys (LETHE_ENCRYPTION_KEYS_FILE)
 * and TEMPORAL_API_KEY_FILE (re-read when it changes) have readers of their own.
 */
export const SECRET_FILE_VARIABLES = ['DATABASE_URL', 'AZURE_STORAGE_CONNECTION_STRING', 'AUTH0_CLIENT_SECRET', 'RECURLY_API_KEY', 'LETHE_WEBHOOK_SECRET', 'LETHE_CODEC_TOKEN', 'SMTP_URL'] as const;

/**
 * `env` with each `<NAME>_FILE` of SECRET_FILE_VARIABLES read into `NAME`, so every later check
 * (the production policy included) sees one value whichever way it came.
 */
export function withSecretFiles(env: Env): Env {
  const out: Env = { ...env };
  for (const name of SECRET_FILE_VARIABLES) {
    const value = secretOrFile(env, name);
    if (env[`${name}_FILE`]) {
      out[name] = value;
      delete out[`${name}_FILE`];
    }
  }
  return out;
}

/** The configured key ring, or the one-line error naming what to set. */
export function requireKeyRing(config: Pick<Config, 'encryption' | 'stateDir'>): KeyRing {
  if (!config.encryption.keys) {
    throw new ConfigError(
      'LETHE_ENCRYPTION_KEYS',
      `no encryption key configured: set LETHE_ENCRYPTION_KEYS or LETHE_ENCRYPTION_KEYS_FILE (the embedded stack writes one to ${config.stateDir}/encryption-keys on start)`,
    );
  }
  return config.encryption.keys;
}
