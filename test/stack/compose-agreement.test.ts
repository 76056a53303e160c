/**
 * docker-compose.yml and the local production-shaped mode (LETHE_TEMPORAL=server) set up the
 * same Temporal: namespace, retention, search attributes, persistence and versions, and Lethe's
 * processes get the same environment. Both are read here, the compose file as Docker Compose
 * resolves it and the local mode as it runs (the stack of global setup), and held to one
 * source (PRODUCTION_TEMPORAL, the contract's SEARCH_ATTRIBUTES, the config's defaults), so
 * the file cannot drift from what the tests run on.
 *
 * The checks of the running server's stores need the production-shaped stack: they run in the
 * production-shape pass (scripts/test-production-shape.sh) and are reported as skipped in the
 * dev server's pass. Everything else runs in both.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../../contract';
import { DEFAULTS, temporalConnectionOptions } from '../../config';
import { PRODUCTION_STARTUP_WAIT } from '../../config/reachability';
import { clusterStores, PRODUCTION_TEMPORAL } from '../../dev/stack/temporal-server';
import { testConfig } from '../support/stack';
import { envOf, ROOT, resolvedServices, type ComposeService } from './compose-file';

const serverMode = process.env.LETHE_TEST_TEMPORAL === 'server';

/** Temporal's duration strings as compose gives them (`72h`, `3d`, `90m`), in seconds. */
function seconds(duration: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(duration.trim());
  if (!m) throw new Error(`unreadable duration "${duration}"`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function tagOf(svc: ComposeService): string {
  return (svc.image ?? '').split(':')[1] ?? '(no tag)';
}

/** What temporal-admin's one-shot command registers: its namespace and `--name X --type Y` pairs. */
function adminRegistration(svc: ComposeService): { namespace: string; attributes: Record<string, string> } {
  const command = [svc.command ?? []].flat().join(' ');
  const namespace = /--namespace\s+(\S+)/.exec(command)?.[1] ?? '(none)';
  const attributes = Object.fromEntries([...command.matchAll(/--name\s+(\S+)\s+--type\s+(\S+)/g)].map((m) => [m[1], m[2]]));
  return { namespace, attributes };
}

/** auto-setup's own defaults for the variables compose leaves unset (temporalio/docker-builds auto-setup.sh). */
const AUTO_SETUP_DEFAULTS: Record<string, string> = {
  DBNAME: 'temporal',
  VISIBILITY_DBNAME: 'temporal_visibility',
  NUM_HISTORY_SHARDS: '4',
  DEFAULT_NAMESPACE: 'default',
  ENABLE_ES: 'false',
};

describe('docker-compose.yml and the local production-shaped mode', () => {
  let services: Record<string, ComposeService>;
  let temporal: Record<string, string>;
  let connection: Connection;
  const config = testConfig();

  beforeAll(async () => {
    services = resolvedServices();
    temporal = { ...AUTO_SETUP_DEFAULTS, ...envOf(services.temporal) };
    connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  });
  afterAll(async () => connection?.close());

  test('when compose sets up Temporal, then it uses the releases, database and shards the local mode is built and configured with', () => {
    expect({
      server: tagOf(services.temporal),
      admin: tagOf(services['temporal-admin']),
      ui: tagOf(services['temporal-ui']),
      plugin: temporal.DB,
      user: temporal.POSTGRES_USER,
      password: temporal.POSTGRES_PWD,
      database: temporal.DBNAME,
      visibilityDatabase: temporal.VISIBILITY_DBNAME,
      numHistoryShards: Number(temporal.NUM_HISTORY_SHARDS),
      // SQL visibility, in the same PostgreSQL: no Elasticsearch.
      elasticsearch: temporal.ENABLE_ES,
    }).toEqual({
      server: PRODUCTION_TEMPORAL.serverVersion,
      admin: PRODUCTION_TEMPORAL.serverVersion,
      ui: PRODUCTION_TEMPORAL.uiVersion,
      plugin: PRODUCTION_TEMPORAL.plugin,
      user: PRODUCTION_TEMPORAL.user,
      password: PRODUCTION_TEMPORAL.password,
      database: PRODUCTION_TEMPORAL.database,
      visibilityDatabase: PRODUCTION_TEMPORAL.visibilityDatabase,
      numHistoryShards: PRODUCTION_TEMPORAL.numHistoryShards,
      elasticsearch: 'false',
    });
    // install-tools.sh builds exactly these releases for the local mode.
    const install = fs.readFileSync(path.join(ROOT, 'scripts', 'install-tools.sh'), 'utf8');
    expect(install).toContain(`TEMPORAL_SERVER_VERSION="\${TEMPORAL_SERVER_VERSION:-v${PRODUCTION_TEMPORAL.serverVersion}}"`);
    expect(install).toContain(`TEMPORAL_UI_VERSION="\${TEMPORAL_UI_VERSION:-v${PRODUCTION_TEMPORAL.uiVersion}}"`);
  });

  test('when compose registers the namespace and search attributes, then they are the ones the running local stack has', async () => {
    const admin = adminRegistration(services['temporal-admin']);
    // One namespace everywhere: auto-setup creates it, temporal-admin registers into it, Lethe uses it.
    expect([temporal.DEFAULT_NAMESPACE, admin.namespace, envOf(services['lethe-worker']).TEMPORAL_NAMESPACE, envOf(services['lethe-api']).TEMPORAL_NAMESPACE]).toEqual(
      Array(4).fill(config.temporal.namespace),
    );
    // Every attribute Lethe's workflows set (the contract), with its type, and no other.
    expect(admin.attributes).toEqual(SEARCH_ATTRIBUTES);

    const listed = await connection.operatorService.listSearchAttributes({ namespace: config.temporal.namespace });
    const live = Object.fromEntries(
      Object.entries(listed.customAttributes ?? {})
        .filter(([name]) => name.startsWith('Lethe'))
        .map(([name, type]) => [name, (proto.api.enums.v1.IndexedValueType[type] ?? String(type)).replace('INDEXED_VALUE_TYPE_', '')]),
    );
    const expected = Object.fromEntries(Object.entries(admin.attributes).map(([name, type]) => [name, type.toUpperCase()]));
    expect(live).toEqual(expected);
  });

  test('when compose sets the namespace retention, then the running local stack keeps closed histories exactly as long', async () => {
    const retention = seconds(temporal.DEFAULT_NAMESPACE_RETENTION ?? '(unset)');
    expect(retention).toBe(config.temporal.retentionDays * 86_400);
    const described = await connection.workflowService.describeNamespace({ namespace: config.temporal.namespace });
    expect(Number(described.config?.workflowExecutionRetentionTtl?.seconds ?? -1)).toBe(retention);
  });

  test("when compose gives Lethe's processes their environment, then every variable is one Lethe reads, and its defaults are the local stack's", () => {
    const configSource = fs
      .readdirSync(path.join(ROOT, 'config'))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => fs.readFileSync(path.join(ROOT, 'config', f), 'utf8'))
      .join('\n');
    for (const name of ['lethe-worker', 'lethe-api', 'lethe-codec']) {
      // A misspelt or renamed variable would be set in production and read by nothing.
      const unread = Object.keys(envOf(services[name])).filter((v) => !new RegExp(`\\b${v}\\b`).test(configSource));
      expect([name, unread]).toEqual([name, []]);
    }
    const worker = envOf(services['lethe-worker']);
    // Compose's fallbacks (`${VAR:-default}`) are the defaults the local stack runs with.
    expect({
      sweepTime: worker.LETHE_SWEEP_TIME,
      sweepTimezone: worker.LETHE_SWEEP_TIMEZONE,
      metricsPort: Number(worker.LETHE_WORKER_METRICS_PORT),
      startupWait: worker.LETHE_STARTUP_WAIT,
    }).toEqual({
      sweepTime: config.sweep.time,
      sweepTimezone: config.sweep.timezone,
      metricsPort: DEFAULTS.workerMetricsPort,
      startupWait: PRODUCTION_STARTUP_WAIT,
    });
  });

  (serverMode ? test : test.skip)(
    'when the local mode runs, then its server stores histories and visibility in PostgreSQL as compose configures (production-shape pass: scripts/test-production-shape.sh)',
    async () => {
      const stores = await clusterStores(config.temporal.address);
      expect(stores).toEqual({
        serverVersion: tagOf(services.temporal),
        persistenceStore: temporal.DB,
        // SQL visibility reports the SQL plugin (Elasticsearch would report "elasticsearch").
        visibilityStore: temporal.DB,
        historyShardCount: Number(temporal.NUM_HISTORY_SHARDS),
      });
    },
  );
});
