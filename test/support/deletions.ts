/** What the deletion tests drive Lethe with: the client-side services over a world's stack, and a wait on a request's view. */
import type { Knex } from 'knex';
import type { Client } from '@temporalio/client';
import type { Config } from '../../config';
import { createIntake, type Intake } from '../../client/intake';
import type { SeedDeps } from '../../dev/seed/fixtures';
import { startWorld, type TestWorld } from './stack';
import { rngFor, seedDepsOf } from './world-seed';
import { createRequestReader, type DeletionView, type RequestReader } from '../../client/requests';
import { createOperatorActions } from '../../client/operator';
import { sleep } from './until';

/** The intake, the read side and the operator actions, as the API builds them. */
export function deletionServices(s: { config: Config; db: Knex; temporal: Client }) {
  const intake = createIntake({ config: s.config, db: s.db, temporal: s.temporal });
  const reader = createRequestReader({ config: s.config, db: s.db, temporal: s.temporal });
  return { intake, reader, operator: createOperatorActions({ db: s.db, temporal: s.temporal, intake, requests: reader }) };
}

/** Reads the request's view until `ok` holds; the timeout names `what` and the last stores seen. */
export async function waitForView(reader: Pick<RequestReader, 'get'>, requestId: string, ok: (v: DeletionView) => boolean, what: string, timeoutMs = 90_000): Promise<DeletionView> {
  const end = Date.now() + timeoutMs;
  let last: DeletionView | null = null;
  for (;;) {
    last = await reader.get(requestId).catch(() => null);
    if (last && ok(last)) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last view: ${JSON.stringify(last?.stores ?? last)}`);
    await sleep(250);
  }
}

/**
 * A deletion test file's world: a worker of its own on the shared stack, started before its tests
 * and closed after them, the seed dependencies, the intake, and the file's own random stream
 * (rngFor). Read its fields inside tests (they are set in beforeAll).
 */
export function deletionWorld(file: string): { world: TestWorld; seed: SeedDeps; deletions: Intake; rand: () => number } {
  const t = { rand: rngFor(file) } as { world: TestWorld; seed: SeedDeps; deletions: Intake; rand: () => number };
  beforeAll(async () => {
    t.world = await startWorld();
    t.seed = seedDepsOf(t.world);
    t.deletions = createIntake({ config: t.world.config, db: t.world.deps.db, temporal: t.world.client });
  });
  afterAll(async () => t.world?.close());
  return t;
}
