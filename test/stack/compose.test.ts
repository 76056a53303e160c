/**
 * docker-compose.yml describes the production stack; no engine runs here, but Debian's
 * docker-compose still parses and interpolates the file, which catches most mistakes.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;

const required = {
  AZURE_STORAGE_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=example;AccountKey=a2V5;EndpointSuffix=core.windows.net',
  AUTH0_DOMAIN: 'example.eu.auth0.com',
  AUTH0_CLIENT_ID: 'client',
  AUTH0_CLIENT_SECRET: 'secret',
  RECURLY_API_KEY: 'key',
  LETHE_ENCRYPTION_KEYS: 'k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
  LETHE_API_TOKENS: 'a-long-enough-production-token',
};

const compose = (env: Record<string, string>, args = ['config', '-q']) =>
  spawnSync('docker-compose', args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, encoding: 'utf8' });

// js-yaml ships no types here; only `safeLoad`/`load` is needed.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as { safeLoad?: (s: string) => unknown; load: (s: string) => unknown };

interface ComposeService {
  restart?: string;
  healthcheck?: { test?: unknown; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
}

/** Services that run once and exit: restarting them would run them in a loop. */
const ONE_SHOT: Record<string, string> = {
  'temporal-admin': 'registers the search attributes once Temporal is up, then exits; they live in temporal-db',
};
const RESTARTING = ['always', 'unless-stopped', 'on-failure'];

(hasCompose ? describe : describe.skip)('docker-compose.yml', () => {
  test('when every secret is given, then the file is valid', () => {
    const r = compose(required);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('when the resolved file is read, then every long-running service restarts on its own and every dependency waited for has a health check', () => {
    const r = compose(required, ['config']);
    expect(r.status).toBe(0);
    const doc = (yaml.safeLoad ?? yaml.load)(r.stdout) as { services: Record<string, ComposeService> };
    const services = doc.services;
    // The exceptions name real services (a rename must not turn them into silent gaps).
    for (const name of Object.keys(ONE_SHOT)) expect([name, name in services]).toEqual([name, true]);
    const policies = Object.entries(services).map(([name, svc]) => [name, svc.restart ?? '(none)']);
    expect(policies.filter(([name, p]) => !(name in ONE_SHOT) && !RESTARTING.includes(p))).toEqual([]);
    expect(policies.filter(([name, p]) => name in ONE_SHOT && p !== 'no')).toEqual([]);

    for (const [name, svc] of Object.entries(services)) {
      const deps: Record<string, { condition?: string }> = Array.isArray(svc.depends_on) ? Object.fromEntries(svc.depends_on.map((d) => [d, {}])) : (svc.depends_on ?? {});
      for (const [dep, { condition }] of Object.entries(deps)) {
        // A bare dependency only orders the start; a dependant must wait until it answers.
        expect([name, dep, condition]).toEqual([name, dep, dep in ONE_SHOT ? 'service_completed_successfully' : 'service_healthy']);
        if (!(dep in ONE_SHOT)) expect([dep, Boolean(services[dep].healthcheck?.test) && !services[dep].healthcheck?.disable]).toEqual([dep, true]);
      }
    }
    // Lethe's processes wait for what they cannot work without.
    for (const name of ['lethe-worker', 'lethe-api']) expect(Object.keys(services[name].depends_on ?? {})).toEqual(expect.arrayContaining(['temporal', 'app-db']));
  });

  test('when a secret is missing, then compose refuses and names it', () => {
    const env: Record<string, string> = { ...required };
    delete env.LETHE_API_TOKENS;
    const r = compose(env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('API token');
  });
});
