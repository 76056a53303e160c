/**
 * docker-compose.yml describes the production stack; no engine runs here, but Debian's
 * docker-compose still parses and interpolates the file, which catches most mistakes.
 */
import fs from 'node:fs';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { compose, envOf, REQUIRED_ENV as required, requireCompose, resolvedServices, ROOT } from './compose-file';
import { vendorQueuesDynamicConfig } from '../../dev/stack/temporal-server';
import { DEFAULTS, loadConfig } from '../../config';
import { SEARCH_ATTRIBUTES } from '../../contract';

/** Services that run once and exit: restarting them would run them in a loop. */
const ONE_SHOT: Record<string, string> = {
  'temporal-admin': 'registers the search attributes once Temporal is up, then exits; they live in temporal-db',
};
const RESTARTING = ['always', 'unless-stopped', 'on-failure'];

describe('docker-compose.yml', () => {
  // A missing docker-compose fails every test here, naming the package; it never skips.
  beforeAll(requireCompose);

  test('when every secret is given, then the file is valid', () => {
    const r = compose(required);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('when the resolved file is read, then every long-running service restarts on its own and every dependency waited for has a health check', () => {
    const services = resolvedServices(required);
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

  test("when Temporal starts from compose, then its dynamic config puts the worker's vendor queues on one partition each, as the local production shape does", () => {
    const services = resolvedServices(required);
    const temporal = services.temporal;
    const mount = (temporal.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`)).find((v) => v.includes('dynamicconfig'));
    expect(mount).toBeDefined();
    const [source, target] = mount!.split(':');
    expect(target).toBe(`/etc/temporal/${envOf(temporal).DYNAMIC_CONFIG_FILE_PATH}`);
    // The worker's task queue decides the vendor queues' names.
    const taskQueue = envOf(services['lethe-worker']).LETHE_TASK_QUEUE || DEFAULTS.taskQueue;
    expect(fs.readFileSync(path.resolve(ROOT, source), 'utf8')).toBe(vendorQueuesDynamicConfig(taskQueue));
  });

  test("when the storage account is given by URL for Microsoft Entra ID instead of a connection string, then the worker's resolved environment loads in production mode; with neither, the worker refuses naming both", () => {
    const { AZURE_STORAGE_CONNECTION_STRING: _key, ...withoutKey } = required;
    const entra = envOf(resolvedServices({ ...withoutKey, AZURE_STORAGE_ACCOUNT_URL: 'https://example.blob.core.windows.net', AZURE_CLIENT_ID: 'uami-client' })['lethe-worker']);
    expect(loadConfig(entra, { servesApi: false }).blob).toMatchObject({ connectionString: '', accountUrl: 'https://example.blob.core.windows.net', embedded: false });
    // DefaultAzureCredential reads the user-assigned identity's id from the environment.
    expect(entra.AZURE_CLIENT_ID).toBe('uami-client');
    const neither = envOf(resolvedServices(withoutKey)['lethe-worker']);
    expect(() => loadConfig(neither, { servesApi: false })).toThrow(/^AZURE_STORAGE_CONNECTION_STRING: .*AZURE_STORAGE_ACCOUNT_URL/);
  });

  test('when a secret is missing, then compose refuses and names it', () => {
    const env: Record<string, string> = { ...required };
    delete env.LETHE_API_TOKENS;
    const r = compose(env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('API token');
  });
  test('when temporal-admin registers the search attributes, then one already there with its type passes and the rest are still registered; a wrong type or a refusal fails the job', () => {
    const svc = resolvedServices(required)['temporal-admin'];
    expect(svc.entrypoint).toEqual(['sh', '-c']);
    // `config` prints the file's `$$` escapes as they are; compose passes `$` to the container.
    const script = [svc.command ?? []].flat().join(' ').replace(/\$\$/g, '$');
    // A stand-in for the admin image's `temporal` CLI: it logs each call and answers as told.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-admin-'));
    try {
      const log = path.join(dir, 'calls');
      fs.writeFileSync(
        path.join(dir, 'temporal'),
        [
          '#!/bin/sh',
          'echo "$*" >> "$FAKE_LOG"',
          'case "$FAKE_MODE" in',
          '  ok) echo "Search attributes have been added" ;;',
          '  exists) echo "Error: unable to add search attributes: Search attribute already exists." >&2; exit 1 ;;',
          '  different) echo "Error: search attribute LetheStatus already exists and has different type Text" >&2; exit 1 ;;',
          '  *) echo "Error: failed reaching server: connection refused" >&2; exit 1 ;;',
          'esac',
        ].join('\n'),
        { mode: 0o755 },
      );
      const run = (mode: string) => {
        fs.rmSync(log, { force: true });
        const r = spawnSync('sh', ['-c', script], { env: { PATH: `${dir}:${process.env.PATH}`, FAKE_LOG: log, FAKE_MODE: mode }, encoding: 'utf8' });
        const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
        return { status: r.status, calls: calls.length, stderr: r.stderr };
      };
      const all = Object.keys(SEARCH_ATTRIBUTES).length;
      expect(run('ok')).toMatchObject({ status: 0, calls: all });
      expect(run('exists')).toMatchObject({ status: 0, calls: all });
      expect(run('different')).toMatchObject({ status: 1, calls: 1, stderr: expect.stringContaining('different type') });
      expect(run('refused')).toMatchObject({ status: 1, calls: 1, stderr: expect.stringContaining('connection refused') });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
