/**
 * Determinism guard: histories recorded from earlier versions of the deletion workflow
 * (test/histories/*.json) must replay against today's code. A change that would break
 * running deletions in production fails here instead.
 *
 * To record new histories after an intended, patched change:
 *   LETHE_RECORD_HISTORIES=1 npx jest test/deletion/replay.test.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { startWorld } from '../support/stack';
import { seedDepsOf } from '../support/world-seed';
import { rng, seedAccount } from '../../dev/seed/fixtures';
import { createIntake } from '../../client/intake';
import { WORKFLOWS_PATH } from '../../worker/worker';

const DIR = path.resolve(__dirname, '..', 'histories');

describe('workflow replay', () => {
  if (process.env.LETHE_RECORD_HISTORIES) {
    test('record: histories of a single-channel and a two-channel deletion', async () => {
      const world = await startWorld();
      try {
        const seed = seedDepsOf(world);
        const deletions = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
        const a = await seedAccount(seed, { media: 4, orphanBlobs: 1, snapshots: 1 }, rng(101));
        const b = await seedAccount(seed, { media: 2, auth0: 'legacy', subscriptions: null }, rng(102));
        const one = await deletions.start({ accountId: a.id, channel: 'api' });
        const two = await deletions.start({ accountId: b.id, channel: 'email' });
        await deletions.start({ email: b.email, channel: 'support', receivedAt: new Date(Date.now() - 60_000).toISOString() });
        for (const [name, id] of [
          ['deletion-single-channel', one.workflowId],
          ['deletion-two-channels', two.workflowId],
        ]) {
          const handle = world.client.workflow.getHandle(id);
          await handle.result();
          const history = await handle.fetchHistory();
          fs.writeFileSync(path.join(DIR, `${name}.json`), JSON.stringify(history));
        }
      } finally {
        await world.close();
      }
    });
  }

  const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json'));

  test('there are recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
  });

  test.each(files)('when %s is replayed against the current workflow code, then it is deterministic', async (file) => {
    // fromObject rather than the SDK's proto-JSON reader, which trips over jest's module
    // registry ("type must be a Type"); the files are protobufjs toJSON output.
    const history = temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
    await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, history, `replay-${file}`);
  });
});
