/**
 * The worker as a Temporal worker deployment version (docs/releasing.md): every worker process
 * of one build polls as `<deployment>.<build id>`; a deletion stays on the version it started on
 * (workflows/versioning.ts), the sweep moves to the current version at its next task.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkerDeploymentOptions } from '@temporalio/worker';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { ConfigError, type Config } from '../config';
import type { WorkerDeploymentConfig } from '../config/types';

type WorkflowService = temporal.api.workflowservice.v1.WorkflowService;

/** What one worker process polls: its task queues and whether it takes workflow tasks on each. */
export interface PolledQueue {
  name: string;
  workflows: boolean;
}

export interface Deployment {
  version: WorkerDeploymentVersion;
  setCurrent: WorkerDeploymentConfig['setCurrent'];
}

/** The package version, from the package.json beside the source (worker/) or the build (dist/worker/). */
export function packageVersion(): string {
  for (const up of ['..', path.join('..', '..')]) {
    const file = path.resolve(__dirname, up, 'package.json');
    if (!fs.existsSync(file)) continue;
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'lethe' && pkg.version) return pkg.version;
  }
  throw new Error('package.json of lethe not found beside the worker');
}

/** The commit this code was checked out at, or undefined outside a git work tree (an image). */
export function gitCommit(cwd = path.resolve(__dirname, '..')): string | undefined {
  try {
    return (
      execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 })
        .toString()
        .trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/**
 * LETHE_BUILD_ID, else `<package version>-<commit>` (e.g. `1.0.0-07a3e83`), else (an image built
 * without the build argument) `<package version>-b<digest of the workflow bundle>`: the same
 * workflow code gets the same id, other code another. Production refuses to guess beyond that:
 * two builds sharing an id would each replay the other's pinned deletions.
 */
export function resolveBuildId(config: Config, commit: () => string | undefined = gitCommit): string {
  const set = config.worker.deployment?.buildId;
  if (set) return set;
  const sha = commit();
  if (sha) return `${packageVersion()}-${sha}`;
  const bundle = config.worker.workflowBundle;
  if (bundle) return `${packageVersion()}-b${createHash('sha256').update(fs.readFileSync(bundle)).digest('hex').slice(0, 12)}`;
  if (config.mode === 'production') throw new ConfigError('LETHE_BUILD_ID', 'is required in production when neither the commit (no git work tree) nor a prebuilt workflow bundle is known');
  return `${packageVersion()}-dev`;
}

/** The worker's deployment version, or undefined when it runs unversioned (LETHE_WORKER_VERSIONING=off). */
export function deploymentOf(config: Config): Deployment | undefined {
  const d = config.worker.deployment;
  if (!d?.versioning) return undefined;
  return { version: { deploymentName: d.name, buildId: resolveBuildId(config) }, setCurrent: d.setCurrent };
}

/**
 * The SDK's options for every worker of the process (the main one and the vendor ones), so the
 * vendor queues belong to the same version and a pinned deletion's activities run on its build.
 * Workflows not annotated (the sweep, the stack check) move to the current version at their
 * next task; the deletion is annotated PINNED.
 */
export function workerDeploymentOptions(deployment: Deployment | undefined): WorkerDeploymentOptions | undefined {
  if (!deployment) return undefined;
  return { useWorkerVersioning: true, version: deployment.version, defaultVersioningBehavior: 'AUTO_UPGRADE' };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Makes this worker's version the deployment's current one, as `temporal worker deployment
 * set-current-version` does, once the server has seen every queue of the process polled by it
 * (setting it earlier would leave a vendor queue without the version, so a deletion's Auth0 step
 * would wait for a poller that never comes). `if-unset` takes current only when no version is
 * (a first deploy); `never` returns at once. Returns what it did.
 */
export async function makeCurrent(
  service: WorkflowService,
  namespace: string,
  deployment: Deployment,
  queues: PolledQueue[],
  opts: { identity?: string; stillRunning?: () => boolean; pollMs?: number } = {},
): Promise<'set' | 'already' | 'left' | 'stopped'> {
  if (deployment.setCurrent === 'never') return 'left';
  const { version } = deployment;
  const stillRunning = opts.stillRunning ?? (() => true);
  for (;;) {
    if (!stillRunning()) return 'stopped';
    const registered = await service.describeWorkerDeploymentVersion({ namespace, deploymentVersion: version }).then(
      (r) => new Set((r.workerDeploymentVersionInfo?.taskQueueInfos ?? []).map((q) => `${q.name}/${q.type}`)),
      (err: { code?: number }) => {
        // NOT_FOUND: no poll of this version has reached the server yet.
        if (err.code === 5) return new Set<string>();
        throw err;
      },
    );
    // Task queue types: 1 workflow, 2 activity.
    if (queues.every((q) => registered.has(`${q.name}/2`) && (!q.workflows || registered.has(`${q.name}/1`)))) break;
    await sleep(opts.pollMs ?? 250);
  }
  for (let attempt = 1; ; attempt++) {
    const { workerDeploymentInfo: info, conflictToken } = await service.describeWorkerDeployment({ namespace, deploymentName: version.deploymentName });
    const current = info?.routingConfig?.currentDeploymentVersion;
    if (current?.buildId === version.buildId) return 'already';
    if (current?.buildId && deployment.setCurrent === 'if-unset') return 'left';
    try {
      await service.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName: version.deploymentName,
        buildId: version.buildId,
        identity: opts.identity ?? `lethe-worker ${version.buildId}`,
        // The token makes the check above and the change one step: a version set current by
        // someone else meanwhile fails this call (and is looked at again) instead of being overridden.
        conflictToken,
      });
      return 'set';
    } catch (err) {
      // Workers of one build starting together race for the same change: look again.
      if (attempt >= 5 || !stillRunning()) throw err;
      await sleep(opts.pollMs ?? 250);
    }
  }
}
