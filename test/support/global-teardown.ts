import fs from 'node:fs';
import type { RunningStack } from '../../dev/stack/embedded';

export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as Record<string, unknown>).__LETHE_STACK__ as RunningStack | undefined;
  if (stack) await stack.stop();
  const dir = process.env.LETHE_TEST_STATE_DIR;
  if (dir && !process.env.LETHE_KEEP_TEST_STATE) fs.rmSync(dir, { recursive: true, force: true });
}
