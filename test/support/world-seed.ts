import { createHash } from 'node:crypto';
import path from 'node:path';
import type { TestWorld } from './stack';
import { rng, type SeedDeps } from '../../dev/seed/fixtures';

export function seedDepsOf(world: TestWorld): SeedDeps {
  return { ...world.deps, recurlySandboxUrl: world.config.recurly.baseUrl };
}

/**
 * A seeded random stream of a test file's own. Every file shares one database and one pair of
 * sandboxes, and two files that pass the same number to rng() seed the same account ids: one
 * file's deletion then takes the other's accounts (the CLI and history tests did exactly that).
 * Hashing the file's path keeps each file deterministic and apart from every other.
 */
export function rngFor(file: string, stream = 0): () => number {
  const name = `${path.relative(path.join(__dirname, '..', '..'), file)}#${stream}`;
  return rng(createHash('sha256').update(name).digest().readUInt32BE(0));
}
