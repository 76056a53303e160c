import { timingSafeEqual } from 'node:crypto';
import { ROLES, tokenDigest, type ApiCredential, type Role, type TokenRole } from '../../config';

export { ROLES, type Role };

/** The holder of a valid token: its name (never the token) and its role. */
export interface Caller {
  name: string;
  role: TokenRole;
}

/**
 * Each role may do what the roles before it may: requester < operator < admin. `inbound` is
 * outside the ranking: it passes only where a route names it (`config.alsoRole`), never here.
 */
export const hasRole = (caller: Pick<Caller, 'role'>, needed: Role): boolean => caller.role !== 'inbound' && ROLES.indexOf(caller.role) >= ROLES.indexOf(needed);

/**
 * Turns configured credentials (and plaintext tokens of the earlier format, served as `admin`
 * named `api-token-<n>`) into one list of digests; the plaintext is dropped here.
 */
export function credentialsOf(api: { tokens: string[]; credentials?: ApiCredential[] }): ApiCredential[] {
  return [...(api.credentials ?? []), ...api.tokens.map((t, i) => ({ name: `api-token-${i + 1}`, role: 'admin' as const, digest: tokenDigest(t) }))];
}

/**
 * Which credential the `Authorization: Bearer <token>` header carries, or undefined. The
 * presented token is hashed and compared with every digest in constant time (equal lengths by
 * construction, no early exit), so neither the time taken nor the answer's shape leaks which
 * digest came close.
 */
export function createTokenAuthority(credentials: ApiCredential[]): (header: string | undefined) => Caller | undefined {
  const list = credentials.map((c) => ({ ...c }));
  return (header) => {
    const m = /^Bearer ([^\s]+)$/.exec(header ?? '');
    if (!m) return undefined;
    const given = tokenDigest(m[1]);
    let found: ApiCredential | undefined;
    for (const c of list) {
      const same = timingSafeEqual(c.digest, given);
      if (same && !found) found = c;
    }
    return found ? { name: found.name, role: found.role } : undefined;
  };
}

/** The 403 body: the role the call needs, the one the token has, and the token's name. */
export function forbiddenBody(caller: Caller, needed: Role, what: string): { error: 'forbidden'; message: string; requiredRole: Role; role: TokenRole; tokenName: string } {
  return {
    error: 'forbidden',
    message: `${what} needs the ${needed} role; the token "${caller.name}" has the ${caller.role} role`,
    requiredRole: needed,
    role: caller.role,
    tokenName: caller.name,
  };
}
