/**
 * Auth0 tenants as they are (issue 36, items 2 and 5), on sandboxes of the test's own at their
 * defaults, through Lethe's own reading of the person's users (activities/deletion/auth0.ts)
 * and its client's pace (stores/vendorPace.ts):
 * - user search lags the writes (Auth0: "eventually consistent", "User Search Best Practices"):
 *   right after a login was linked into a primary found only by search, Lethe still finds the
 *   primary, and the read-back never calls the person's users gone;
 * - each plan's bucket (Free 2/s burst 2, Enterprise production 16/s burst 50): the pace takes
 *   the limit from the first answer's headers, and a burst of calls meets no 429 (next to none
 *   where answers come back out of order).
 */
import { createAuth0Client, type Auth0Client } from '../../stores/auth0';
import { auth0Pace } from '../../stores/vendorPace';
import { startAuth0Sandbox, type Auth0SandboxOptions } from '../../dev/sandboxes/auth0/server';
import type { RunningSandbox } from '../../dev/sandboxes/common/server';
import { findPersonUsers, readAuth0 } from '../../activities/deletion/auth0';
import { adminJson } from '../sandboxes/helpers/sandboxAdmin';

const CLIENT_ID = 'lethe-tenant';
const CLIENT_SECRET = 'lethe-tenant-secret';
const DOMAIN = 'tenant.auth0.test';

let seq = 0;
const unique = () => `${process.pid}.${Date.now()}.${seq++}`;
const open: RunningSandbox[] = [];
afterAll(async () => {
  for (const s of open) await s.close();
});

async function tenant(opts: Partial<Auth0SandboxOptions> = {}): Promise<{ sandbox: RunningSandbox; auth0: Auth0Client }> {
  const sandbox = await startAuth0Sandbox({ port: 0, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...opts });
  open.push(sandbox);
  return { sandbox, auth0: createAuth0Client({ domain: DOMAIN, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: sandbox.url }) };
}

describe('Auth0 user search lags the writes', () => {
  test("when a person's login was linked a moment ago into a primary under another email, then Lethe finds the primary and its linked login, and the read-back counts them as remaining", async () => {
    // The sandbox's default plan and search lag; Lethe's default LETHE_AUTH0_SEARCH_LAG_MS.
    const { sandbox, auth0 } = await tenant({ rateLimitPerSecond: 10_000 });
    /** A database login linked just now into a social primary under another address. */
    async function linkedJustNow() {
      const login = await auth0.createUser({ email: `person.${unique()}@example.test`, name: 'Person' });
      const primaryEmail = `elsewhere.${unique()}@example.test`;
      const primaryId = (await adminJson<{ user_id: string }>(sandbox.url, 'POST', 'users', { connection: 'google-oauth2', email: primaryEmail })).user_id;
      await auth0.linkUser(primaryId, login.userId);
      return { login, primaryId, primaryEmail, subject: { accountId: 'acc', email: login.email, auth0UserIds: [login.userId], recurlyAccountCode: null } };
    }

    // Only search can find a primary under another email, and the index has not the link yet.
    const one = await linkedJustNow();
    const found = await findPersonUsers(auth0, one.subject, { searchLagMs: auth0.settings.searchLagMs });
    expect(found).toEqual({ users: [{ userId: one.primaryId, via: 'linked', capturedId: one.login.userId, linked: [one.login.userId] }], gone: [] });

    // The read-back, too, must not pass on a search that cannot see the link yet.
    const two = await linkedJustNow();
    expect((await readAuth0(auth0, two.subject)).remaining).toMatchObject({ users: 2 });
    // The sandbox's own account: both still there (nothing was deleted by reading).
    expect((await adminJson<{ user_id: string }[]>(sandbox.url, 'GET', `users?email=${encodeURIComponent(two.primaryEmail)}`)).map((u) => u.user_id)).toEqual([two.primaryId]);
  });
});

describe('Auth0 rate limits per plan', () => {
  /** Calls `n` gets, `concurrency` at a time, through one client and its pace; what the pace saw. */
  async function burst(opts: Partial<Auth0SandboxOptions>, n: number, concurrency: number) {
    const sandbox = await startAuth0Sandbox({ port: 0, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...opts });
    open.push(sandbox);
    // No jitter: the waits are then the pace's estimate alone.
    const pace = auth0Pace(() => 0);
    const auth0 = createAuth0Client({ domain: DOMAIN, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, baseUrl: sandbox.url, pace });
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < n) await auth0.getUser('auth0|nobody');
      }),
    );
    return { pace: pace.counts };
  }

  test('when the tenant is on the Free plan (2/s, burst 2) and four calls start together, then the pace waits for the first answer and meets no 429', async () => {
    const { pace } = await burst({ plan: 'free' }, 4, 4);
    expect(pace.throttled).toBe(0);
  }, 60_000);

  test('when the tenant is on the Enterprise production plan (16/s, burst 50), then the pace refills at the rate the headers imply, not at the burst, and meets next to no 429s', async () => {
    const { pace } = await burst({ plan: 'enterprise-production' }, 120, 10);
    // Refilling at the burst (50/s) against 16/s meets a 429 for most calls after the first 50;
    // at the rate the headers imply, answers read out of order cost a few at most.
    expect(pace.throttled).toBeLessThanOrEqual(6);
  }, 60_000);
});
