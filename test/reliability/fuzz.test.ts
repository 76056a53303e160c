/**
 * Issue 7, bad input and access. Every route of the API is fed malformed, oversized, mistyped
 * and tricky input, and called without a token, with a wrong one and with near misses of the
 * right one. The only acceptable answers are 4xx; nothing is deleted; the service stays
 * healthy; no token reaches a log line.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { startWorld, TestWorld } from '../support/stack';
import { seedDepsOf } from '../support/world-seed';
import { fingerprint, rng, seedAccount, SeededAccount, SeedDeps } from '../../dev/seed/fixtures';
import { createApiServer } from '../../client/api/server';
import { createApiLogger } from '../../client/api/logger';

const TOKEN = 'fuzz-suite-token-0123456789abcdef';

/** Deterministic inputs: the same run every time, so a failure can be replayed. */
function fuzzStrings(rand: () => number, n: number): string[] {
  const pieces = [
    '%',
    '_',
    '%25',
    '..',
    '../',
    '/',
    '\\',
    '\u0000',
    '\u202e',
    '💥',
    'é',
    'ß',
    "'",
    '"',
    ';--',
    ' or 1=1',
    '\n',
    '\t',
    '{',
    '}',
    '[',
    ']',
    '@',
    '@@',
    'a@b',
    '%@%',
    '_@_',
    '*',
    '?',
    '#',
    '&',
    '=',
    'null',
    'undefined',
    '-1',
    '1e309',
    'NaN',
  ];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    const len = 1 + Math.floor(rand() * 8);
    for (let k = 0; k < len; k++) s += pieces[Math.floor(rand() * pieces.length)];
    out.push(s);
  }
  return out;
}

describe('reliability: bad input and access', () => {
  let world: TestWorld;
  let seed: SeedDeps;
  let app: FastifyInstance;
  let base: string;
  let bystanders: SeededAccount[];
  let before: string[];
  const logLines: string[] = [];
  const tried = { requests: 0, statuses: new Map<number, number>() };

  beforeAll(async () => {
    world = await startWorld({ env: { LETHE_API_TOKENS: TOKEN } });
    seed = seedDepsOf(world);
    const rand = rng(4242);
    // Emails with the characters a LIKE would treat as patterns.
    bystanders = [
      await seedAccount(seed, { email: `per%cent_${Date.now()}@example.test`, media: 2 }, rand),
      await seedAccount(seed, { email: `under_score${Date.now()}@example.test`, media: 2, auth0: 'legacy' }, rand),
      await seedAccount(seed, { media: 3, supportRequests: 1, emailOnlySupportRequests: 1 }, rand),
    ];
    before = await Promise.all(bystanders.map((b) => fingerprint(seed, b)));
    app = createApiServer({
      config: world.config,
      db: world.deps.db,
      temporal: world.client,
      logger: createApiLogger({ level: 'debug', destination: { write: (line: string) => void logLines.push(line) } }),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app?.close();
    await world?.close();
  });

  async function call(method: string, p: string, opts: { body?: string | Buffer; token?: string | null; contentType?: string; headers?: Record<string, string> } = {}): Promise<number> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? TOKEN}`;
    if (opts.body !== undefined) headers['content-type'] = opts.contentType ?? 'application/json';
    const res = await fetch(`${base}${p}`, { method, headers, body: opts.body });
    await res.arrayBuffer();
    tried.requests++;
    tried.statuses.set(res.status, (tried.statuses.get(res.status) ?? 0) + 1);
    return res.status;
  }

  const expect4xx = (status: number, what: string) => {
    if (status < 400 || status >= 500) throw new Error(`${what} answered ${status}, expected a 4xx`);
  };

  const ROUTES: [string, string][] = [
    ['POST', '/v1/deletion-requests'],
    ['GET', '/v1/deletion-requests/00000000-0000-4000-8000-000000000000'],
    ['GET', '/v1/deletion-requests'],
    ['POST', '/v1/sweeps'],
    ['GET', '/v1/sweeps/some-sweep'],
    ['GET', '/openapi.json'],
    ['GET', '/metrics'],
  ];

  test('when any route is called without a token, with a wrong one or a near miss, then it answers 401', async () => {
    const wrong = [null, '', 'x', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), ` ${TOKEN}`, `${TOKEN},${TOKEN}`, 'Bearer'];
    for (const [method, p] of ROUTES) {
      for (const token of wrong) {
        const body = method === 'POST' ? JSON.stringify({ accountId: bystanders[0].id, channel: 'api' }) : undefined;
        expect(await call(method, p, { token, body })).toBe(401);
      }
      // Other schemes are not bearer tokens.
      expect(await call(method, p, { token: null, headers: { authorization: `Basic ${Buffer.from(`${TOKEN}:`).toString('base64')}` } })).toBe(401);
      expect(await call(method, p, { token: null, headers: { authorization: TOKEN } })).toBe(401);
    }
    expect(await call('GET', '/healthz', { token: null })).toBe(200);
  });

  test('when the request body is malformed, mistyped, repeated or huge, then every answer is a 4xx', async () => {
    const rand = rng(99);
    const strings = fuzzStrings(rand, 150);
    const bodies: (string | Buffer)[] = [
      '',
      '{',
      '}',
      '[]',
      'null',
      'true',
      '0',
      '"x"',
      '{"accountId":',
      '{"channel":"api"',
      '\u0000',
      '{"a":1}{"b":2}',
      JSON.stringify({}),
      JSON.stringify({ channel: 'api' }),
      JSON.stringify({ accountId: bystanders[0].id }),
      JSON.stringify({ accountId: bystanders[0].id, email: bystanders[0].email, channel: 'api' }),
      JSON.stringify({ accountId: bystanders[0].id, channel: 'inactivity' }),
      JSON.stringify({ accountId: bystanders[0].id, channel: 'API' }),
      JSON.stringify({ accountId: bystanders[0].id, channel: ['api'] }),
      JSON.stringify({ accountId: [bystanders[0].id], channel: 'api' }),
      JSON.stringify({ accountId: { $ne: null }, channel: 'api' }),
      JSON.stringify({ accountId: 12345, channel: 'api' }),
      JSON.stringify({ accountId: bystanders[0].id, channel: 'api', receivedAt: '2999-01-01T00:00:00Z' }),
      JSON.stringify({ accountId: bystanders[0].id, channel: 'api', receivedAt: 'yesterday' }),
      JSON.stringify({ accountId: bystanders[0].id, channel: 'api', receivedAt: 1700000000 }),
      JSON.stringify({ accountId: bystanders[0].id, channel: 'api', requestedBy: { name: 'x' } }),
      JSON.stringify({ accountId: bystanders[0].id, channel: 'api', requestedBy: 'x'.repeat(100_000) }),
      // Repeated and conflicting keys: JSON.parse keeps the last; either way a bad one is refused.
      `{"accountId":"${bystanders[0].id}","channel":"api","channel":"nope"}`,
      `{"email":"${bystanders[1].email}","email":"x","channel":"api"}`,
      Buffer.alloc(2 * 1024 * 1024, 0x61),
      `{"accountId":"${bystanders[0].id}","channel":"api","pad":"${'y'.repeat(1024 * 1024)}"}`,
      ...strings.map((s) => JSON.stringify({ email: s, channel: 'support' })),
      ...strings.map((s) => JSON.stringify({ accountId: s, channel: 'phone' })),
      ...strings.slice(0, 40).map((s) => JSON.stringify({ accountId: bystanders[2].id, channel: s })),
      // Control characters in the free-text field, unparseable times in the deadline's anchor.
      ...strings
        .slice(0, 60)
        .filter((s) => [...s].some((c) => c.charCodeAt(0) < 0x20))
        .map((s) => JSON.stringify({ accountId: bystanders[2].id, channel: 'api', requestedBy: s })),
      ...strings.slice(60, 100).map((s) => JSON.stringify({ accountId: bystanders[2].id, channel: 'api', receivedAt: s })),
      // Patterns must never match: these would, as LIKE patterns, match the bystanders' emails.
      JSON.stringify({ email: bystanders[0].email.replace('per%cent', 'per_cent'), channel: 'api' }),
      JSON.stringify({ email: '%', channel: 'api' }),
      JSON.stringify({ email: '%@example.test', channel: 'api' }),
      JSON.stringify({ email: bystanders[1].email.replace('under_score', 'under%'), channel: 'api' }),
    ];
    for (const body of bodies) {
      const status = await call('POST', '/v1/deletion-requests', { body });
      expect4xx(status, `POST /v1/deletion-requests ${String(body).slice(0, 80)}`);
    }
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-7']) {
      expect4xx(await call('POST', '/v1/deletion-requests', { body: 'accountId=1&channel=api', contentType: ct }), `content-type ${ct}`);
    }
    for (const body of ['{', '[]', JSON.stringify({ dryRun: 'yes' }), JSON.stringify({ dryRun: 1 }), Buffer.alloc(2 * 1024 * 1024, 0x62)]) {
      expect4xx(await call('POST', '/v1/sweeps', { body }), `POST /v1/sweeps ${String(body).slice(0, 40)}`);
    }
  });

  test('when ids and query strings carry path tricks and unicode, then every answer is a 4xx', async () => {
    const rand = rng(7);
    const ids = [...fuzzStrings(rand, 80).map(encodeURIComponent), '..%2f..%2fetc%2fpasswd', '%2e%2e', '%00', 'x'.repeat(5000), '00000000-0000-4000-8000-000000000000%00', 'deletion-x', '*'];
    for (const id of ids) {
      expect4xx(await call('GET', `/v1/deletion-requests/${id}`), `GET /v1/deletion-requests/${id.slice(0, 60)}`);
      expect4xx(await call('GET', `/v1/sweeps/${id}`), `GET /v1/sweeps/${id.slice(0, 60)}`);
    }
    const queries = [
      'status=nope',
      'status=',
      'overdue=maybe',
      'overdue=1&overdue=0',
      'limit=-1',
      'limit=1e9',
      'limit=abc',
      'channel=%25',
      'cursor=%00',
      'cursor=not-a-cursor',
      `status=${'x'.repeat(3000)}`,
    ];
    for (const s of fuzzStrings(rand, 40)) {
      queries.push(`status=${encodeURIComponent(s)}`, `channel=${encodeURIComponent(s)}`, `cursor=${encodeURIComponent(s)}`);
      expect4xx(await call('GET', `/v1/sweeps/some-sweep?pageToken=${encodeURIComponent(s)}`), `GET /v1/sweeps/some-sweep?pageToken=${s}`);
      expect4xx(await call('GET', `/v1/sweeps/some-sweep?pageSize=${encodeURIComponent(s)}`), `GET /v1/sweeps/some-sweep?pageSize=${s}`);
    }
    for (const q of queries) expect4xx(await call('GET', `/v1/deletion-requests?${q}`), `GET /v1/deletion-requests?${q.slice(0, 60)}`);
  });

  test('afterwards nothing was deleted, the service is healthy, no 5xx was ever sent and no token was logged', async () => {
    for (const b of bystanders) {
      const row = await world.deps.db('lethe.deletion_requests').where({ account_id: b.id }).first();
      expect(row).toBeUndefined();
    }
    expect(await Promise.all(bystanders.map((b) => fingerprint(seed, b)))).toEqual(before);
    expect(await call('GET', '/healthz', { token: null })).toBe(200);
    const fiveHundreds = [...tried.statuses.entries()].filter(([s]) => s >= 500);
    expect(fiveHundreds).toEqual([]);
    expect(tried.requests).toBeGreaterThan(700);
    const logged = logLines.join('\n');
    expect(logged).not.toContain(TOKEN);
    expect(logged).not.toContain(TOKEN.slice(0, -1));
    for (const b of bystanders) expect(logged).not.toContain(b.email);
    process.stderr.write(`[fuzz] inputs tried: ${tried.requests}; statuses: ${JSON.stringify(Object.fromEntries(tried.statuses))}; log lines: ${logLines.length}\n`);
  });
});
