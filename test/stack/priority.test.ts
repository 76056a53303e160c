/**
 * People's requests do not queue behind the sweep (issue 37 item 3). A sweep's deletions fill a
 * rate-limited vendor queue; a person's request filed after them must have its vendor task taken
 * next, not after the backlog. On Auth0's queue, which both share, Temporal's task-queue
 * priority does this (contract DELETION_PRIORITY, activities inherit their workflow's key) once
 * the server runs its priority matcher (dev/stack/temporal.ts). Recurly's steps of the sweep's
 * deletions have a queue of their own (workflows/queues.ts), so a person's never meets their
 * backlog there. Read from the histories: when each deletion's vendor task was scheduled, on
 * which queue, and when a worker took it.
 */
import { deletionServices } from '../support/deletions';
import { startWorld, type TestWorld } from '../support/stack';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { seedAccount, type SeededAccount } from '../../dev/seed/fixtures';
import { vendorTaskQueue } from '../../workflows/queues';
import { sleep, until } from '../support/until';
import { activityTasks, type ActivityTask } from '../support/activity-tasks';

const SWEEP_DELETIONS = 12;
// One Auth0 deletion task about every 2 s (3.9/s x 0.9 / 7 calls): the sweep's twelve queue.
const BUDGET = { LETHE_AUTH0_RATE_PER_SECOND: '3.9', LETHE_AUTH0_CALLS_PER_DELETION: '7', LETHE_AUTH0_RATE_HEADROOM: '10' };
const YEAR_MS = 365 * 24 * 3600_000;

/** The run's first task of `activity` that a worker took: its queue, when it was scheduled and when taken. */
async function vendorTask(world: TestWorld, workflowId: string, activity: string): Promise<(ActivityTask & { workflowId: string; startedAt: number }) | undefined> {
  const task = activityTasks(await world.client.workflow.getHandle(workflowId).fetchHistory()).find((t) => t.type === activity && t.startedAt !== undefined);
  return task && { ...task, workflowId, startedAt: task.startedAt! };
}

describe("a person's request and the sweep's deletions on the vendors' queues", () => {
  let world: TestWorld;
  beforeAll(async () => {
    world = await startWorld({ env: BUDGET });
  }, 180_000);
  afterAll(async () => world?.close());

  test("when the sweep's deletions have filled Auth0's queue and a person files a request, then the person's Auth0 task is taken next, ahead of the sweep's backlog; their Recurly steps are on queues of their own", async () => {
    const rand = rngFor(__filename);
    const seed = seedDepsOf(world);
    // Inactive: no login for three years, a subscription long expired, so the sweep's re-check keeps them.
    const inactive = {
      lastLoginAt: new Date(Date.now() - 3 * YEAR_MS),
      createdAt: new Date(Date.now() - 4 * YEAR_MS),
      auth0: 'none' as const,
      media: 0,
      subscriptions: [{ state: 'expired' as const }],
    };
    const swept: SeededAccount[] = [];
    for (let i = 0; i < SWEEP_DELETIONS; i++) swept.push(await seedAccount(seed, inactive, rand));
    const person = await seedAccount(seed, { auth0: 'none', media: 0, subscriptions: [{ state: 'expired' }] }, rand);
    const { intake } = deletionServices({ config: world.config, db: world.deps.db, temporal: world.client });

    const selectedAt = new Date().toISOString();
    for (const a of swept) expect(await intake.startInactivity({ accountId: a.id, selectedAt, requestedBy: 'sweep-priority-test' })).toBe('started');
    // Let the sweep's tasks reach the queue and its rate start to hold them back.
    await sleep(4_000);
    const request = await intake.start({ accountId: person.id, channel: 'support', requestedBy: 'agent-7' });

    const all = [...swept.map((a) => `deletion-${a.id}`), request.workflowId];
    await Promise.all(all.map((id) => world.client.workflow.getHandle(id).result()));
    const tasksOf = (activity: string) =>
      until(
        `every ${activity} task in the histories`,
        async () => {
          const found = await Promise.all(all.map((id) => vendorTask(world, id, activity)));
          return found.every(Boolean) ? found.map((t) => t!) : undefined;
        },
        30_000,
        500,
      );
    const tasks = await tasksOf('deleteAuth0User');
    expect(new Set(tasks.map((t) => t.queue))).toEqual(new Set([vendorTaskQueue(world.taskQueue, 'auth0')]));
    // Recurly: the sweep's on its queue, the person's on people's.
    const recurly = await tasksOf('deleteRecurlyAccount');
    expect(recurly.map((t) => [t.workflowId === request.workflowId ? 'person' : 'sweep', t.queue]).sort()).toEqual(
      [['person', vendorTaskQueue(world.taskQueue, 'recurly')], ...swept.map(() => ['sweep', vendorTaskQueue(world.taskQueue, 'recurly', 'sweep-delete')])].sort(),
    );
    const mine = tasks.find((t) => t.workflowId === request.workflowId)!;
    const sweeps = tasks.filter((t) => t !== mine);
    // The sweep's backlog when the person's task was scheduled: scheduled before it, taken after.
    const waiting = sweeps.filter((t) => t.scheduledAt < mine.scheduledAt && t.startedAt > mine.scheduledAt);
    // Of those, the ones taken before the person's: at most the one the limiter was already
    // releasing when it arrived (and one for the clock's grain).
    const overtook = waiting.filter((t) => t.startedAt < mine.startedAt);
    // A backlog there was, or the test shows nothing.
    expect({ backlog: waiting.length >= 4 }).toEqual({ backlog: true });
    expect({ fewOvertook: overtook.length <= 2, overtook: overtook.length, backlog: waiting.length }).toEqual({ fewOvertook: true, overtook: overtook.length, backlog: waiting.length });
  }, 300_000);
});
