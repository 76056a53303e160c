/**
 * The codec server over HTTP, in process on a free port: Temporal's remote-codec format,
 * CORS for the Web UI's origin only, the optional bearer token, and /encode only for an
 * authenticated caller and only over what Lethe's payload converter writes.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { startCodecServer, RunningCodecServer } from '../../client/codec-server';
import { createEncryptionCodec, parseKeyRing } from '../../encryption';
import { tokenDigest } from '../../config/tokens';

const UI = 'http://127.0.0.1:18233';
const TOKEN = 'codec-token-0123456789';
const ring = parseKeyRing(`k1:${Buffer.alloc(32, 1).toString('base64')}`);
const codec = createEncryptionCodec(ring);

const toJson = (p: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

describe('codec server', () => {
  let open: RunningCodecServer;
  let guarded: RunningCodecServer;
  let roles: RunningCodecServer;
  const ROLE_TOKENS = { operator: 'operator-token-0123456789abcdef', admin: 'admin-token-0123456789abcdefgh' };
  beforeAll(async () => {
    open = await startCodecServer({ codec, allowedOrigins: [UI, 'http://localhost:18233'], host: '127.0.0.1', port: 0 });
    guarded = await startCodecServer({ codec, allowedOrigins: [UI], token: TOKEN, host: '127.0.0.1', port: 0 });
    // LETHE_CODEC_AUTH=api-tokens: named API tokens with their roles.
    const credentials = Object.entries(ROLE_TOKENS).map(([role, t]) => ({ name: `codec-${role}`, role: role as 'operator' | 'admin', digest: tokenDigest(t) }));
    roles = await startCodecServer({ codec, allowedOrigins: [UI], host: '127.0.0.1', port: 0, credentials });
  });
  afterAll(async () => {
    await open?.close();
    await guarded?.close();
    await roles?.close();
  });

  const post = (server: RunningCodecServer, op: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/${op}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers }, body: JSON.stringify(body) });

  test('when the Web UI posts encrypted payloads to /decode, then it gets the plain payloads back with CORS headers for its origin', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload({ requestId: 'r-42', channel: 'api' })]);
    const res = await post(open, 'decode', { payloads: [toJson(enc)] }, { origin: UI });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    const body = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(body.payloads[0].metadata.encoding, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(body.payloads[0].data, 'base64').toString())).toEqual({ requestId: 'r-42', channel: 'api' });
  });

  test('when the token holder posts a payload to /encode, then it comes back encrypted under the current key and decodes again', async () => {
    const res = await post(guarded, 'encode', { payloads: [toJson(defaultPayloadConverter.toPayload('hello'))] }, { authorization: `Bearer ${TOKEN}` });
    expect(res.status).toBe(200);
    const enc = ((await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads[0];
    expect(Buffer.from(enc.metadata['encryption-key-id'], 'base64').toString()).toBe('k1');
    const back = await post(open, 'decode', { payloads: [enc] });
    const plain = ((await back.json()) as { payloads: { data: string }[] }).payloads[0];
    expect(Buffer.from(plain.data, 'base64').toString()).toBe('"hello"');
  });

  test('when the browser preflights from the UI origin, then the methods and headers the UI sends are allowed', async () => {
    const res = await fetch(`${open.url}/decode`, {
      method: 'OPTIONS',
      headers: { origin: UI, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toContain('x-namespace');
  });

  test('when another origin asks, then it is refused with 403 and no CORS headers, preflight or not', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload('secret')]);
    for (const res of [
      await post(open, 'decode', { payloads: [toJson(enc)] }, { origin: 'http://evil.example' }),
      await fetch(`${open.url}/decode`, { method: 'OPTIONS', headers: { origin: 'http://127.0.0.1:9999', 'access-control-request-method': 'POST' } }),
    ]) {
      expect(res.status).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(await res.text()).not.toContain('secret');
    }
  });

  test('when a token is configured, then a POST without it or with a wrong one gets 401, and with it 200', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload('x')]);
    const body = { payloads: [toJson(enc)] };
    expect((await post(guarded, 'decode', body, { origin: UI })).status).toBe(401);
    expect((await post(guarded, 'decode', body, { origin: UI, authorization: 'Bearer wrong-token-0123456789' })).status).toBe(401);
    expect((await post(guarded, 'decode', body, { origin: UI, authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    // Preflights never carry credentials: they must pass for the real request to be sent.
    expect((await fetch(`${guarded.url}/decode`, { method: 'OPTIONS', headers: { origin: UI, 'access-control-request-method': 'POST' } })).status).toBe(204);
  });

  test.each(['encode', 'decode'])('when the Temporal CLI posts an empty list to /%s as {} (protobuf JSON omits it), then it gets {"payloads": []} back', async (op) => {
    // What `temporal workflow query` sends for a query without arguments.
    for (const body of [{}, { payloads: [] }, { payloads: null }, { payloads: [], unknownField: 'x', nested: { a: 1 } }]) {
      const res = await post(open, op, body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 200]);
      expect(await res.json()).toEqual({ payloads: [] });
    }
    // Raw `{}` exactly as the CLI's Go codec client writes it, with the token the CLI passes.
    const raw = await fetch(`${guarded.url}/${op}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: '{}' });
    expect(raw.status).toBe(200);
    expect(await raw.json()).toEqual({ payloads: [] });
  });

  test('when a body carries fields the server does not know, then they are ignored on /encode and /decode alike', async () => {
    const plain = defaultPayloadConverter.toPayload({ requestId: 'r-7' });
    const enc = await post(guarded, 'encode', { payloads: [{ ...toJson(plain), externalPayloads: [] }], requestId: 'ignored', extra: [1, 2] }, { authorization: `Bearer ${TOKEN}` });
    expect(enc.status).toBe(200);
    const encrypted = ((await enc.json()) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads;
    expect(encrypted).toHaveLength(1);
    expect(Buffer.from(encrypted[0].data, 'base64').toString()).not.toContain('r-7');
    const dec = await post(open, 'decode', { payloads: [{ ...encrypted[0], somethingNew: { x: 1 } }], other: null });
    expect(dec.status).toBe(200);
    const [back] = ((await dec.json()) as { payloads: { data: string }[] }).payloads;
    expect(JSON.parse(Buffer.from(back.data, 'base64').toString())).toEqual({ requestId: 'r-7' });
  });

  test('when the body is malformed or the key unknown, then it answers 400 / 422 naming the problem, not a key', async () => {
    for (const op of ['encode', 'decode']) {
      const res = await post(open, op, { payloads: 5 });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toContain('payloads must be an array');
    }
    for (const body of [[], 'payloads', null, { payloads: [5] }, { payloads: [{ metadata: 'x' }] }]) {
      const res = await post(open, 'decode', body);
      expect([JSON.stringify(body), res.status]).toEqual([JSON.stringify(body), 400]);
    }
    const notJson = await fetch(`${open.url}/decode`, { method: 'POST', body: '{"payloads": [' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { message: string }).message).toBe('body is not JSON');
    const badData = await post(open, 'decode', { payloads: [{ data: '***' }] });
    expect(badData.status).toBe(400);
    expect(((await badData.json()) as { message: string }).message).toContain('payloads[0].data');
    const other = createEncryptionCodec(parseKeyRing(`k9:${Buffer.alloc(32, 9).toString('base64')}`));
    const [enc] = await other.encode([defaultPayloadConverter.toPayload('x')]);
    const res = await post(open, 'decode', { payloads: [toJson(enc)] });
    expect(res.status).toBe(422);
    const text = await res.text();
    expect(text).toContain('k9');
    expect(text).not.toContain(Buffer.alloc(32, 1).toString('base64'));
    expect((await fetch(`${open.url}/other`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${open.url}/decode`)).status).toBe(405);
  });
  test('when a server without a token is asked to /encode a payload, then it refuses with 403 naming LETHE_CODEC_TOKEN and returns no ciphertext; an empty list still answers', async () => {
    for (const headers of [{}, { origin: UI }] as Record<string, string>[]) {
      const res = await post(open, 'encode', { payloads: [toJson(defaultPayloadConverter.toPayload({ channel: 'email', receivedAt: '2026-12-01T09:00:00Z' }))] }, headers);
      expect(res.status).toBe(403);
      const body = (await res.json()) as { message: string; payloads?: unknown };
      expect(body.message).toContain('LETHE_CODEC_TOKEN');
      expect(body.payloads).toBeUndefined();
    }
    // What the CLI sends for a query or a signal without input carries nothing to mint.
    expect((await post(open, 'encode', {})).status).toBe(200);
  });

  test('when an authenticated caller posts to /encode a payload already encrypted, or without or with an unknown encoding, then 400 names the encoding; none is wrapped', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload('x')]);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const cases: [unknown, string][] = [
      [toJson(enc), '"binary/encrypted"'],
      [{ data: Buffer.from('"x"').toString('base64') }, '(none)'],
      [{ metadata: { encoding: Buffer.from('text/x-anything').toString('base64') }, data: Buffer.from('x').toString('base64') }, '"text/x-anything"'],
    ];
    for (const [payload, named] of cases) {
      const res = await post(guarded, 'encode', { payloads: [toJson(defaultPayloadConverter.toPayload('fine')), payload] }, auth);
      expect([named, res.status]).toEqual([named, 400]);
      expect(((await res.json()) as { message: string }).message).toContain(`payloads[1] has encoding ${named}`);
    }
    // Every encoding Lethe's payload converter writes is accepted.
    const written = [undefined, new Uint8Array([1, 2]), { a: 1 }].map((v) => toJson(defaultPayloadConverter.toPayload(v)));
    expect((await post(guarded, 'encode', { payloads: written }, auth)).status).toBe(200);
  });

  test('when API tokens guard the server, then an operator decodes but may /encode only an empty list (403 naming the admin role); an admin encodes', async () => {
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload('x')]);
    const plain = { payloads: [toJson(defaultPayloadConverter.toPayload({ channel: 'email' }))] };
    const operator = { authorization: `Bearer ${ROLE_TOKENS.operator}` };
    expect((await post(roles, 'decode', { payloads: [toJson(enc)] }, operator)).status).toBe(200);
    expect((await post(roles, 'encode', {}, operator)).status).toBe(200);
    const refused = await post(roles, 'encode', plain, operator);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ requiredRole: 'admin', role: 'operator', tokenName: 'codec-operator' });
    expect((await post(roles, 'encode', plain)).status).toBe(401);
    expect((await post(roles, 'encode', plain, { authorization: `Bearer ${ROLE_TOKENS.admin}` })).status).toBe(200);
  });
});
