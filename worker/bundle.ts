/**
 * The workflow code bundle, built outside the worker process.
 *
 * Given `workflowsPath`, the SDK runs webpack inside the worker at start. Webpack's peak (a few
 * hundred MiB) then stays in the worker's resident high-water mark for its whole life, and it
 * was most of the worker's measured peak (bench/RESULTS.md §3b: 466 MiB with 30 deletions in
 * flight). So the worker either loads a bundle built beforehand (`LETHE_WORKFLOW_BUNDLE`, as the
 * image does at build time) or builds one in a child process, which exits before the worker
 * polls. Same sources, same bundler options: replay is unaffected.
 *
 *   node --import tsx worker/bundle.ts <out.js>     (node dist/worker/bundle.js in the image)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../encryption/data-converter';

export const WORKFLOWS_PATH = require.resolve('../workflows');

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** Bundles the workflows with the failure converter the worker's DataConverter names. */
export async function writeWorkflowBundle(outPath: string): Promise<void> {
  // The converter is loaded by path inside the workflow sandbox, so it must be in the bundle.
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, failureConverterPath: FAILURE_CONVERTER_PATH, logger: quiet });
  fs.mkdirSync(path.dirname(outPath), { recursive: true });
  // Written whole, then renamed: a worker never loads half a bundle.
  fs.writeFileSync(`${outPath}.tmp`, code);
  fs.renameSync(`${outPath}.tmp`, outPath);
}

/** Builds the bundle in a child process (same runtime flags as this one) and says where it is. */
export async function bundleInChildProcess(outPath = path.join(os.tmpdir(), `lethe-workflows-${process.pid}.js`)): Promise<string> {
  const child = spawn(process.execPath, [...process.execArgv, __filename, outPath], { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', resolve);
  });
  if (code !== 0) throw new Error(`bundling the workflows failed (exit ${code}): ${stderr.trim()}`);
  return outPath;
}

/** The worker's workflow code: a pre-built bundle when there is one, else the sources. */
export function workflowCode(bundlePath: string | undefined): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  return bundlePath ? { workflowBundle: { codePath: bundlePath } } : { workflowsPath: WORKFLOWS_PATH };
}

if (require.main === module) {
  const out = process.argv[2];
  if (!out) {
    process.stderr.write('usage: worker/bundle <out.js>\n');
    process.exit(2);
  }
  writeWorkflowBundle(path.resolve(out)).catch((err) => {
    process.stderr.write(`worker/bundle: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
