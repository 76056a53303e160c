import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer-token check in constant time. Tokens are compared as SHA-256 digests so that the
 * comparison length never depends on the secret, and every configured token is tried.
 */
export function createTokenChecker(tokens: string[]): (header: string | undefined) => boolean {
  const identify = createTokenIdentifier(tokens);
  return (header) => identify(header) >= 0;
}

/**
 * Which configured token the header carries (its index, for per-token rate limits and
 * metrics without ever naming the token), or -1. Same constant-time comparison as above.
 */
export function createTokenIdentifier(tokens: string[]): (header: string | undefined) => number {
  const digests = tokens.map((t) => createHash('sha256').update(t).digest());
  return (header) => {
    const m = /^Bearer ([^\s]+)$/.exec(header ?? '');
    if (!m) return -1;
    const given = createHash('sha256').update(m[1]).digest();
    let found = -1;
    for (let i = 0; i < digests.length; i++) {
      const same = timingSafeEqual(digests[i], given);
      found = same && found < 0 ? i : found;
    }
    return found;
  };
}
