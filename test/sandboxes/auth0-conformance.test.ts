/**
 * Holds the Auth0 sandbox's answers, and the requests Lethe's client sends, to the vendor's own
 * definition of the Management API v2, as the Recurly one is held to Recurly's OpenAPI document.
 *
 * The `auth0` npm package ships no OpenAPI document. Its Management API client is generated
 * from Auth0's API definition, and that code is the machine-readable reference used here (read
 * at run time by test/support/auth0-sdk-reference.ts, nothing copied):
 * - node_modules/auth0/dist/cjs/management/api/resources/<resource>/client/Client.js: each
 *   operation's HTTP method and path template, its query parameters, whether a success has a
 *   body, and the error statuses Auth0 documents for it (each mapped to a typed error);
 * - the Client.d.ts beside it, api/types/types.d.ts and api/requests/requests.d.ts: request
 *   and response types (e.g. GetUserResponseContent, UserIdentity, CreateUserRequestContent);
 * - dist/cjs/management/wrapper/token-provider.js: the client-credentials token request
 *   (form-encoded POST /oauth/token) and what it reads back (access_token, expires_in);
 * - dist/cjs/management/core/fetcher/requestWithRetries.js: X-RateLimit-Reset read as a UNIX
 *   time in seconds.
 *
 * "Conformance" means, for every exchange recorded between Lethe's client (stores/auth0.ts,
 * the real SDK) and the sandbox, and for the probes below:
 * 1. the request is an operation the SDK defines, and exactly the set of operations
 *    stores/auth0.ts calls is exercised; its query parameters are ones the SDK sends for that
 *    operation, with values of their declared types; a JSON body conforms to the request type;
 * 2. a success has the status Auth0's reference gives the operation (SUCCESS_STATUS), and a
 *    body exactly when the SDK reads one, conforming to the response type (no property the
 *    type lacks, unless it declares additional properties; none it requires missing);
 * 3. an error has a status the SDK documents for that operation and Auth0's error body
 *    `{statusCode, error, message, errorCode?, attributes?}` (the format the SDK's v4 client
 *    parsed: "{ errorCode: 'invalid_body', error: 'Bad Request', message: …, statusCode: 400 }",
 *    auth0@4 dist/esm/management/management-client.js), statusCode equal to the HTTP status and
 *    error its reason phrase;
 * 4. every Management API response carries x-ratelimit-limit, x-ratelimit-remaining and
 *    x-ratelimit-reset (Auth0's rate limit policy, "Management API Endpoint Rate Limits"), the
 *    reset a UNIX time in seconds, remaining 0 on a 429;
 * 5. the sandbox is no more forgiving than Auth0 where Lethe could depend on it: request bodies
 *    with a property the request type lacks are refused with 400 (Auth0's schemas declare
 *    `additionalProperties: false`; its answer reads "Payload validation error: 'Additional
 *    properties not allowed: …'"), and a request without a token is refused with 401.
 */
import fs from 'node:fs';
import path from 'node:path';
import { STATUS_CODES } from 'node:http';
import { createAuth0Client, type Auth0Client } from '../../stores/auth0';
import { CREATE_USER_PROPERTIES, LINK_IDENTITY_PROPERTIES, startAuth0Sandbox, type Auth0SandboxOptions } from '../../dev/sandboxes/auth0/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';
import { startRecordingProxy, type Exchange, type RecordingProxy } from './helpers/recordingProxy';
import { adminJson, caught, unpaced } from './helpers/sandboxAdmin';
import { propertyNames, propertyType, sdkOperation, sdkType, validate, validateQueryValue, type SdkOperation } from '../support/auth0-sdk-reference';

const CLIENT_ID = 'lethe-conformance';
const CLIENT_SECRET = 'lethe-conformance-secret';
const DOMAIN = 'conformance.auth0.test';

/**
 * The success status of each operation, from Auth0's Management API v2 reference
 * (auth0.com/docs/api/management/v2/users/…; e.g. delete-sessions-for-user: 202 "Session
 * deletion request accepted.", delete-refresh-tokens-for-user: 202 "Refresh token deletion
 * request accepted."). The SDK accepts any 2xx, so the status itself comes from the reference.
 */
const SUCCESS_STATUS: Record<string, number> = {
  'users.get': 200,
  'users.list': 200,
  'users.listUsersByEmail': 200,
  'users.create': 201,
  'users.delete': 204,
  // patch-users-by-id: 200 with the user (corrections, docs/correction.md).
  'users.update': 200,
  'users.sessions.list': 200,
  'users.sessions.delete': 202,
  'users.refreshToken.list': 200,
  'users.refreshToken.delete': 202,
  'users.identities.link': 201,
  // delete-user-identity-by-user-id: 200 with the primary's remaining identities.
  'users.identities.delete': 200,
  // get-user-blocks: 200 `{ blocked_for }`; delete-user-blocks: 204.
  'userBlocks.listByIdentifier': 200,
  'userBlocks.deleteByIdentifier': 204,
  'userGrants.deleteByUserId': 204,
  // Organizations (issue 36): get-organizations and get-user-organizations 200; delete-members
  // 204 "Users successfully removed from organization"; post-organizations 201; post-members 204.
  'organizations.list': 200,
  'users.organizations.list': 200,
  'organizations.members.delete': 204,
  'organizations.create': 201,
  'organizations.members.create': 204,
  // post-authentication-methods: 201 with the method (seeding an MFA enrolment).
  'users.authenticationMethods.create': 201,
};

/** The SDK calls in stores/auth0.ts (`mgmt.<resource>.<method>(`), as `<resource>.<method>`. */
function letheOperations(): string[] {
  const source = fs.readFileSync(path.resolve(__dirname, '..', '..', 'stores', 'auth0.ts'), 'utf8');
  return [...new Set([...source.matchAll(/\bmgmt\.([A-Za-z]+(?:\.[A-Za-z]+)+)\(/g)].map((m) => m[1]))].sort();
}

function operationOf(ops: SdkOperation[], method: string, p: string): SdkOperation[] {
  return ops.filter((op) => op.matches(method, p));
}

function rateHeaderProblems(ex: Exchange, nowSeconds: number): string[] {
  const h = ex.responseHeaders;
  const out: string[] = [];
  const int = (name: string) => {
    const raw = h[name];
    if (typeof raw !== 'string' || !/^\d+$/.test(raw)) {
      out.push(`${name} missing or not an integer: ${JSON.stringify(raw)}`);
      return NaN;
    }
    return Number(raw);
  };
  const limit = int('x-ratelimit-limit');
  const remaining = int('x-ratelimit-remaining');
  const reset = int('x-ratelimit-reset');
  if (remaining > limit) out.push(`x-ratelimit-remaining ${remaining} above the limit ${limit}`);
  // A UNIX time in seconds (the SDK waits until reset * 1000), within the window ahead.
  if (!Number.isNaN(reset) && !(reset >= nowSeconds - 120 && reset <= nowSeconds + 120)) out.push(`x-ratelimit-reset ${reset} is not a UNIX time in seconds near now (${nowSeconds})`);
  if (ex.status === 429 && remaining !== 0) out.push('a 429 with x-ratelimit-remaining above 0');
  return out;
}

function errorBodyProblems(status: number, body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ['error body is not an object'];
  const b = body as Record<string, unknown>;
  const out: string[] = [];
  if (b.statusCode !== status) out.push(`statusCode ${JSON.stringify(b.statusCode)} is not the HTTP status ${status}`);
  if (b.error !== STATUS_CODES[status]) out.push(`error ${JSON.stringify(b.error)} is not the reason phrase "${STATUS_CODES[status]}"`);
  if (typeof b.message !== 'string' || b.message === '') out.push('message missing');
  if (b.errorCode !== undefined && (typeof b.errorCode !== 'string' || !/^[a-z0-9_]+$/.test(b.errorCode))) out.push(`errorCode ${JSON.stringify(b.errorCode)} is not a snake_case code`);
  if (b.attributes !== undefined && (typeof b.attributes !== 'object' || b.attributes === null)) out.push('attributes is not an object');
  for (const k of Object.keys(b)) if (!['statusCode', 'error', 'message', 'errorCode', 'attributes'].includes(k)) out.push(`unexpected property ${k}`);
  return out;
}

describe('Auth0 traffic conforms to the Management API as the auth0 SDK defines it', () => {
  const sandboxes: RunningSandbox[] = [];
  const proxies: RecordingProxy[] = [];
  let ops: SdkOperation[];
  let basic: RunningSandbox;
  const exchanges = (): Exchange[] => proxies.flatMap((p) => p.exchanges);

  async function tenant(opts: Partial<Auth0SandboxOptions> = {}): Promise<{ sandbox: RunningSandbox; proxy: RecordingProxy; auth0: Auth0Client }> {
    const sandbox = await startAuth0Sandbox({ port: 0, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, rateLimitPerSecond: 10_000, ...opts });
    const proxy = await startRecordingProxy(sandbox.url);
    sandboxes.push(sandbox);
    proxies.push(proxy);
    return { sandbox, proxy, auth0: createAuth0Client({ domain: DOMAIN, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: proxy.url, pace: unpaced() }) };
  }

  async function managementToken(sandbox: RunningSandbox): Promise<string> {
    const res = await fetch(`${sandbox.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET, audience: `https://${DOMAIN}/api/v2/` }).toString(),
    });
    return ((await res.json()) as { access_token: string }).access_token;
  }

  beforeAll(async () => {
    // Reading the SDK's types takes the TypeScript compiler a few seconds (longer on a loaded machine).
    ops = letheOperations().map((name) => {
      const cut = name.lastIndexOf('.');
      return sdkOperation(name.slice(0, cut), name.slice(cut + 1));
    });

    // A tenant on a plan without the session layer (Auth0's default), as most are.
    const b = await tenant();
    basic = b.sandbox;
    const stamp = Date.now().toString(36);
    const ada = await b.auth0.createUser({ email: `Ada.${stamp}@Example.test`, name: 'Ada Lovelace' });
    const grace = await b.auth0.createUser({ email: `grace.${stamp}@example.test`, name: 'Grace Hopper' });
    await caught(() => b.auth0.createUser({ email: `ada.${stamp}@example.test`, name: 'Ada again' }));
    await caught(() => b.auth0.createUser({ email: 'not-an-email', name: 'Nobody' }));
    await b.auth0.getUser(ada.userId);
    await b.auth0.getUser('auth0|000000000000000000000000');
    await b.auth0.findUsersByEmail(`Ada.${stamp}@Example.test`);
    await b.auth0.updateProfile(grace.userId, { name: 'Grace B. Hopper', phoneNumber: '+15555550100', email: `grace.b.${stamp}@example.test` });
    await b.auth0.getProfile(grace.userId);
    await caught(() => b.auth0.updateProfile(grace.userId, { email: `Ada.${stamp}@Example.test` }));
    await b.auth0.linkUser(ada.userId, grace.userId);
    await b.auth0.findPrimaryOf(grace.userId);
    await b.auth0.unlinkIdentity(ada.userId, 'auth0', grace.userId.slice('auth0|'.length));
    await b.auth0.searchByEmail(`ADA.${stamp}@example.test`);
    await adminJson(b.sandbox.url, 'POST', 'user-blocks', { identifier: `Ada.${stamp}@Example.test` });
    await b.auth0.blocksOf(`Ada.${stamp}@Example.test`);
    await b.auth0.unblock(`Ada.${stamp}@Example.test`);
    await b.auth0.sessionLayerNotAvailable(ada.userId);
    // Data beside the user record: a tenant without organizations, then one with; an MFA enrolment.
    await b.auth0.tenantHasOrganizations();
    const org = await b.auth0.createOrganization(`conformance-${stamp}`, [ada.userId, grace.userId]);
    await b.auth0.enrolPhone(ada.userId, '+15555550100');
    await b.auth0.organizationsOf(ada.userId);
    await b.auth0.removeFromOrganization(org, ada.userId);
    await b.auth0.organizationsOf(ada.userId);
    await b.auth0.deleteUser(ada.userId);
    await b.auth0.deleteUser(ada.userId);
    await caught(() => createAuth0Client({ domain: DOMAIN, clientId: CLIENT_ID, clientSecret: 'wrong-secret', baseUrl: b.proxy.url }).getUser(grace.userId));

    // An Enterprise tenant: the session layer answers, and a deletion revokes it.
    const e = await tenant({ enterprise: true });
    const linus = await e.auth0.createUser({ email: `linus.${stamp}@example.test`, name: 'Linus' });
    await adminJson(e.sandbox.url, 'POST', `users/${encodeURIComponent(linus.userId)}/logins`, {});
    await e.auth0.sessionLayerNotAvailable(linus.userId);
    await e.auth0.deleteUser(linus.userId);

    // A tenant at its rate limit: a burst gets 429s (the clients here are unpaced, so the
    // sandbox's 429 itself is seen rather than waited out).
    const r = await tenant({ rateLimitPerSecond: 3 });
    const someone = await r.auth0.createUser({ email: `burst.${stamp}@example.test`, name: 'Burst' });
    await Promise.allSettled(Array.from({ length: 8 }, () => r.auth0.getUser(someone.userId)));
  }, 180_000);

  afterAll(async () => {
    for (const p of proxies) await p.close();
    for (const s of sandboxes) await s.close();
  });

  test('when stores/auth0.ts is read, then every SDK call it makes is an operation the SDK defines, and this test exercises each', () => {
    expect(ops.map((op) => op.name).sort()).toEqual(Object.keys(SUCCESS_STATUS).sort());
    const seen = new Set<string>();
    for (const ex of exchanges().filter((x) => x.path.startsWith('/api/v2/'))) {
      const matched = operationOf(ops, ex.method, ex.path);
      expect({ call: `${ex.method} ${ex.path}`, operations: matched.length }).toEqual({ call: `${ex.method} ${ex.path}`, operations: 1 });
      if (matched[0]) seen.add(matched[0].name);
    }
    expect([...seen].sort()).toEqual(ops.map((op) => op.name).sort());
  });

  test('when Lethe sends a Management API request, then its query parameters and body are the ones the SDK defines, with their types', () => {
    const failures: { call: string; problems: string[] }[] = [];
    for (const ex of exchanges().filter((x) => x.path.startsWith('/api/v2/'))) {
      const op = operationOf(ops, ex.method, ex.path)[0];
      const call = `${op.name}: ${ex.method} ${ex.path}?${ex.query.toString()}`;
      const problems: string[] = [];
      for (const [key, value] of ex.query) {
        if (!op.queryParams.includes(key)) problems.push(`query ${key} is not a parameter of ${op.file} ${op.name}`);
        const t = op.requestParamsType && propertyType(op.requestParamsType, key);
        if (t) problems.push(...validateQueryValue(t, value, `query ${key}`));
      }
      if (op.requestBodyType) problems.push(...validate(op.requestBodyType, JSON.parse(ex.requestBody), 'body'));
      else if (ex.requestBody !== '') problems.push(`a body where ${op.name} takes none`);
      if (problems.length > 0) failures.push({ call, problems });
    }
    expect(failures).toEqual([]);
  });

  test('when the sandbox answers a Management API request, then the status, body and headers are the documented ones', () => {
    const outcomes = new Set<string>();
    const failures: { exchange: string; problems: string[] }[] = [];
    for (const ex of exchanges().filter((x) => x.path.startsWith('/api/v2/'))) {
      const op = operationOf(ops, ex.method, ex.path)[0];
      outcomes.add(`${op.name} ${ex.status}`);
      const exchange = `${op.name}: ${ex.method} ${ex.path} → ${ex.status}`;
      const problems: string[] = [];
      if (ex.status >= 200 && ex.status < 300) {
        if (ex.status !== SUCCESS_STATUS[op.name]) problems.push(`success status ${ex.status}, Auth0 answers ${SUCCESS_STATUS[op.name]}`);
        if (op.successHasBody && op.responseType) problems.push(...validate(op.responseType, JSON.parse(ex.responseBody)));
        else if (ex.responseBody !== '') problems.push(`a body where ${op.file} reads none`);
      } else {
        if (!op.errorStatuses.includes(ex.status)) problems.push(`status ${ex.status} is not documented for ${op.name} (${op.file}: ${op.errorStatuses.join(', ')})`);
        problems.push(...errorBodyProblems(ex.status, JSON.parse(ex.responseBody)));
      }
      if (ex.responseBody !== '' && !String(ex.responseHeaders['content-type']).startsWith('application/json')) problems.push(`content-type ${ex.responseHeaders['content-type']}`);
      problems.push(...rateHeaderProblems(ex, Math.floor(Date.now() / 1000)));
      if (problems.length > 0) failures.push({ exchange, problems });
    }
    expect(failures).toEqual([]);
    // The outcomes Lethe handles were all exercised.
    for (const o of [
      'users.create 201',
      'users.create 409',
      'users.create 400',
      'users.get 200',
      'users.get 404',
      'users.get 429',
      'users.listUsersByEmail 200',
      'users.list 200',
      'users.identities.link 201',
      'users.identities.delete 200',
      'userBlocks.listByIdentifier 200',
      'userBlocks.deleteByIdentifier 204',
      'users.sessions.list 200',
      'users.sessions.list 403',
      'users.sessions.delete 202',
      'users.refreshToken.list 200',
      'users.refreshToken.list 403',
      'users.refreshToken.delete 202',
      'userGrants.deleteByUserId 204',
      'users.delete 204',
      'organizations.list 200',
      'organizations.create 201',
      'organizations.members.create 204',
      'users.organizations.list 200',
      'organizations.members.delete 204',
      'users.authenticationMethods.create 201',
    ]) {
      expect(outcomes).toContain(o);
    }
  });

  test('when the SDK asks for a token, then it sends the client-credentials form and the sandbox answers what the SDK reads', () => {
    const tokens = exchanges().filter((x) => x.path === '/oauth/token');
    expect(tokens.length).toBeGreaterThanOrEqual(4);
    const statuses = new Set<number>();
    for (const ex of tokens) {
      statuses.add(ex.status);
      expect(ex.method).toBe('POST');
      const form = new URLSearchParams(ex.requestBody);
      expect({ grant_type: form.get('grant_type'), client_id: form.get('client_id'), audience: form.get('audience') }).toEqual({
        grant_type: 'client_credentials',
        client_id: CLIENT_ID,
        audience: `https://${DOMAIN}/api/v2/`,
      });
      const body = JSON.parse(ex.responseBody) as Record<string, unknown>;
      if (ex.status === 200) {
        expect(body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: expect.any(Number), scope: expect.any(String) });
        expect(body.expires_in).toBeGreaterThan(0);
      } else {
        // Auth0's Authentication API errors: {error, error_description}.
        expect({ status: ex.status, body }).toEqual({ status: 401, body: { error: 'access_denied', error_description: expect.any(String) } });
      }
    }
    expect([...statuses].sort()).toEqual([200, 401]);
  });

  test('when a request carries no token, then every operation Lethe uses answers 401 with Auth0 error body', async () => {
    for (const op of ops) {
      const concrete = op.path.replace(/\{[^}]+\}/g, encodeURIComponent('auth0|000000000000000000000001'));
      const query = op.name === 'users.listUsersByEmail' ? '?email=a%40example.test' : op.name === 'userGrants.deleteByUserId' ? '?user_id=auth0%7C1' : '';
      const res = await fetch(`${basic.url}/api/v2${concrete}${query}`, {
        method: op.method,
        headers: op.requestBodyType ? { 'content-type': 'application/json' } : {},
        body: op.requestBodyType ? '{}' : undefined,
      });
      const problems = [...(op.errorStatuses.includes(res.status) ? [] : [`status ${res.status} not documented`]), ...errorBodyProblems(res.status, await res.json())];
      expect({ op: op.name, status: res.status, problems }).toEqual({ op: op.name, status: 401, problems: [] });
    }
  });

  test('when a request body has a property the request type lacks, then the sandbox refuses it with 400 as Auth0 does', async () => {
    // The sandbox's allow-lists are the SDK's request types, property for property.
    expect([...CREATE_USER_PROPERTIES].sort()).toEqual(propertyNames(sdkType('CreateUserRequestContent')).sort());
    expect([...LINK_IDENTITY_PROPERTIES].sort()).toEqual(propertyNames(sdkType('LinkUserIdentityRequestContent')).sort());
    const token = await managementToken(basic);
    const post = (p: string, body: unknown) =>
      fetch(`${basic.url}/api/v2${p}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const stamp = Date.now().toString(36);
    const created = await post('/users', { connection: 'Username-Password-Authentication', email: `extra.${stamp}@example.test`, password: 'x-Password-1', favourite_colour: 'blue' });
    expect({ status: created.status, body: await created.json() }).toEqual({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: "Payload validation error: 'Additional properties not allowed: favourite_colour'.", errorCode: 'invalid_body' },
    });
    const primary = (await (await post('/users', { connection: 'Username-Password-Authentication', email: `primary.${stamp}@example.test`, password: 'x-Password-1' })).json()) as { user_id: string };
    const linked = await post(`/users/${encodeURIComponent(primary.user_id)}/identities`, { provider: 'auth0', user_id: 'abc', note: 'x' });
    expect(linked.status).toBe(400);
    expect(((await linked.json()) as { message: string }).message).toBe("Payload validation error: 'Additional properties not allowed: note'.");
  });

  test('when the checks are given answers Auth0 would not give, then they report them (they are not vacuous)', () => {
    const get = ops.find((op) => op.name === 'users.get')!;
    expect(validate(get.responseType!, { user_id: 'auth0|1', email: 'a@example.test', identities: [{ provider: 'auth0', user_id: '1', isSocial: false }] })).toEqual([]);
    expect(validate(get.responseType!, { user_id: 1 })).not.toEqual([]);
    expect(validate(get.responseType!, { identities: [{ provider: 'auth0', isSocial: 'no' }] })).not.toEqual([]);
    const link = ops.find((op) => op.name === 'users.identities.link')!;
    expect(validate(link.responseType!, [{ provider: 'auth0', user_id: '1' }])).toEqual(['$[0].connection: required by UserIdentity, missing']);
    expect(validate(sdkType('CreateUserRequestContent'), { connection: 'c', favourite_colour: 'blue' })).toEqual(['$.favourite_colour: not a property of CreateUserRequestContent']);
    const list = ops.find((op) => op.name === 'users.list')!;
    expect(validateQueryValue(propertyType(list.requestParamsType!, 'search_engine')!, 'v9', 'q')).not.toEqual([]);
    expect(validateQueryValue(propertyType(list.requestParamsType!, 'per_page')!, 'ten', 'q')).not.toEqual([]);
    expect(errorBodyProblems(404, { statusCode: 404, error: 'Not Found', message: 'The user does not exist.', errorCode: 'inexistent_user' })).toEqual([]);
    expect(errorBodyProblems(404, { error: { type: 'not_found', message: 'x' } })).not.toEqual([]);
    expect(errorBodyProblems(404, { statusCode: 400, error: 'Not Found', message: 'x' })).not.toEqual([]);
    const now = Math.floor(Date.now() / 1000);
    const ex = (headers: Record<string, string>, status = 200) => ({
      method: 'GET',
      path: '/api/v2/users',
      query: new URLSearchParams(),
      requestBody: '',
      status,
      responseHeaders: headers,
      responseBody: '',
    });
    expect(rateHeaderProblems(ex({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '9', 'x-ratelimit-reset': String(now + 1) }), now)).toEqual([]);
    expect(rateHeaderProblems(ex({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '9', 'x-ratelimit-reset': String((now + 1) * 1000) }), now)).not.toEqual([]);
    expect(rateHeaderProblems(ex({ 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '3', 'x-ratelimit-reset': String(now + 1) }, 429), now)).not.toEqual([]);
    expect(rateHeaderProblems(ex({}), now)).toHaveLength(3);
  });
});
