/**
 * The front door's records (lethe.verifications and its token hashes, lethe.address_watch):
 * the pieces both sides share, the API confirming a link and the worker's activities mailing it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import type { FieldCipher } from '../encryption/fields';
import { emailLookupKey } from './subjects';

/** The sealed typed address is bound to its row: a copy in another row does not open. */
export const verificationContext = (verificationId: string): string => `lethe.verifications:${verificationId}`;

export const tokenHash = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/** `<verificationId>.<secret>`: the id says which request a wrong secret counts against. */
export function newToken(verificationId: string): { token: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { token: `${verificationId}.${secret}`, hash: tokenHash(secret) };
}

export const confirmLink = (publicUrl: string, token: string): string => `${publicUrl.replace(/\/+$/, '')}/privacy/confirm?token=${encodeURIComponent(token)}`;

/** Where an account's address stands in lethe.address_watch: first seen now, unchanged, or changed since `changedAt`. */
export async function watchAddress(db: Knex, fields: FieldCipher, accountId: string, email: string, now = new Date()): Promise<{ changedAt: Date | null }> {
  const hash = fields.lookupHash(emailLookupKey(email));
  const row = await db('lethe.address_watch').where({ account_id: accountId }).first('email_hash', 'changed_at');
  if (!row) {
    await db('lethe.address_watch').insert({ account_id: accountId, email_hash: hash, seen_at: now }).onConflict('account_id').ignore();
    return { changedAt: null };
  }
  // Exact, not lower-cased, would miss nothing a person cares about and flag case edits; the key is lower-cased like every lookup.
  if (!fields.lookupHashes(emailLookupKey(email)).includes(row.email_hash)) {
    await db('lethe.address_watch').where({ account_id: accountId }).update({ email_hash: hash, changed_at: now, seen_at: now });
    return { changedAt: now };
  }
  await db('lethe.address_watch').where({ account_id: accountId }).update({ seen_at: now });
  return { changedAt: row.changed_at ? new Date(row.changed_at) : null };
}

/**
 * Reads every account's address into lethe.address_watch, a page at a time: a hash that differs
 * from the one kept is a change, stamped now. This is how a request can tell that an address
 * changed lately: the application's schema records no such time (CONTRACT §2). A change made
 * and undone between two passes is not seen; neither is one before the first pass.
 */
export async function watchAllAddresses(db: Knex, fields: FieldCipher, opts: { pageSize?: number; now?: Date } = {}): Promise<{ read: number; changed: number }> {
  const pageSize = opts.pageSize ?? 1000;
  const now = opts.now ?? new Date();
  let after = '00000000-0000-0000-0000-000000000000';
  let read = 0;
  let changed = 0;
  for (;;) {
    const page: { id: string; email: string; known: string | null }[] = await db('accounts as a')
      .leftJoin('lethe.address_watch as w', 'w.account_id', 'a.id')
      .where('a.id', '>', after)
      .orderBy('a.id')
      .limit(pageSize)
      .select('a.id', 'a.email', 'w.email_hash as known');
    if (page.length === 0) break;
    const fresh = page.filter((r) => r.known === null).map((r) => ({ account_id: r.id, email_hash: fields.lookupHash(emailLookupKey(r.email)), seen_at: now }));
    if (fresh.length) await db('lethe.address_watch').insert(fresh).onConflict('account_id').ignore();
    for (const r of page) {
      if (r.known !== null && !fields.lookupHashes(emailLookupKey(r.email)).includes(r.known)) {
        const hash = fields.lookupHash(emailLookupKey(r.email));
        await db('lethe.address_watch').where({ account_id: r.id }).update({ email_hash: hash, changed_at: now, seen_at: now });
        changed++;
      }
    }
    read += page.length;
    after = page[page.length - 1].id;
  }
  // Accounts that are gone leave no hash behind.
  await db('lethe.address_watch as w')
    .whereNotExists((q) => {
      void q.select(db.raw('1')).from('accounts as a').whereRaw('a.id = w.account_id');
    })
    .del();
  return { read, changed };
}

/**
 * Erases the typed address kept for an operator (a request refused as ambiguous or waiting for
 * an operator) once it is `days` old, and drops records of requests that never became a
 * deletion after `recordDays` (their counts are what reports need; CCPA regs §7101 keep them 24 months).
 */
export async function pruneVerifications(db: Knex, opts: { sealedDays: number; recordDays: number; now?: Date }): Promise<void> {
  const now = (opts.now ?? new Date()).getTime();
  await db('lethe.verifications')
    .whereNotNull('email_sealed')
    .where('updated_at', '<', new Date(now - opts.sealedDays * 86_400_000))
    .update({ email_sealed: null });
  const old = new Date(now - opts.recordDays * 86_400_000);
  await db('lethe.verification_tokens')
    .whereIn('verification_id', db('lethe.verifications').select('verification_id').where('first_contact_at', '<', old))
    .del();
  await db('lethe.verifications').where('first_contact_at', '<', old).del();
}
