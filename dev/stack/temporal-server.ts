/**
 * The production-shaped Temporal (LETHE_TEMPORAL=server): what docker-compose.yml runs, built
 * from the same releases as its images and run beside the embedded PostgreSQL instead of in
 * containers. The Temporal server (temporalio/auto-setup) on PostgreSQL with SQL visibility,
 * in databases of its own whose schema Temporal's own SQL tool sets up; the default namespace
 * with compose's retention and Lethe's search attributes (temporal-admin's job); the Web UI
 * server (temporalio/ui) configured by the same variables compose gives it.
 *
 * The dev server (temporal.ts) stays the default: it starts in seconds on SQLite, which caps
 * near a thousand open workflows (said, not measured here) and is not what operators deploy.
 * This one held 10,000 open deletions at once (bench/open.ts, bench/RESULTS.md section 4).
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client as PgClient } from 'pg';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal as proto } from '@temporalio/proto';
import { ConfigError } from '../../config';
import { SEARCH_ATTRIBUTES } from '../../contract';
import type { ServiceSpec } from './supervisor';
import { PG_PASSWORD, PG_USER } from './postgres';
import { waitFor } from './net';
import { PRIORITY_MATCHER, PROJECT_ROOT, SINGLE_PARTITION } from './temporal';
import { VENDOR_QUEUES, vendorTaskQueue } from '../../workflows/queues';

const run = promisify(execFile);

export type TemporalMode = 'dev' | 'server';

/** LETHE_TEMPORAL: `dev` (default, `temporal server start-dev`) or `server` (this file). */
export function temporalModeOf(env: NodeJS.ProcessEnv): TemporalMode {
  const raw = env.LETHE_TEMPORAL ?? '';
  if (raw === '' || raw === 'dev') return 'dev';
  if (raw === 'server') return 'server';
  throw new ConfigError('LETHE_TEMPORAL', `must be "dev" (the Temporal dev server, default) or "server" (Temporal server on PostgreSQL), got "${raw}"`);
}

const TOOLS_BIN = path.join(PROJECT_ROOT, '.tools', 'bin');
export const TEMPORAL_SERVER_BIN = path.join(TOOLS_BIN, 'temporal-server');
export const TEMPORAL_SQL_TOOL_BIN = path.join(TOOLS_BIN, 'temporal-sql-tool');
export const TEMPORAL_UI_SERVER_BIN = path.join(TOOLS_BIN, 'temporal-ui-server');
/** The UI image's env-driven config template, copied from the ui-server module by install-tools.sh. */
const UI_CONFIG_TEMPLATE = path.join(PROJECT_ROOT, '.tools', 'temporal-ui', 'config', 'docker.yaml');
/** The server images' dynamic config (/etc/temporal/config/dynamicconfig/docker.yaml), from the server module. */
const SERVER_DYNAMIC_CONFIG = path.join(PROJECT_ROOT, '.tools', 'temporal-server', 'dynamicconfig', 'docker.yaml');

/**
 * What docker-compose.yml's Temporal services set up, written once for the local mode to follow.
 * test/stack/compose-agreement.test.ts reads docker-compose.yml and the running local mode and
 * holds both to these values, so neither can drift from what the tests run on.
 */
export const PRODUCTION_TEMPORAL = {
  /** temporalio/auto-setup and temporalio/admin-tools image tag; go.temporal.io/server version. */
  serverVersion: '1.29.1',
  /** temporalio/ui image tag; github.com/temporalio/ui-server/v2 version. */
  uiVersion: '2.42.1',
  /** auto-setup's DB: the SQL plugin, for persistence and visibility alike (no ENABLE_ES). */
  plugin: 'postgres12',
  /** auto-setup's POSTGRES_USER, and POSTGRES_PWD's default. */
  user: 'temporal',
  password: 'temporal',
  /** auto-setup's DBNAME and VISIBILITY_DBNAME defaults (compose sets neither). */
  database: 'temporal',
  visibilityDatabase: 'temporal_visibility',
  /** auto-setup's NUM_HISTORY_SHARDS default: fixed for a cluster's life. */
  numHistoryShards: 4,
  /** auto-setup's SQL_MAX_CONNS / SQL_VIS_MAX_CONNS defaults. */
  maxConns: 20,
  visibilityMaxConns: 10,
} as const;

/** Builds the server, its schema tool and the UI server on first use (slow, shows progress). */
export function ensureTemporalServer(): void {
  execFileSync('bash', [path.join(PROJECT_ROOT, 'scripts', 'install-tools.sh'), 'server'], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (const bin of [TEMPORAL_SERVER_BIN, TEMPORAL_SQL_TOOL_BIN, TEMPORAL_UI_SERVER_BIN, UI_CONFIG_TEMPLATE, SERVER_DYNAMIC_CONFIG])
    if (!fs.existsSync(bin)) throw new Error(`temporal server: ${bin} missing after scripts/install-tools.sh server; run it by hand to see why`);
}

/**
 * Temporal's own role and databases on the embedded PostgreSQL, with the schema set up and
 * migrated by temporal-sql-tool from the schema embedded in it (schema/postgresql/v12/ of the
 * module): what auto-setup does at every container start. Idempotent, so every start runs it
 * and an upgraded server migrates its schema.
 */
export async function setupTemporalDatabases(pgPort: number): Promise<void> {
  const P = PRODUCTION_TEMPORAL;
  const admin = new PgClient({ host: '127.0.0.1', port: pgPort, user: PG_USER, password: PG_PASSWORD, database: 'postgres' });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_roles where rolname = $1', [P.user]);
    // Literals, not parameters: PostgreSQL takes none in utility statements; both are constants.
    if (!rowCount) await admin.query(`create role "${P.user}" login createdb password '${P.password}'`);
  } finally {
    await admin.end();
  }
  const tool = async (db: string, ...args: string[]): Promise<void> => {
    const common = ['--plugin', P.plugin, '--endpoint', '127.0.0.1', '--port', String(pgPort), '--user', P.user, '--password', P.password, '--database', db];
    try {
      await run(TEMPORAL_SQL_TOOL_BIN, [...common, ...args], { maxBuffer: 16 * 2 ** 20 });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(`temporal-sql-tool ${args[0]} on database ${db} failed: ${(e.stderr || e.stdout || e.message).trim().split('\n').slice(-3).join(' | ')}`);
    }
  };
  for (const [db, schema] of [
    [P.database, 'postgresql/v12/temporal'],
    [P.visibilityDatabase, 'postgresql/v12/visibility'],
  ] as const) {
    const owner = new PgClient({ host: '127.0.0.1', port: pgPort, user: P.user, password: P.password, database: 'postgres' });
    await owner.connect();
    let exists: boolean;
    try {
      exists = Boolean((await owner.query('select 1 from pg_database where datname = $1', [db])).rowCount);
    } finally {
      await owner.end();
    }
    if (!exists) {
      await tool(db, 'create-database');
      // Version 0.0 holds only the bookkeeping tables; update-schema then applies every
      // versioned step, exactly as auto-setup does.
      await tool(db, 'setup-schema', '--version', '0.0');
    }
    await tool(db, 'update-schema', '--schema-name', schema);
  }
}

export interface ServerPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

/**
 * The frontend's port is the stack's; the other services' (internal) ports are free ones below
 * 32768: the server records each service's membership port in cluster_membership as a
 * PostgreSQL smallint, and the kernel's ephemeral ports (what port 0 gives) lie above it.
 */
export async function serverPorts(frontend: number): Promise<ServerPorts> {
  const taken = new Set<number>([frontend]);
  const pick = async (): Promise<number> => {
    for (let i = 0; i < 200; i++) {
      const port = 20_000 + Math.floor(Math.random() * 12_000);
      if (!taken.has(port) && (await canBind(port))) {
        taken.add(port);
        return port;
      }
    }
    throw new Error('temporal server: no free loopback port between 20000 and 32000');
  };
  return {
    frontend,
    frontendHttp: await pick(),
    frontendMembership: await pick(),
    history: await pick(),
    historyMembership: await pick(),
    matching: await pick(),
    matchingMembership: await pick(),
    worker: await pick(),
    workerMembership: await pick(),
  };
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * Mutual TLS on the frontend (tests of Lethe's TLS options; compose and `npm start` stay plain
 * on loopback). Keys of go.temporal.io/server v1.29.1 common/config/config.go: RootTLS
 * `frontend` (GroupTLS: `server` ServerTLS with requireClientAuth and clientCaFiles, `client`
 * ClientTLS) and `systemWorker` (WorkerTLS): with a systemWorker certificate, every client of
 * the frontend inside the server (the system workers, the scheduler) uses it
 * (common/rpc/encryption/local_store_tls_provider.go, GetFrontendClientConfig). Internode
 * traffic (history, matching) stays plain on loopback.
 */
export interface ServerTls {
  /** The frontend's certificate and key: issued for `serverName` and 127.0.0.1. */
  certFile: string;
  keyFile: string;
  /** The CA that signed the server's certificate and the clients' (one CA for both here). */
  caFile: string;
  /** A client certificate the server's own workers present to the frontend. */
  internalCertFile: string;
  internalKeyFile: string;
  /** The name in the server's certificate, checked by the server's own clients. */
  serverName: string;
}

/** The `global.tls` section for ServerTls; certificates re-read from their files every minute (refreshInterval). */
export function serverTlsConfig(tls: ServerTls): Record<string, unknown> {
  const client = { serverName: tls.serverName, rootCaFiles: [tls.caFile] };
  return {
    refreshInterval: '1m',
    frontend: { server: { certFile: tls.certFile, keyFile: tls.keyFile, requireClientAuth: true, clientCaFiles: [tls.caFile] }, client },
    systemWorker: { certFile: tls.internalCertFile, keyFile: tls.internalKeyFile, client },
  };
}

/**
 * The server's configuration: what auto-setup renders from its config template for DB=postgres12
 * with compose's variables, on loopback ports. JSON is YAML, so the server reads it as written.
 */
export function serverConfig(opts: { pgPort: number; ports: ServerPorts; dynamicConfigFile: string; logLevel?: string; tls?: ServerTls }): Record<string, unknown> {
  const P = PRODUCTION_TEMPORAL;
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: P.plugin,
      databaseName,
      connectAddr: `127.0.0.1:${opts.pgPort}`,
      connectProtocol: 'tcp',
      user: P.user,
      password: P.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number, extra: Record<string, unknown> = {}) => ({ rpc: { grpcPort, membershipPort, bindOnIP: '127.0.0.1', ...extra } });
  const p = opts.ports;
  return {
    log: { stdout: true, level: opts.logLevel ?? 'warn' },
    persistence: {
      numHistoryShards: P.numHistoryShards,
      defaultStore: 'default',
      visibilityStore: 'visibility',
      datastores: { default: sql(P.database, P.maxConns), visibility: sql(P.visibilityDatabase, P.visibilityMaxConns) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' }, ...(opts.tls ? { tls: serverTlsConfig(opts.tls) } : {}) },
    services: {
      frontend: rpc(p.frontend, p.frontendMembership, { httpPort: p.frontendHttp }),
      matching: rpc(p.matching, p.matchingMembership),
      history: rpc(p.history, p.historyMembership),
      worker: rpc(p.worker, p.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${p.frontend}`, httpAddress: `127.0.0.1:${p.frontendHttp}` },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    // Nothing is archived: closed histories disappear after the retention (docs/privacy.md).
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: opts.dynamicConfigFile, pollInterval: '60s' },
  };
}

/**
 * The server's dynamic config for Lethe's vendor queues (workflows/queues.ts): one partition
 * each. The server divides a queue's rate limit among its partitions (matching/
 * ratelimit_manager.go: the worker's rate / numReadPartitions per partition), and tasks land on
 * partitions at random, so with the default four the budget drains unevenly: the fullest
 * partition finishes last, at a quarter of the rate. A vendor queue carries a few tasks a
 * second, far below what one partition serves. Reduce write partitions before read partitions
 * on a queue that already has tasks (Temporal's guidance), or start with these.
 */
export function vendorQueuesDynamicConfig(taskQueue: string): string {
  const queues = VENDOR_QUEUES.map(({ vendor, step }) => vendorTaskQueue(taskQueue, vendor, step));
  const lines = ['# Lethe: its vendor task queues on one partition each, so the rate limit on each is exact.'];
  for (const [key, value] of Object.entries(SINGLE_PARTITION)) {
    lines.push(`${key}:`);
    for (const q of queues) lines.push(`  - value: ${value}`, '    constraints:', `      taskQueueName: ${q}`);
  }
  lines.push("# Lethe: people's requests ahead of the sweep's (task-queue priority needs the priority matcher).", `${PRIORITY_MATCHER.key}:`, `  - value: ${PRIORITY_MATCHER.value}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Writes the configuration into `dir` and returns the supervisor's spec. `ready` is the
 * frontend answering; the namespace is the caller's next step (ensureNamespace).
 */
export function temporalServerSpec(opts: { dir: string; pgPort: number; ports: ServerPorts; taskQueue: string; tls?: ServerTls; connection?: AdminConnection }): ServiceSpec {
  const configDir = path.join(opts.dir, 'config');
  fs.mkdirSync(configDir, { recursive: true });
  // The images' own dynamic config (empty in v1.29.1, i.e. the production defaults: e.g. 10
  // visibility requests a second per frontend, where the dev server allows 100), plus what
  // compose mounts too: the vendor queues on one partition each (docs/temporal-dynamicconfig.yaml).
  const dynamicConfigFile = path.join(configDir, 'dynamicconfig.yaml');
  fs.writeFileSync(dynamicConfigFile, `${fs.readFileSync(SERVER_DYNAMIC_CONFIG, 'utf8')}\n${vendorQueuesDynamicConfig(opts.taskQueue)}`);
  fs.writeFileSync(path.join(configDir, 'production.yaml'), `${JSON.stringify(serverConfig({ ...opts, dynamicConfigFile }), null, 2)}\n`);
  const address = `127.0.0.1:${opts.ports.frontend}`;
  return {
    name: 'temporal',
    command: TEMPORAL_SERVER_BIN,
    // No authorizer, as in compose: the frontend listens on loopback only.
    args: ['--root', opts.dir, '--config', 'config', '--env', 'production', '--allow-no-auth', 'start'],
    readyTimeoutMs: 120_000,
    ready: () => frontendServing(address, opts.connection),
  };
}

/**
 * How the stack's own admin calls reach a frontend that requires TLS (the SDK's
 * ConnectionOptions `tls`): absent, plain text as before.
 */
export type AdminConnection = Pick<ConnectionOptions, 'tls'>;

async function frontendServing(address: string, admin: AdminConnection = {}): Promise<boolean> {
  const conn = await Connection.connect({ ...admin, address, connectTimeout: 1000 });
  try {
    // Answers once the frontend serves and the history shards are owned (it lists namespaces from them).
    await conn.workflowService.listNamespaces({ pageSize: 1 });
    return true;
  } finally {
    await conn.close();
  }
}

const INDEXED_TYPE: Record<string, proto.api.enums.v1.IndexedValueType> = {
  Keyword: proto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Datetime: proto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  Bool: proto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
};

/**
 * The namespace with its retention (auto-setup's DEFAULT_NAMESPACE and
 * DEFAULT_NAMESPACE_RETENTION) and Lethe's search attributes (temporal-admin's
 * `temporal operator search-attribute create`). Idempotent: every start and restart runs it.
 */
export async function ensureNamespace(address: string, namespace: string, retentionDays: number, admin: AdminConnection = {}): Promise<void> {
  const connection = await Connection.connect({ ...admin, address, connectTimeout: 5_000 });
  try {
    await waitFor(
      `temporal: namespace ${namespace}`,
      async () => {
        try {
          await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(retentionDays * 86_400_000) });
        } catch (err) {
          // ALREADY_EXISTS: registered by an earlier start; the stack re-applies the retention.
          if ((err as { code?: number }).code !== 6) throw err;
        }
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const listed = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in (listed.customAttributes ?? {})));
    if (missing.length) await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_TYPE[type]])) });
    // A namespace is cached by every service and refreshed on its own period; wait until the
    // frontend sees the attributes, so the first workflow that sets them is not refused.
    await waitFor(
      `temporal: search attributes of ${namespace}`,
      async () => {
        const now = await connection.operatorService.listSearchAttributes({ namespace });
        return Object.keys(SEARCH_ATTRIBUTES).every((name) => name in (now.customAttributes ?? {}));
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  } finally {
    await connection.close();
  }
}

/**
 * The Web UI server as the temporalio/ui image runs it (`ui-server --env docker start`, its
 * config template filled from the environment), with the variables compose gives temporal-ui.
 * A config of its own per stack: base.yaml binds it to loopback (the template leaves the host
 * empty, i.e. every interface, which a container needs and a laptop does not).
 */
export function temporalUiSpec(opts: { dir: string; address: string; uiPort: number; namespace: string; codecEndpoint?: string }): ServiceSpec {
  const configDir = path.join(opts.dir, 'config');
  fs.mkdirSync(configDir, { recursive: true });
  fs.copyFileSync(UI_CONFIG_TEMPLATE, path.join(configDir, 'docker.yaml'));
  fs.chmodSync(path.join(configDir, 'docker.yaml'), 0o644);
  fs.writeFileSync(path.join(configDir, 'base.yaml'), 'host: 127.0.0.1\n');
  const origins = [`http://localhost:${opts.uiPort}`, `http://127.0.0.1:${opts.uiPort}`].join(',');
  return {
    name: 'temporal-ui',
    command: TEMPORAL_UI_SERVER_BIN,
    args: ['--root', opts.dir, '--config', 'config', '--env', 'docker', 'start'],
    env: {
      PATH: process.env.PATH ?? '',
      TEMPORAL_ADDRESS: opts.address,
      TEMPORAL_UI_PORT: String(opts.uiPort),
      TEMPORAL_DEFAULT_NAMESPACE: opts.namespace,
      TEMPORAL_CORS_ORIGINS: origins,
      ...(opts.codecEndpoint ? { TEMPORAL_CODEC_ENDPOINT: opts.codecEndpoint } : {}),
    },
    readyTimeoutMs: 60_000,
    ready: async () => (await fetch(`http://127.0.0.1:${opts.uiPort}/`)).ok,
  };
}

/** What the running server says it stores in (the agreement test compares it with compose). */
export async function clusterStores(address: string): Promise<{ serverVersion: string; persistenceStore: string; visibilityStore: string; historyShardCount: number }> {
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    const info = await connection.workflowService.getClusterInfo({});
    return {
      serverVersion: info.serverVersion ?? '',
      persistenceStore: info.persistenceStore ?? '',
      visibilityStore: info.visibilityStore ?? '',
      historyShardCount: info.historyShardCount ?? 0,
    };
  } finally {
    await connection.close();
  }
}
