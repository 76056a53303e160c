/**
 * Issue 19: every secret may come from a mounted file, `<NAME>_FILE` (the official postgres
 * image's convention), never both at once, and no error quotes a secret. One row per secret
 * variable: the value read from its file (the editor's trailing newline trimmed), both set
 * refused naming both, a missing file refused naming the _FILE variable.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, credentialEntry, loadConfig, SECRET_FILE_VARIABLES, temporalConnectionOptions, type Config } from '../../config';
import { apiTarget } from '../../client/cli/api';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-secrets-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A file holding `text` as an editor saves it (with a trailing newline). */
function secretFile(text: string): string {
  const file = path.join(dir, randomBytes(6).toString('hex'));
  fs.writeFileSync(file, `${text}\n`, { mode: 0o600 });
  return file;
}

const ENCRYPTION_KEYS = `k1:${randomBytes(32).toString('base64')}`;
const TOKEN = 'cli-token-0123456789abcdef';

interface Row {
  name: string;
  value: string;
  /** What the process makes of the variable: the value it uses. */
  read: (env: Record<string, string>) => unknown;
  expected?: unknown;
  /** Both at once: refused (every secret but the API token list, whose file adds entries). */
  exclusive?: boolean;
}

const cfg = (env: Record<string, string>): Config => loadConfig({ LETHE_STATE_DIR: dir, ...env });

const ROWS: Row[] = [
  { name: 'DATABASE_URL', value: 'postgres://app:s3cret-db-pw@db.example:5432/app', read: (e) => cfg(e).database.url },
  {
    name: 'AZURE_STORAGE_CONNECTION_STRING',
    value: 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0LWtleQ==;EndpointSuffix=core.windows.net',
    read: (e) => cfg(e).blob.connectionString,
  },
  { name: 'AUTH0_CLIENT_SECRET', value: 'auth0-secret-from-file', read: (e) => cfg(e).auth0.clientSecret },
  { name: 'RECURLY_API_KEY', value: 'recurly-key-from-file', read: (e) => cfg(e).recurly.apiKey },
  { name: 'LETHE_WEBHOOK_SECRET', value: 'webhook-secret-0123456789', read: (e) => cfg(e).deletion.webhookSecret },
  { name: 'LETHE_CODEC_TOKEN', value: 'codec-token-0123456789', read: (e) => cfg(e).codec.token },
  { name: 'SMTP_URL', value: 'smtps://lethe:s3cret-mail-pw@mail.example.com:465', read: (e) => cfg(e).mail.smtpUrl },
  { name: 'TEMPORAL_API_KEY', value: 'temporal-api-key-from-file', read: (e) => temporalConnectionOptions(cfg(e).temporal).apiKey },
  { name: 'LETHE_ENCRYPTION_KEYS', value: ENCRYPTION_KEYS, read: (e) => cfg(e).encryption.keys?.keyIds, expected: ['k1'] },
  {
    name: 'LETHE_API_TOKENS',
    value: credentialEntry('ops', 'operator', TOKEN),
    read: (e) => cfg(e).api.credentials?.map((c) => `${c.name}:${c.role}`),
    expected: ['ops:operator'],
    exclusive: false,
  },
  { name: 'LETHE_API_TOKEN', value: TOKEN, read: (e) => apiTarget({}, e).token },
];

function refusal(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a refusal, got none');
}

describe('secrets from files', () => {
  test('every variable the configuration reads a secret file for has a row here', () => {
    const covered = ROWS.map((r) => r.name);
    for (const name of SECRET_FILE_VARIABLES) expect(covered).toContain(name);
  });

  describe.each(ROWS)('$name', (row) => {
    test(`when ${row.name}_FILE names a file, then its content is used, without the trailing newline`, () => {
      expect(row.read({ [`${row.name}_FILE`]: secretFile(row.value) })).toEqual(row.expected ?? row.value);
      // And the inline variable still works the same way.
      expect(row.read({ [row.name]: row.value })).toEqual(row.expected ?? row.value);
    });

    if (row.exclusive !== false) {
      test(`when both ${row.name} and ${row.name}_FILE are set, then it is refused naming both`, () => {
        const err = refusal(() => row.read({ [row.name]: row.value, [`${row.name}_FILE`]: secretFile(row.value) }));
        expect(err.message).toBe(`${row.name}: set either ${row.name} or ${row.name}_FILE, not both`);
      });
    }

    test(`when ${row.name}_FILE names a missing file, then it is refused naming ${row.name}_FILE`, () => {
      const err = refusal(() => row.read({ [`${row.name}_FILE`]: path.join(dir, 'missing') }));
      expect(err.message).toBe(`${row.name}_FILE: cannot read ${path.join(dir, 'missing')} (ENOENT)`);
    });
  });

  test('when production reads every required secret from files, then it starts; an empty file is refused', () => {
    const env = {
      LETHE_MODE: 'production',
      LETHE_API_TOKENS_FILE: secretFile(credentialEntry('ops', 'admin', TOKEN)),
      DATABASE_URL_FILE: secretFile('postgres://app:s3cret-db-pw@db.example:5432/app?sslmode=verify-full'),
      AZURE_STORAGE_CONNECTION_STRING_FILE: secretFile(ROWS[1].value),
      AUTH0_DOMAIN: 'tenant.eu.auth0.com',
      AUTH0_CLIENT_ID: 'lethe',
      AUTH0_CLIENT_SECRET_FILE: secretFile('auth0-secret'),
      RECURLY_API_KEY_FILE: secretFile('recurly-key'),
      LETHE_ENCRYPTION_KEYS_FILE: secretFile(ENCRYPTION_KEYS),
      SMTP_URL: 'smtps://mail.example.com:465',
      LETHE_PUBLIC_URL: 'https://privacy.example.com',
    };
    const config = loadConfig(env);
    expect([config.database.url, config.auth0.clientSecret, config.recurly.apiKey]).toEqual(['postgres://app:s3cret-db-pw@db.example:5432/app?sslmode=verify-full', 'auth0-secret', 'recurly-key']);
    expect(refusal(() => loadConfig({ ...env, RECURLY_API_KEY_FILE: secretFile('') })).message).toMatch(/^RECURLY_API_KEY_FILE: .* is empty$/);
  });

  test('when a secret read from a file is malformed, then the error names the variable and never quotes the secret', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ DATABASE_URL_FILE: secretFile('s3cret-db-pw is not a url') }, /^DATABASE_URL: is not a valid URL$/],
      [{ DATABASE_URL_FILE: secretFile('mysql://app:s3cret-db-pw@db/app') }, /^DATABASE_URL: expected a postgres: or postgresql: URL, got mysql:$/],
      [{ AZURE_STORAGE_CONNECTION_STRING_FILE: secretFile('s3cret-db-pw') }, /^AZURE_STORAGE_CONNECTION_STRING: is not an Azure Storage connection string$/],
      [{ LETHE_CODEC_TOKEN_FILE: secretFile('s3cret') }, /^LETHE_CODEC_TOKEN: must be at least 16 characters$/],
      [{ LETHE_WEBHOOK_SECRET_FILE: secretFile('s3cret') }, /^LETHE_WEBHOOK_SECRET: must be at least 16 characters/],
    ];
    for (const [env, message] of cases) {
      const err = refusal(() => cfg(env));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(message);
      expect(err.message).not.toMatch(/s3cret/);
    }
  });
});
