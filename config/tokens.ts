/**
 * Who may call the API: named tokens with a role, configured as SHA-256 digests so that the
 * environment, the mounted file and a leaked copy of either never hold a usable secret.
 *
 * Entry: `name:role:sha256:<64 hex>` (role requester, operator or admin; or `inbound`, which may
 * only post inbound mail: the token a mail provider's inbound hook holds), comma- or
 * newline-separated in LETHE_API_TOKENS, one a line in LETHE_API_TOKENS_FILE (`#` starts a
 * comment). A plain digest suffices because the tokens are generated (32 random bytes): there is
 * no dictionary to try, unlike passwords, which need a slow hash.
 *
 * Backward compatibility: an entry of LETHE_API_TOKENS that is not in this form is a plaintext
 * token of the earlier format (16+ characters). It keeps working, as `admin` named
 * `api-token-<n>` (what the operator trail called it before), and is hashed as soon as it is read.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { ConfigError, type Env } from './env';

export const ROLES = ['requester', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];
/** Every role a token may have: the ranked ones, and `inbound`, outside the ranking (it may do one thing). */
export const TOKEN_ROLES = [...ROLES, 'inbound'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

export interface ApiCredential {
  /** Who holds it: shown in the audit trail, the logs' rate-limit keys and 403 messages. */
  name: string;
  role: TokenRole;
  /** SHA-256 of the token, 32 bytes. */
  digest: Buffer;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const ENTRY = /^([^:\s]*):([^:\s]*):sha256:(\S*)$/;

/** True for `name:role:sha256:…` (well formed or not), false for a plaintext token of the earlier format. */
const looksHashed = (entry: string): boolean => entry.includes(':sha256:');

export const tokenDigest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** The configuration line for a token: what `lethe token new` prints and the embedded stack writes. */
export const credentialEntry = (name: string, role: TokenRole, token: string): string => `${name}:${role}:sha256:${tokenDigest(token).toString('hex')}`;

function parseEntry(entry: string, where: string, variable: string): ApiCredential {
  const m = ENTRY.exec(entry);
  if (!m) throw new ConfigError(variable, `${where}: expected name:role:sha256:<64 hex digits>`);
  const [, name, role, hex] = m;
  if (!NAME.test(name)) throw new ConfigError(variable, `${where}: the name must be 1-64 letters, digits, ".", "_" or "-", got "${name}"`);
  if (!(TOKEN_ROLES as readonly string[]).includes(role)) throw new ConfigError(variable, `${where} (${name}): role must be one of ${TOKEN_ROLES.join(', ')}, got "${role}"`);
  // Never echo what was given: someone may have pasted the token itself here.
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError(variable, `${where} (${name}): expected the token's SHA-256 as 64 hex digits after "sha256:"`);
  return { name, role: role as TokenRole, digest: Buffer.from(hex, 'hex') };
}

/**
 * The configured credentials, and the plaintext tokens of the earlier format (each turned into
 * an `admin` credential by the API). Errors name the variable and the entry, never a token.
 */
export function apiCredentials(env: Env): { credentials: ApiCredential[]; legacyTokens: string[] } {
  const credentials: ApiCredential[] = [];
  const legacyTokens: string[] = [];

  const inline = (env.LETHE_API_TOKENS ?? '')
    .split(/[,\n]/)
    .map((t) => t.trim())
    .filter(Boolean);
  inline.forEach((entry, i) => {
    if (looksHashed(entry)) credentials.push(parseEntry(entry, `entry ${i + 1}`, 'LETHE_API_TOKENS'));
    else if (entry.length < 16) throw new ConfigError('LETHE_API_TOKENS', 'each token must be at least 16 characters');
    else legacyTokens.push(entry);
  });

  const file = env.LETHE_API_TOKENS_FILE;
  if (file) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError('LETHE_API_TOKENS_FILE', `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    text.split('\n').forEach((raw, i) => {
      const line = raw.replace(/#.*$/, '').trim();
      // Only digests in a file: it is the form meant to be mounted and kept.
      if (line) credentials.push(parseEntry(line, `line ${i + 1}`, 'LETHE_API_TOKENS_FILE'));
    });
  }

  const names = new Set<string>();
  const digests = new Set<string>();
  for (const c of credentials) {
    const variable = file ? 'LETHE_API_TOKENS_FILE' : 'LETHE_API_TOKENS';
    if (names.has(c.name)) throw new ConfigError(variable, `the name "${c.name}" is used twice; each token needs its own name`);
    const hex = c.digest.toString('hex');
    if (digests.has(hex)) throw new ConfigError(variable, `"${c.name}" has the same token as another entry; give each holder a token of their own`);
    names.add(c.name);
    digests.add(hex);
  }
  return { credentials, legacyTokens };
}
