import type { TestWorld } from './stack';
import type { SeedDeps } from '../../seed/fixtures';

export function seedDepsOf(world: TestWorld): SeedDeps {
  return { ...world.deps, recurlySandboxUrl: world.config.recurly.baseUrl };
}
