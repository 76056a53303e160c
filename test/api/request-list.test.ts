/**
 * `GET /v1/requests` (issue 35 item 6) on the real stack: one request of each type filed through
 * the API's own routes shows in the list with its type, status and clock, and the filters
 * (type, status, accountId, channel, overdue, paging) narrow it. A bystander whose email differs
 * only in letter case never shows under the person's accountId. The list never carries an
 * address or a correction's new values. Planted rows (known deadlines, under an account id of
 * this file's own) check each type's overdue rule. The deletion list is left as it was.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { startWorld, type TestWorld } from '../support/stack';
import { startApi, type JsonBody, type TestApi } from '../support/api';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { tokenDigest } from '../../config';

const REQUESTER = `rq-${randomUUID()}`;
const HOUR = 3_600_000;

describe('GET /v1/requests: every type in one list', () => {
  let world: TestWorld;
  let api: TestApi;
  let seed: SeedDeps;
  const rand = rngFor(__filename);
  const run = randomBytes(4).toString('hex');

  beforeAll(async () => {
    world = await startWorld();
    seed = seedDepsOf(world);
    api = await startApi(world, { config: { credentials: [...(world.config.api.credentials ?? []), { name: 'list-requester', role: 'requester', digest: tokenDigest(REQUESTER) }] } });
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  const list = async (q: string): Promise<JsonBody> => {
    const res = await api.request('GET', `/v1/requests?${q}`);
    expect([q, res.status]).toEqual([q, 200]);
    return res.body;
  };
  const pairs = (body: JsonBody): string[] => (body.items as { type: string; requestId: string }[]).map((i) => `${i.type}:${i.requestId}`);

  test('when a deletion, an access request and a correction are filed, then each shows with its type and clock, the filters narrow them, and a case twin never shows under the person’s accountId', async () => {
    const person = await seedAccount(seed, { media: 1, auth0: 'none', subscriptions: null }, rand);
    // The bystander: the same address but for its first letter's case, a different person.
    const twin = await seedAccount(seed, { media: 1, auth0: 'none', subscriptions: null, email: person.email.replace(/^./, (c) => c.toUpperCase()) }, rand);
    expect(twin.email.toLowerCase()).toBe(person.email.toLowerCase());
    expect(twin.email).not.toBe(person.email);

    const access = await api.request('POST', '/v1/access-requests', { body: { accountId: person.id, channel: 'support', requestedBy: 'desk-35' } });
    expect(access.status).toBe(202);
    // Values that must never leave the sealed column: a new name and a new address.
    const sealedName = `Sealed Name ${run}`;
    const sealedEmail = `sealed-${run}@example.test`;
    const correction = await api.request('POST', '/v1/correction-requests', { body: { accountId: person.id, channel: 'phone', changes: { full_name: sealedName, email: sealedEmail } } });
    expect(correction.status).toBe(202);
    const twinAccess = await api.request('POST', '/v1/access-requests', { body: { accountId: twin.id, channel: 'email' } });
    expect(twinAccess.status).toBe(202);
    const deletion = await api.request('POST', '/v1/deletion-requests', { body: { accountId: twin.id, channel: 'api' } });
    expect(deletion.status).toBe(202);
    const ids = {
      access: access.body.requestId as string,
      correction: correction.body.requestId as string,
      twinAccess: twinAccess.body.requestId as string,
      deletion: deletion.body.requestId as string,
    };

    // The person's: their two, newest first; never the twin's.
    const mine = await list(`accountId=${person.id}`);
    expect(pairs(mine)).toEqual([`correction:${ids.correction}`, `access:${ids.access}`]);
    for (const item of mine.items) {
      expect(item).toMatchObject({ accountId: person.id, overdue: false });
      expect(Date.parse(item.deadlineAt) - Date.parse(item.receivedAt)).toBe(world.config.deletion.deadlineHours * HOUR);
    }
    expect(mine.items[0]).toMatchObject({ type: 'correction', channel: 'phone', status: expect.stringMatching(/^(pending|running|awaiting_confirmation)$/) });
    expect(mine.items[1]).toMatchObject({ type: 'access', channel: 'support', status: expect.stringMatching(/^(pending|running|blocked|ready)$/) });
    // The twin's: their access request and their deletion (the deletion filed last), never the person's.
    expect(pairs(await list(`accountId=${twin.id}`))).toEqual([`deletion:${ids.deletion}`, `access:${ids.twinAccess}`]);
    // An accountId in upper case is the same account.
    expect(pairs(await list(`accountId=${person.id.toUpperCase()}`))).toEqual(pairs(mine));

    // By type: each type's own, none of the others'.
    for (const [type, id, account] of [
      ['deletion', ids.deletion, twin.id],
      ['access', ids.access, person.id],
      ['correction', ids.correction, person.id],
    ] as const) {
      const body = await list(`type=${type}&accountId=${account}`);
      expect(pairs(body)).toEqual([`${type}:${id}`]);
    }
    // Without an account filter too: the newest page of one type holds only that type, and holds this file's request.
    const accessPage = await list('type=access&limit=200');
    expect(new Set(accessPage.items.map((i: { type: string }) => i.type))).toEqual(new Set(['access']));
    expect(pairs(accessPage)).toEqual(expect.arrayContaining([`access:${ids.access}`, `access:${ids.twinAccess}`]));
    // Status and channel.
    expect(pairs(await list(`accountId=${person.id}&status=refused`))).toEqual([]);
    expect(pairs(await list(`accountId=${person.id}&channel=phone`))).toEqual([`correction:${ids.correction}`]);
    expect(pairs(await list(`accountId=${person.id}&overdue=true`))).toEqual([]);
    expect(pairs(await list(`accountId=${person.id}&overdue=false`))).toEqual(pairs(mine));

    // Paging: one a page, in order, then no cursor.
    const first = await list(`accountId=${person.id}&limit=1`);
    expect(pairs(first)).toEqual([`correction:${ids.correction}`]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await list(`accountId=${person.id}&limit=1&cursor=${first.nextCursor}`);
    expect(pairs(second)).toEqual([`access:${ids.access}`]);
    expect(second.nextCursor).toBeUndefined();

    // No address and no new value anywhere in the list, filtered or not.
    const texts = [(await api.request('GET', `/v1/requests?accountId=${person.id}`)).text, (await api.request('GET', '/v1/requests?limit=200')).text];
    for (const text of texts) for (const secret of [person.email, twin.email, sealedName, sealedEmail, 'sig=']) expect([secret, text.includes(secret)]).toEqual([secret, false]);

    // The deletion list is unchanged: no type field, its own shape.
    const deletions = await api.request('GET', '/v1/deletion-requests?limit=200');
    expect(deletions.status).toBe(200);
    const item = deletions.body.items.find((i: { requestId: string }) => i.requestId === ids.deletion);
    expect(item).toMatchObject({ requestId: ids.deletion, accountId: twin.id, channel: 'api' });
    expect(item.type).toBeUndefined();
  }, 120_000);

  test('when requests of each type are past their deadline, then overdue follows each type’s rule: not a held deletion, a cancelled access request, a refused correction or one waiting for the person', async () => {
    const account = randomUUID();
    const db = world.deps.db;
    // One now for every planted time, so a deadline is exactly its receipt plus 72 hours.
    const now = Date.now();
    const ago = (h: number) => new Date(now - h * HOUR);
    const plant = async (type: 'deletion' | 'access' | 'correction', status: string, receivedHoursAgo: number, completedHoursAgo?: number): Promise<string> => {
      const id = randomUUID();
      const base = {
        request_id: id,
        account_id: account,
        channel: 'support',
        status,
        received_at: ago(receivedHoursAgo),
        completed_at: completedHoursAgo === undefined ? null : ago(completedHoursAgo),
      };
      if (type === 'correction') await db('lethe.correction_requests').insert({ ...base, fields: JSON.stringify(['full_name']) });
      else await db(type === 'deletion' ? 'lethe.deletion_requests' : 'lethe.access_requests').insert({ ...base, deadline_at: ago(receivedHoursAgo - 72) });
      return id;
    };
    const overdue = [
      await plant('deletion', 'running', 80),
      await plant('deletion', 'completed', 90, 10), // finished late stays overdue
      await plant('access', 'running', 80),
      await plant('access', 'ready', 90, 5), // ready after its deadline
      await plant('correction', 'running', 80),
      await plant('correction', 'completed', 90, 5),
    ];
    const onTime = [
      await plant('deletion', 'held', 100),
      await plant('deletion', 'running', 10),
      await plant('access', 'cancelled', 100),
      await plant('access', 'ready', 100, 60),
      await plant('correction', 'refused', 100),
      await plant('correction', 'awaiting_confirmation', 100),
      await plant('correction', 'completed', 100, 90),
    ];
    const ids = (body: JsonBody) => (body.items as { requestId: string }[]).map((i) => i.requestId).sort();
    expect(ids(await list(`accountId=${account}&overdue=true&limit=200`))).toEqual([...overdue].sort());
    expect(ids(await list(`accountId=${account}&overdue=false&limit=200`))).toEqual([...onTime].sort());
    // Status: a planted row's stays as planted (a filed request's moves on while the test reads it).
    expect(ids(await list(`accountId=${account}&status=cancelled`))).toEqual([onTime[2]]);
    expect(ids(await list(`accountId=${account}&status=completed&type=correction`))).toEqual([overdue[5], onTime[6]].sort());
    const all = await list(`accountId=${account}&limit=200`);
    expect(all.items).toHaveLength(overdue.length + onTime.length);
    // Newest received first, across the three tables.
    const received = (all.items as { receivedAt: string }[]).map((i) => Date.parse(i.receivedAt));
    expect(received).toEqual([...received].sort((a, b) => b - a));
    // A correction's deadline is its receipt plus the deadline hours; the others' their own.
    for (const i of all.items) expect(Date.parse(i.deadlineAt) - Date.parse(i.receivedAt)).toBe(72 * HOUR);
    // Paged three at a time over the three tables: every request once, in the same order.
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await list(`accountId=${account}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      paged.push(...page.items.map((i: { requestId: string }) => i.requestId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all.items.map((i: { requestId: string }) => i.requestId));
  });

  test.each([
    ['type=erasure', 'querystring/type'],
    ['status=lost', 'querystring/status'],
    ['accountId=not-a-uuid', 'querystring/accountId'],
    ['overdue=maybe', 'querystring/overdue'],
    ['channel=fax', 'querystring/channel'],
    ['limit=0', 'querystring/limit'],
    ['limit=201', 'querystring/limit'],
    ['cursor=bm90LWEtY3Vyc29y', 'querystring/cursor'],
    ['kind=access', 'querystring/kind'],
  ])('when the query is %s, then 400 names %s', async (q, field) => {
    const res = await api.request('GET', `/v1/requests?${q}`);
    expect(res.status).toBe(400);
    expect(res.body.field).toBe(field);
    expect(res.body.message).toContain(field);
  });

  test('when a requester token asks, then 403 (the deletion list’s role, operator); the OpenAPI document describes the route', async () => {
    const res = await api.request('GET', '/v1/requests', { token: REQUESTER });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'forbidden', requiredRole: 'operator' });
    expect((await api.request('GET', '/v1/deletion-requests', { token: REQUESTER })).status).toBe(403);
    const doc = (await api.request('GET', '/openapi.json')).body;
    const op = doc.paths['/v1/requests'].get;
    expect(op.operationId).toBe('listRequests');
    expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['type', 'status', 'accountId', 'channel', 'overdue', 'limit', 'cursor']));
    expect(op.parameters.find((p: { name: string }) => p.name === 'type').schema.enum).toEqual(['deletion', 'access', 'correction']);
  });
});
