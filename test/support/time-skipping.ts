/**
 * The time-skipping test environment on Temporal's Java test server (installed into .tools by
 * `scripts/install-tools.sh test`, which `npm test` runs and `npm start` does not). The SDK's
 * own launcher gives a server 5 seconds to listen, which a JVM on two busy cores does not
 * always make; so the server is started here, given as long as it needs, and the SDK connects
 * to it as to an existing one with time skipping on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { freePort, isListening } from '../../dev/stack/net';
import { WORKFLOWS_PATH } from '../../worker/worker';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../../contract';

const SERVER = path.resolve(__dirname, '..', '..', '.tools', 'bin', 'temporal-test-server');

export interface TimeSkipping {
  env: TestWorkflowEnvironment;
  close(): Promise<void>;
}

type CreateOptions = { server: { type: 'existing' }; supportsTimeSkipping: true; address: string; namespace: string };

export async function startTimeSkipping(): Promise<TimeSkipping> {
  if (!fs.existsSync(SERVER)) throw new Error(`${SERVER} is missing: run bash scripts/install-tools.sh test (npm test does)`);
  const port = await freePort();
  const child: ChildProcess = spawn(SERVER, [String(port)], { stdio: ['ignore', 'ignore', 'pipe'], detached: false });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const deadline = Date.now() + 60_000;
  while (!(await isListening(port))) {
    if (child.exitCode !== null) throw new Error(`the time-skipping test server exited (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the time-skipping test server did not listen on ${port} within 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // `create` is the SDK's own constructor behind createTimeSkipping(); only the launch differs.
  const create = (TestWorkflowEnvironment as unknown as { create(o: CreateOptions): Promise<TestWorkflowEnvironment> }).create.bind(TestWorkflowEnvironment);
  const env = await create({ server: { type: 'existing' }, supportsTimeSkipping: true, address: `127.0.0.1:${port}`, namespace: 'default' });
  // The Java test server refuses undeclared search attributes, as a real cluster does.
  const { IndexedValueType } = temporal.api.enums.v1;
  const types = { Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME, Bool: IndexedValueType.INDEXED_VALUE_TYPE_BOOL };
  await env.connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(Object.entries(SEARCH_ATTRIBUTES).map(([name, type]) => [name, types[type]])),
  });
  return {
    env,
    async close() {
      await env.teardown();
      child.kill('SIGTERM');
      await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
    },
  };
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle, made once per test file (bundling takes seconds). */
export const workflowBundle = (): Promise<WorkflowBundleWithSourceMap> =>
  (bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } }));
