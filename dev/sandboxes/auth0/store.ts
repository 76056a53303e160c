/**
 * The Auth0 sandbox's in-memory tenant: users, the access tokens it issued (with their
 * scopes), and what a login leaves behind (sessions, refresh tokens, grants). Those artifacts
 * are kept per user id and are NOT removed when the user is deleted, so a client that forgets
 * to revoke them is caught.
 *
 * Users come two ways, as at Auth0: database users through the Management API (their email
 * stored in lower case), and social/enterprise users through a login at their identity
 * provider (their email kept as the provider sent it). Linking moves a secondary user into a
 * primary one's `identities`; the secondary then stops existing on its own. Unlinking gives it
 * back as a new standalone user without metadata; deleting a primary without unlinking leaves
 * its linked database identities behind as orphans (see `deleteUser`).
 *
 * User search (`GET /api/v2/users?q=`) reads an index that lags the writes by `searchLagMs`
 * (see `searchable`); get-by-id and users-by-email read the users themselves.
 *
 * Beside the user record: its MFA authentication methods (removed with the user, as Auth0
 * documents) and its organization memberships (kept after the user is deleted: Auth0 documents
 * no such removal), see `deleteUser`.
 */
import { randomBytes, randomUUID } from 'node:crypto';

export const DEFAULT_CONNECTION = 'Username-Password-Authentication';

export interface Auth0Identity {
  connection: string;
  user_id: string;
  provider: string;
  isSocial: boolean;
  /** On linked (secondary) identities: the secondary user's profile (auth0 SDK `UserProfileData`). */
  profileData?: Record<string, unknown>;
}

export interface Auth0User {
  user_id: string;
  email?: string;
  email_verified: boolean;
  name: string;
  nickname: string;
  /** Set by `PATCH /api/v2/users/{id}` (E.164); the SDK's `UpdateUserRequestContent.phone_number`. */
  phone_number?: string;
  given_name?: string;
  family_name?: string;
  blocked?: boolean;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
  identities: Auth0Identity[];
  created_at: string;
  updated_at: string;
}

export interface Auth0Session {
  id: string;
  user_id: string;
  created_at: string;
  updated_at: string;
  authenticated_at: string;
  last_interacted_at: string;
  clients: { client_id: string }[];
}

export interface Auth0RefreshToken {
  id: string;
  user_id: string;
  created_at: string;
  client_id: string;
  session_id: string;
  rotating: boolean;
  resource_servers: { audience: string; scopes: string }[];
}

export interface Auth0Grant {
  id: string;
  clientID: string;
  user_id: string;
  audience: string;
  scope: string[];
}

export interface NewUser {
  connection: string;
  email?: string;
  name?: string;
  nickname?: string;
  given_name?: string;
  family_name?: string;
  email_verified?: boolean;
  blocked?: boolean;
  user_id?: string;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
}

/** What `PATCH /api/v2/users/{id}` changes here: a value sets, `null` unsets, absent leaves as is. */
export interface UserPatch {
  email?: string | null;
  email_verified?: boolean;
  name?: string | null;
  nickname?: string | null;
  given_name?: string | null;
  family_name?: string | null;
  phone_number?: string | null;
}

export type CreateUserResult = { ok: true; user: Auth0User } | { ok: false; reason: 'conflict' };

/** A user made by a login at a social or enterprise identity provider (not creatable through the Management API). */
export interface NewIdpUser {
  /** e.g. `google-oauth2`, `github`, or an enterprise connection's name. */
  connection: string;
  /** Defaults to the connection name (social providers are named like their connection). */
  provider?: string;
  /** Kept exactly as the identity provider sent it. */
  email?: string;
  name?: string;
  isSocial?: boolean;
  /** The provider's own id for the person; random digits by default. */
  user_id?: string;
}

export type LinkResult = { ok: true; identities: Auth0Identity[] } | { ok: false; reason: 'primary_missing' | 'secondary_missing' | 'same_user' | 'secondary_has_links' };

export type UnlinkResult = { ok: true; identities: Auth0Identity[] } | { ok: false; reason: 'primary_missing' };

/** A linked database identity whose primary was deleted without unlinking it first (see `deleteUser`). */
export interface OrphanIdentity {
  user_id: string;
  connection: string;
  email?: string;
  /** The primary it was linked into. */
  orphanOf: string;
}

/** A Brute-force Protection block (`GET /api/v2/user-blocks?identifier=`: `blocked_for[]`). */
export interface UserBlock {
  identifier: string;
  ip: string;
  connection: string;
}

/** An MFA authentication method (the SDK's `UserAuthenticationMethod`, the fields the sandbox keeps). */
export interface Auth0AuthenticationMethod {
  id: string;
  type: string;
  confirmed: boolean;
  name?: string;
  phone_number?: string;
  email?: string;
  created_at: string;
  enrolled_at?: string;
}

/** An Organization (the SDK's `Organization`) and the user ids of its members. */
export interface Auth0Organization {
  id: string;
  name: string;
  display_name?: string;
  members: Set<string>;
}

export class Auth0Store {
  readonly users = new Map<string, Auth0User>();
  /** Linked database identities left behind by a primary deleted without unlinking them. */
  readonly orphans: OrphanIdentity[] = [];
  /** Brute-force blocks, keyed by the identifier the login was tried with (an email), not by user. */
  readonly blocks: UserBlock[] = [];
  /** The search index's writes, oldest first: each user's state (null: deleted) as of `at`. */
  private indexLog: { at: number; userId: string; doc: Auth0User | null }[] = [];
  private readonly sessions = new Map<string, Auth0Session[]>();
  private readonly refreshTokens = new Map<string, Auth0RefreshToken[]>();
  private readonly grants = new Map<string, Auth0Grant[]>();
  private readonly tokens = new Map<string, { expiresAt: number; scopes: ReadonlySet<string> }>();
  /** MFA authentication methods per user id. */
  private readonly authMethods = new Map<string, Auth0AuthenticationMethod[]>();
  readonly organizations = new Map<string, Auth0Organization>();

  reset(): void {
    this.authMethods.clear();
    this.organizations.clear();
    this.users.clear();
    this.orphans.length = 0;
    this.blocks.length = 0;
    this.indexLog = [];
    this.sessions.clear();
    this.refreshTokens.clear();
    this.grants.clear();
    this.tokens.clear();
  }

  issueToken(ttlSeconds: number, scopes: readonly string[]): string {
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, { expiresAt: Date.now() + ttlSeconds * 1000, scopes: new Set(scopes) });
    return token;
  }

  tokenState(token: string): 'valid' | 'expired' | 'unknown' {
    const t = this.tokens.get(token);
    if (t === undefined) return 'unknown';
    return Date.now() < t.expiresAt ? 'valid' : 'expired';
  }

  tokenScopes(token: string): ReadonlySet<string> {
    return this.tokens.get(token)?.scopes ?? new Set();
  }

  createUser(input: NewUser, seedLoginForClient: string): CreateUserResult {
    // Auth0 stores the emails of its own database users in lower case.
    const email = input.email?.toLowerCase();
    const localId = input.user_id ?? randomBytes(12).toString('hex');
    const userId = `auth0|${localId}`;
    if (this.users.has(userId)) return { ok: false, reason: 'conflict' };
    if (email !== undefined) {
      for (const u of this.users.values()) {
        if (u.email === email && u.identities.some((i) => i.connection === input.connection)) {
          return { ok: false, reason: 'conflict' };
        }
      }
      // An orphaned linked identity still holds its email in its connection.
      if (this.orphans.some((o) => o.email === email && o.connection === input.connection)) return { ok: false, reason: 'conflict' };
    }
    const now = new Date().toISOString();
    const user: Auth0User = {
      user_id: userId,
      email,
      email_verified: input.email_verified ?? false,
      name: input.name ?? email ?? localId,
      nickname: input.nickname ?? (email ? email.split('@')[0] : localId),
      given_name: input.given_name,
      family_name: input.family_name,
      blocked: input.blocked,
      app_metadata: input.app_metadata,
      user_metadata: input.user_metadata,
      identities: [{ connection: input.connection, user_id: localId, provider: 'auth0', isSocial: false }],
      created_at: now,
      updated_at: now,
    };
    this.users.set(userId, user);
    this.indexed(userId);
    this.recordLogin(userId, seedLoginForClient);
    return { ok: true, user };
  }

  /**
   * `PATCH /api/v2/users/{id}` (reference.md, users.update): "The properties of the new object
   * will replace the old ones", and "Supported attributes can be unset by supplying `null`". A
   * database user's new email is stored lower-cased like a new one (users.listUsersByEmail), and
   * another user of the connection holding it is refused ("The specified new email already
   * exists", Auth0's answer to a taken address). Changing the email of a database user without
   * `email_verified` marks it unverified, as Auth0 does.
   */
  updateUser(userId: string, patch: UserPatch): { ok: true; user: Auth0User } | { ok: false; reason: 'not_found' | 'email_taken' } {
    const user = this.users.get(userId);
    if (!user) return { ok: false, reason: 'not_found' };
    const own = user.identities[0];
    if (patch.email !== undefined && patch.email !== null) {
      const email = own?.provider === 'auth0' ? patch.email.toLowerCase() : patch.email;
      const taken =
        [...this.users.values()].some((u) => u.user_id !== userId && u.email === email && u.identities.some((i) => i.connection === own?.connection)) ||
        this.orphans.some((o) => o.email === email && o.connection === own?.connection);
      if (taken) return { ok: false, reason: 'email_taken' };
      if (email !== user.email) user.email_verified = patch.email_verified ?? false;
      user.email = email;
    } else if (patch.email === null) delete user.email;
    if (patch.email_verified !== undefined && patch.email === undefined) user.email_verified = patch.email_verified;
    if (patch.name !== undefined) user.name = patch.name ?? user.email ?? own?.user_id ?? userId;
    if (patch.phone_number !== undefined) {
      if (patch.phone_number === null) delete user.phone_number;
      else user.phone_number = patch.phone_number;
    }
    if (patch.nickname !== undefined) user.nickname = patch.nickname ?? (user.email ? user.email.split('@')[0] : userId);
    for (const k of ['given_name', 'family_name'] as const) {
      if (patch[k] === undefined) continue;
      if (patch[k] === null) delete user[k];
      else user[k] = patch[k];
    }
    user.updated_at = new Date().toISOString();
    this.indexed(userId);
    return { ok: true, user };
  }

  /** A user as a login at a social or enterprise provider leaves it: the email in the provider's case. */
  createIdpUser(input: NewIdpUser, seedLoginForClient: string): CreateUserResult {
    const provider = input.provider ?? input.connection;
    const localId = input.user_id ?? Array.from(randomBytes(21), (b) => b % 10).join('');
    const userId = `${provider}|${localId}`;
    if (this.users.has(userId)) return { ok: false, reason: 'conflict' };
    const now = new Date().toISOString();
    const user: Auth0User = {
      user_id: userId,
      email: input.email,
      email_verified: true,
      name: input.name ?? input.email ?? localId,
      nickname: input.email ? input.email.split('@')[0] : localId,
      identities: [{ connection: input.connection, user_id: localId, provider, isSocial: input.isSocial ?? true }],
      created_at: now,
      updated_at: now,
    };
    this.users.set(userId, user);
    this.indexed(userId);
    this.recordLogin(userId, seedLoginForClient);
    return { ok: true, user };
  }

  /**
   * Records a user's current state (or its deletion) for the search index. Auth0: user search
   * is "eventually consistent: search results may not reflect a recently-completed write
   * operation" while get-by-id and users-by-email are "immediately consistent"
   * (auth0.com/docs/manage-users/user-search, "Search Result Terminology"; "User Search Best
   * Practices").
   */
  private indexed(userId: string): void {
    const u = this.users.get(userId);
    this.indexLog.push({ at: Date.now(), userId, doc: u ? (JSON.parse(JSON.stringify(u)) as Auth0User) : null });
  }

  /**
   * The users as the search index holds them `lagMs` after the fact: each user's last state
   * written at least `lagMs` ago. A user created or linked more recently is not found yet; one
   * deleted more recently is still found, as it was.
   */
  searchable(lagMs: number): Auth0User[] {
    if (lagMs <= 0) return [...this.users.values()];
    const cutoff = Date.now() - lagMs;
    const state = new Map<string, Auth0User | null>();
    for (const e of this.indexLog) {
      if (e.at > cutoff) break;
      state.set(e.userId, e.doc);
    }
    return [...state.values()].filter((u): u is Auth0User => u !== null);
  }

  /**
   * `GET /api/v2/users-by-email`. Auth0 matches the stored value exactly (the SDK's
   * `ListUsersByEmailRequestParameters.email`: "Email address to search for (case-sensitive)");
   * `exact: false` is the sandbox's old, friendlier case-insensitive match.
   */
  findByEmail(email: string, exact = true): Auth0User[] {
    if (exact) return [...this.users.values()].filter((u) => u.email === email);
    const wanted = email.toLowerCase();
    return [...this.users.values()].filter((u) => u.email?.toLowerCase() === wanted);
  }

  /**
   * `POST /api/v2/users/{primary}/identities` with `provider` and `user_id` (the SDK's
   * `LinkUserIdentityRequestContent`): the secondary user's identity joins the primary's
   * `identities` with its profile as `profileData`, and the secondary stops existing on its own.
   */
  linkUser(primaryId: string, provider: string, secondaryLocalId: string): LinkResult {
    const primary = this.users.get(primaryId);
    if (!primary) return { ok: false, reason: 'primary_missing' };
    const secondaryId = `${provider}|${secondaryLocalId}`;
    if (secondaryId === primaryId) return { ok: false, reason: 'same_user' };
    const secondary = this.users.get(secondaryId);
    if (!secondary) return { ok: false, reason: 'secondary_missing' };
    if (secondary.identities.length > 1) return { ok: false, reason: 'secondary_has_links' };
    const [own] = secondary.identities;
    const profileData: Record<string, unknown> = { email: secondary.email, email_verified: secondary.email_verified, name: secondary.name };
    primary.identities.push({ ...own, profileData: Object.fromEntries(Object.entries(profileData).filter(([, v]) => v !== undefined)) });
    primary.updated_at = new Date().toISOString();
    this.users.delete(secondaryId);
    this.indexed(primaryId);
    this.indexed(secondaryId);
    return { ok: true, identities: primary.identities };
  }

  /**
   * `DELETE /api/v2/users/{primary}/identities/{provider}/{user_id}` ("Unlink User Accounts",
   * auth0.com/docs/manage-users/user-accounts/user-account-linking/unlink-user-accounts): the
   * identity leaves the primary's `identities`, and "a new secondary user account is created"
   * with "no metadata"; "if your goal is to delete the secondary identity entirely, you must
   * first unlink the accounts, and then delete the newly created secondary account". Answers
   * the primary's remaining identities. An identity not linked there changes nothing (Auth0
   * does not document that case; the sandbox answers as if it had been unlinked before).
   */
  unlinkUser(primaryId: string, provider: string, secondaryLocalId: string): UnlinkResult {
    const primary = this.users.get(primaryId);
    if (!primary) return { ok: false, reason: 'primary_missing' };
    const at = primary.identities.findIndex((i, n) => n > 0 && i.provider === provider && String(i.user_id) === secondaryLocalId);
    if (at < 0) return { ok: true, identities: primary.identities };
    const [identity] = primary.identities.splice(at, 1);
    const { profileData, ...own } = identity;
    const email = typeof profileData?.email === 'string' ? profileData.email : undefined;
    const now = new Date().toISOString();
    const secondaryId = `${provider}|${secondaryLocalId}`;
    this.users.set(secondaryId, {
      user_id: secondaryId,
      email,
      email_verified: profileData?.email_verified === true,
      name: typeof profileData?.name === 'string' ? profileData.name : (email ?? secondaryLocalId),
      nickname: email ? email.split('@')[0] : secondaryLocalId,
      identities: [own],
      created_at: now,
      updated_at: now,
    });
    primary.updated_at = now;
    this.indexed(primaryId);
    this.indexed(secondaryId);
    return { ok: true, identities: primary.identities };
  }

  /** What a login leaves behind: one session, one refresh token, one grant for the client. */
  recordLogin(userId: string, clientId: string): void {
    const now = new Date().toISOString();
    const sessionId = randomUUID();
    push(this.sessions, userId, {
      id: sessionId,
      user_id: userId,
      created_at: now,
      updated_at: now,
      authenticated_at: now,
      last_interacted_at: now,
      clients: [{ client_id: clientId }],
    });
    push(this.refreshTokens, userId, {
      id: randomUUID(),
      user_id: userId,
      created_at: now,
      client_id: clientId,
      session_id: sessionId,
      rotating: false,
      resource_servers: [{ audience: 'https://api.lethe.local/', scopes: 'openid profile offline_access' }],
    });
    const grants = this.grants.get(userId) ?? [];
    if (!grants.some((g) => g.clientID === clientId)) {
      push(this.grants, userId, {
        id: randomBytes(8).toString('hex'),
        clientID: clientId,
        user_id: userId,
        audience: 'https://api.lethe.local/',
        scope: ['openid', 'profile', 'offline_access'],
      });
    }
  }

  sessionsOf(userId: string): Auth0Session[] {
    return this.sessions.get(userId) ?? [];
  }

  refreshTokensOf(userId: string): Auth0RefreshToken[] {
    return this.refreshTokens.get(userId) ?? [];
  }

  grantsOf(userId: string): Auth0Grant[] {
    return this.grants.get(userId) ?? [];
  }

  allGrants(): Auth0Grant[] {
    return [...this.grants.values()].flat();
  }

  deleteSessions(userId: string): void {
    this.sessions.delete(userId);
  }

  deleteRefreshTokens(userId: string): void {
    this.refreshTokens.delete(userId);
  }

  deleteGrantsOfUser(userId: string): void {
    this.grants.delete(userId);
  }

  deleteGrant(grantId: string): void {
    for (const [userId, list] of this.grants) {
      const kept = list.filter((g) => g.id !== grantId);
      if (kept.length) this.grants.set(userId, kept);
      else this.grants.delete(userId);
    }
  }

  /**
   * Deletes the user. Its linked database identities are not deleted with it: Auth0 says to
   * delete a secondary identity entirely you "must first unlink the accounts, and then delete
   * the newly created secondary account" ("Unlink User Accounts"). The sandbox keeps each as an
   * orphan that still holds its email in its connection (a new sign-up with it conflicts) and
   * that `GET /__sandbox/users?email=` shows, so a client that deletes only the primary is caught.
   */
  deleteUser(userId: string): boolean {
    const user = this.users.get(userId);
    if (!user) return false;
    for (const i of user.identities.slice(1)) {
      if (i.provider !== 'auth0') continue;
      const email = typeof i.profileData?.email === 'string' ? i.profileData.email : undefined;
      this.orphans.push({ user_id: `${i.provider}|${i.user_id}`, connection: i.connection, email, orphanOf: userId });
    }
    this.users.delete(userId);
    // "When a user is deleted by the Auth0 Management API (DELETE /v2/users/{user_id}), the
    // associated MFA authenticators are deleted automatically" (Auth0 knowledge base, "Deleting
    // Users Does Not Delete Authenticators", community.auth0.com/t/89889: only a batch deletion,
    // of a connection or a tenant, leaves them). Organization memberships are not removed:
    // Auth0 documents no such thing ("Remove Members From Organizations" speaks of the other
    // direction only), so the sandbox keeps them, naming the deleted user's id, and a client that
    // does not remove them is caught (`GET /__sandbox/users/{id}/artifacts`, the org's members).
    this.authMethods.delete(userId);
    this.indexed(userId);
    return true;
  }

  /** `POST /api/v2/users/{id}/authentication-methods`: a confirmed enrolment. */
  addAuthMethod(userId: string, input: { type: string; name?: string; phone_number?: string; email?: string }): Auth0AuthenticationMethod {
    const now = new Date().toISOString();
    const method: Auth0AuthenticationMethod = { id: `${input.type}|dev_${randomBytes(8).toString('hex')}`, confirmed: true, created_at: now, enrolled_at: now, ...input };
    push(this.authMethods, userId, method);
    return method;
  }

  authMethodsOf(userId: string): Auth0AuthenticationMethod[] {
    return this.authMethods.get(userId) ?? [];
  }

  /** `DELETE /api/v2/users/{id}/authentication-methods` and `DELETE /api/v2/users/{id}/authenticators`: every one. */
  deleteAuthMethods(userId: string): void {
    this.authMethods.delete(userId);
  }

  createOrganization(name: string, displayName?: string): Auth0Organization | undefined {
    if ([...this.organizations.values()].some((o) => o.name === name)) return undefined;
    const org: Auth0Organization = { id: `org_${randomBytes(8).toString('hex')}`, name, ...(displayName ? { display_name: displayName } : {}), members: new Set() };
    this.organizations.set(org.id, org);
    return org;
  }

  /** The organizations naming `userId` as a member (also after the user is deleted: see `deleteUser`). */
  organizationsOf(userId: string): Auth0Organization[] {
    return [...this.organizations.values()].filter((o) => o.members.has(userId));
  }

  /** Orphaned database identities holding this email, in any letter case. */
  orphansWithEmail(email: string): OrphanIdentity[] {
    const wanted = email.toLowerCase();
    return this.orphans.filter((o) => o.email?.toLowerCase() === wanted);
  }

  /** A failed-login block on an identifier (what Brute-force Protection leaves; the test's way to make one). */
  addBlock(block: UserBlock): void {
    this.blocks.push(block);
  }

  /** `GET /api/v2/user-blocks?identifier=`: Auth0 matches the identifier as the login was typed; the sandbox in any case. */
  blocksFor(identifier: string): UserBlock[] {
    const wanted = identifier.toLowerCase();
    return this.blocks.filter((b) => b.identifier.toLowerCase() === wanted);
  }

  /** `DELETE /api/v2/user-blocks?identifier=`. */
  unblock(identifier: string): void {
    const wanted = identifier.toLowerCase();
    for (let i = this.blocks.length - 1; i >= 0; i--) if (this.blocks[i].identifier.toLowerCase() === wanted) this.blocks.splice(i, 1);
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key) ?? [];
  list.push(value);
  map.set(key, list);
}
