/**
 * The console's sign-in sessions. An operator or admin API token is exchanged once for a
 * random session id, sent back only as an HttpOnly, SameSite=Strict cookie; lethe.console_sessions
 * keeps the SHA-256 of the id (a copy of the table opens nothing), the token's name and role,
 * and when the session ends. Sign-out revokes the row; an expired or revoked row opens nothing.
 *
 * CSRF: a synchronizer token tied to the session, derived from the session id (an HMAC keyed
 * with it): only a page served to this session carries it, the id itself never leaves the
 * cookie, and nothing more is stored. SameSite=Strict already keeps other sites' forms from
 * carrying the cookie; the token is the second, independent lock.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import type { Role } from '../api/auth';

export const SESSION_COOKIE = 'lethe_console';

export interface ConsoleSession {
  tokenName: string;
  role: Role;
  expiresAt: Date;
  /** The session's CSRF token, for the forms this response renders. */
  csrf: string;
  /** The stored key (the id's hash), for sign-out. */
  key: string;
}

const hashOf = (id: string): string => createHash('sha256').update(id).digest('hex');
const csrfOf = (id: string): string => createHmac('sha256', id).update('lethe-console-csrf').digest('base64url');

export function createSessionStore(deps: { db: Knex; sessionHours: number }) {
  const { db } = deps;
  return {
    /** A new session for this token holder: the id (for the cookie only) and when it ends. */
    async create(who: { name: string; role: Role }): Promise<{ id: string; expiresAt: Date }> {
      const id = randomBytes(32).toString('base64url');
      const expiresAt = new Date(Date.now() + deps.sessionHours * 3_600_000);
      await db('lethe.console_sessions').insert({ session_hash: hashOf(id), token_name: who.name, role: who.role, expires_at: expiresAt });
      // Ended sessions are of no use to anyone: dropped as new ones begin (indexed by expires_at).
      await db('lethe.console_sessions')
        .where('expires_at', '<', new Date(Date.now() - 86_400_000))
        .del();
      return { id, expiresAt };
    },

    /** The live session the cookie's id opens, or undefined (unknown, expired, revoked). */
    async find(id: string | undefined): Promise<ConsoleSession | undefined> {
      if (!id || id.length > 100) return undefined;
      const key = hashOf(id);
      const row: { token_name: string; role: Role; expires_at: Date } | undefined = await db('lethe.console_sessions')
        .where({ session_hash: key })
        .whereNull('revoked_at')
        .where('expires_at', '>', db.fn.now())
        .first('token_name', 'role', 'expires_at');
      return row ? { tokenName: row.token_name, role: row.role, expiresAt: new Date(row.expires_at), csrf: csrfOf(id), key } : undefined;
    },

    async revoke(key: string): Promise<void> {
      await db('lethe.console_sessions').where({ session_hash: key }).update({ revoked_at: db.fn.now() });
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;

/** Whether `given` is this session's CSRF token (constant time). */
export function csrfMatches(session: ConsoleSession, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The one cookie header the console reads, parsed without a dependency. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}
