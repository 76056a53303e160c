/**
 * The worker process's /metrics (LETHE_WORKER_METRICS_PORT): after a deletion that met one
 * vendor error, Lethe's counters have moved and the Temporal SDK's own metrics are there too.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { freePort } from '../../dev/stack/net';
import { testConfig } from '../support/stack';
import { buildDeps } from '../../worker/deps';
import { connectTemporal } from '../../client/temporal';
import { createIntake } from '../../client/intake';
import { seedAccount } from '../../dev/seed/fixtures';
import { rngFor } from '../support/world-seed';
import { armFault } from '../sandboxes/helpers/sandboxAdmin';

const ROOT = path.resolve(__dirname, '..', '..');

test('when the worker process deleted an account, then its /metrics shows steps, blobs, vendor errors and the SDK metrics', async () => {
  const taskQueue = `test-metrics-${randomUUID()}`;
  const port = await freePort();
  const env = { ...process.env, LETHE_TASK_QUEUE: taskQueue, LETHE_WORKER_METRICS_PORT: String(port) };
  const config = testConfig({ LETHE_TASK_QUEUE: taskQueue });
  const deps = buildDeps(config);
  const temporal = await connectTemporal(config);
  let worker: ChildProcess | undefined;
  let output = '';
  try {
    worker = spawn(process.execPath, ['--import', 'tsx', 'worker/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout!.on('data', (d) => (output += d));
    worker.stderr!.on('data', (d) => (output += d));
    const scrape = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const deadline = Date.now() + 90_000;
    while (!(await scrape().catch(() => ''))) {
      if (worker.exitCode !== null || Date.now() > deadline) throw new Error(`worker did not serve /metrics:\n${output}`);
      await new Promise((r) => setTimeout(r, 500));
    }

    const a = await seedAccount({ ...deps, recurlySandboxUrl: config.recurly.baseUrl }, { media: 6, subscriptions: [{ state: 'active' }] }, rngFor(__filename));
    // One Recurly outage for this account only (the sandbox is shared with other test files).
    await armFault(config.recurly.baseUrl!, { mode: '500', count: 1, pathPrefix: `/accounts/code-${a.recurlyAccountCode}` });
    const started = await createIntake({ config, db: deps.db, temporal }).start({ accountId: a.id, channel: 'support' });
    await temporal.workflow.getHandle(started.workflowId).result();

    const text = await scrape();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    expect(value(/^lethe_steps_total\{step="media",outcome="completed"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^lethe_steps_total\{step="recurly",outcome="failed"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^lethe_vendor_errors_total\{vendor="recurly",type="Unavailable"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^lethe_blobs_deleted_total\{container="media"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^lethe_rows_deleted_total\{table="accounts"\} (\d+)/m)).toBe(1);
    expect(value(/^lethe_deletions_finished_total\{status="completed"\} (\d+)/m)).toBe(1);
    expect(value(/^lethe_step_duration_seconds_count\{step="database",outcome="completed"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^lethe_steps_in_flight\{step="\w+"\} 0$/m);
    // The SDK's own, from core's exporter, in the same scrape.
    expect(text).toContain('lethe_worker_sdk_metrics_up 1');
    expect(text).toMatch(/^temporal_\w+/m);
    expect(text).not.toContain(a.id);
    expect(text).not.toContain(a.email);
  } finally {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker!.once('exit', r));
    }
    await temporal.connection.close();
    await deps.close();
  }
});
