/**
 * Issue 19: Lethe against a Temporal server that requires client certificates. The production
 * shape's server (v1.29.1 on a PostgreSQL of this file's own) runs with mutual TLS on its
 * frontend, certificates made here with openssl. The worker (createWorker, as worker/main.ts
 * runs it), the API's client (connectTemporal) and the CLI (`lethe schedule`) connect with
 * TEMPORAL_TLS_CA / _CERT / _KEY and do real work; without a client certificate, with a wrong
 * CA, with a client certificate the server does not trust, or in plain text, each stops with
 * one line naming the variable to set.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { ConfigError, DEFAULTS, loadConfig } from '../../config';
import { connectTemporal } from '../../client/temporal';
import { createIntake } from '../../client/intake';
import { runCli } from '../../client/cli/main';
import { createWorker } from '../../worker/worker';
import { ensureSweepSchedule } from '../../worker/schedule';
import { freePort } from '../../dev/stack/net';
import { initCluster, postgresSpec } from '../../dev/stack/postgres';
import { Supervisor } from '../../dev/stack/supervisor';
import { ensureNamespace, ensureTemporalServer, serverPorts, setupTemporalDatabases, temporalServerSpec } from '../../dev/stack/temporal-server';
import { seedAccount } from '../../dev/seed/fixtures';
import type { ActivityDeps } from '../../activities';
import { startWorld, type TestWorld } from '../support/stack';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { makeCerts, type TestCerts } from './certs';

const ROOT = path.resolve(__dirname, '..', '..');
jest.setTimeout(240_000);

let tmp: string;
let certs: TestCerts;
let sup: Supervisor;
let address: string;

/** The variables a deployment sets for mutual TLS, over the test stack's environment. */
const tlsEnv = (over: Record<string, string | undefined> = {}): Record<string, string> => {
  const env: Record<string, string | undefined> = {
    ...process.env,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TLS_CA: certs.ca,
    TEMPORAL_TLS_CERT: certs.clientCert,
    TEMPORAL_TLS_KEY: certs.clientKey,
    ...over,
  };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
};

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }), text: () => chunks.join('') };
}

async function cli(env: Record<string, string>, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = sink();
  const err = sink();
  const code = await runCli(argv, { stdout: out.stream as unknown as NodeJS.WriteStream, stderr: err.stream as unknown as NodeJS.WriteStream, env });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** What each of the three makes of `env`: the error's first line, or "connected". */
async function outcomes(env: Record<string, string>): Promise<{ worker: string; api: string; cli: string }> {
  const config = loadConfig(env, { servesApi: false });
  const failure = async (p: Promise<unknown>): Promise<string> =>
    p.then(
      async (v) => {
        const c = (v as { connection?: { close(): Promise<void> } }).connection;
        await c?.close();
        return 'connected';
      },
      (e: Error) => `${e instanceof ConfigError ? '' : 'not a ConfigError: '}${e.message}`,
    );
  // The connection comes first in createWorker: its dependencies are never reached.
  const worker = await failure(createWorker(config, {} as ActivityDeps));
  const api = await failure(connectTemporal(config));
  const r = await cli(env, 'schedule', 'describe');
  return { worker, api, cli: `${r.code} ${r.stderr.trim()}` };
}

beforeAll(async () => {
  // Built by scripts/test.sh (install-tools.sh server); a no-op when present.
  ensureTemporalServer();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-secure-'));
  // The embedded PostgreSQL runs as nobody under root: its cluster must be reachable.
  fs.chmodSync(tmp, 0o755);
  certs = makeCerts(path.join(tmp, 'certs'));
  sup = new Supervisor(path.join(tmp, 'logs'), () => undefined);
  const pgPort = await freePort();
  const dataDir = path.join(tmp, 'postgres');
  const { bin } = initCluster(dataDir, { clusterHome: path.join(tmp, 'clusters') });
  await sup.start(postgresSpec({ dataDir, port: pgPort, durable: false, bin }));
  await setupTemporalDatabases(pgPort);
  const ports = await serverPorts(await freePort());
  address = `127.0.0.1:${ports.frontend}`;
  const admin = { tls: { serverRootCACertificate: fs.readFileSync(certs.ca), clientCertPair: { crt: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey) } } };
  const tls = { certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.ca, internalCertFile: certs.clientCert, internalKeyFile: certs.clientKey, serverName: 'localhost' };
  await sup.start(temporalServerSpec({ dir: path.join(tmp, 'temporal'), pgPort, ports, taskQueue: DEFAULTS.taskQueue, tls, connection: admin }));
  await ensureNamespace(address, 'default', 1, admin);
}, 600_000);

afterAll(async () => {
  await sup?.stopAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('Temporal with mutual TLS required', () => {
  let world: TestWorld | undefined;
  afterAll(async () => world?.close());

  test('when the worker, the API client and the CLI are given the CA, certificate and key, then a deletion runs to its receipt and the schedule is read', async () => {
    world = await startWorld({ env: tlsEnv() });
    expect(world.config.temporal.tls).toMatchObject({ enabled: true, caFile: certs.ca, certFile: certs.clientCert });
    // The API's client, as client/api/main.ts makes it, starts the deletion; the worker runs it.
    const api = await connectTemporal(world.config);
    try {
      const seed = seedDepsOf(world);
      const account = await seedAccount(seed, { media: 3, snapshots: 1 }, rngFor(__filename));
      const deletions = createIntake({ config: world.config, db: world.deps.db, temporal: api });
      const receipt = await world.withWorker(async () => {
        const started = await deletions.start({ accountId: account.id, channel: 'api', requestedBy: 'secure-test' });
        return api.workflow.getHandle(started.workflowId).result();
      });
      expect(receipt.accountId).toBe(account.id);
      expect(receipt.verification.clean).toBe(true);
      // The CLI talks to Temporal itself for `schedule`: created here as a worker would.
      const config = { ...world.config, sweep: { ...world.config.sweep, schedule: 'on' as const, scheduleId: `secure-${process.pid}` } };
      await ensureSweepSchedule(config, api, () => true);
      const r = await cli(tlsEnv({ LETHE_SWEEP_SCHEDULE_ID: config.sweep.scheduleId }), 'schedule', 'describe', '--json');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ scheduleId: config.sweep.scheduleId, paused: false });
    } finally {
      await api.connection.close();
    }
  });

  test('when no client certificate is configured, then the worker, the API and the CLI each stop naming TEMPORAL_TLS_CERT', async () => {
    const o = await outcomes(tlsEnv({ TEMPORAL_TLS_CERT: undefined, TEMPORAL_TLS_KEY: undefined }));
    expect(o.worker).toMatch(/^TEMPORAL_TLS_CERT: Temporal at 127\.0\.0\.1:\d+ requires a client certificate .*set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY$/);
    expect(o.api).toMatch(/^TEMPORAL_TLS_CERT: Temporal at 127\.0\.0\.1:\d+ requires a client certificate/);
    expect(o.cli).toMatch(/^2 lethe schedule: TEMPORAL_TLS_CERT: Temporal at 127\.0\.0\.1:\d+ requires a client certificate[^\n]*$/);
  });

  test('when TEMPORAL_TLS_CA names a CA that did not sign the server certificate, then each stops naming TEMPORAL_TLS_CA', async () => {
    const o = await outcomes(tlsEnv({ TEMPORAL_TLS_CA: certs.otherCa }));
    for (const line of [o.worker, o.api, o.cli.replace(/^2 lethe schedule: /, '')]) {
      expect(line).toMatch(/^TEMPORAL_TLS_CA: the certificate of Temporal at 127\.0\.0\.1:\d+ is not signed by the CA in TEMPORAL_TLS_CA \(.*other-ca\.crt\)/);
    }
    expect(o.cli.startsWith('2 ')).toBe(true);
  });

  test('when the client certificate is signed by a CA the server does not trust, then each stops naming TEMPORAL_TLS_CERT', async () => {
    const o = await outcomes(tlsEnv({ TEMPORAL_TLS_CERT: certs.strangerCert, TEMPORAL_TLS_KEY: certs.strangerKey }));
    for (const line of [o.worker, o.api, o.cli.replace(/^2 lethe schedule: /, '')]) {
      expect(line).toMatch(/^TEMPORAL_TLS_CERT: Temporal at 127\.0\.0\.1:\d+ refused the client certificate in TEMPORAL_TLS_CERT/);
    }
  });

  test('when nothing about TLS is configured, then each stops saying the server requires TLS and which variables to set', async () => {
    const o = await outcomes(tlsEnv({ TEMPORAL_TLS_CA: undefined, TEMPORAL_TLS_CERT: undefined, TEMPORAL_TLS_KEY: undefined }));
    for (const line of [o.worker, o.api, o.cli.replace(/^2 lethe schedule: /, '')]) {
      expect(line).toMatch(/^TEMPORAL_TLS_CA: Temporal at 127\.0\.0\.1:\d+ requires TLS; set TEMPORAL_TLS_CA .*TEMPORAL_TLS_CERT \/ TEMPORAL_TLS_KEY/);
    }
  });

  test('when the worker and API processes start with a wrong CA, then each exits 1 with that one line', () => {
    const env = tlsEnv({ TEMPORAL_TLS_CA: certs.otherCa, LETHE_API_PORT: '0', LETHE_WORKER_METRICS_PORT: '0', LETHE_STARTUP_WAIT: '0' });
    for (const [entry, name] of [
      ['worker/main.ts', 'lethe-worker'],
      ['client/api/main.ts', 'lethe-api'],
    ]) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', entry], { cwd: ROOT, env, encoding: 'utf8', timeout: 90_000 });
      const lines = r.stderr.trim().split('\n');
      expect({ entry, status: r.status, last: lines.at(-1) }).toEqual({
        entry,
        status: 1,
        last: expect.stringMatching(new RegExp(`^${name}: TEMPORAL_TLS_CA: the certificate of Temporal at 127\\.0\\.0\\.1:\\d+ is not signed by`)),
      });
    }
  });
});
