/**
 * `lethe hold` against the API on the real stack (in process, as test/cli's help check runs
 * commands): place, list, release, and a second release refused; the API's own records agree.
 */
import { randomUUID } from 'node:crypto';
import { startWorld, TestWorld } from '../support/stack';
import { startApi, TestApi } from '../support/api';
import { runLethe } from '../support/cli';

describe('lethe hold', () => {
  let world: TestWorld;
  let api: TestApi;
  beforeAll(async () => {
    world = await startWorld();
    api = await startApi(world);
  });
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  const lethe = (args: string[]) => runLethe(api, args);

  test('when an admin places, lists and releases a hold with the CLI, then each is done through the API and a second release is refused', async () => {
    const accountId = randomUUID();
    const placed = await lethe(['hold', 'place', accountId, '--reason', 'tax audit 2026', '--matter', 'audit-7', '--json']);
    expect(placed.code).toBe(0);
    const holdId = JSON.parse(placed.stdout).holdId as string;
    expect(await world.deps.db('lethe.holds').where({ hold_id: holdId, account_id: accountId }).whereNull('released_at').first('hold_id')).toEqual({ hold_id: holdId });

    const listed = await lethe(['hold', 'list', '--account', accountId]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${holdId}\\s+${accountId}\\s+active.*tax audit 2026`));

    const released = await lethe(['hold', 'release', holdId, '--justification', 'audit closed']);
    expect([released.code, released.stdout]).toEqual([0, expect.stringContaining(`Hold ${holdId} released`)]);
    expect(await world.deps.db('lethe.holds').where({ hold_id: holdId }).whereNotNull('released_at').first('hold_id')).toEqual({ hold_id: holdId });

    const again = await lethe(['hold', 'release', holdId, '--justification', 'again']);
    expect(again.code).not.toBe(0);
    expect((await lethe(['hold', 'place', accountId])).code).toBe(2);
  });
});
