/**
 * Temporal's own CLI (`.tools/bin/temporal`, the binary operators run) against the real stack,
 * decoding through Lethe's codec server with `--codec-endpoint` and `--codec-auth` (issue 21):
 * list, describe, show, query --type progress, signal with and without input, and result, on a
 * deletion held mid-way by a failing Recurly and on the same deletion once it completed.
 *
 * The test stack is headless (no codec server of its own), so the codec server runs here, over
 * the same payload keys as the test's worker, with a bearer token as production would set one.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startWorld, TestWorld } from '../support/stack';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { seedAccount, SeedDeps, SeededAccount } from '../../dev/seed/fixtures';
import { startRecurlySandbox } from '../../dev/sandboxes/recurly/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';
import { createIntake, StartedDeletion } from '../../client/intake';
import { startCodecServer, RunningCodecServer } from '../../client/codec-server';
import { getPayloadCodec } from '../../encryption';
import { requireKeyRing } from '../../config';
import { progressQuery, type DeletionProgress } from '../../contract';
import { armFault } from '../sandboxes/helpers/sandboxAdmin';
import { until } from '../support/until';

const TEMPORAL = path.resolve(__dirname, '..', '..', '.tools', 'bin', 'temporal');
const TOKEN = 'cli-codec-token-0123456789abcdef';
const ENCRYPTED = 'binary/encrypted';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together: what an operator sees. */
  out: string;
}

describe('Temporal CLI through the codec server', () => {
  let recurly: RunningSandbox;
  let world: TestWorld;
  let seed: SeedDeps;
  let codec: RunningCodecServer;
  const rand = rngFor(__filename);
  // The CLI runs from a folder of its own with a HOME of its own: no operator's config file or
  // TEMPORAL_* variable can point it elsewhere or give it a codec we did not ask for.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-temporal-cli-'));

  /** `temporal <args>` against the test stack; `codec`: none, the endpoint alone, or with the token. */
  const temporal = (args: string[], codecMode: 'none' | 'no-auth' | 'auth' = 'auth'): Promise<Run> =>
    new Promise((resolve) => {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('TEMPORAL_')) env[k] = v;
      env.HOME = home;
      const conn = ['--address', world.config.temporal.address, '--namespace', world.config.temporal.namespace];
      const codecArgs = codecMode === 'none' ? [] : ['--codec-endpoint', codec.url, ...(codecMode === 'auth' ? ['--codec-auth', `Bearer ${TOKEN}`] : [])];
      execFile(TEMPORAL, [...args, ...conn, ...codecArgs], { cwd: home, env, timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
        resolve({ code, stdout, stderr, out: `${stdout}\n${stderr}` });
      });
    });

  /** Fails with what the CLI printed, so a failing run explains itself. */
  const ok = (run: Run): Run => {
    if (run.code !== 0) throw new Error(`temporal exited ${run.code}:\n${run.out}`);
    return run;
  };

  beforeAll(async () => {
    if (!fs.existsSync(TEMPORAL)) throw new Error(`${TEMPORAL} is missing: run bash scripts/install-tools.sh`);
    // A Recurly of this file's own, so the outage that holds a deletion mid-way reaches no other test.
    recurly = await startRecurlySandbox({ port: 0, apiKey: process.env.RECURLY_API_KEY ?? 'lethe-dev-key', rateLimitPerMinute: 1_000_000 });
    world = await startWorld({ env: { RECURLY_BASE_URL: recurly.url } });
    seed = seedDepsOf(world);
    codec = await startCodecServer({ codec: getPayloadCodec(requireKeyRing(world.config)), allowedOrigins: [], token: TOKEN, host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await codec?.close();
    await world?.close();
    await recurly?.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  /** Payload encodings of a history's signal events named `name`, as Temporal stores them. */
  const signalEncodings = async (workflowId: string, name: string): Promise<(string | undefined)[][]> => {
    const history = await world.client.workflow.getHandle(workflowId).fetchHistory();
    return (history.events ?? [])
      .filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === name)
      .map((e) => (e.workflowExecutionSignaledEventAttributes!.input?.payloads ?? []).map((p) => (p.metadata?.encoding ? Buffer.from(p.metadata.encoding).toString() : undefined)));
  };

  let account: SeededAccount;
  let started: StartedDeletion;

  test('when a deletion is held mid-way, then list, describe, show and query --type progress print it decoded, and without the codec the requestId stays ciphertext', async () => {
    account = await seedAccount(seed, { media: 3 }, rand);
    expect(account.recurlyAccountCode).not.toBeNull();
    // Recurly answers 500 for this account until the faults are cleared: the deletion keeps
    // retrying its Recurly step, running, for as long as this test needs.
    await armFault(recurly.url, { mode: '500', count: 1_000_000, pathPrefix: `/accounts/code-${account.recurlyAccountCode}` });
    const intake = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
    started = await intake.start({ accountId: account.id, channel: 'support' });
    const handle = world.client.workflow.getHandle(started.workflowId);
    await until('the Recurly step to be retrying', async () => {
      const p = await handle.query(progressQuery);
      const step = p.steps.find((s) => s.name === 'recurly');
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      // The other stores done (Auth0 waits out its search lag), Recurly's alone and retrying.
      // Every other store read back verified: nothing but Recurly's step is left to schedule.
      const othersDone = (p.stores ?? []).filter((x) => x.store !== 'recurly').every((x) => x.status === 'verified');
      return step?.status === 'running' && othersDone && pending.length === 1 && pending.some((a) => (a.attempt ?? 0) >= 2) ? p : undefined;
    });

    // query --type progress: the progress object, decoded.
    const query = ok(await temporal(['workflow', 'query', '--workflow-id', started.workflowId, '--type', 'progress']));
    expect(query.stdout).toContain(started.requestId);
    expect(query.stdout).toContain(account.id);
    expect(query.stdout).toMatch(/"status":\s*"running"/);
    expect(query.stdout).toMatch(/"name":\s*"recurly"/);
    expect(query.stdout).toMatch(/"channels":\s*\[\s*"support"\s*\]/);
    // The same query without the codec: Temporal holds only ciphertext.
    const raw = await temporal(['workflow', 'query', '--workflow-id', started.workflowId, '--type', 'progress'], 'none');
    expect(raw.out).not.toContain(started.requestId);
    expect(raw.out).not.toMatch(/"status":\s*"running"/);
    // With the endpoint but not the token: the codec server refuses, and the CLI says so.
    const refused = await temporal(['workflow', 'query', '--workflow-id', started.workflowId, '--type', 'progress'], 'no-auth');
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain('Unauthorized');
    expect(refused.out).not.toContain(started.requestId);

    // show: the history, its input decoded (the requestId is in the start event's input only).
    const show = ok(await temporal(['workflow', 'show', '--workflow-id', started.workflowId, '--detailed']));
    expect(show.stdout).toContain('WorkflowExecutionStarted');
    expect(show.stdout).toContain(started.requestId);
    const showRaw = ok(await temporal(['workflow', 'show', '--workflow-id', started.workflowId, '--detailed'], 'none'));
    expect(showRaw.stdout).toContain('WorkflowExecutionStarted');
    expect(showRaw.stdout).not.toContain(started.requestId);

    // describe: the memo (the requestId) and the pending Recurly activity's last failure, decoded.
    const describe = ok(await temporal(['workflow', 'describe', '--workflow-id', started.workflowId]));
    expect(describe.stdout).toContain(started.workflowId);
    expect(describe.stdout).toMatch(/Pending Activities: 1/);
    expect(describe.stdout).toMatch(/Memo .*requestId.*json\/plain/);
    expect(describe.stdout).toContain(started.requestId);
    expect(describe.stdout).toMatch(/Type\s+deleteRecurlyAccount/);
    expect(describe.stdout).toMatch(/LastFailure .*recurly 500 unavailable/);
    const describeRaw = ok(await temporal(['workflow', 'describe', '--workflow-id', started.workflowId], 'none'));
    expect(describeRaw.stdout).toMatch(/Type\s+deleteRecurlyAccount/);
    expect(describeRaw.stdout).toMatch(/Memo .*requestId.*binary\/encrypted/);
    expect(describeRaw.stdout).not.toContain(started.requestId);
    expect(describeRaw.stdout).not.toContain('recurly 500 unavailable');

    // list: the search attributes are plain text, the codec must not get in the way.
    const list = ok(await temporal(['workflow', 'list', '--query', `WorkflowId = "${started.workflowId}"`]));
    expect(list.stdout).toContain(started.workflowId);
    expect(list.stdout).toContain('Running');
  });

  test('when an operator signals with and without input through the codec, then the input arrives encrypted and shows in the progress', async () => {
    expect(started).toBeDefined();
    const receivedAt = new Date(Date.now() - 60_000).toISOString();
    ok(await temporal(['workflow', 'signal', '--workflow-id', started.workflowId, '--name', 'additionalRequest', '--input', JSON.stringify({ channel: 'email', receivedAt })]));
    // The CLI encoded the input through the codec server: Temporal stored ciphertext.
    expect(await signalEncodings(started.workflowId, 'additionalRequest')).toEqual([[ENCRYPTED]]);
    const query = ok(await temporal(['workflow', 'query', '--workflow-id', started.workflowId, '--type', 'progress']));
    expect(query.stdout).toMatch(/"channels":\s*\[\s*"support",\s*"email"\s*\]/);
    expect(query.stdout).toContain(receivedAt);

    // No input: the CLI asks the codec server to encode an empty list, sent as `{}`. A signal
    // the workflow has no handler for is accepted by Temporal and changes nothing.
    ok(await temporal(['workflow', 'signal', '--workflow-id', started.workflowId, '--name', 'lethe-cli-probe']));
    expect(await signalEncodings(started.workflowId, 'lethe-cli-probe')).toEqual([[]]);
    const refused = await temporal(['workflow', 'signal', '--workflow-id', started.workflowId, '--name', 'lethe-cli-probe'], 'no-auth');
    expect(refused.code).not.toBe(0);
    expect(refused.out).toContain('Unauthorized');
    expect(await signalEncodings(started.workflowId, 'lethe-cli-probe')).toHaveLength(1);
  });

  test('when the held deletion completes, then query --type progress, result and describe print the decoded outcome', async () => {
    expect(started).toBeDefined();
    const cleared = await fetch(`${recurly.url}/__sandbox/faults`, { method: 'DELETE' });
    expect(cleared.status).toBe(204);
    const handle = world.client.workflow.getHandle(started.workflowId);
    await until('the deletion to complete', async () => ((await handle.query(progressQuery)).status === 'completed' ? true : undefined), 110_000);
    const progress: DeletionProgress = await handle.query(progressQuery);

    const query = ok(await temporal(['workflow', 'query', '--workflow-id', started.workflowId, '--type', 'progress']));
    expect(query.stdout).toContain(started.requestId);
    expect(query.stdout).toMatch(/"status":\s*"completed"/);
    expect(query.stdout).toContain(progress.completedAt!);
    expect(query.stdout).toMatch(/"channels":\s*\[\s*"support",\s*"email"\s*\]/);
    const raw = await temporal(['workflow', 'query', '--workflow-id', started.workflowId, '--type', 'progress'], 'none');
    expect(raw.out).not.toContain(started.requestId);

    // result: the receipt, decoded.
    const result = ok(await temporal(['workflow', 'result', '--workflow-id', started.workflowId]));
    expect(result.stdout).toContain(started.requestId);
    expect(result.stdout).toMatch(/"clean":\s*true/);
    const resultRaw = await temporal(['workflow', 'result', '--workflow-id', started.workflowId], 'none');
    expect(resultRaw.out).not.toContain(started.requestId);

    const describe = ok(await temporal(['workflow', 'describe', '--workflow-id', started.workflowId]));
    expect(describe.stdout).toMatch(/Status\s+COMPLETED/);
    expect(describe.stdout).toMatch(new RegExp(`Result\\s+\\{.*"requestId":"${started.requestId}"`));
    expect(describe.stdout).toMatch(/ResultEncoding\s+json\/plain/);
    const describeRaw = ok(await temporal(['workflow', 'describe', '--workflow-id', started.workflowId], 'none'));
    expect(describeRaw.stdout).toMatch(/ResultEncoding\s+binary\/encrypted/);
    expect(describeRaw.stdout).not.toMatch(new RegExp(`Result\\s+\\{.*"requestId":"${started.requestId}"`));

    const list = ok(await temporal(['workflow', 'list', '--query', `WorkflowId = "${started.workflowId}"`]));
    expect(list.stdout).toContain(started.workflowId);
    expect(list.stdout).toContain('Completed');
  });
});
