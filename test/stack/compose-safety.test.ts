/**
 * The shipped docker-compose.yml is safe by default (issue 30, item 10): read as Docker Compose
 * resolves it (`docker-compose config`), it publishes nothing but the API beyond this host, no
 * codec server without a token, no Temporal frontend without mutual TLS; modified copies show
 * the checker refuses each. And the codec server it runs refuses to start in production mode
 * without a token, and starts, asking for one, with the file's own settings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../dev/stack/net';
import { envOf, REQUIRED_ENV, requireCompose, resolvedServices, ROOT } from './compose-file';
import { exposureFindings, publishedPorts } from './compose-exposure';

const SHIPPED = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');

/** The shipped file with `edits` applied; each must match, so a change to the file cannot turn a case into a no-op. */
function modified(dir: string, name: string, edits: [string | RegExp, string][]): string {
  let text = SHIPPED;
  for (const [from, to] of edits) {
    const next = text.replace(from, to);
    if (next === text) throw new Error(`${name}: "${String(from)}" is not in docker-compose.yml any more`);
    text = next;
  }
  const file = path.join(dir, `${name}.yml`);
  fs.writeFileSync(file, text);
  return file;
}

/** lethe-codec's `expose` turned into a published port, and its authentication removed. */
const CODEC_ON_ALL_ADDRESSES: [string | RegExp, string][] = [
  [/( {4}expose:\n {6}- '8089'\n)/, "    ports:\n      - '0.0.0.0:8089:8089'\n"],
  ['LETHE_CODEC_AUTH: ${LETHE_CODEC_AUTH:-api-tokens}', 'LETHE_CODEC_AUTH: origin'],
];
const TEMPORAL_PUBLISHED = (binding: string): [string | RegExp, string][] => [[/( {4}expose:\n {6}- '7233'\n)/, `    ports:\n      - '${binding}'\n`]];

describe('docker-compose.yml is safe by default', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-compose-safety-'));
  beforeAll(requireCompose);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('when the shipped file is resolved with only the required secrets, then nothing unsafe is exposed and only the API is published beyond the host', () => {
    const services = resolvedServices(REQUIRED_ENV);
    expect(exposureFindings(services)).toEqual([]);
    // The checker read the ports: the API is there, on every address; the rest on loopback or not at all.
    const ports = publishedPorts(services);
    expect(ports.filter((p) => !p.hostIp.startsWith('127.'))).toEqual([{ service: 'lethe-api', hostIp: '0.0.0.0', published: '8080', target: '8080' }]);
    expect(ports.filter((p) => ['temporal', 'lethe-codec'].includes(p.service))).toEqual([]);
    // The codec server authenticates its callers by default, with the API's tokens.
    expect(envOf(services['lethe-codec']).LETHE_CODEC_AUTH).toBe('api-tokens');
    expect(envOf(services['temporal-ui']).TEMPORAL_CODEC_ENDPOINT).toBeUndefined();
  });

  test('when a copy publishes the codec server on 0.0.0.0:8089 without a token, then the checker names both the missing token and the address', () => {
    const services = resolvedServices(REQUIRED_ENV, modified(dir, 'codec-open', CODEC_ON_ALL_ADDRESSES));
    const findings = exposureFindings(services);
    expect(findings).toEqual([
      expect.stringMatching(/^lethe-codec publishes 0\.0\.0\.0:8089 \(container port 8089\) without a codec token: .*LETHE_CODEC_TOKEN/),
      expect.stringMatching(/^lethe-codec publishes 0\.0\.0\.0:8089 \(container port 8089\) beyond this host/),
    ]);
    // With a token it is still refused for the address, and only for that.
    const withToken = resolvedServices({ ...REQUIRED_ENV, LETHE_CODEC_TOKEN: 'a-codec-token-0123456789' }, modified(dir, 'codec-token', CODEC_ON_ALL_ADDRESSES));
    expect(exposureFindings(withToken)).toEqual([expect.stringMatching(/^lethe-codec publishes 0\.0\.0\.0:8089 .* beyond this host/)]);
    // On loopback with a token: accepted.
    const loopback = resolvedServices(
      { ...REQUIRED_ENV, LETHE_CODEC_TOKEN: 'a-codec-token-0123456789' },
      modified(dir, 'codec-loopback', [[/( {4}expose:\n {6}- '8089'\n)/, "    ports:\n      - '127.0.0.1:8089:8089'\n"]]),
    );
    expect(exposureFindings(loopback)).toEqual([]);
  });

  test('when a copy publishes Temporal 7233 without mutual TLS, then the checker refuses it on loopback too; with mutual TLS on loopback it passes', () => {
    const open = exposureFindings(resolvedServices(REQUIRED_ENV, modified(dir, 'temporal-open', TEMPORAL_PUBLISHED('7233:7233'))));
    expect(open).toEqual([expect.stringMatching(/^temporal publishes 0\.0\.0\.0:7233 .* without mutual TLS/), expect.stringMatching(/^temporal publishes 0\.0\.0\.0:7233 .* beyond this host/)]);
    const loopback = exposureFindings(resolvedServices(REQUIRED_ENV, modified(dir, 'temporal-loopback', TEMPORAL_PUBLISHED('127.0.0.1:7233:7233'))));
    expect(loopback).toEqual([expect.stringMatching(/^temporal publishes 127\.0\.0\.1:7233 .* without mutual TLS/)]);
    const tls = modified(dir, 'temporal-tls', [
      ...TEMPORAL_PUBLISHED('127.0.0.1:7233:7233'),
      [
        '      DB: postgres12\n',
        [
          '      DB: postgres12',
          '      TEMPORAL_TLS_FRONTEND_CERT: /tls/frontend.pem',
          '      TEMPORAL_TLS_FRONTEND_KEY: /tls/frontend.key',
          '      TEMPORAL_TLS_CLIENT1_CA_CERT: /tls/client-ca.pem',
          "      TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true'",
          '',
        ].join('\n'),
      ],
    ]);
    expect(exposureFindings(resolvedServices(REQUIRED_ENV, tls))).toEqual([]);
  });

  test('when an override binds the Web UI to every address, then the checker refuses it', () => {
    const findings = exposureFindings(resolvedServices({ ...REQUIRED_ENV, TEMPORAL_UI_BIND: '0.0.0.0' }));
    expect(findings).toEqual([expect.stringMatching(/^temporal-ui publishes 0\.0\.0\.0:8233 \(container port 8080\) beyond this host/)]);
  });
});

describe('the codec server in production mode', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  });

  /** codec-server-main.ts with only `env` (and PATH, HOME); resolves with its exit, or once it listens. */
  const start = (env: Record<string, string>) =>
    new Promise<{ status: number | null; stderr: string; listening: boolean; child: ChildProcess }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'client', 'codec-server-main.ts')], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      const timer = setTimeout(() => resolve({ status: null, stderr, listening: false, child }), 60_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
        if (stderr.includes('listening on')) {
          clearTimeout(timer);
          resolve({ status: null, stderr, listening: true, child });
        }
      });
      child.on('exit', (status) => {
        clearTimeout(timer);
        resolve({ status, stderr, listening: false, child });
      });
    });

  /** lethe-codec's environment as the shipped file resolves it, on a free loopback port. */
  const shippedCodecEnv = async (): Promise<Record<string, string>> => ({
    ...envOf(resolvedServices(REQUIRED_ENV)['lethe-codec']),
    LETHE_CODEC_HOST: '127.0.0.1',
    LETHE_CODEC_PORT: String(await freePort()),
  });

  test('when it starts without a token or api-tokens, then it exits 1 with one line naming LETHE_CODEC_TOKEN', async () => {
    const env: Record<string, string> = { ...(await shippedCodecEnv()), LETHE_CODEC_AUTH: 'origin', LETHE_CODEC_TOKEN: '' };
    expect(env.LETHE_MODE).toBe('production');
    const r = await start(env);
    expect(r.listening).toBe(false);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^lethe-codec: LETHE_CODEC_TOKEN: is required for the codec server in production mode \(or LETHE_CODEC_TOKEN_FILE, or LETHE_CODEC_AUTH=api-tokens\)/),
    ]);
  }, 90_000);

  test("when it starts with the shipped file's settings, then it runs and refuses a caller without a token (401) while /healthz answers", async () => {
    const env = await shippedCodecEnv();
    const r = await start(env);
    expect([r.listening, r.stderr]).toEqual([true, expect.stringContaining('an operator API token required')]);
    const url = `http://127.0.0.1:${env.LETHE_CODEC_PORT}`;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const decode = await fetch(`${url}/decode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"payloads":[]}' });
    expect(decode.status).toBe(401);
    // The file's API token (a plaintext token of the earlier format is an admin) decodes.
    const authorized = await fetch(`${url}/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${REQUIRED_ENV.LETHE_API_TOKENS}` },
      body: '{"payloads":[]}',
    });
    expect(authorized.status).toBe(200);
  }, 90_000);
});
