/**
 * A legal hold placed while a deletion runs (issue 34), on the real stack: Recurly refuses
 * (its sandbox answers 500), the other stores are verified, and an admin places a hold through
 * the API. The request shows `held`, the done stores stay done, and Recurly is not touched
 * while held even after it recovers and an operator asks for a retry (read through Recurly's own
 * API). The release brings a fresh 72 hours from the release, and the deletion completes.
 */
import { randomBytes } from 'node:crypto';
import { startWorld, testConfig, type TestWorld } from '../support/stack';
import { startApi, type TestApi } from '../support/api';
import { startPrivateStores, type PrivateStores } from '../support/private-stores';
import { armFault } from '../sandboxes/helpers/sandboxAdmin';
import { rng, seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { deletionServices, waitForView } from '../support/deletions';
import { sleep } from '../support/until';
import { credentialEntry, ROLES, type Role } from '../../config';
import { deletionWorkflowId, type Receipt } from '../../contract';

const HOUR = 3_600_000;

describe('a hold placed while a deletion runs', () => {
  let stores: PrivateStores;
  let world: TestWorld;
  let api: TestApi;
  let seed: SeedDeps;
  const rand = rng(34_034);
  const suffix = randomBytes(3).toString('hex');
  const tokens = Object.fromEntries(ROLES.map((r) => [r, randomBytes(32).toString('base64url')])) as Record<Role, string>;

  beforeAll(async () => {
    stores = await startPrivateStores();
    world = await startWorld({ env: { ...stores.env, LETHE_STORE_ATTEMPT_BUDGET: '60s', LETHE_BLOCK_AFTER: '2s', LETHE_BLOCK_AFTER_TRANSIENT: '2s', LETHE_STORE_RETRY_EVERY: '10m' } });
    seed = { ...world.deps, recurlySandboxUrl: stores.recurly.url };
    const credentials = testConfig({ LETHE_API_TOKENS: ROLES.map((r) => credentialEntry(`mid-${r}-${suffix}`, r, tokens[r])).join(',') }).api.credentials;
    api = await startApi(world, { config: { tokens: [], credentials } });
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await world?.close();
    await stores?.close();
  });

  test('when a hold comes while Recurly is refusing, then the verified stores stay done, Recurly is not touched while held, and the release completes it with a fresh deadline', async () => {
    const a = await seedAccount(seed, { media: 5, loginEvents: 1 }, rand);
    const { intake, reader, operator } = deletionServices({ config: world.config, db: world.deps.db, temporal: world.client });
    await armFault(stores.recurly.url, { mode: '500', count: 100_000 });
    const started = await intake.start({ accountId: a.id, channel: 'support', requestedBy: 'hold-test' });
    const others = (v: { stores?: { store: string; status: string }[] }) => (v.stores ?? []).filter((s) => s.store !== 'recurly');
    await waitForView(reader, started.requestId, (v) => others(v).length === 3 && others(v).every((s) => s.status === 'verified'), 'media, Auth0 and the rows verified');

    const placed = await api.request('POST', '/v1/holds', { token: tokens.admin, body: { accountId: a.id, reason: 'preservation order' } });
    expect(placed.status).toBe(201);
    const held = await waitForView(reader, started.requestId, (v) => v.status === 'held', 'the request held');
    expect(others(held).map((s) => s.status)).toEqual(['verified', 'verified', 'verified']);
    expect(held.stores?.find((s) => s.store === 'recurly')?.status).not.toBe('verified');

    // Recurly recovers and an operator asks for a retry: while held, nothing is called.
    await fetch(`${stores.recurly.url}/__sandbox/faults`, { method: 'DELETE' });
    await operator.retry(started.requestId, 'ops-on-call').catch(() => undefined);
    await sleep(3_000);
    expect((await seed.recurly.getAccount(a.recurlyAccountCode!))?.redacted ?? false).toBe(false);
    const whileHeld = await reader.get(started.requestId);
    expect(whileHeld?.status).toBe('held');
    // The attempt that met the hold failed nothing at Recurly: the store waits for the release,
    // not `blocked` with the storage account's playbook for held blobs (LETHE_BLOCK_AFTER is 2 s).
    const recurlyHeld = whileHeld?.stores?.find((s) => s.store === 'recurly');
    expect([recurlyHeld?.status, recurlyHeld?.action ?? '']).toEqual([expect.not.stringMatching(/^blocked$/), expect.not.stringMatching(/blobs/)]);

    const released = await api.request('POST', `/v1/holds/${placed.body.holdId}/release`, { token: tokens.admin, body: { justification: 'order lifted' } });
    expect(released.status).toBe(200);
    const deadlineAt = new Date(Date.parse(released.body.releasedAt) + 72 * HOUR).toISOString();
    expect(released.body.started).toEqual([{ requestId: started.requestId, deadlineAt }]);
    // The release resumes the deletion: it does not turn blocked for the hold it waited out.
    const resumed = await waitForView(reader, started.requestId, (v) => v.status !== 'held', 'the request resumed');
    expect(resumed.status).not.toBe('blocked');
    await operator.retry(started.requestId, 'ops-on-call').catch(() => undefined);
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;
    expect(receipt.deadlineAt).toBe(deadlineAt);
    expect(receipt.verification.clean).toBe(true);
    const acct = await seed.recurly.getAccount(a.recurlyAccountCode!);
    expect(acct === null || acct.redacted).toBe(true);
  }, 240_000);
});
