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
