import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer-token check in constant time. Tokens are compared as SHA-256 digests so that the
 * comparison length never depends on the secret, and every configured token is tried.
 */
export function createTokenChecker(tokens: string[]): (header: string | undefined) => boolean {
  const digests = tokens.map((t) => createHash('sha256').update(t).digest());
  return (header) => {
    const m = /^Bearer ([^\s]+)$/.exec(header ?? '');
    if (!m) return false;
    const given = createHash('sha256').update(m[1]).digest();
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    return ok;
  };
}
