import { FixedWindowRateLimiter, TokenBucketRateLimiter } from '../../dev/sandboxes/common/rateLimiter';
import { FaultInjector, parseFaultSpec, FaultSpecError } from '../../dev/sandboxes/common/faults';
import { matchRoute } from '../../dev/sandboxes/common/router';
import { startAuth0Sandbox } from '../../dev/sandboxes/auth0/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';
import { adminJson, armFault, resetSandbox, stats } from './helpers/sandboxAdmin';

describe('FixedWindowRateLimiter', () => {
  test('when the limit is used up, then the next request is refused until the window ends', () => {
    let now = 10_000_250;
    const limiter = new FixedWindowRateLimiter(2, 1000, () => now);
    expect(limiter.take()).toMatchObject({ allowed: true, remaining: 1, limit: 2 });
    expect(limiter.take()).toMatchObject({ allowed: true, remaining: 0 });
    const refused = limiter.take();
    expect(refused).toMatchObject({ allowed: false, remaining: 0, resetAtSeconds: 10_001, retryAfterSeconds: 1 });
    now = 10_001_000;
    expect(limiter.take()).toMatchObject({ allowed: true, remaining: 1, resetAtSeconds: 10_002 });
  });

  test('when the window is a minute, then retry-after counts the seconds left in it', () => {
    const now = 60_000 * 1000 + 15_500;
    const limiter = new FixedWindowRateLimiter(1, 60_000, () => now);
    limiter.take();
    expect(limiter.take()).toMatchObject({ allowed: false, retryAfterSeconds: 45, resetAtSeconds: 60_060 });
  });

  test('when given a non-positive limit, then it refuses to be built', () => {
    expect(() => new FixedWindowRateLimiter(0, 1000)).toThrow(RangeError);
  });
});

describe('TokenBucketRateLimiter (Auth0)', () => {
  test('when the bucket is emptied, then a request is refused until a token comes back, one every limit-th of the window', () => {
    let now = 10_000_000;
    const limiter = new TokenBucketRateLimiter(16, 1000, () => now);
    for (let i = 15; i >= 0; i--) expect(limiter.take()).toMatchObject({ allowed: true, remaining: i, limit: 16 });
    // Empty: full again a whole window later, a token back in 62.5 ms.
    expect(limiter.take()).toMatchObject({ allowed: false, remaining: 0, resetAtSeconds: 10_001, retryAfterSeconds: 1 });
    now += 60;
    expect(limiter.take()).toMatchObject({ allowed: false });
    now += 5;
    expect(limiter.take()).toMatchObject({ allowed: true, remaining: 0 });
  });

  test('when requests come at the sustained rate in bunches, then none is refused, unlike a window that two bunches straddle', () => {
    // Bunches of 12 every 750 ms (16 a second on average): two of them fall in one second now
    // and then (24 in a window of 16), and the bucket always has them (what is left plus 750 ms of refill).
    let now = 20_000_900;
    const bucket = new TokenBucketRateLimiter(16, 1000, () => now);
    const window = new FixedWindowRateLimiter(16, 1000, () => now);
    const refused = { bucket: 0, window: 0 };
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 12; i++) {
        if (!bucket.take().allowed) refused.bucket++;
        if (!window.take().allowed) refused.window++;
      }
      now += 750;
    }
    expect(refused.bucket).toBe(0);
    expect(refused.window).toBeGreaterThan(0);
  });
});

describe('FaultInjector', () => {
  test('when armed for N requests, then exactly N matching requests are faulted', () => {
    const faults = new FaultInjector();
    faults.arm(parseFaultSpec({ mode: '500', count: 2, pathPrefix: '/api/v2/' }));
    expect(faults.take('/oauth/token')).toBeUndefined();
    expect(faults.take('/api/v2/users')?.mode).toBe('500');
    expect(faults.take('/api/v2/users')?.mode).toBe('500');
    expect(faults.take('/api/v2/users')).toBeUndefined();
  });

  test('when faults fire, then the counters say how many were armed and fired; clear keeps them, reset zeroes them', () => {
    const faults = new FaultInjector();
    faults.arm(parseFaultSpec({ mode: '429', count: 3 }));
    faults.arm(parseFaultSpec({ mode: '500', count: 1, pathPrefix: '/accounts' }));
    faults.take('/accounts/x');
    faults.take('/accounts/x');
    expect(faults.counts()).toEqual({ armed: { '500': 1, '429': 3, hang: 0 }, fired: { '500': 0, '429': 2, hang: 0 } });
    faults.clear();
    expect(faults.take('/accounts/x')).toBeUndefined();
    expect(faults.counts().fired).toEqual({ '500': 0, '429': 2, hang: 0 });
    faults.reset();
    expect(faults.counts()).toEqual({ armed: { '500': 0, '429': 0, hang: 0 }, fired: { '500': 0, '429': 0, hang: 0 } });
  });

  test('when a spec is malformed, then the error names the field', () => {
    expect(() => parseFaultSpec({ mode: '503' })).toThrow(FaultSpecError);
    expect(() => parseFaultSpec({ mode: '429', count: 0 })).toThrow(/count/);
    expect(() => parseFaultSpec({ mode: 'hang', hangMs: -1 })).toThrow(/hangMs/);
  });
});

describe('route templates', () => {
  test('when a path has an encoded id, then the param is decoded and the template is the key', () => {
    const routes = [{ method: 'GET', pattern: '/api/v2/users/{id}', handler: 'h' }];
    expect(matchRoute(routes, 'GET', '/api/v2/users/auth0%7Cabc')?.params).toEqual({ id: 'auth0|abc' });
    expect(matchRoute(routes, 'GET', '/api/v2/users/')).toBeUndefined();
    expect(matchRoute(routes, 'DELETE', '/api/v2/users/x')).toBeUndefined();
  });
});

describe('sandbox admin API and shell', () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startAuth0Sandbox({ port: 0, clientId: 'cid', clientSecret: 'csecret' });
  });
  afterAll(() => sandbox.close());
  beforeEach(() => resetSandbox(sandbox.url));

  test('when the admin API is asked for health, then it answers without auth', async () => {
    const res = await fetch(`${sandbox.url}/__sandbox/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, vendor: 'auth0' });
  });

  test('when a fault spec is invalid, then the admin API answers 400 naming the field', async () => {
    const res = await fetch(`${sandbox.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ mode: 'boom' }) });
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('mode');
  });

  test('when faults are armed and the sandbox is reset, then no fault remains', async () => {
    await armFault(sandbox.url, { mode: '500', count: 3 });
    expect((await adminJson<{ pending: unknown[] }>(sandbox.url, 'GET', 'faults')).pending).toHaveLength(1);
    await resetSandbox(sandbox.url);
    expect((await adminJson<{ pending: unknown[] }>(sandbox.url, 'GET', 'faults')).pending).toHaveLength(0);
  });

  test("when faults are cleared by path prefix, then only the faults armed with that prefix go, and another test file's stay armed", async () => {
    await armFault(sandbox.url, { mode: '500', count: 3, pathPrefix: '/api/v2/users/mine' });
    await armFault(sandbox.url, { mode: '500', count: 3, pathPrefix: '/api/v2/users/theirs' });
    await armFault(sandbox.url, { mode: '429', count: 1 });
    const cleared = await fetch(`${sandbox.url}/__sandbox/faults?pathPrefix=${encodeURIComponent('/api/v2/users/mine')}`, { method: 'DELETE' });
    expect(cleared.status).toBe(204);
    const left = (await adminJson<{ pending: { pathPrefix?: string }[] }>(sandbox.url, 'GET', 'faults')).pending.map((f) => f.pathPrefix ?? '(any path)');
    expect(left).toEqual(['/api/v2/users/theirs', '(any path)']);
  });

  test('when a body exceeds the size limit, then the sandbox answers 413', async () => {
    const res = await fetch(`${sandbox.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', padding: 'a'.repeat(200_000) }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  test('when requests are made, then stats count them per route template, and admin calls are not counted', async () => {
    await fetch(`${sandbox.url}/api/v2/users/auth0%7Cone`);
    await fetch(`${sandbox.url}/api/v2/users/auth0%7Ctwo`);
    await fetch(`${sandbox.url}/nowhere`);
    await fetch(`${sandbox.url}/__sandbox/health`);
    const s = await stats(sandbox.url);
    expect(s.routes).toEqual({ 'GET /api/v2/users/{id}': 2, 'GET (unmatched)': 1 });
    expect(s.statuses['GET /api/v2/users/{id}']).toEqual({ '401': 2 });
    expect(s.total).toBe(3);
  });

  test('when the rate limit is changed at runtime, then the new limit is announced', async () => {
    const res = await fetch(`${sandbox.url}/__sandbox/rate-limit`, { method: 'PUT', body: JSON.stringify({ limit: 5 }) });
    expect(await res.json()).toEqual({ limit: 5, windowMs: 1000 });
    const api = await fetch(`${sandbox.url}/api/v2/users/auth0%7Cx`);
    expect(api.headers.get('x-ratelimit-limit')).toBe('5');
  });
});
