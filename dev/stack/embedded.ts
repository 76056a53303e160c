/**
 * The embedded stack: every real part Lethe needs, started and supervised from one place.
 * `npm start` runs it on the contract's default ports; the tests run it on free ports and
 * their own folder, so both can run at once. A component whose env variable is set (e.g.
 * DATABASE_URL) is used as given and not started.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, DEFAULTS, azuriteConnectionString, credentialEntry, embeddedDatabaseUrl, loadConfig, withSecretFiles, requireKeyRing } from '../../config';
import { createDb } from '../../stores/db';
import { migrateApplicationSchema, migrateLetheSchema } from '../../migrations';
import { getFieldCipher, type FieldCipher } from '../../encryption';
import { sealSubject } from '../../activities/deletion/subject';
import { Supervisor, ServiceSpec } from './supervisor';
import { ensureDatabase, initCluster, postgresSpec } from './postgres';
import { azuriteSpec, ensureContainers } from './azurite';
import { ensureMailpit, mailpitSpec } from './mailpit';
import { ensureTemporalCli, temporalSpec, PROJECT_ROOT } from './temporal';
import { ensureNamespace, ensureTemporalServer, serverPorts, setupTemporalDatabases, temporalModeOf, temporalServerSpec, temporalUiSpec, type TemporalMode } from './temporal-server';
import { freePort, isListening } from './net';
import { Connection } from '@temporalio/client';
import { DefaultAzureCredential } from '@azure/identity';
import { codecPortOf, codecServerSpec, encryptionEnv, setNamespaceRetention } from './privacy';
import { WORKER_NODE_FLAGS, WORKER_PROCESS_ENV } from '../../worker/process';
import { gitCommit, packageVersion } from '../../worker/deployment';

export interface StackPorts {
  temporal: number;
  temporalUi: number;
  postgres: number;
  azurite: number;
  auth0: number;
  recurly: number;
  api: number;
  /** Codec server beside the Web UI; default LETHE_CODEC_PORT or 8089. */
  codec?: number;
  /** The mail catcher's SMTP and its web page and API (Mailpit); default: free ports. */
  mailSmtp?: number;
  mailHttp?: number;
  /** The API's SMTP listener for mail to the privacy address (LETHE_INBOUND_SMTP_PORT); default: a free port. */
  inboundSmtp?: number;
}

/** Free loopback ports for a stack of its own (tests and benches run beside `npm start`). */
export async function freeStackPorts(): Promise<StackPorts> {
  return {
    temporal: await freePort(),
    temporalUi: await freePort(),
    postgres: await freePort(),
    azurite: await freePort(),
    auth0: await freePort(),
    recurly: await freePort(),
    api: await freePort(),
    mailSmtp: await freePort(),
    mailHttp: await freePort(),
    inboundSmtp: await freePort(),
  };
}

export const DEFAULT_PORTS: StackPorts = {
  temporal: 7233,
  temporalUi: DEFAULTS.temporalUiPort,
  postgres: DEFAULTS.postgresPort,
  azurite: DEFAULTS.azuritePort,
  auth0: DEFAULTS.auth0Port,
  recurly: DEFAULTS.recurlyPort,
  api: DEFAULTS.apiPort,
  mailSmtp: DEFAULTS.mailSmtpPort,
  mailHttp: DEFAULTS.mailHttpPort,
  inboundSmtp: DEFAULTS.inboundSmtpPort,
};

export interface StackOptions {
  /** Requests per second / per minute the sandboxes allow; defaults are the vendors' own. */
  sandboxRateLimits?: { auth0PerSecond?: number; recurlyPerMinute?: number };
  stateDir: string;
  ports: StackPorts;
  /** Keep data across restarts (npm start) or trade crash safety for speed (tests). */
  durable: boolean;
  headless?: boolean;
  withWorker: boolean;
  withApi: boolean;
  /**
   * `dev`: the Temporal dev server on SQLite. `server`: the production-shaped Temporal server on
   * the embedded PostgreSQL, its Web UI server, and two worker processes (temporal-server.ts).
   * Default: LETHE_TEMPORAL of `env`, else of process.env, else `dev`.
   */
  temporal?: TemporalMode;
  /**
   * The caller's environment (default process.env): set variables replace embedded
   * components, and the worker and API see them too (e.g. a test's LETHE_SWEEP_* settings).
   */
  env?: NodeJS.ProcessEnv;
  /**
   * Run the worker as the image does: compiled JavaScript from this build directory (`tsc -p
   * tsconfig.build.json`, with `workflow-bundle.js` beside it, as the Dockerfile builds them)
   * instead of TypeScript through tsx. The benches measure the worker this way (bench/e2e.ts).
   */
  compiledWorker?: string;
  log?: (line: string) => void;
}

export interface Endpoint {
  name: string;
  where: string;
  note?: string;
}

export interface RunningStack {
  supervisor: Supervisor;
  /** The environment the worker and API run with; tests load their config from it. */
  env: Record<string, string>;
  endpoints: Endpoint[];
  apiToken: string;
  /** Which Temporal the stack started (`dev` also when TEMPORAL_ADDRESS named an external one). */
  temporal: TemporalMode;
  /** The mail catcher's web page and API v1 (Mailpit); absent when SMTP_URL named a server of the caller's. */
  mailCatcherUrl?: string;
  stop(): Promise<void>;
}

const TSX = ['--import', 'tsx'];

function nodeService(name: string, entry: string, env: NodeJS.ProcessEnv, ready: (pid: number) => Promise<boolean>, extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name,
    command: process.execPath,
    args: [...TSX, path.join(PROJECT_ROOT, entry)],
    cwd: PROJECT_ROOT,
    env,
    ready,
    readyTimeoutMs: 120_000,
    ...extra,
  };
}

/**
 * A worker process, started as the image starts it (worker/process.ts): its Node flags and
 * environment, and from `compiled` (a build directory) when given, else through tsx.
 */
export function workerService(name: string, env: NodeJS.ProcessEnv, compiled: string | undefined, ready: (pid: number) => Promise<boolean>, extra: Partial<ServiceSpec> = {}): ServiceSpec {
  const spec = nodeService(name, 'worker/main.ts', { ...env, ...WORKER_PROCESS_ENV }, ready, extra);
  if (!compiled) return { ...spec, args: [...WORKER_NODE_FLAGS, ...spec.args] };
  return {
    ...spec,
    args: [...WORKER_NODE_FLAGS, path.join(compiled, 'worker', 'main.js')],
    env: { ...spec.env, LETHE_WORKFLOW_BUNDLE: path.join(compiled, 'workflow-bundle.js') },
  };
}

/** The sandboxes keep their records in memory (dev/sandboxes/README.md). */
const SANDBOX_CRASH_NOTE = 'its records lived in memory and are gone';

/**
 * How long the worker the stack runs waits at start for Temporal and PostgreSQL before it exits
 * naming the variable (config/reachability.ts); the supervisor then restarts it on its backoff.
 */
const WORKER_STARTUP_WAIT = '60s';

/** The generated API token is kept so a restart does not invalidate operators' copies. */
function apiTokenFor(stateDir: string, env: NodeJS.ProcessEnv): string {
  // A plaintext entry of the earlier format is a token; a `name:role:sha256:…` entry is not one.
  const plain = (env.LETHE_API_TOKENS ?? '')
    .split(',')
    .map((t) => t.trim())
    .find((t) => t && !/^[^:\s]*:[^:\s]*:sha256:/.test(t));
  if (plain) return plain;
  const file = path.join(stateDir, 'api-token');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const token = randomBytes(24).toString('base64url');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

export async function startStack(opts: StackOptions): Promise<RunningStack> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  // Before anything starts: a blob setting the stack cannot honour stops it in one line.
  const blob = blobSetup(env);
  fs.mkdirSync(opts.stateDir, { recursive: true });
  const sup = new Supervisor(path.join(opts.stateDir, 'logs'), log);
  const endpoints: Endpoint[] = [];
  const apiToken = apiTokenFor(opts.stateDir, env);
  let mailCatcherUrl: string | undefined;

  const childEnv: Record<string, string> = {
    LETHE_STATE_DIR: opts.stateDir,
    LETHE_API_PORT: String(opts.ports.api),
    // The processes get the generated token's digest only, as `admin` (config/tokens.ts).
    LETHE_API_TOKENS: env.LETHE_API_TOKENS || credentialEntry('embedded-admin', 'admin', apiToken),
    // Payload encryption keys (issue 6): the caller's, or a development key kept in stateDir.
    ...encryptionEnv(opts.stateDir, env),
  };
  // The Web UI decodes payloads through Lethe's codec server, which holds the keys.
  const codecPort = codecPortOf(opts.ports.codec, env);
  const codecUrl = opts.headless || env.TEMPORAL_ADDRESS ? undefined : `http://127.0.0.1:${codecPort}`;
  // Re-initialisation after a crash that needs what is only known further down.
  const afterRestart = { temporal: async (): Promise<void> => undefined };
  // The caller's env may choose; otherwise the run's (LETHE_TEMPORAL=server for a whole test
  // pass or bench, whose stacks are started with an env of their own).
  const mode = opts.temporal ?? temporalModeOf(env.LETHE_TEMPORAL === undefined ? process.env : env);
  if (mode === 'server' && env.TEMPORAL_ADDRESS) throw new ConfigError('LETHE_TEMPORAL', '"server" starts a Temporal server here, but TEMPORAL_ADDRESS names one already; unset one of them');
  // DATABASE_URL may come from DATABASE_URL_FILE (config/keys.ts): the same decisions either way.
  const databaseUrl = withSecretFiles(env).DATABASE_URL;
  if (mode === 'server' && databaseUrl) throw new ConfigError('LETHE_TEMPORAL', `"server" keeps Temporal's databases in the embedded PostgreSQL, but DATABASE_URL replaces it; unset one of them`);

  /** The production-shaped server needs PostgreSQL, so it comes after it; see temporal-server.ts. */
  const startTemporalServer = async (): Promise<void> => {
    const namespace = env.TEMPORAL_NAMESPACE || DEFAULTS.namespace;
    ensureTemporalServer();
    log('setting up Temporal databases (temporal-sql-tool)');
    await setupTemporalDatabases(opts.ports.postgres);
    log('starting Temporal server (PostgreSQL persistence and visibility)');
    const address = `127.0.0.1:${opts.ports.temporal}`;
    await sup.start({
      ...temporalServerSpec({
        dir: path.join(opts.stateDir, 'temporal-server'),
        pgPort: opts.ports.postgres,
        ports: await serverPorts(opts.ports.temporal),
        taskQueue: env.LETHE_TASK_QUEUE || DEFAULTS.taskQueue,
      }),
      // Histories, the namespace and its search attributes live in PostgreSQL; retention is re-applied all the same.
      afterRestart: () => afterRestart.temporal(),
    });
    // Registered with the retention asked for (validated by loadConfig below, which applies it again).
    await ensureNamespace(address, namespace, Number(env.LETHE_RETENTION_DAYS) || DEFAULTS.retentionDays);
    childEnv.TEMPORAL_ADDRESS = address;
    endpoints.push({ name: 'Temporal frontend', where: address, note: 'Temporal server on PostgreSQL' });
    if (!opts.headless) {
      await sup.start(temporalUiSpec({ dir: path.join(opts.stateDir, 'temporal-ui'), address, uiPort: opts.ports.temporalUi, namespace, codecEndpoint: codecUrl }));
      endpoints.push({ name: 'Temporal Web UI', where: `http://127.0.0.1:${opts.ports.temporalUi}` });
    }
  };

  try {
    // The dev server first: it is the slowest to come up (and to build on a first run). The
    // production-shaped server comes after PostgreSQL, which holds its databases.
    if (env.TEMPORAL_ADDRESS) {
      childEnv.TEMPORAL_ADDRESS = env.TEMPORAL_ADDRESS;
      endpoints.push({ name: 'Temporal', where: env.TEMPORAL_ADDRESS, note: 'external (TEMPORAL_ADDRESS)' });
    } else if (mode === 'dev') {
      ensureTemporalCli();
      log('starting Temporal dev server');
      await sup.start({
        ...temporalSpec({
          port: opts.ports.temporal,
          uiPort: opts.headless ? undefined : opts.ports.temporalUi,
          dbFile: path.join(opts.stateDir, 'temporal', 'temporal.sqlite'),
          namespace: env.TEMPORAL_NAMESPACE || DEFAULTS.namespace,
          uiCodecEndpoint: codecUrl,
        }),
        // The SQLite file keeps histories, the namespace's retention and the search attributes
        // (registered again by the flags on every start); retention is re-applied all the same,
        // in case the file was replaced while the server was down.
        afterRestart: () => afterRestart.temporal(),
      });
      childEnv.TEMPORAL_ADDRESS = `127.0.0.1:${opts.ports.temporal}`;
      endpoints.push({ name: 'Temporal frontend', where: childEnv.TEMPORAL_ADDRESS });
      if (!opts.headless) endpoints.push({ name: 'Temporal Web UI', where: `http://127.0.0.1:${opts.ports.temporalUi}` });
    }
    if (env.TEMPORAL_NAMESPACE) childEnv.TEMPORAL_NAMESPACE = env.TEMPORAL_NAMESPACE;

    if (databaseUrl) {
      // The children read the file themselves, so the secret stays out of their environment.
      if (env.DATABASE_URL_FILE) childEnv.DATABASE_URL_FILE = env.DATABASE_URL_FILE;
      else childEnv.DATABASE_URL = databaseUrl;
      endpoints.push({ name: 'PostgreSQL', where: redactUrl(databaseUrl), note: `external (${env.DATABASE_URL_FILE ? 'DATABASE_URL_FILE' : 'DATABASE_URL'})` });
    } else {
      const dataDir = path.join(opts.stateDir, 'postgres');
      log('starting PostgreSQL');
      initCluster(dataDir);
      await sup.start({
        ...postgresSpec({ dataDir, port: opts.ports.postgres, durable: opts.durable }),
        // Crash recovery replays the WAL; committed rows survive a crash of the process.
        afterRestart: () => ensureDatabase(opts.ports.postgres),
      });
      await ensureDatabase(opts.ports.postgres);
      childEnv.DATABASE_URL = embeddedDatabaseUrl(opts.ports.postgres);
      endpoints.push({ name: 'PostgreSQL', where: childEnv.DATABASE_URL });
    }
    if (mode === 'server') await startTemporalServer();
    const db = createDb(databaseUrl || childEnv.DATABASE_URL, { poolMax: 2 });
    try {
      if (env.LETHE_MODE !== 'production') await migrateApplicationSchema(db);
      // Migration 006 seals subjects an older checkout captured in plain text (a deletion paused
      // across the upgrade), with the keys the worker will use; read only if there are any.
      let fields: FieldCipher | undefined;
      await migrateLetheSchema(db, { sealSubject: (subject) => sealSubject((fields ??= getFieldCipher(() => requireKeyRing(loadConfig({ ...env, ...childEnv })))), subject) });
    } finally {
      await db.destroy();
    }

    if (blob.kind === 'connection') {
      childEnv.AZURE_STORAGE_CONNECTION_STRING = blob.connectionString;
      endpoints.push({ name: 'Azure Blob', where: 'external (AZURE_STORAGE_CONNECTION_STRING)' });
      await ensureContainers(blob.connectionString, containersOf(env));
    } else if (blob.kind === 'entra') {
      // The operator's own account, signed in with Microsoft Entra ID as the worker does
      // (worker/deps.ts blobStoreFor): Azurite has no Entra ID, so none is started, and the
      // children get the URL and no connection string (which would win over it, config/index.ts).
      childEnv.AZURE_STORAGE_ACCOUNT_URL = blob.accountUrl;
      endpoints.push({ name: 'Azure Blob', where: blob.accountUrl, note: 'external (AZURE_STORAGE_ACCOUNT_URL, Microsoft Entra ID)' });
      await ensureContainers({ accountUrl: blob.accountUrl, credential: new DefaultAzureCredential() }, containersOf(env));
    } else {
      log('starting Azurite');
      const connection = azuriteConnectionString(opts.ports.azurite);
      await sup.start({
        ...azuriteSpec({ port: opts.ports.azurite, location: opts.durable ? path.join(opts.stateDir, 'azurite') : undefined }),
        afterRestart: () => ensureContainers(connection, containersOf(env)),
        // Azurite writes its blob index to disk every 5 s (LokiJS autosave), and not at all in memory.
        crashNote: opts.durable ? 'changes of its last ~5 s may be lost (Azurite saves its index every 5 s)' : 'it ran in memory: its blobs are gone',
      });
      childEnv.AZURE_STORAGE_CONNECTION_STRING = connection;
      endpoints.push({ name: 'Azurite (Blob)', where: `http://127.0.0.1:${opts.ports.azurite}/devstoreaccount1` });
      await ensureContainers(connection, containersOf(env));
    }

    // Outbound mail (mail/transport.ts) goes to the caller's SMTP server, or to the mail catcher,
    // which keeps it for a person or a test to read and delivers none of it.
    // It may carry the server's password: from SMTP_URL_FILE, the children read the file themselves.
    const smtpUrl = withSecretFiles(env).SMTP_URL;
    if (smtpUrl) {
      if (env.SMTP_URL_FILE) childEnv.SMTP_URL_FILE = env.SMTP_URL_FILE;
      else childEnv.SMTP_URL = smtpUrl;
      endpoints.push({ name: 'Mail (SMTP)', where: redactUrl(smtpUrl), note: `external (${env.SMTP_URL_FILE ? 'SMTP_URL_FILE' : 'SMTP_URL'})` });
    } else {
      ensureMailpit();
      const smtpPort = opts.ports.mailSmtp ?? (await freePort());
      const httpPort = opts.ports.mailHttp ?? (await freePort());
      log('starting Mailpit (mail catcher)');
      await sup.start(mailpitSpec({ smtpPort, httpPort, dir: path.join(opts.stateDir, 'mailpit') }));
      childEnv.SMTP_URL = `smtp://127.0.0.1:${smtpPort}`;
      mailCatcherUrl = `http://127.0.0.1:${httpPort}`;
      // Its web page is blank (the module lacks its built assets, docs/development.md): the newest mail's own page is not.
      endpoints.push({ name: 'Mail catcher', where: mailCatcherUrl, note: `Mailpit, SMTP 127.0.0.1:${smtpPort}; newest mail: /view/latest.html` });
    }

    const auth0Id = env.AUTH0_CLIENT_ID || DEFAULTS.auth0ClientId;
    const auth0Secret = env.AUTH0_CLIENT_SECRET || DEFAULTS.auth0ClientSecret;
    if (env.AUTH0_BASE_URL) {
      childEnv.AUTH0_BASE_URL = env.AUTH0_BASE_URL;
    } else {
      const sandboxEnv = {
        ...process.env,
        AUTH0_SANDBOX_PORT: String(opts.ports.auth0),
        AUTH0_CLIENT_ID: auth0Id,
        AUTH0_CLIENT_SECRET: auth0Secret,
        ...rateEnv('AUTH0_SANDBOX_RATE_LIMIT', opts.sandboxRateLimits?.auth0PerSecond),
      };
      await sup.start(nodeService('auth0-sandbox', 'dev/sandboxes/auth0/main.ts', sandboxEnv, () => isListening(opts.ports.auth0), { crashNote: SANDBOX_CRASH_NOTE }));
      childEnv.AUTH0_BASE_URL = `http://127.0.0.1:${opts.ports.auth0}`;
    }
    Object.assign(childEnv, { AUTH0_CLIENT_ID: auth0Id, AUTH0_CLIENT_SECRET: auth0Secret });
    endpoints.push({ name: 'Auth0 sandbox', where: childEnv.AUTH0_BASE_URL, note: `client ${auth0Id}` });

    const recurlyKey = env.RECURLY_API_KEY || DEFAULTS.recurlyApiKey;
    if (env.RECURLY_BASE_URL) {
      childEnv.RECURLY_BASE_URL = env.RECURLY_BASE_URL;
    } else {
      const sandboxEnv = {
        ...process.env,
        RECURLY_SANDBOX_PORT: String(opts.ports.recurly),
        RECURLY_API_KEY: recurlyKey,
        ...rateEnv('RECURLY_SANDBOX_RATE_LIMIT', opts.sandboxRateLimits?.recurlyPerMinute),
      };
      await sup.start(nodeService('recurly-sandbox', 'dev/sandboxes/recurly/main.ts', sandboxEnv, () => isListening(opts.ports.recurly), { crashNote: SANDBOX_CRASH_NOTE }));
      childEnv.RECURLY_BASE_URL = `http://127.0.0.1:${opts.ports.recurly}`;
    }
    childEnv.RECURLY_API_KEY = recurlyKey;
    endpoints.push({ name: 'Recurly sandbox', where: childEnv.RECURLY_BASE_URL });

    // Fail now, with the variable's name, rather than in a crash-looping child.
    const config = loadConfig({ ...env, ...childEnv });
    const serviceEnv = { ...process.env, ...env, ...childEnv };

    // Issue 6: closed histories expire, and the Web UI gets its codec server.
    await setNamespaceRetention(config.temporal.address, config.temporal.namespace, config.temporal.retentionDays, config.temporal.tls);
    log(`namespace ${config.temporal.namespace} keeps closed histories ${config.temporal.retentionDays} days`);
    afterRestart.temporal = async () => {
      await setNamespaceRetention(config.temporal.address, config.temporal.namespace, config.temporal.retentionDays, config.temporal.tls);
      sup.log(`temporal: namespace ${config.temporal.namespace} retention of ${config.temporal.retentionDays} days re-applied`);
    };
    if (codecUrl) {
      await sup.start(codecServerSpec({ port: codecPort, uiPort: opts.ports.temporalUi, env: serviceEnv, callerEnv: env }));
      endpoints.push({ name: 'Codec server', where: codecUrl, note: 'decodes payloads for the Web UI' });
    }

    if (opts.withWorker) {
      // The build id is fixed when the stack starts, not when each worker process does: a worker
      // the supervisor restarts (or a test kills) after a commit would otherwise come back as a
      // new version, and the deletions pinned to the old one would wait for a worker that never
      // returns (docs/releasing.md). The image does the same with its build argument.
      const commit = serviceEnv.LETHE_BUILD_ID ? undefined : gitCommit();
      const buildIdEnv = commit ? { LETHE_BUILD_ID: `${packageVersion()}-${commit}` } : {};
      // The production shape runs two, as operators scale: tasks are shared through the task
      // queue, and either carries on while the other restarts.
      const workers = mode === 'server' ? 2 : 1;
      for (let i = 1; i <= workers; i++) {
        const name = i === 1 ? 'worker' : `worker-${i}`;
        log(`starting Lethe ${name} (bundling workflows)`);
        const metricsPort = config.worker.metricsPort ? config.worker.metricsPort + i - 1 : 0;
        const workerEnv = { LETHE_STARTUP_WAIT: WORKER_STARTUP_WAIT, ...serviceEnv, ...buildIdEnv, ...(i > 1 && metricsPort ? { LETHE_WORKER_METRICS_PORT: String(metricsPort) } : {}) };
        await sup.start(
          workerService(name, workerEnv, opts.compiledWorker, (pid) => hasWorkflowPoller(config.temporal.address, config.temporal.namespace, config.temporal.taskQueue, pid), {
            // The Auth0 SDK keeps its Management API token until it expires; a restarted sandbox no longer knows it.
            restartWith: env.AUTH0_BASE_URL ? [] : [{ name: 'auth0-sandbox', why: 'its cached Management API token was issued by the lost sandbox' }],
          }),
        );
        const label = workers > 1 ? ` ${i}` : '';
        endpoints.push({ name: `Lethe worker${label}`, where: `task queue ${config.temporal.taskQueue}` });
        if (metricsPort) endpoints.push({ name: `Worker${label} metrics`, where: `http://${config.worker.metricsHost}:${metricsPort}/metrics`, note: 'Lethe and Temporal SDK metrics' });
      }
    }
    if (opts.withApi) {
      const base = `http://127.0.0.1:${opts.ports.api}`;
      const inboundSmtp = env.LETHE_INBOUND_SMTP_PORT || String(opts.ports.inboundSmtp ?? (await freePort()));
      // Up once it answers: 200, or 503 naming a dependency that is down (it waits for it).
      await sup.start(nodeService('api', 'client/api/main.ts', { ...serviceEnv, LETHE_INBOUND_SMTP_PORT: inboundSmtp }, async () => [200, 503].includes((await fetch(`${base}/healthz`)).status)));
      endpoints.push({ name: 'Lethe API', where: base });
      endpoints.push({ name: 'Privacy page', where: `${base}/privacy`, note: 'people ask for a copy or deletion here (no token)' });
      if (inboundSmtp !== '0')
        endpoints.push({ name: 'Privacy mail', where: `smtp://127.0.0.1:${inboundSmtp}`, note: `mail to ${env.LETHE_PRIVACY_ADDRESS || DEFAULTS.privacyAddress} becomes a request` });
    }
  } catch (err) {
    await sup.stopAll();
    throw err;
  }

  return {
    supervisor: sup,
    env: childEnv,
    endpoints,
    apiToken,
    temporal: mode,
    mailCatcherUrl,
    stop: () => sup.stopAll(),
  };
}

/**
 * Where the stack's blobs live, as the worker's configuration decides it (config/index.ts): a
 * connection string wins; else AZURE_STORAGE_ACCOUNT_URL, an account signed in with Microsoft
 * Entra ID; else Azurite, started here. The URL must be https (the SDK sends tokens over HTTPS
 * only; loadConfig refuses anything else, naming the variable).
 */
export function blobSetup(env: NodeJS.ProcessEnv): { kind: 'connection'; connectionString: string } | { kind: 'entra'; accountUrl: string } | { kind: 'azurite' } {
  if (env.AZURE_STORAGE_CONNECTION_STRING) return { kind: 'connection', connectionString: env.AZURE_STORAGE_CONNECTION_STRING };
  if (env.AZURE_STORAGE_ACCOUNT_URL) {
    let https = false;
    try {
      https = new URL(env.AZURE_STORAGE_ACCOUNT_URL).protocol === 'https:';
    } catch {
      // refused below
    }
    if (!https)
      throw new ConfigError(
        'AZURE_STORAGE_ACCOUNT_URL',
        "expected the https URL of a storage account's blob endpoint (https://<account>.blob.core.windows.net); Azurite cannot sign in with Microsoft Entra ID: unset it to use the embedded Azurite",
      );
    return { kind: 'entra', accountUrl: env.AZURE_STORAGE_ACCOUNT_URL };
  }
  return { kind: 'azurite' };
}

function containersOf(env: NodeJS.ProcessEnv): string[] {
  return (env.LETHE_BLOB_CONTAINERS || 'media,exports').split(',').map((c) => c.trim());
}

function rateEnv(name: string, value: number | undefined): Record<string, string> {
  return value === undefined ? {} : { [name]: String(value) };
}

/** The worker process `pid` polls (its SDK identity is `<pid>@<host>`; a dead worker's poller stays listed a while). */
async function hasWorkflowPoller(address: string, namespace: string, taskQueue: string, pid: number): Promise<boolean> {
  const conn = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    const res = await conn.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue }, taskQueueType: 1 });
    return (res.pollers ?? []).some((p) => (p.identity ?? '').startsWith(`${pid}@`));
  } finally {
    await conn.close();
  }
}

function redactUrl(u: string): string {
  try {
    const parsed = new URL(u);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
