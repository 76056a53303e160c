/** Seeding for the sweep tests: accounts under an id prefix of their own (see SweepScope). */
import { randomBytes } from 'node:crypto';
import { rng, seedAccount, uuidFrom, type AccountSpec, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';

/**
 * Every test file shares one database, and a sweep deletes whatever is eligible. So each
 * sweep test seeds under a random 8-hex-digit id prefix and scopes its sweeps to it: the
 * production query with one added `id between` predicate, nothing else changed.
 */
/** A fresh prefix: give it to the worker (LETHE_SWEEP_SCOPE) and to scopedSeeder. */
export const newScopePrefix = (): string => randomBytes(4).toString('hex');

export function scopedSeeder(seed: SeedDeps, seedNumber: number, prefix = newScopePrefix()) {
  const rand = rng(seedNumber);
  return {
    prefix,
    async account(spec: AccountSpec): Promise<SeededAccount> {
      const id = `${prefix}${uuidFrom(rand).slice(8)}`;
      return seedAccount(seed, { media: 2, orphanBlobs: 1, snapshots: 1, loginEvents: 1, shares: 1, supportRequests: 1, emailOnlySupportRequests: 1, ...spec, id }, rand);
    },
  };
}

export const DAY = 86_400_000;
export const daysAfter = (t: string | Date, days: number): Date => new Date(new Date(t).getTime() + days * DAY);
