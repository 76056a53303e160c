/**
 * Issue 34, legal holds, on the real stack: an admin places a hold through the API; a real
 * sweep leaves the held account alone; a deletion request for it is recorded `held`, starts no
 * workflow, touches no store (seen through the stores' own paths) and mails the person that the
 * deletion is deferred under a legal obligation; a requester or operator token may neither
 * place nor release; the release starts the deletion with 72 hours from the release, and it
 * completes. The hold's reason is sealed at rest.
 */
import { randomBytes } from 'node:crypto';
import { startWorld, testConfig, TestWorld } from '../support/stack';
import { startApi, TestApi } from '../support/api';
import { seedDepsOf } from '../support/world-seed';
import { fingerprint, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import { createSweepService, type SweepService } from '../../client/sweeps';
import { createRequestReader, type RequestReader } from '../../client/requests';
import { cutoffFor } from '../../activities/sweep/candidates';
import { expectEmpty, storesOf } from '../support/stores';
import { waitForView } from '../support/deletions';
import { waitForMail } from '../support/mailpit';
import { daysAfter, newScopePrefix, scopedSeeder } from '../sweep/support';
import { credentialEntry, ROLES, type Role } from '../../config';
import { deletionWorkflowId, type SweepResult } from '../../contract';

const HOUR = 3_600_000;

describe('legal holds', () => {
  let world: TestWorld;
  let api: TestApi;
  let seed: SeedDeps;
  let sweeps: SweepService;
  let reader: RequestReader;
  let held: SeededAccount;
  let free: SeededAccount;
  let heldBefore: string;
  let holdId: string;
  let requestId: string;
  let receivedAt: string;
  const suffix = randomBytes(3).toString('hex');
  const tokens = Object.fromEntries(ROLES.map((r) => [r, randomBytes(32).toString('base64url')])) as Record<Role, string>;
  // Staff's text carries its own marker (the token names carry `suffix`): it must not show at rest, in the trail or in a mail.
  const secret = randomBytes(4).toString('hex');
  const REASON = `litigation hold, matter ${secret}: Smith v. Example`;

  beforeAll(async () => {
    const prefix = newScopePrefix();
    world = await startWorld({ env: { LETHE_SWEEP_STARTS_PER_MINUTE: '6000', LETHE_SWEEP_CONCURRENCY: '2', LETHE_SWEEP_SCOPE: prefix } });
    seed = seedDepsOf(world);
    const seeder = scopedSeeder(seed, 34_2026, prefix);
    const credentials = testConfig({ LETHE_API_TOKENS: ROLES.map((r) => credentialEntry(`holds-${r}-${suffix}`, r, tokens[r])).join(',') }).api.credentials;
    api = await startApi(world, { config: { tokens: [], credentials } });
    sweeps = createSweepService({ config: world.config, temporal: world.client, db: world.deps.db });
    reader = createRequestReader({ config: world.config, db: world.deps.db, temporal: world.client });
    const cutoff = await cutoffFor(world.deps.db, new Date().toISOString(), 24, 'UTC');
    const inactive = { createdAt: daysAfter(cutoff, -200), lastLoginAt: daysAfter(cutoff, -30), subscriptions: null };
    held = await seeder.account(inactive);
    free = await seeder.account(inactive);
    heldBefore = await fingerprint(seed, held);
  }, 180_000);
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  test('when a requester or an operator tries to place or release a hold, then it is refused (403) and nothing is held', async () => {
    for (const role of ['requester', 'operator'] as const) {
      const place = await api.request('POST', '/v1/holds', { token: tokens[role], body: { accountId: held.id, reason: REASON } });
      expect([role, place.status]).toEqual([role, 403]);
      const release = await api.request('POST', `/v1/holds/${held.id}/release`, { token: tokens[role], body: { justification: 'not mine to lift' } });
      expect([role, release.status]).toEqual([role, 403]);
    }
    expect(await world.deps.db('lethe.holds').where({ account_id: held.id }).count({ n: '*' })).toEqual([{ n: 0 }]);
  });

  test('when an admin places a hold, then it is listed with its reason, audited, counted, and its text is sealed at rest', async () => {
    const res = await api.request('POST', '/v1/holds', { token: tokens.admin, body: { accountId: held.id, reason: REASON, matter: `case ${secret}` } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ holdId: expect.any(String), accountId: held.id, placedAt: expect.any(String) });
    holdId = res.body.holdId;

    const list = await api.request('GET', `/v1/holds?accountId=${held.id}`, { token: tokens.admin });
    expect(list.body.items).toEqual([expect.objectContaining({ holdId, accountId: held.id, reason: REASON, matter: `case ${secret}`, active: true, placedBy: `holds-admin-${suffix}` })]);

    const row = await world.deps.db('lethe.holds').where({ hold_id: holdId }).first();
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(JSON.stringify(row)).not.toContain('Smith');
    const audit = await world.deps.db('lethe.audit_log').where({ action: 'hold.placed', account_id: held.id });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(secret);

    const metrics = await api.request('GET', '/metrics', { token: tokens.admin });
    expect(metrics.text).toMatch(/^lethe_holds_active [1-9]\d*$/m);
  });

  test('when a real sweep runs, then it deletes the other inactive account and never selects the held one', async () => {
    const { sweepId } = await sweeps.start({ dryRun: false });
    const result: SweepResult = await world.client.workflow.getHandle(sweepId).result();
    expect(result).toMatchObject({ scanned: 1, eligible: 1, started: 1 });
    const candidates = (await world.deps.db('lethe.sweep_candidates').where({ sweep_id: sweepId }).select('account_id')).map((r) => r.account_id);
    expect(candidates).toEqual([free.id]);
    await expect(world.client.workflow.getHandle(deletionWorkflowId(held.id)).describe()).rejects.toThrow();
    expect(await fingerprint(seed, held)).toEqual(heldBefore);
  }, 120_000);

  test('when a deletion is requested for the held account, then it is recorded held, nothing runs or changes, and the person is told why', async () => {
    const asked = new Date(Date.now() - 1000);
    // Received two hours ago: the release's fresh 72 hours must not count from here.
    receivedAt = new Date(Date.now() - 2 * HOUR).toISOString();
    const res = await api.request('POST', '/v1/deletion-requests', { token: tokens.requester, body: { accountId: held.id, channel: 'support', receivedAt } });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accountId: held.id, status: 'held', receivedAt });
    requestId = res.body.requestId;

    const view = await api.request('GET', `/v1/deletion-requests/${requestId}`, { token: tokens.requester });
    expect(view.body).toMatchObject({ requestId, status: 'held', overdue: false });
    await expect(world.client.workflow.getHandle(deletionWorkflowId(held.id)).describe()).rejects.toThrow();

    const mail = await waitForMail({ to: held.email, subject: /deferred under a legal obligation/, after: asked });
    expect(mail.text).toContain('The deletion is deferred under a legal obligation');
    expect(mail.text).toContain(requestId);
    // Staff's text never goes to the person.
    expect(mail.text).not.toContain(secret);
    expect(mail.text).not.toContain('Smith');

    // A second request joins the held one; still nothing changed in any store.
    const again = await api.request('POST', '/v1/deletion-requests', { token: tokens.requester, body: { accountId: held.id, channel: 'email' } });
    expect(again.body).toMatchObject({ requestId, status: 'held', existing: true });
    expect(await fingerprint(seed, held)).toEqual(heldBefore);
    const stores = await storesOf(seed, held);
    expect(stores.blobs).toBeGreaterThan(0);
    expect(stores.auth0ById).not.toBeNull();
    expect(Object.values(stores.rows).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  test('when the hold is released, then the held request starts with 72 hours from the release and completes', async () => {
    const refused = await api.request('POST', `/v1/holds/${holdId}/release`, { token: tokens.admin, body: {} });
    expect(refused.status).toBe(400);

    const res = await api.request('POST', `/v1/holds/${holdId}/release`, { token: tokens.admin, body: { justification: `matter ${secret} closed` } });
    expect(res.status).toBe(200);
    const releasedAt = Date.parse(res.body.releasedAt);
    expect(res.body.started).toEqual([{ requestId, deadlineAt: new Date(releasedAt + 72 * HOUR).toISOString() }]);
    expect((await api.request('POST', `/v1/holds/${holdId}/release`, { token: tokens.admin, body: { justification: 'again' } })).status).toBe(409);

    const done = await waitForView(reader, requestId, (v) => v.status === 'completed', 'the released deletion to complete', 120_000);
    expect(done.deadlineAt).toBe(new Date(releasedAt + 72 * HOUR).toISOString());
    expect(done.receipt?.deadlineAt).toBe(new Date(releasedAt + 72 * HOUR).toISOString());
    expect(done.receipt?.receivedAt).toBe(receivedAt);
    expect(done.overdue).toBe(false);
    expectEmpty(await storesOf(seed, held));

    const list = await api.request('GET', `/v1/holds?accountId=${held.id}`, { token: tokens.admin });
    expect(list.body.items).toEqual([expect.objectContaining({ holdId, active: false, justification: `matter ${secret} closed`, releasedBy: `holds-admin-${suffix}` })]);
    expect(await world.deps.db('lethe.audit_log').where({ action: 'hold.released', account_id: held.id })).toHaveLength(1);
  }, 180_000);
});
