/**
 * Named tokens as configuration (issue 17): digests only, each bad entry refused naming the
 * variable and never echoing what was given; the codec server under the same roles. No stack:
 * the codec here passes payloads through unchanged, since only its access rules are at stake.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, credentialEntry, loadConfig, tokenDigest } from '../../config';
import { createTokenAuthority, credentialsOf } from '../../client/api/auth';
import { startCodecServer, type RunningCodecServer } from '../../client/codec-server';
import { runCli } from '../../client/cli/main';
import type { Io } from '../../client/cli/command';

const token = () => randomBytes(32).toString('base64url');
const hex = (t: string) => tokenDigest(t).toString('hex');

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('named tokens in the configuration', () => {
  test('when entries are hashed, then the config holds names, roles and digests, and each token is known by its name and role', () => {
    const [a, b] = [token(), token()];
    const config = loadConfig({ LETHE_API_TOKENS: `${credentialEntry('desk', 'requester', a)}, ${credentialEntry('oncall', 'admin', b)}` });
    expect(config.api.tokens).toEqual([]);
    expect(config.api.credentials!.map((c) => [c.name, c.role, c.digest.toString('hex')])).toEqual([
      ['desk', 'requester', hex(a)],
      ['oncall', 'admin', hex(b)],
    ]);
    expect(JSON.stringify(config)).not.toContain(a);
    const identify = createTokenAuthority(credentialsOf(config.api));
    expect(identify(`Bearer ${a}`)).toEqual({ name: 'desk', role: 'requester' });
    expect(identify(`Bearer ${b}`)).toEqual({ name: 'oncall', role: 'admin' });
    expect(identify(`Bearer ${a}x`)).toBeUndefined();
    expect(identify(a)).toBeUndefined();
  });

  test('when a plaintext token of the earlier format is given, then it still works, as admin named api-token-1', () => {
    const config = loadConfig({ LETHE_API_TOKENS: 'a-long-enough-earlier-format-token' });
    expect(createTokenAuthority(credentialsOf(config.api))('Bearer a-long-enough-earlier-format-token')).toEqual({ name: 'api-token-1', role: 'admin' });
  });

  test('when the tokens come from a mounted file, then comments and blank lines are skipped and each line is read', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-tokens-'));
    const file = path.join(dir, 'tokens');
    const t = token();
    fs.writeFileSync(file, `# support desk, issued 2026-12-01\n${credentialEntry('desk', 'requester', t)}\n\n${credentialEntry('ops', 'operator', token())}  # on call\n`);
    const config = loadConfig({ LETHE_API_TOKENS_FILE: file });
    expect(config.api.credentials!.map((c) => `${c.name}:${c.role}`)).toEqual(['desk:requester', 'ops:operator']);
  });

  test.each([
    [{ LETHE_API_TOKENS: `desk:superuser:sha256:${hex('x')}` }, 'LETHE_API_TOKENS', 'role must be one of requester, operator, admin'],
    [{ LETHE_API_TOKENS: 'desk:admin:sha256:SECRET-PASTED-HERE-0123456789' }, 'LETHE_API_TOKENS', "expected the token's SHA-256 as 64 hex digits"],
    [{ LETHE_API_TOKENS: `has space:admin:sha256:${hex('x')}` }, 'LETHE_API_TOKENS', 'expected name:role:sha256'],
    [{ LETHE_API_TOKENS: `a/b:admin:sha256:${hex('x')}` }, 'LETHE_API_TOKENS', 'the name must be 1-64 letters'],
    [{ LETHE_API_TOKENS: `desk:admin:sha256:${hex('x')},desk:requester:sha256:${hex('y')}` }, 'LETHE_API_TOKENS', 'the name "desk" is used twice'],
    [{ LETHE_API_TOKENS: `one:admin:sha256:${hex('x')},two:requester:sha256:${hex('x')}` }, 'LETHE_API_TOKENS', 'has the same token as another entry'],
    [{ LETHE_API_TOKENS: 'short' }, 'LETHE_API_TOKENS', 'at least 16 characters'],
    [{ LETHE_API_TOKENS_FILE: '/nonexistent/lethe-tokens' }, 'LETHE_API_TOKENS_FILE', 'cannot read /nonexistent/lethe-tokens (ENOENT)'],
    [{ LETHE_AUDIT_RETENTION_DAYS: 'forever' }, 'LETHE_AUDIT_RETENTION_DAYS', 'expected a whole number of at least 1'],
    [{ LETHE_CODEC_AUTH: 'tokens' }, 'LETHE_CODEC_AUTH', 'expected one of origin, api-tokens'],
  ])('when %j, then the error names %s and says what is wrong', (env, variable, problem) => {
    const err = refusal(env);
    expect(err.variable).toBe(variable);
    expect(err.message.startsWith(`${variable}: `)).toBe(true);
    expect(err.message).toContain(problem);
    expect(err.message).not.toContain('SECRET-PASTED-HERE');
  });

  test('when a plaintext line is in the mounted file, then it is refused naming the file variable and the line, without echoing it', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-tokens-')), 'tokens');
    fs.writeFileSync(file, `# ok\nplain-token-pasted-into-the-file\n`);
    const err = refusal({ LETHE_API_TOKENS_FILE: file });
    expect(err.message).toBe('LETHE_API_TOKENS_FILE: line 2: expected name:role:sha256:<64 hex digits>');
  });

  test('when production mode has neither LETHE_API_TOKENS nor LETHE_API_TOKENS_FILE, then it names both', () => {
    expect(refusal({ LETHE_MODE: 'production' }).message).toBe('LETHE_API_TOKENS: is required in production mode (or LETHE_API_TOKENS_FILE)');
  });

  test('when "lethe token new" makes a token, then its printed line configures exactly that token with that name and role', async () => {
    let out = '';
    const io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true }, env: {} } as unknown as Io;
    expect(await runCli(['token', 'new', '--name', 'support-desk', '--role', 'requester', '--json'], io)).toBe(0);
    const made = JSON.parse(out) as { token: string; entry: string };
    expect(made.entry).not.toContain(made.token);
    const identify = createTokenAuthority(credentialsOf(loadConfig({ LETHE_API_TOKENS: made.entry }).api));
    expect(identify(`Bearer ${made.token}`)).toEqual({ name: 'support-desk', role: 'requester' });
    expect(await runCli(['token', 'new', '--name', 'x', '--role', 'root'], io)).toBe(2);
  });
});

describe('codec server under the API roles (LETHE_CODEC_AUTH=api-tokens)', () => {
  let codec: RunningCodecServer;
  const tokens = { requester: token(), operator: token(), admin: token() };

  beforeAll(async () => {
    const config = loadConfig({
      LETHE_API_TOKENS: Object.entries(tokens)
        .map(([role, t]) => credentialEntry(`codec-${role}`, role as 'admin', t))
        .join(','),
      LETHE_CODEC_AUTH: 'api-tokens',
    });
    expect(config.codec.auth).toBe('api-tokens');
    codec = await startCodecServer({
      codec: { encode: async (p) => p, decode: async (p) => p },
      host: '127.0.0.1',
      port: 0,
      allowedOrigins: config.codec.allowedOrigins,
      credentials: credentialsOf(config.api),
    });
  });
  afterAll(async () => codec?.close());

  const decode = (auth?: string) =>
    fetch(`${codec.url}/decode`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: '{"payloads":[]}' });

  test('when an operator or admin token decodes, then 200; a requester gets 403 naming the role and the token; no or a wrong token 401', async () => {
    expect((await decode(`Bearer ${tokens.operator}`)).status).toBe(200);
    expect((await decode(`Bearer ${tokens.admin}`)).status).toBe(200);
    const refused = await decode(`Bearer ${tokens.requester}`);
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as { message: string };
    expect(body).toMatchObject({ error: 'forbidden', requiredRole: 'operator', role: 'requester', tokenName: 'codec-requester' });
    expect(body.message).toContain('needs the operator role; the token "codec-requester" has the requester role');
    expect(JSON.stringify(body)).not.toContain(tokens.requester);
    expect((await decode()).status).toBe(401);
    expect((await decode(`Bearer ${token()}`)).status).toBe(401);
  });
});
