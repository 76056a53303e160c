/**
 * Lethe's one module over Auth0: the real `auth0` SDK's ManagementClient behind the few
 * operations deletion needs. Every failure leaves here as a VendorError with a `type`.
 */
import { randomBytes } from 'node:crypto';
import { ManagementClient, ManagementError, ManagementTimeoutError } from 'auth0';
import { isVendorError, retryAfterMsFrom, typeForStatus, VendorError } from './errors';

export interface Auth0Config {
  /** The tenant domain, e.g. "example.eu.auth0.com"; also the token audience's host. */
  domain: string;
  clientId: string;
  clientSecret: string;
  /** Sandbox only: every `https://{domain}` URL is sent here instead. Production passes none. */
  baseUrl?: string;
  /** Per-request timeout; a timeout is reported as `unavailable`. */
  timeoutMs?: number;
}

export interface Auth0User {
  userId: string;
  email?: string;
}

export interface Auth0Client {
  getUser(userId: string): Promise<Auth0User | null>;
  findUsersByEmail(email: string): Promise<{ userId: string }[]>;
  /** Revokes sessions, refresh tokens and grants, then deletes the user. A missing user is success. */
  deleteUser(userId: string): Promise<'deleted' | 'already_gone'>;
  /** For seeding and tests. */
  createUser(input: { email: string; name: string; connection?: string }): Promise<{ userId: string; email: string }>;
}

const DEFAULT_CONNECTION = 'Username-Password-Authentication';

export function createAuth0Client(cfg: Auth0Config): Auth0Client {
  const mgmt = new ManagementClient({
    domain: cfg.domain,
    clientId: cfg.clientId,
    clientSecret: cfg.clientSecret,
    // Retries belong to Temporal, which sees every attempt and honours Retry-After across
    // worker restarts; the SDK would otherwise retry 429/5xx twice on its own.
    maxRetries: 0,
    timeoutInSeconds: (cfg.timeoutMs ?? 10_000) / 1000,
    // The SDK's request logs include query strings, and users-by-email carries an email there.
    logging: { silent: true },
    ...(cfg.baseUrl ? { fetch: rebasingFetch(cfg.domain, cfg.baseUrl) } : {}),
  });

  async function call<T>(operation: string, subject: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classify(err, operation, subject);
    }
  }

  /** Runs `fn`; a 404 (the user vanished meanwhile) counts as done. */
  async function unlessGone(operation: string, userId: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await call(operation, userId, fn);
    } catch (err) {
      if (isVendorError(err) && err.type === 'not_found') return;
      throw err;
    }
  }

  const getUser = async (userId: string): Promise<Auth0User | null> => {
    try {
      const user = await call('getUser', userId, () => mgmt.users.get(userId));
      return { userId: user.user_id ?? userId, ...(user.email ? { email: user.email } : {}) };
    } catch (err) {
      if (isVendorError(err) && err.type === 'not_found') return null;
      throw err;
    }
  };

  return {
    getUser,

    async findUsersByEmail(email) {
      // Auth0 keeps its own database users' emails in lower case but matches the query as
      // given, so ask for both spellings when they differ (social users keep their case).
      const spellings = [...new Set([email.toLowerCase(), email])];
      const ids = new Set<string>();
      for (const spelling of spellings) {
        const users = await call('findUsersByEmail', undefined, () => mgmt.users.listUsersByEmail({ email: spelling }));
        for (const u of users) if (u.user_id) ids.add(u.user_id);
      }
      return [...ids].map((userId) => ({ userId }));
    },

    async deleteUser(userId) {
      // Auth0 answers 204 to a DELETE whether or not the user existed, so look first.
      const existed = (await getUser(userId)) !== null;
      if (existed) {
        await unlessGone('deleteUser.sessions', userId, () => mgmt.users.sessions.delete(userId));
        await unlessGone('deleteUser.refreshTokens', userId, () => mgmt.users.refreshToken.delete(userId));
      }
      // Grants can outlive a user deleted elsewhere, and this call is idempotent: always make it.
      await call('deleteUser.grants', userId, () => mgmt.userGrants.deleteByUserId({ user_id: userId }));
      await call('deleteUser', userId, () => mgmt.users.delete(userId));
      return existed ? 'deleted' : 'already_gone';
    },

    async createUser(input) {
      const user = await call('createUser', undefined, () =>
        mgmt.users.create({
          connection: input.connection ?? DEFAULT_CONNECTION,
          email: input.email,
          name: input.name,
          // Database connections require one; nobody ever logs in with it.
          password: `${randomBytes(24).toString('base64url')}!Aa1`,
        }),
      );
      if (!user.user_id) throw new VendorError({ vendor: 'auth0', type: 'unavailable', operation: 'createUser', vendorCode: 'missing_user_id' });
      return { userId: user.user_id, email: user.email ?? input.email.toLowerCase() };
    },
  };
}

/** Sends `https://{domain}/...` to the sandbox; anything else goes out unchanged. */
function rebasingFetch(domain: string, baseUrl: string): typeof fetch {
  const from = `https://${domain}`;
  const to = baseUrl.replace(/\/+$/, '');
  const rebase = (url: string): string =>
    url === from || url.startsWith(`${from}/`) || url.startsWith(`${from}?`) ? to + url.slice(from.length) : url;
  return (input, init) => {
    if (typeof input === 'string') return fetch(rebase(input), init);
    if (input instanceof URL) return fetch(rebase(input.href), init);
    return fetch(new Request(rebase(input.url), input), init);
  };
}

function classify(err: unknown, operation: string, subject: string | undefined): VendorError {
  if (isVendorError(err)) return err;
  if (err instanceof ManagementTimeoutError) {
    return new VendorError({ vendor: 'auth0', type: 'unavailable', operation, subject, vendorCode: 'timeout' });
  }
  if (err instanceof ManagementError && err.statusCode === undefined) {
    // Below HTTP. The SDK aborts timed-out requests with the bare string "timeout" as the
    // reason, so they arrive here as a plain ManagementError, not ManagementTimeoutError.
    return new VendorError({ vendor: 'auth0', type: 'unavailable', operation, subject, vendorCode: isTimeout(err.cause) ? 'timeout' : 'network' });
  }
  if (err instanceof ManagementError) {
    const status = err.statusCode;
    const type = typeForStatus(status);
    const headers = err.rawResponse?.headers;
    const retryAfterMs =
      type === 'rate_limited' && headers && typeof headers.get === 'function'
        ? retryAfterMsFrom((name) => headers.get(name))
        : undefined;
    return new VendorError({ vendor: 'auth0', type, operation, subject, status, retryAfterMs, vendorCode: auth0Code(err.body) });
  }
  // The token request's fetch is not wrapped by the SDK: a refused connection arrives as TypeError.
  return new VendorError({ vendor: 'auth0', type: 'unavailable', operation, subject, vendorCode: isTimeout(err) ? 'timeout' : 'network' });
}

function isTimeout(cause: unknown): boolean {
  if (cause === 'timeout') return true;
  const name = (cause as { name?: unknown } | null)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

/** Auth0's machine code: `errorCode` on the Management API, `error` on the token endpoint. */
function auth0Code(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as { errorCode?: unknown; error?: unknown };
  if (typeof b.errorCode === 'string') return b.errorCode;
  if (typeof b.error === 'string' && /^[a-z_]+$/.test(b.error)) return b.error;
  return undefined;
}
