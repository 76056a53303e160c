/**
 * The worker's Temporal worker deployment (docs/releasing.md): its name, its build id, and who
 * makes a new version current. Pure over env like the rest of loadConfig: the default build id
 * (package version and commit) is resolved by the worker at start (worker/deployment.ts).
 */
import { ConfigError, oneOf, type Env } from './env';
import type { Mode, WorkerDeploymentConfig } from './types';

/** Temporal writes a version as `<deployment>.<build id>`: a deployment name has no dot. */
const DEPLOYMENT_NAME = /^[A-Za-z0-9_-]{1,200}$/;
const BUILD_ID = /^[A-Za-z0-9_.+-]{1,200}$/;

export function workerDeployment(env: Env, mode: Mode, taskQueue: string): WorkerDeploymentConfig {
  const versioning = oneOf(env, 'LETHE_WORKER_VERSIONING', ['on', 'off'] as const, 'on') === 'on';
  // One deployment per task queue: tests' worlds (a queue each) never share a current version.
  const name = env.LETHE_DEPLOYMENT_NAME || taskQueue;
  if (!DEPLOYMENT_NAME.test(name)) {
    throw new ConfigError('LETHE_DEPLOYMENT_NAME', `must be 1-200 letters, digits, "_" or "-" (no dot), got "${name}"${env.LETHE_DEPLOYMENT_NAME ? '' : ' from LETHE_TASK_QUEUE'}`);
  }
  const buildId = env.LETHE_BUILD_ID || undefined;
  if (buildId !== undefined && !BUILD_ID.test(buildId)) throw new ConfigError('LETHE_BUILD_ID', `must be 1-200 letters, digits, ".", "_", "+" or "-", got "${buildId}"`);
  // Embedded: each worker makes itself current, as a one-machine deploy would. Production: the
  // release procedure does (docs/releasing.md); a worker takes current only on a first deploy.
  const setCurrent = oneOf(env, 'LETHE_DEPLOYMENT_SET_CURRENT', ['always', 'if-unset', 'never'] as const, mode === 'embedded' ? 'always' : 'if-unset');
  return { versioning, name, buildId, setCurrent };
}
