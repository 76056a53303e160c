/**
 * The real Temporal server: `temporal server start-dev` from the CLI that
 * scripts/install-tools.sh builds, with a SQLite file so a restart keeps every history.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { ServiceSpec } from './supervisor';
import { SEARCH_ATTRIBUTES } from '../../contract';

/** Dynamic config for a task queue of one partition (read and write). */
export const SINGLE_PARTITION = { 'matching.numTaskqueueReadPartitions': 1, 'matching.numTaskqueueWritePartitions': 1 } as const;

/** The server's priority-aware task matcher (dynamicconfig/constants.go, server 1.29: default false). */
export const PRIORITY_MATCHER = { key: 'matching.useNewMatcher', value: true } as const;

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const TEMPORAL_BIN = path.join(PROJECT_ROOT, '.tools', 'bin', 'temporal');

/** Builds the CLI on first use (slow, shows progress), reuses it afterwards. */
export function ensureTemporalCli(): string {
  execFileSync('bash', [path.join(PROJECT_ROOT, 'scripts', 'install-tools.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (!fs.existsSync(TEMPORAL_BIN)) throw new Error(`Temporal CLI missing at ${TEMPORAL_BIN} after install`);
  return TEMPORAL_BIN;
}

export function temporalSpec(opts: { port: number; uiPort?: number; dbFile: string; namespace: string; headless?: boolean; uiCodecEndpoint?: string }): ServiceSpec {
  fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(opts.port), '--db-filename', opts.dbFile, '--namespace', opts.namespace, '--log-level', 'warn'];
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  // One partition per task queue: the server divides a queue's rate limit among its partitions
  // (matching/ratelimit_manager.go), so with the default four a vendor queue's budget drains
  // unevenly and its tail runs at a quarter of the rate (bench/RESULTS.md §3c). The dev
  // server's dynamic config takes no per-queue constraint, so here it is every queue's.
  args.push(...Object.entries(SINGLE_PARTITION).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${value}`]));
  // Every worker runs as a worker deployment (docs/releasing.md), and the test suite gives each
  // test world a deployment of its own (its task queue's name): one run makes about 50, and the
  // server's default cap is 100 a namespace (matching.maxDeployments, server 1.29).
  args.push('--dynamic-config-value', 'matching.maxDeployments=1000');
  // Task-queue priority (people's requests ahead of the sweep's, contract DELETION_PRIORITY) is
  // honoured only by the priority matcher, off by default in server 1.29.
  args.push('--dynamic-config-value', `${PRIORITY_MATCHER.key}=${PRIORITY_MATCHER.value}`);
  if (opts.headless || opts.uiPort === undefined) args.push('--headless');
  else args.push('--ui-ip', '127.0.0.1', '--ui-port', String(opts.uiPort));
  if (opts.uiCodecEndpoint) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  const address = `127.0.0.1:${opts.port}`;
  return {
    name: 'temporal',
    command: TEMPORAL_BIN,
    args,
    readyTimeoutMs: 90_000,
    ready: () => namespaceReady(address, opts.namespace),
  };
}

async function namespaceReady(address: string, namespace: string): Promise<boolean> {
  const conn = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    await conn.workflowService.describeNamespace({ namespace });
    return true;
  } finally {
    await conn.close();
  }
}
