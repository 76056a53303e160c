/**
 * `lethe correct` against the API on the real stack (in process, as test/holds/cli.test.ts runs
 * `lethe hold`): a correction filed and followed to its receipt, read back through SQL; the
 * status of a request; a refusal's exit code; a usage error.
 */
import { startWorld, type TestWorld } from '../support/stack';
import { startApi, type TestApi } from '../support/api';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { seedAccount } from '../../dev/seed/fixtures';
import { runLethe } from '../support/cli';
import { armFault } from '../sandboxes/helpers/sandboxAdmin';
import { correctionWorkflowId } from '../../contract/correction';

describe('lethe correct', () => {
  let world: TestWorld;
  let api: TestApi;
  const rand = rngFor(__filename);
  beforeAll(async () => {
    world = await startWorld();
    api = await startApi(world);
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  const lethe = (args: string[]) => runLethe(api, args);

  test('when an operator corrects a name and a city with the CLI and waits, then it prints the receipt by field and the database holds the new values', async () => {
    const a = await seedAccount(seedDepsOf(world), { media: 0 }, rand);
    const run = await lethe(['correct', a.id, '--channel', 'phone', '--requested-by', 'agent-9', '--full-name', 'Rosalind Elsie Franklin', '--city', 'London', '--clear', 'region', '--wait']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Correction [0-9a-f-]{36} of account .*: completed \(fields: full_name, city, region\)/);
    expect(run.stdout).toMatch(/database\s+applied: full_name, city, region/);
    expect(run.stdout).toMatch(/auth0\s+applied: full_name/);
    expect(run.stdout).toMatch(/recurly\s+applied: full_name, city, region/);
    expect(await world.deps.db('accounts').where({ id: a.id }).first('full_name', 'city', 'region')).toEqual({ full_name: 'Rosalind Elsie Franklin', city: 'London', region: null });

    const requestId = /^Correction ([0-9a-f-]{36})/.exec(run.stdout)![1];
    const status = await lethe(['correct', 'status', requestId, '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ requestId, accountId: a.id, status: 'completed', fields: ['full_name', 'city', 'region'] });
  }, 90_000);

  test('when --wait runs out of its --timeout, then exit 6 says it goes on, with the request as it stands', async () => {
    const a = await seedAccount(seedDepsOf(world), { media: 0 }, rand);
    // Recurly answers 500 for this account only (the sandbox is shared): the correction keeps retrying it.
    await armFault(world.config.recurly.baseUrl!, { mode: '500', count: 100_000, pathPrefix: `/accounts/code-${a.recurlyAccountCode}` });
    const run = await lethe(['correct', a.id, '--channel', 'phone', '--city', 'York', '--wait', '--timeout', '1', '--json']);
    expect(run.code).toBe(6);
    expect(run.stderr).toMatch(/still (pending|running|retrying) after 1 s; it goes on: lethe correct status [0-9a-f-]{36} --wait/);
    const view = JSON.parse(run.stdout);
    expect(view).toMatchObject({ accountId: a.id, fields: ['city'] });
    await world.client.workflow.getHandle(correctionWorkflowId(view.requestId)).terminate('test done');
    expect((await lethe(['correct', a.id, '--channel', 'phone', '--city', 'York', '--wait', '--timeout', 'soon'])).code).toBe(2);
  }, 60_000);

  test('when the API refuses or the command is incomplete, then the exit code says so', async () => {
    const a = await seedAccount(seedDepsOf(world), { media: 0, subscriptions: null }, rand);
    const held = await api.request('POST', '/v1/holds', { body: { accountId: a.id, reason: 'cli refusal test' } });
    expect(held.status).toBe(201);
    const refused = await lethe(['correct', a.id, '--channel', 'support', '--city', 'Leeds']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/legal hold/);
    expect((await lethe(['correct', a.id, '--channel', 'support'])).code).toBe(2);
    expect((await lethe(['correct', a.id, '--city', 'Leeds'])).code).toBe(2);
    const help = await lethe(['correct', '--help']);
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining('Usage: lethe correct')]);
  }, 60_000);
});
