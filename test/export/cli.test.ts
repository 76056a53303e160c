/**
 * `lethe access` against the API on the real stack (in process, as test/holds/cli.test.ts):
 * a request filed by id and followed to `ready`, an unknown account
 * refused with exit 3, and the link never printed.
 */
import { randomUUID } from 'node:crypto';
import { startWorld, type TestWorld } from '../support/stack';
import { startApi, type TestApi } from '../support/api';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { seedAccount } from '../../dev/seed/fixtures';
import { runLethe } from '../support/cli';

describe('lethe access', () => {
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

  test('when staff file an access request with the CLI and wait, then it is ready with its archive, and no link is printed', async () => {
    const a = await seedAccount(seedDepsOf(world), { media: 3, auth0: 'none', subscriptions: null }, rand);
    const filed = await lethe(['access', 'request', '--account', a.id, '--channel', 'support', '--requested-by', 'agent-7', '--json']);
    expect(filed.code).toBe(0);
    const { requestId } = JSON.parse(filed.stdout) as { requestId: string };
    expect(await world.deps.db('lethe.access_requests').where({ request_id: requestId, account_id: a.id }).first('requested_by')).toEqual({ requested_by: 'agent-7' });

    const waited = await lethe(['access', 'status', requestId, '--wait', '--timeout', '120']);
    expect(waited.code).toBe(0);
    expect(waited.stdout).toMatch(/status\s+ready/);
    expect(waited.stdout).toMatch(/archive\s+1 part\(s\)/);
    expect(waited.stdout).not.toMatch(/sig=|https?:/);

    expect((await lethe(['access', 'request', '--account', randomUUID(), '--channel', 'support'])).code).toBe(3);
    expect((await lethe(['access', 'request', '--channel', 'support'])).code).toBe(2);
    expect((await lethe(['access', 'status', randomUUID()])).code).toBe(3);
  }, 180_000);
});
