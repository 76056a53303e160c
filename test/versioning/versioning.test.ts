/**
 * Worker versioning (issue 31 item 2, docs/releasing.md): a deletion runs to its end on the
 * worker deployment version that started it, while the next version takes the new ones.
 *
 * Two workers on one task queue (one deployment), as a rolling release has them: version N
 * starts a deletion that Recurly holds mid-way (an uninvoiced charge refuses redaction, as in
 * recurly-realism.test.ts); version N+1 becomes current and takes a second deletion; N's
 * deletion keeps retrying on N only, and finishes on N once the charge is gone. Every workflow
 * and activity task of each history names the worker that ran it (each version has an identity
 * of its own), and Temporal's own record of the run names its version.
 *
 * Seen failing: without workflows/versioning.ts's PINNED (the deletion then takes the worker's
 * default, auto-upgrade), the first deletion's tasks after the switch run on N+1.
 */
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { testConfig } from '../support/stack';
import { buildDeps, type WorkerDeps } from '../../worker/deps';
import { createWorker, type CreatedWorker } from '../../worker/worker';
import { deploymentOf, gitCommit, packageVersion, resolveBuildId } from '../../worker/deployment';
import type { Config } from '../../config';
import { rng, seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import type { DeletionView } from '../../client/requests';
import { deletionServices, waitForView as waitForRequestView } from '../support/deletions';
import { deletionWorkflowId, type Receipt } from '../../contract';

const EventType = temporal.api.enums.v1.EventType;

/** Who ran each task of a run: the identity on every workflow and activity task started. */
async function taskRunners(handle: WorkflowHandle): Promise<{ workflowTasks: string[]; activityTasks: string[]; versions: string[] }> {
  const { events } = await handle.fetchHistory();
  const of = (type: temporal.api.enums.v1.EventType) => events!.filter((e) => e.eventType === type);
  return {
    workflowTasks: of(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED).map((e) => e.workflowTaskStartedEventAttributes!.identity!),
    activityTasks: of(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED).map((e) => e.activityTaskStartedEventAttributes!.identity!),
    // The version each completed workflow task was processed on, as the server recorded it.
    versions: of(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).map((e) => e.workflowTaskCompletedEventAttributes!.deploymentVersion?.buildId ?? 'unversioned'),
  };
}

/** Temporal's record of a run's versioning: its behaviour and the version it is on. */
async function versioningOf(handle: WorkflowHandle): Promise<{ behavior: string; buildId?: string | null }> {
  const info = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
  return { behavior: temporal.api.enums.v1.VersioningBehavior[info?.behavior ?? 0], buildId: info?.deploymentVersion?.buildId };
}

describe('worker versioning: a deletion finishes on the version that started it', () => {
  const taskQueue = `test-${randomUUID()}`;
  const build = { n: `1.0.0-n${randomUUID().slice(0, 8)}`, next: `1.0.1-n${randomUUID().slice(0, 8)}` };
  const identity = { n: `lethe-worker ${build.n}`, next: `lethe-worker ${build.next}` };
  // Short bounds as in recurly-realism.test.ts: Recurly's refusal is retried every 2 s.
  const env = { LETHE_TASK_QUEUE: taskQueue, LETHE_STORE_ATTEMPT_BUDGET: '30s', LETHE_BLOCK_AFTER: '2s', LETHE_BLOCK_AFTER_TRANSIENT: '2s', LETHE_STORE_RETRY_EVERY: '2s' };
  let config: Config;
  let deps: WorkerDeps;
  let client: Client;
  const workers: { created: CreatedWorker; running: Promise<void> }[] = [];
  const rand = rng(31_002);

  async function startVersion(buildId: string, who: string, setCurrent: 'always' | 'never'): Promise<CreatedWorker> {
    const created = await createWorker(testConfig({ ...env, LETHE_BUILD_ID: buildId, LETHE_DEPLOYMENT_SET_CURRENT: setCurrent }), deps, { identity: who });
    const running = created.worker.run();
    running.catch(() => undefined);
    workers.push({ created, running });
    return created;
  }

  beforeAll(async () => {
    config = testConfig(env);
    deps = buildDeps(config);
    // The product's own client (worker/deps.ts): encrypted payloads, as the API reads them.
    client = deps.temporalClient();
  }, 60_000);
  afterAll(async () => {
    for (const w of workers) if (w.created.worker.getState() === 'RUNNING') w.created.worker.shutdown();
    await Promise.allSettled(workers.map((w) => w.running));
    for (const w of workers) await w.created.connection.close();
    await deps?.close();
  });

  const services = () => deletionServices({ config, db: deps.db, temporal: client });
  const waitForView = (requestId: string, ok: (v: DeletionView) => boolean, what: string) => waitForRequestView(services().reader, requestId, ok, what);
  const recurlyAttempts = (v: DeletionView) => v.stores?.find((s) => s.store === 'recurly')?.attempts ?? 0;

  test('when version N+1 becomes current while a deletion started on N is held mid-way, then N+1 takes the new deletion and the first one retries and finishes on N only', async () => {
    const seed: SeedDeps = { ...deps, recurlySandboxUrl: process.env.RECURLY_BASE_URL };
    const { intake, operator } = services();

    // Version N, current: the deployment is this task queue's (LETHE_DEPLOYMENT_NAME defaults to it).
    const n = await startVersion(build.n, identity.n, 'always');
    expect(n.deployment?.version).toEqual({ deploymentName: taskQueue, buildId: build.n });
    expect(await n.whenCurrent()).toBe('set');

    // A deletion on N that Recurly holds: an uninvoiced charge refuses redaction until removed.
    const held = await seedAccount(seed, { media: 2, loginEvents: 1 }, rand);
    const charge = await seed.recurly.createCharge({ accountCode: held.recurlyAccountCode!, amount: 9, description: 'versioning test charge' });
    const first = await intake.start({ accountId: held.id, channel: 'email', requestedBy: 'versioning-test' });
    const heldView = await waitForView(first.requestId, (v) => v.status === 'blocked', 'the first deletion blocked on Recurly');
    const firstHandle = client.workflow.getHandle(deletionWorkflowId(held.id));
    expect(await versioningOf(firstHandle)).toEqual({ behavior: 'VERSIONING_BEHAVIOR_PINNED', buildId: build.n });

    // Version N+1 polls beside N, then is made current (as `temporal worker deployment
    // set-current-version` would; here the worker's own LETHE_DEPLOYMENT_SET_CURRENT=always).
    const next = await startVersion(build.next, identity.next, 'always');
    expect(await next.whenCurrent()).toBe('set');
    const { workerDeploymentInfo } = await client.workflowService.describeWorkerDeployment({ namespace: config.temporal.namespace, deploymentName: taskQueue });
    expect(workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId).toBe(build.next);

    // A new deletion goes to N+1 and finishes there.
    const fresh = await seedAccount(seed, { media: 1, loginEvents: 1 }, rand);
    await intake.start({ accountId: fresh.id, channel: 'email', requestedBy: 'versioning-test' });
    const secondHandle = client.workflow.getHandle(deletionWorkflowId(fresh.id));
    expect(((await secondHandle.result()) as Receipt).verification.clean).toBe(true);
    expect(await versioningOf(secondHandle)).toEqual({ behavior: 'VERSIONING_BEHAVIOR_PINNED', buildId: build.next });
    const second = await taskRunners(secondHandle);
    expect(new Set(second.workflowTasks)).toEqual(new Set([identity.next]));
    expect(new Set(second.activityTasks)).toEqual(new Set([identity.next]));
    expect(new Set(second.versions)).toEqual(new Set([build.next]));

    // Meanwhile the first keeps retrying Recurly, on N: at least two more attempts since N+1 became current.
    await waitForView(first.requestId, (v) => recurlyAttempts(v) >= recurlyAttempts(heldView) + 2, 'two more Recurly attempts after the switch');
    expect(await versioningOf(firstHandle)).toEqual({ behavior: 'VERSIONING_BEHAVIOR_PINNED', buildId: build.n });

    // The charge is settled; the retry signal reaches the first deletion, which finishes on N.
    await seed.recurly.removeLineItem(charge.id);
    expect((await operator.retry(first.requestId, 'versioning-test')).outcome).toBe('signalled');
    expect(((await firstHandle.result()) as Receipt).verification.clean).toBe(true);
    const firstRun = await taskRunners(firstHandle);
    expect(new Set(firstRun.workflowTasks)).toEqual(new Set([identity.n]));
    expect(new Set(firstRun.activityTasks)).toEqual(new Set([identity.n]));
    expect(new Set(firstRun.versions)).toEqual(new Set([build.n]));
    // Its vendor steps ran on N's vendor queues' workers too (one version for every queue of a process).
    expect(firstRun.activityTasks.length).toBeGreaterThan(5);
  }, 240_000);
});

describe('worker versioning: the version a worker polls as', () => {
  test('when nothing is set, then the deployment is the task queue, the build id the package version and commit, and the embedded stack sets it current', () => {
    const config = testConfig({ LETHE_TASK_QUEUE: 'lethe-deletions' });
    const d = deploymentOf(config)!;
    expect(d.version.deploymentName).toBe('lethe-deletions');
    expect(d.version.buildId).toBe(`${packageVersion()}-${gitCommit()}`);
    expect(d.setCurrent).toBe('always');
    expect(resolveBuildId(config, () => undefined)).toBe(`${packageVersion()}-dev`);
    expect(deploymentOf(testConfig({ LETHE_WORKER_VERSIONING: 'off' }))).toBeUndefined();
  });

  test('when a deployment name has a dot or a build id a space, then the configuration fails naming the variable', () => {
    expect(() => testConfig({ LETHE_DEPLOYMENT_NAME: 'lethe.deletions' })).toThrow(/^LETHE_DEPLOYMENT_NAME: /);
    expect(() => testConfig({ LETHE_BUILD_ID: '1.0.0 abc' })).toThrow(/^LETHE_BUILD_ID: /);
    expect(() => testConfig({ LETHE_DEPLOYMENT_SET_CURRENT: 'sometimes' })).toThrow(/^LETHE_DEPLOYMENT_SET_CURRENT: /);
  });
});
