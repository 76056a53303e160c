/**
 * Lethe's one module over Auth0: the real `auth0` SDK's ManagementClient behind the few
 * operations deletion needs. Every failure leaves here as a VendorError with a `type`.
 */
import { randomBytes } from 'node:crypto';
import { ManagementClient, ManagementError, ManagementTimeoutError, type Management } from 'auth0';
import { isVendorError, retryAfterMsFrom, typeForStatus, VendorError } from './errors';
import { auth0Pace, type VendorPace } from './vendorPace';

export interface Auth0Config {
  /** The tenant domain, e.g. "example.eu.auth0.com"; also the token audience's host. */
  domain: string;
  clientId: string;
  clientSecret: string;
  /** Sandbox only: every `https://{domain}` URL is sent here instead. Production passes none. */
  baseUrl?: string;
  /** Per-request timeout; a timeout is reported as `unavailable`. */
  timeoutMs?: number;
  /** Pacing by Auth0's rate-limit headers (stores/vendorPace.ts); one per process by default. */
  pace?: VendorPace;
  /** How long after a write user search may still not show it (LETHE_AUTH0_SEARCH_LAG_MS; default DEFAULT_AUTH0_SEARCH_LAG_MS). */
  searchLagMs?: number;
  /** The tenant's log retention in days (LETHE_AUTH0_LOG_RETENTION_DAYS; default 30, Enterprise's). */
  logRetentionDays?: number;
}

/**
 * Auth0 says only that search may not reflect "a recently-completed write operation" and is
 * up to date "after a short period of time" (auth0.com/docs/manage-users/user-search); two
 * seconds, above the sandbox's one (dev/sandboxes/auth0/server.ts DEFAULT_SEARCH_LAG_MS).
 */
export const DEFAULT_AUTH0_SEARCH_LAG_MS = 2_000;
/** Enterprise's 30 days, the longest a plan keeps them ("Log Data Retention"): never a date too early. */
export const DEFAULT_AUTH0_LOG_RETENTION_DAYS = 30;

/** The fields of a user a correction changes (docs/correction.md), as Auth0 holds them. */
export interface Auth0Profile {
  userId: string;
  name?: string;
  email?: string;
  phoneNumber?: string;
  /** Its own identity is an Auth0 database one, whose email Auth0 keeps lower-cased. */
  databaseUser: boolean;
}

/** One identity of a user (its own, and any linked secondary one): the SDK's `UserIdentitySchema`. */
export interface Auth0Identity {
  provider: string;
  /** The provider's id, without the provider prefix (`auth0|abc` has identity user_id `abc`). */
  userId: string;
  connection?: string;
  isSocial?: boolean;
}

export interface Auth0User {
  userId: string;
  email?: string;
  identities?: Auth0Identity[];
}

/** The secondaries linked into a user: every identity but its own (the one its user_id names). */
export function linkedIds(user: Auth0User): string[] {
  const ids = (user.identities ?? []).map((i) => `${i.provider}|${i.userId}`);
  const own = ids.includes(user.userId) ? user.userId : ids[0];
  return ids.filter((id) => id !== own);
}

/** What deleting one user did. */
export interface Auth0Deletion {
  outcome: 'deleted' | 'already_gone';
  /** Parts of the session layer the tenant refused (403): `sessions`, `refresh_tokens`. */
  notAvailable: string[];
}

/**
 * How far the deletion of one user has come, so a retried attempt (which gets it back through
 * the activity's heartbeat details) makes none of the calls whose effect it already has.
 */
export interface Auth0UserProgress {
  /** Whether the user existed at the first look (a DELETE answers 204 either way); unset: not looked yet. */
  existed?: boolean;
  /** Calls done: `sessions`, `refresh_tokens`, `grants`, `user`. */
  done: string[];
  /** Parts of the session layer the tenant refused. */
  notAvailable: string[];
}

/** The session layer's parts, as `notAvailable` names them. */
export const SESSION_LAYER = ['sessions', 'refresh_tokens'] as const;

/**
 * Every Management API scope Lethe's client grant needs, each for a call this module makes
 * (Management API v2 reference, each endpoint's "Scopes"): read:users (get-by-id,
 * users-by-email, search, user blocks), delete:users, update:users (unlink an identity, unblock
 * by identifier), read:grants / delete:grants (revoke the user's grants), read:organizations
 * (whether the tenant has organizations, a user's memberships: "Retrieve User's Organization
 * Memberships") and delete:organization_members ("Remove Members From Organizations"). On an
 * Enterprise plan the session layer's four too (AUTH0_SESSION_SCOPES); without them it is
 * reported as not available. MFA needs none: deleting the user removes its authenticators
 * (activities/deletion/auth0.ts).
 */
export const AUTH0_SCOPES = ['read:users', 'delete:users', 'update:users', 'read:grants', 'delete:grants', 'read:organizations', 'delete:organization_members'] as const;
export const AUTH0_SESSION_SCOPES = ['read:sessions', 'delete:sessions', 'read:refresh_tokens', 'delete:refresh_tokens'] as const;

export interface Auth0Client {
  /** What the activities need to know about the tenant beside its API. */
  readonly settings: { searchLagMs: number; logRetentionDays: number };
  getUser(userId: string): Promise<Auth0User | null>;
  /**
   * The users Auth0 holds under this email, as Auth0 stores it: users-by-email matches exactly,
   * so the email as given and, for database users only, its lower-case form (see below).
   */
  findUsersByEmail(email: string): Promise<{ userId: string; matched: 'as_given' | 'lower_case'; user: Auth0User }[]>;
  /**
   * The primary user that carries `userId` as a linked (secondary) identity, or null. A linked
   * secondary no longer exists on its own: `GET /users/{id}` answers 404 for it.
   */
  findPrimaryOf(userId: string): Promise<Auth0User | null>;
  /**
   * Revokes sessions, refresh tokens and grants, then deletes the user. A missing user is
   * success. A tenant that refuses the session layer (403: not on an Enterprise plan, or the
   * grant lacks its scope) does not stop the user's deletion: it is reported in `notAvailable`.
   * With `progress`, each call's completion is recorded there (and `onProgress` told) as it
   * happens, and the calls it records as done are not made again.
   */
  deleteUser(userId: string, progress?: Auth0UserProgress, onProgress?: () => void): Promise<Auth0Deletion>;
  /**
   * Users whose email equals `email` in any letter case, by user search (`email:` is not
   * case-sensitive, unlike users-by-email). Search is eventually consistent (Auth0, "User Search
   * Best Practices"): an answer may miss users written shortly before and still show users
   * deleted shortly before; callers decide what a miss or a hit proves.
   */
  searchByEmail(email: string): Promise<Auth0User[]>;
  /**
   * Unlinks the secondary identity `provider|localId` from `primaryId`
   * (`DELETE /api/v2/users/{id}/identities/{provider}/{user_id}`): Auth0 then creates it anew as
   * a standalone user, which must be deleted on its own ("Unlink User Accounts"). A missing
   * primary is success (nothing is linked into it any more).
   */
  unlinkIdentity(primaryId: string, provider: string, localId: string): Promise<void>;
  /**
   * Whether the tenant has any Organization (`GET /api/v2/organizations`, one item asked): a
   * tenant without one has no memberships to remove, and is not asked per user. Like the session
   * layer, what a tenant has is learned once and kept for TENANT_RECHECK_MS.
   */
  tenantHasOrganizations(): Promise<boolean>;
  /** The ids of the organizations the user is a member of (`GET /api/v2/users/{id}/organizations`, every page); a missing user has none. */
  organizationsOf(userId: string): Promise<string[]>;
  /** Removes the user's membership of one organization (`DELETE /api/v2/organizations/{id}/members`); a missing organization is success. */
  removeFromOrganization(orgId: string, userId: string): Promise<void>;
  /** Brute-force blocks on an identifier (`GET /api/v2/user-blocks?identifier=`): how many. */
  blocksOf(identifier: string): Promise<number>;
  /** Removes every brute-force block on an identifier (`DELETE /api/v2/user-blocks?identifier=`). */
  unblock(identifier: string): Promise<void>;
  /**
   * The parts of the session layer this tenant refuses Lethe (403). What a tenant offers does not
   * change per deletion (it is the plan and the grant's scopes), so it is learned from the
   * answers of this client's session-layer calls and kept for TENANT_RECHECK_MS; a read about
   * `userId` probes only a part not known (a new process, or the re-check due); with no user to
   * ask about, a part not known is not reported.
   */
  sessionLayerNotAvailable(userId?: string): Promise<string[]>;
  /**
   * Access requests (docs/access.md), read only: the user's profile as Auth0 holds it (names,
   * email, phone, identities with their linked profiles, logins, last login and IP, user
   * metadata), without secrets: identity provider tokens are never exported, and `app_metadata`
   * (the company's own settings for the user, which may hold credentials) is left out. Null when
   * the user does not exist. Management API v2 "Get a user" (`GET /api/v2/users/{id}`): a primary
   * user's `identities` carry each linked identity with its `profileData` ("User Account Linking").
   */
  exportUser(userId: string): Promise<Record<string, unknown> | null>;
  /**
   * Corrections (docs/correction.md): the profile fields a correction may change, as Auth0 holds
   * them (read back after `updateProfile`). Null when the user does not exist.
   */
  getProfile(userId: string): Promise<Auth0Profile | null>;
  /**
   * Corrections: `PATCH /api/v2/users/{id}` (Management API "Update a user", reference.md
   * users.update, scope update:users) with `name`, `phone_number` (E.164; null unsets) and
   * `email`. A new email is sent with `email_verified: true`: Lethe changes it only after the
   * person confirmed a link mailed to it. Throws VendorError `not_found` for a missing user.
   */
  updateProfile(userId: string, patch: { name?: string; phoneNumber?: string | null; email?: string }): Promise<void>;
  /** For seeding and tests. */
  createUser(input: { email: string; name: string; connection?: string }): Promise<{ userId: string; email: string }>;
  /** For seeding and tests: links `secondaryId` into `primaryId` (`POST /api/v2/users/{id}/identities`). */
  linkUser(primaryId: string, secondaryId: string): Promise<void>;
  /** For seeding and tests: an organization with these members (`POST /api/v2/organizations`, `…/{id}/members`); its id. */
  createOrganization(name: string, memberIds: string[]): Promise<string>;
  /** For seeding and tests: an MFA enrolment by phone (`POST /api/v2/users/{id}/authentication-methods`). */
  enrolPhone(userId: string, phoneNumber: string): Promise<void>;
}

const DEFAULT_CONNECTION = 'Username-Password-Authentication';

/**
 * How long what a tenant offers (the session layer: an Enterprise plan and its four scopes) is
 * taken as known. A plan or a grant changes rarely and by a person; a tenant upgraded meanwhile
 * has its sessions revoked from the next re-check on, and one downgraded answers 403 to the next
 * call, which is learned at once (issue 37: not two calls and two probes in every deletion).
 */
export const TENANT_RECHECK_MS = 60 * 60_000;

export function createAuth0Client(cfg: Auth0Config): Auth0Client {
  const pace = cfg.pace ?? auth0Pace();
  const transport = pace.fetch(cfg.baseUrl ? rebasingFetch(cfg.domain, cfg.baseUrl) : (input, init) => fetch(input, init));
  const newManagementClient = () =>
    new ManagementClient({
      domain: cfg.domain,
      clientId: cfg.clientId,
      clientSecret: cfg.clientSecret,
      // Retries belong to Temporal, which sees every attempt and honours Retry-After across
      // worker restarts; the SDK would otherwise retry 429/5xx twice on its own.
      maxRetries: 0,
      timeoutInSeconds: (cfg.timeoutMs ?? 10_000) / 1000,
      // The SDK's request logs include query strings, and users-by-email carries an email there.
      logging: { silent: true },
      fetch: transport,
    });
  // The SDK caches its access token until the expiry the token endpoint announced, and has no
  // way to drop it. A token the tenant stops honouring before then (signing key rotated, grant
  // revoked, the sandbox restarted) would fail every call until that expiry: 24 h by default.
  let mgmt = newManagementClient();

  async function call<T>(operation: string, subject: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ManagementError && err.statusCode === 401)) throw classify(err, operation, subject);
      // A 401 from the Management API means the bearer token was refused ("Invalid token",
      // "Expired token received for JSON Web Token validation"; Auth0's Management API v2
      // error reference): drop the cached token and try once more with a fresh one. A second
      // 401 is a credential only a person can fix, classified as such.
      mgmt = newManagementClient();
      try {
        return await fn();
      } catch (again) {
        throw classify(again, operation, subject);
      }
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

  /** What this tenant offers of the session layer, as its answers told it, and when (TENANT_RECHECK_MS). */
  const offered = new Map<(typeof SESSION_LAYER)[number], { available: boolean; at: number }>();
  const known = (part: (typeof SESSION_LAYER)[number]): boolean | undefined => {
    const o = offered.get(part);
    return o && Date.now() - o.at < TENANT_RECHECK_MS ? o.available : undefined;
  };

  /** Runs a session-layer call; a 403 (plan or scope) means the tenant does not offer it to Lethe. Either answer is learned. */
  async function sessionLayer(part: (typeof SESSION_LAYER)[number], operation: string, userId: string, fn: () => Promise<unknown>): Promise<'done' | 'not_available'> {
    try {
      await unlessGone(operation, userId, fn);
      offered.set(part, { available: true, at: Date.now() });
      return 'done';
    } catch (err) {
      if (isVendorError(err) && err.status === 403) {
        offered.set(part, { available: false, at: Date.now() });
        return 'not_available';
      }
      throw err;
    }
  }

  /** Whether the tenant has organizations, as its answer told it, and when (TENANT_RECHECK_MS). */
  let organizations: { has: boolean; at: number } | undefined;

  const getUser = async (userId: string): Promise<Auth0User | null> => {
    try {
      return toUser(await call('getUser', userId, () => mgmt.users.get(userId)), userId);
    } catch (err) {
      if (isVendorError(err) && err.type === 'not_found') return null;
      throw err;
    }
  };

  return {
    settings: { searchLagMs: cfg.searchLagMs ?? DEFAULT_AUTH0_SEARCH_LAG_MS, logRetentionDays: cfg.logRetentionDays ?? DEFAULT_AUTH0_LOG_RETENTION_DAYS },
    getUser,

    async findUsersByEmail(email) {
      // users-by-email matches the stored email exactly (the SDK's ListUsersByEmailRequestParameters:
      // "Email address to search for (case-sensitive)"), and Auth0 stores the emails of its own
      // database users in lower case ("If Auth0 is the identity provider (idP), the email address
      // associated with a user is saved in lower case", reference.md, users.listUsersByEmail)
      // while social and enterprise users keep their provider's case. So: the email as given
      // finds every user stored with exactly that spelling; its lower-case form finds the
      // database user Auth0 lower-cased, and only that: a social user whose provider sent the
      // lower-case spelling is someone Auth0 itself does not match to this email, and may be
      // another person. Each user is checked against the spelling asked for, so a vendor (or a
      // sandbox) that matched loosely still could not hand over another person's account. Users
      // under the address in other letter cases are `searchByEmail`'s, and whether they are the
      // person's is the activity's decision (activities/deletion/auth0.ts, refuseOtherAccounts).
      const found = new Map<string, { matched: 'as_given' | 'lower_case'; user: Auth0User }>();
      const ask = async (spelling: string, matched: 'as_given' | 'lower_case', accept: (u: Auth0User) => boolean) => {
        const users = await call('findUsersByEmail', undefined, () => mgmt.users.listUsersByEmail({ email: spelling }));
        for (const raw of users) {
          if (!raw.user_id || raw.email !== spelling) continue;
          const u = toUser(raw, raw.user_id);
          if (accept(u) && !found.has(u.userId)) found.set(u.userId, { matched, user: u });
        }
      };
      await ask(email, 'as_given', () => true);
      const lower = email.toLowerCase();
      if (lower !== email) await ask(lower, 'lower_case', isDatabaseUser);
      return [...found].map(([userId, f]) => ({ userId, ...f }));
    },

    async findPrimaryOf(userId) {
      // user_id is "{provider}|{identity user_id}"; the identity's id may itself hold "|".
      const cut = userId.indexOf('|');
      if (cut <= 0) return null;
      const provider = userId.slice(0, cut);
      const local = userId.slice(cut + 1);
      // User search v3 (GET /api/v2/users?q=…) searches every identity of a user, linked ones too.
      const q = `identities.user_id:"${luceneQuoted(local)}" AND identities.provider:"${luceneQuoted(provider)}"`;
      const page = await call('findPrimaryOf', userId, () => mgmt.users.list({ q, search_engine: 'v3', per_page: 10 }));
      // Search terms over an array may match different identities: check the pair on one identity.
      const primaries = page.data
        .map((u) => toUser(u, u.user_id ?? ''))
        .filter((u) => u.userId !== '' && u.userId !== userId && (u.identities ?? []).some((i) => i.provider === provider && i.userId === local));
      if (primaries.length > 1) {
        // An identity belongs to one user at Auth0; two claimants is nothing Lethe should choose between.
        throw new VendorError({ vendor: 'auth0', type: 'precondition', operation: 'findPrimaryOf', subject: userId, vendorCode: 'ambiguous_linked_identity' });
      }
      return primaries[0] ?? null;
    },

    async searchByEmail(email) {
      const q = `email:"${luceneQuoted(email)}"`;
      const page = await call('searchByEmail', undefined, () => mgmt.users.list({ q, search_engine: 'v3', per_page: 100 }));
      // Checked here too: a vendor (or sandbox) matching loosely must not hand over another address.
      const wanted = email.toLowerCase();
      return page.data.filter((u) => u.user_id && u.email?.toLowerCase() === wanted).map((u) => toUser(u, u.user_id ?? ''));
    },

    async unlinkIdentity(primaryId, provider, localId) {
      await unlessGone('unlinkIdentity', primaryId, () => mgmt.users.identities.delete(primaryId, provider as Management.UserIdentityProviderEnum, localId));
    },

    async tenantHasOrganizations() {
      if (organizations && Date.now() - organizations.at < TENANT_RECHECK_MS) return organizations.has;
      const page = await call('tenantHasOrganizations', undefined, () => mgmt.organizations.list({ take: 1 }));
      organizations = { has: page.data.length > 0, at: Date.now() };
      return organizations.has;
    },

    async organizationsOf(userId) {
      const ids: string[] = [];
      try {
        let page = await call('organizationsOf', userId, () => mgmt.users.organizations.list(userId, { page: 0, per_page: 100 }));
        for (;;) {
          for (const o of page.data) if (o.id) ids.push(o.id);
          if (!page.hasNextPage()) break;
          const current = page;
          page = await call('organizationsOf', userId, () => current.getNextPage());
        }
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return [];
        throw err;
      }
      // Once the tenant has shown a membership, it has organizations (whatever an older answer said).
      if (ids.length) organizations = { has: true, at: Date.now() };
      return ids;
    },

    async removeFromOrganization(orgId, userId) {
      try {
        await call('removeFromOrganization', userId, () => mgmt.organizations.members.delete(orgId, { members: [userId] }));
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return;
        throw err;
      }
    },

    async createOrganization(name, memberIds) {
      const org = await call('createOrganization', undefined, () => mgmt.organizations.create({ name }));
      if (!org.id) throw new VendorError({ vendor: 'auth0', type: 'unavailable', operation: 'createOrganization', vendorCode: 'missing_id' });
      const id = org.id;
      if (memberIds.length) await call('createOrganization', undefined, () => mgmt.organizations.members.create(id, { members: memberIds }));
      organizations = { has: true, at: Date.now() };
      return id;
    },

    async enrolPhone(userId, phoneNumber) {
      await call('enrolPhone', userId, () => mgmt.users.authenticationMethods.create(userId, { type: 'phone', phone_number: phoneNumber }));
    },

    async blocksOf(identifier) {
      const res = await call('blocksOf', undefined, () => mgmt.userBlocks.listByIdentifier({ identifier }));
      return (res.blocked_for ?? []).length;
    },

    async unblock(identifier) {
      await call('unblock', undefined, () => mgmt.userBlocks.deleteByIdentifier({ identifier }));
    },

    async deleteUser(userId, progress = { done: [], notAvailable: [] }, onProgress = () => undefined) {
      const p = progress;
      const once = async (part: string, fn: () => Promise<unknown>) => {
        if (p.done.includes(part)) return;
        await fn();
        p.done.push(part);
        onProgress();
      };
      // Auth0 answers 204 to a DELETE whether or not the user existed, so look first (unless
      // the caller just read it: the activity's consistent find sets `existed`).
      if (p.existed === undefined) {
        p.existed = (await getUser(userId)) !== null;
        onProgress();
      }
      if (p.existed) {
        // The session layer is an Enterprise-plan feature with scopes of its own; a tenant
        // without it answers 403. Deleting the user is what matters: carry on and say so.
        // A part the tenant is known not to offer is not asked again (TENANT_RECHECK_MS).
        await once('sessions', async () => {
          if (known('sessions') === false || (await sessionLayer('sessions', 'deleteUser.sessions', userId, () => mgmt.users.sessions.delete(userId))) === 'not_available')
            p.notAvailable.push('sessions');
        });
        await once('refresh_tokens', async () => {
          if (known('refresh_tokens') === false || (await sessionLayer('refresh_tokens', 'deleteUser.refreshTokens', userId, () => mgmt.users.refreshToken.delete(userId))) === 'not_available')
            p.notAvailable.push('refresh_tokens');
        });
      }
      // Grants can outlive a user deleted elsewhere, and this call is idempotent: always make it.
      await once('grants', () => call('deleteUser.grants', userId, () => mgmt.userGrants.deleteByUserId({ user_id: userId })));
      await once('user', () => call('deleteUser', userId, () => mgmt.users.delete(userId)));
      return { outcome: p.existed ? 'deleted' : 'already_gone', notAvailable: [...p.notAvailable] };
    },

    async sessionLayerNotAvailable(userId) {
      const out: string[] = [];
      const refused = async (part: (typeof SESSION_LAYER)[number], probe: (id: string) => Promise<unknown>) => {
        const k = known(part);
        if (k !== undefined || !userId) return k === false;
        return (await sessionLayer(part, `probe.${part}`, userId, () => probe(userId))) === 'not_available';
      };
      if (await refused('sessions', (id) => mgmt.users.sessions.list(id))) out.push('sessions');
      if (await refused('refresh_tokens', (id) => mgmt.users.refreshToken.list(id))) out.push('refresh_tokens');
      return out;
    },

    async exportUser(userId) {
      try {
        const raw = (await call('exportUser', userId, () => mgmt.users.get(userId))) as unknown as Record<string, unknown>;
        return JSON.parse(JSON.stringify({ ...raw, app_metadata: undefined }, (key, value: unknown) => (AUTH0_SECRETS.has(key) ? undefined : value))) as Record<string, unknown>;
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return null;
        throw err;
      }
    },

    async getProfile(userId) {
      try {
        const u = (await call('getProfile', userId, () => mgmt.users.get(userId))) as { user_id?: string; name?: string; email?: string; phone_number?: string; identities?: { provider?: string }[] };
        return {
          userId: u.user_id ?? userId,
          ...(u.name !== undefined ? { name: u.name } : {}),
          ...(u.email !== undefined ? { email: u.email } : {}),
          ...(u.phone_number !== undefined ? { phoneNumber: u.phone_number } : {}),
          databaseUser: u.identities?.[0]?.provider === 'auth0',
        };
      } catch (err) {
        if (isVendorError(err) && err.type === 'not_found') return null;
        throw err;
      }
    },

    async updateProfile(userId, patch) {
      const body: Management.UpdateUserRequestContent = {};
      if (patch.name !== undefined) body.name = patch.name;
      if (patch.phoneNumber !== undefined) body.phone_number = patch.phoneNumber;
      if (patch.email !== undefined) Object.assign(body, { email: patch.email, email_verified: true });
      await call('updateProfile', userId, () => mgmt.users.update(userId, body));
    },

    async linkUser(primaryId, secondaryId) {
      const cut = secondaryId.indexOf('|');
      const provider = secondaryId.slice(0, cut) as Management.UserIdentityProviderEnum;
      await call('linkUser', primaryId, () => mgmt.users.identities.link(primaryId, { provider, user_id: secondaryId.slice(cut + 1) }));
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

/** Keys of a user profile that are secrets (identity provider tokens: "Identity Provider Access Tokens"): never exported. */
const AUTH0_SECRETS = new Set(['access_token', 'access_token_secret', 'refresh_token', 'id_token', 'password', 'password_hash']);

type SdkUser = { user_id?: string; email?: string; identities?: { provider?: string; user_id?: string | number; connection?: string; isSocial?: boolean }[] };

function toUser(u: SdkUser, fallbackId: string): Auth0User {
  const identities = (u.identities ?? [])
    .filter((i) => i.provider !== undefined && i.user_id !== undefined)
    .map((i) => ({ provider: String(i.provider), userId: String(i.user_id), ...(i.connection ? { connection: i.connection } : {}), ...(i.isSocial !== undefined ? { isSocial: i.isSocial } : {}) }));
  return { userId: u.user_id ?? fallbackId, ...(u.email ? { email: u.email } : {}), identities };
}

/**
 * Whether the user's own identity (not a linked one) is in an Auth0 database connection
 * (provider `auth0`), the only kind whose email Auth0 stores in lower case.
 */
function isDatabaseUser(u: Auth0User): boolean {
  const ids = u.identities ?? [];
  const own = ids.find((i) => `${i.provider}|${i.userId}` === u.userId) ?? ids[0];
  return own?.provider === 'auth0';
}

/** Inside a quoted Lucene term only `"` and `\` need escaping. */
function luceneQuoted(value: string): string {
  return value.replace(/["\\]/g, (c) => `\\${c}`);
}

/** Sends `https://{domain}/...` to the sandbox; anything else goes out unchanged. */
function rebasingFetch(domain: string, baseUrl: string): typeof fetch {
  const from = `https://${domain}`;
  const to = baseUrl.replace(/\/+$/, '');
  const rebase = (url: string): string => (url === from || url.startsWith(`${from}/`) || url.startsWith(`${from}?`) ? to + url.slice(from.length) : url);
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
    const retryAfterMs = type === 'rate_limited' && headers && typeof headers.get === 'function' ? retryAfterMsFrom((name) => headers.get(name)) : undefined;
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
