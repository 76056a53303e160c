/**
 * Issue 30, items 7 and 11, through the HTTP API (and the CLI over it) on the real stack:
 * `resolve` only for a store that is blocked; `requestedBy` and `by` only identifiers; operator
 * actions pruned with the audit trail; the captured subject of a deletion that ended unfinished
 * and was not resumed erased after LETHE_ABANDONED_SUBJECT_DAYS.
 *
 * A store is held blocked the way a real one is: an uninvoiced Recurly charge (Recurly refuses
 * redaction while one exists), with the bounds short (a refusal for 2 s shows blocked). The
 * API's maintenance pass runs every half second here instead of every minute.
 */
import { randomUUID } from 'node:crypto';
import { startWorld, type TestWorld } from '../support/stack';
import { seedDepsOf } from '../support/world-seed';
import { startApi, type JsonBody, type TestApi } from '../support/api';
import { until } from '../support/until';
import { newScopePrefix } from '../sweep/support';
import { rng, seedAccount, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import { runCli } from '../../client/cli/main';
import type { Io } from '../../client/cli/command';
import { checkDeletionRequest, IDENTIFIER_PATTERN } from '../../client/validation';
import { MAINTENANCE_ACTOR } from '../../client/reconcile';
import { deletionWorkflowId, SWEEP_WORKFLOW_PREFIX, type Receipt, type Store } from '../../contract';

const DAY = 86_400_000;
const ABANDONED_DAYS = 5;

describe('operator actions and free text at rest', () => {
  let world: TestWorld;
  let seed: SeedDeps;
  let api: TestApi;
  const rand = rng(30_711);
  const charges: string[] = [];

  beforeAll(async () => {
    world = await startWorld({
      env: {
        LETHE_STORE_ATTEMPT_BUDGET: '30s',
        LETHE_BLOCK_AFTER: '2s',
        LETHE_BLOCK_AFTER_TRANSIENT: '2s',
        LETHE_STORE_RETRY_EVERY: '3s',
        LETHE_ABANDONED_SUBJECT_DAYS: String(ABANDONED_DAYS),
        // The dry-run sweep below reads only accounts under a prefix none has.
        LETHE_SWEEP_SCOPE: newScopePrefix(),
      },
    });
    seed = seedDepsOf(world);
    api = await startApi(world, { deps: { maintenanceIntervalMs: 500 } });
  }, 120_000);
  afterAll(async () => {
    for (const id of charges) await seed.recurly.removeLineItem(id).catch(() => undefined);
    await api?.close();
    await world?.close();
  });

  const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    let stdout = '';
    let stderr = '';
    const io = {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      env: { LETHE_API_URL: api.url, LETHE_API_TOKEN: api.token },
    } as unknown as Io;
    return { code: await runCli(args, io), stdout, stderr };
  };
  const view = async (requestId: string): Promise<JsonBody> => (await api.request('GET', `/v1/deletion-requests/${requestId}`)).body;
  const stateOf = (v: JsonBody, store: Store): string | undefined => (v?.stores ?? []).find((s: { store: string }) => s.store === store)?.status;

  /** A deletion filed through the API whose Recurly store stays blocked (an open charge), the other three verified. */
  async function blockedOnRecurly(): Promise<{ a: SeededAccount; requestId: string; chargeId: string }> {
    const a = await seedAccount(seed, { media: 3, loginEvents: 1 }, rand);
    const charge = await seed.recurly.createCharge({ accountCode: a.recurlyAccountCode!, amount: 15, description: 'replacement camera mount' });
    charges.push(charge.id);
    const filed = await api.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'support', requestedBy: 'desk-7' } });
    expect(filed.status).toBe(202);
    const requestId: string = filed.body.requestId;
    await until(
      'recurly blocked and the other stores verified',
      async () => {
        const v = await view(requestId);
        return v.status === 'blocked' && stateOf(v, 'recurly') === 'blocked' && (['media', 'auth0', 'database'] as const).every((s) => stateOf(v, s) === 'verified') ? v : undefined;
      },
      90_000,
      250,
    );
    return { a, requestId, chargeId: charge.id };
  }

  test('when a store is not blocked, then resolve is refused with 409 naming the store and its state (API and CLI) and nothing is recorded; a blocked store is resolved', async () => {
    const { a, requestId } = await blockedOnRecurly();
    const justification = 'removed by hand at the storage account, ticket OPS-311';

    const refused = await api.request('POST', `/v1/deletion-requests/${requestId}/resolve`, { body: { store: 'media', justification, by: 'ops-1' } });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: 'conflict', field: 'body/store' });
    expect(refused.body.message).toMatch(/media is verified, not blocked \(request [0-9a-f-]+ is blocked\)/);

    // The CLI goes through the same route: exit 1, the message in its own words.
    const byCli = await cli(['resolve', requestId, '--store', 'auth0', '--justification', justification, '--by', 'ops-1']);
    expect(byCli.code).toBe(1);
    expect(byCli.stderr).toMatch(/lethe resolve: --store: auth0 is verified, not blocked/);

    // A refusal leaves no action behind: the receipt could otherwise name one for a verified store.
    expect((await api.request('GET', `/v1/deletion-requests/${requestId}/actions`)).body.items).toEqual([]);

    const resolved = await api.request('POST', `/v1/deletion-requests/${requestId}/resolve`, { body: { store: 'recurly', justification, by: 'ops-1' } });
    expect(resolved.status).toBe(202);
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(a.id)).result()) as Receipt;
    expect(receipt.stores?.recurly).toMatchObject({ outcome: 'resolved_outside_lethe', resolution: { by: 'ops-1' } });
    expect(receipt.stores?.media).toMatchObject({ outcome: 'verified' });
    const actions = (await api.request('GET', `/v1/deletion-requests/${requestId}/actions`)).body.items;
    expect(actions).toEqual([expect.objectContaining({ action: 'resolve', store: 'recurly', by: 'ops-1', justification })]);

    // Once completed, no store of it is blocked: refused, naming the store and the request's state.
    const late = await api.request('POST', `/v1/deletion-requests/${requestId}/resolve`, { body: { store: 'recurly', justification, by: 'ops-1' } });
    expect(late.status).toBe(409);
    expect(late.body.message).toMatch(/recurly cannot be resolved: it is not blocked, the request's deletion is not running \(status completed\)/);

    // The OpenAPI document says so.
    const doc = (await api.request('GET', '/openapi.json')).body;
    const op = doc.paths['/v1/deletion-requests/{requestId}/resolve'].post;
    expect(op.description).toMatch(/Only a store that is `blocked` now/);
    expect(Object.keys(op.responses)).toContain('409');
  }, 180_000);

  test('when requestedBy or by is an email or free text, then 400 names the field and the pattern; identifiers, the sweep ids among them, pass', async () => {
    for (const requestedBy of ['ann.smith@example.com', 'agent 7 for Ann Smith', 'x'.repeat(129), '-desk', 'desk\u00e9']) {
      const res = await api.request('POST', '/v1/deletion-requests', { body: { accountId: randomUUID(), channel: 'support', requestedBy } });
      expect([requestedBy, res.status, res.body.field]).toEqual([requestedBy, 400, 'body/requestedBy']);
      expect(res.body.message).toContain(IDENTIFIER_PATTERN);
    }
    const byCases: [string, Record<string, unknown>][] = [
      [`/v1/deletion-requests/${randomUUID()}/retry`, { by: 'ann.smith@example.com' }],
      [`/v1/deletion-requests/${randomUUID()}/resolve`, { store: 'media', justification: 'held by counsel, removed by hand', by: 'Ann Smith' }],
      ['/v1/deletion-requests/retry', { status: 'failed', by: 'ann.smith@example.com' }],
    ];
    for (const [path, body] of byCases) {
      const res = await api.request('POST', path, { body });
      expect([path, res.status, res.body.field]).toEqual([path, 400, 'body/by']);
      expect(res.body.message).toContain(IDENTIFIER_PATTERN);
    }
    // The CLI names its own option.
    const cliRequest = await cli(['request', '--account', randomUUID(), '--channel', 'support', '--requested-by', 'ann@example.com']);
    expect(cliRequest.code).toBe(2);
    expect(cliRequest.stderr).toContain(`--requested-by must be an identifier matching ${IDENTIFIER_PATTERN}`);
    const cliRetry = await cli(['retry', randomUUID(), '--by', 'ann@example.com']);
    expect(cliRetry.code).toBe(2);
    expect(cliRetry.stderr).toContain('--by must be an identifier');

    // Identifiers pass the schema (an unknown account: 404, not 400).
    for (const requestedBy of ['agent-7', 'support-desk.eu:17', 'A'.repeat(128)]) {
      expect((await api.request('POST', '/v1/deletion-requests', { body: { accountId: randomUUID(), channel: 'support', requestedBy } })).status).toBe(404);
    }
    // The sweep files its deletions with its workflow id as requestedBy: a started one's, and
    // the ids its Schedule gives runs (the action's id and the scheduled time).
    const sweep = await api.request('POST', '/v1/sweeps', { body: { dryRun: true } });
    expect(sweep.status).toBe(202);
    const sweepIds = [sweep.body.sweepId, `${SWEEP_WORKFLOW_PREFIX}-2026-05-01T03:00:00Z`, `${world.config.sweep.scheduleId}-sweep-2026-05-01T03:00:00Z`];
    for (const id of sweepIds) expect([id, checkDeletionRequest({ accountId: randomUUID(), channel: 'api', requestedBy: id })]).toEqual([id, undefined]);
  }, 60_000);

  test('when operator actions are older than the audit retention, then the maintenance pass prunes them with the audit trail; newer ones stay', async () => {
    const requestId = randomUUID();
    const old = new Date(Date.now() - (world.config.audit.retentionDays + 1) * DAY);
    const rows = [
      { action_id: randomUUID(), at: old },
      { action_id: randomUUID(), at: new Date(Date.now() - (world.config.audit.retentionDays - 1) * DAY) },
      { action_id: randomUUID(), at: new Date() },
    ];
    const db = world.deps.db;
    await db('lethe.operator_actions').insert(rows.map((r) => ({ ...r, request_id: requestId, action: 'resolve', store: 'media', by: 'ops-1', justification: 'held by counsel, ticket LEGAL-9' })));
    await db('lethe.audit_log').insert({
      at: old,
      actor: 'ops-token',
      via: 'api',
      action: 'deletion_request.resolved',
      request_id: requestId,
      details: JSON.stringify({ actionId: rows[0].action_id }),
    });

    // The pass prunes both tables side by side: wait for the two, then look at what stayed.
    const left = await until(
      'the old action and its audit entry pruned',
      async () => {
        const ids: string[] = await db('lethe.operator_actions').where({ request_id: requestId }).orderBy('at').pluck('action_id');
        const entries: string[] = await db('lethe.audit_log').where({ request_id: requestId }).pluck('seq');
        return ids.length < rows.length && entries.length === 0 ? ids : undefined;
      },
      20_000,
      200,
    );
    expect(left).toEqual([rows[1].action_id, rows[2].action_id]);
  }, 60_000);

  test('when a deletion ended unfinished and is not resumed, then its sealed subject is erased after LETHE_ABANDONED_SUBJECT_DAYS, with an audit entry of ids only; a resumed one keeps it', async () => {
    const db = world.deps.db;
    const abandoned = await blockedOnRecurly();
    const resumed = await blockedOnRecurly();
    const subject = (accountId: string) => db('lethe.deletion_subjects').where({ account_id: accountId }).first('account_id', 'abandoned_at');
    expect(await subject(abandoned.a.id)).toMatchObject({ abandoned_at: null });

    // An operator terminates both runs in Temporal, outside Lethe.
    for (const r of [abandoned, resumed]) await world.client.workflow.getHandle(deletionWorkflowId(r.a.id)).terminate('stopped by an operator');
    for (const r of [abandoned, resumed]) {
      await until(
        'the request recorded failed',
        async () => {
          await view(r.requestId);
          return (await db('lethe.deletion_requests').where({ request_id: r.requestId }).first('status'))?.status === 'failed' ? true : undefined;
        },
        30_000,
        250,
      );
    }
    // The maintenance pass starts each one's clock.
    for (const r of [abandoned, resumed]) await until('the abandonment noted', async () => ((await subject(r.a.id))?.abandoned_at ? true : undefined), 20_000, 200);

    // One is resumed by an operator's retry (Recurly still refuses: it runs on, blocked).
    const retried = await api.request('POST', `/v1/deletion-requests/${resumed.requestId}/retry`, { body: { by: 'ops-1' } });
    expect(retried.status).toBe(202);
    await until('the resumed run blocked again', async () => ((await view(resumed.requestId)).status === 'blocked' ? true : undefined), 60_000, 250);

    // Both clocks read past the bound (moved back as stored, to the microsecond): only the one
    // not resumed is erased. The resumed one's clock was stopped; it is set going again here.
    await db('lethe.deletion_subjects')
      .where({ account_id: abandoned.a.id })
      .update({ abandoned_at: db.raw('abandoned_at - make_interval(days => ?)', [ABANDONED_DAYS + 1]) });
    await db('lethe.deletion_subjects')
      .where({ account_id: resumed.a.id })
      .update({ abandoned_at: new Date(Date.now() - (ABANDONED_DAYS + 1) * DAY) });
    await until('the abandoned subject erased', async () => ((await subject(abandoned.a.id)) ? undefined : true), 20_000, 200);
    expect(await subject(resumed.a.id)).toMatchObject({ account_id: resumed.a.id, abandoned_at: null });

    const audit = await api.request('GET', `/v1/audit?requestId=${abandoned.requestId}&action=deletion_subject.erased`);
    expect(audit.body.items).toEqual([
      expect.objectContaining({
        actor: MAINTENANCE_ACTOR,
        via: 'system',
        action: 'deletion_subject.erased',
        requestId: abandoned.requestId,
        accountId: abandoned.a.id,
        details: { outcome: 'abandoned' },
      }),
    ]);
    expect(JSON.stringify(audit.body)).not.toContain(abandoned.a.email);
    // Nothing is left to resume from (the account's rows went before Recurly blocked): a retry says so.
    const late = await api.request('POST', `/v1/deletion-requests/${abandoned.requestId}/retry`, { body: { by: 'ops-1' } });
    expect(late.status).toBe(409);
    expect(late.body.message).toMatch(/nothing Lethe captured remains to resume from/);

    // The resumed deletion finishes once the charge is gone.
    await seed.recurly.removeLineItem(resumed.chargeId);
    expect((await api.request('POST', `/v1/deletion-requests/${resumed.requestId}/retry`, { body: { by: 'ops-1' } })).status).toBe(202);
    const receipt = (await world.client.workflow.getHandle(deletionWorkflowId(resumed.a.id)).result()) as Receipt;
    expect(receipt.verification.clean).toBe(true);
    expect(await subject(resumed.a.id)).toBeUndefined();
  }, 240_000);
});
