/**
 * The deletion workflow on Temporal's time-skipping test server, with stub activities: days of
 * timers run in seconds. Each test drives the workflow code itself (the real stack's tests
 * cover the activities): the 48 h warning and 72 h breach while a store is blocked, the
 * deadline moving earlier, a store blocked for days while the others finish, the
 * delete-and-verify loop, an operator's retry and resolution.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import {
  additionalRequestSignal,
  BLOCK_POLICY,
  legalHoldSignal,
  FRESH_VENDOR_READ_MS,
  LetheDeadline,
  progressQuery,
  resolveStoreSignal,
  retryStoresSignal,
  type BlockPolicy,
  type DeletionInput,
  type DeletionProgress,
  type Receipt,
  type Store,
  type StoreVerification,
} from '../../contract';
import { accountDeletionWorkflow } from '../../workflows/deletion';
import { VENDOR_QUEUES, vendorTaskQueue } from '../../workflows/queues';
import { startTimeSkipping, workflowBundle, type TimeSkipping } from '../support/time-skipping';
import { until } from '../support/until';
import { activityTasks } from '../support/activity-tasks';

const HOUR = 3_600_000;

/** What each store does when asked: succeed, refuse (as a vendor would), or leave data behind. */
type Behaviour = 'ok' | { refuse: 'Precondition' | 'Held' | 'Unauthorized' | 'Unavailable'; message: string; details?: unknown[] } | { leaveData: number };

function stubs() {
  const behaviour: Record<Store, Behaviour> = { media: 'ok', auth0: 'ok', recurly: 'ok', database: 'ok' };
  const deletes: Record<Store, number> = { media: 0, auth0: 0, recurly: 0, database: 0 };
  const notices: string[] = [];
  // What the person was told (acknowledgement, completion), apart from the operators' notices.
  const told: string[] = [];
  const marks: string[] = [];
  let receipt: Receipt | undefined;
  const remaining: Record<Store, number> = { media: 0, auth0: 0, recurly: 0, database: 0 };
  const reads: Record<Store, number> = { media: 0, auth0: 0, recurly: 0, database: 0 };
  // The deletion's own steps: attempts, and whether they refuse (as a revoked grant would).
  const own = { freeze: 0, receipt: 0, refuse: { freeze: false, receipt: false } };
  // What a store's read-back says is gone from the live data but still held by the vendor.
  const pending: Partial<Record<Store, StoreVerification['pending']>> = {};
  const del = (store: Store, result: unknown) => async () => {
    deletes[store]++;
    const b = behaviour[store];
    if (b !== 'ok' && 'refuse' in b) throw ApplicationFailure.create({ type: b.refuse, message: b.message, nonRetryable: b.refuse !== 'Unavailable', details: b.details });
    if (b !== 'ok' && 'leaveData' in b) {
      remaining[store] = b.leaveData;
      behaviour[store] = b.leaveData > 1 ? { leaveData: b.leaveData - 1 } : 'ok';
    } else remaining[store] = 0;
    return result;
  };
  const activities = {
    freezeAccount: async () => {
      own.freeze++;
      if (own.refuse.freeze) throw ApplicationFailure.create({ type: 'Unauthorized', message: 'freeze: permission denied for table frozen_accounts' });
      return { auth0Users: 1, hasRecurlyAccount: true };
    },
    recheckEligibility: async () => ({ eligible: true, checkedAt: new Date().toISOString() }),
    releaseAccount: async () => undefined,
    deleteMediaBlobs: del('media', { blobsDeleted: 3, byContainer: { media: 3 }, listCalls: 1, batchCalls: 1, resumed: false }),
    deleteAuth0User: del('auth0', { usersDeleted: 1, alreadyGone: 0 }),
    deleteRecurlyAccount: del('recurly', { subscriptionsTerminated: 1, accountRedacted: true, hadAccount: true }),
    deleteDatabaseRows: del('database', { accounts: 1 }),
    verifyStore: async (input: { store: Store }): Promise<StoreVerification> => {
      reads[input.store]++;
      return {
        store: input.store,
        clean: remaining[input.store] === 0,
        remaining: { items: remaining[input.store] },
        checkedAt: new Date().toISOString(),
        ...(pending[input.store] ? { pending: pending[input.store] } : {}),
      };
    },
    verifyDeletion: async () => {
      throw new Error('the stores-apart path verifies store by store');
    },
    writeReceipt: async (r: Receipt) => {
      own.receipt++;
      if (own.refuse.receipt) throw ApplicationFailure.create({ type: 'Unauthorized', message: 'receipt: permission denied for table receipts' });
      receipt = r;
    },
    markRequest: async (_id: string, status: string) => {
      marks.push(status);
    },
    notifyOperators: async (n: { kind: string }) => {
      notices.push(n.kind);
      return { delivered: true };
    },
    // Notices to the person (activities/front-door/notices.ts): recorded with the operators'.
    notifyPerson: async (n: { kind: string }) => {
      told.push(n.kind);
      return 'sent';
    },
  };
  return { activities, behaviour, deletes, reads, notices, told, marks, receipt: () => receipt, own, remaining, pending };
}

describe('deletion workflow on the time-skipping server (stub activities)', () => {
  let ts: TimeSkipping;
  beforeAll(async () => {
    ts = await startTimeSkipping();
  }, 120_000);
  afterAll(async () => ts?.close());

  async function run<T>(
    s: ReturnType<typeof stubs>,
    fn: (handle: ReturnType<TimeSkipping['env']['client']['workflow']['getHandle']>, input: DeletionInput) => Promise<T>,
    at?: Date,
    blockPolicy?: BlockPolicy,
    channel: DeletionInput['channel'] = 'api',
  ): Promise<T> {
    // The server's clock, which earlier tests' skips moved ahead of the wall clock.
    const receivedAt = at ?? new Date(await ts.env.currentTimeMs());
    const taskQueue = `ts-${randomUUID()}`;
    const worker = await Worker.create({ connection: ts.env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: s.activities });
    // Auth0's and Recurly's activities are scheduled on the vendors' own queues (workflows/queues.ts).
    const vendorWorkers = await Promise.all(
      VENDOR_QUEUES.map(({ vendor, step }) => Worker.create({ connection: ts.env.nativeConnection, taskQueue: vendorTaskQueue(taskQueue, vendor, step), activities: s.activities })),
    );
    const input: DeletionInput = {
      requestId: randomUUID(),
      accountId: randomUUID(),
      channel,
      ...(channel === 'inactivity' ? { selectedAt: receivedAt.toISOString() } : {}),
      receivedAt: receivedAt.toISOString(),
      deadlineAt: new Date(receivedAt.getTime() + 72 * HOUR).toISOString(),
      warningAt: new Date(receivedAt.getTime() + 48 * HOUR).toISOString(),
      ...(blockPolicy ? { blockPolicy } : {}),
    };
    // Every vendor queue's worker runs for as long as the main one (each runUntil inside the next).
    const runAll = (ws: Worker[], inner: () => Promise<T>): Promise<T> => (ws.length ? ws[0].runUntil(() => runAll(ws.slice(1), inner)) : inner());
    return runAll(vendorWorkers, () =>
      worker.runUntil(async () => {
        const handle = await ts.env.client.workflow.start(accountDeletionWorkflow, { taskQueue, workflowId: `deletion-${input.accountId}`, args: [input] });
        try {
          return await fn(handle, input);
        } catch (err) {
          // A failed test's run must not stay open: the server skips time only while none waits.
          await handle.terminate('test failed').catch(() => undefined);
          throw err;
        }
      }),
    );
  }

  const progress = (h: { query: (q: typeof progressQuery) => Promise<DeletionProgress> }) => h.query(progressQuery);
  const store = (p: DeletionProgress, s: Store) => p.stores!.find((x) => x.store === s)!;

  test('when Recurly refuses for days, then the other stores finish at once, Recurly turns blocked within the bound, the 48 h warning and 72 h breach still fire, and a retry after the fix completes it', async () => {
    const s = stubs();
    s.behaviour.recurly = { refuse: 'Precondition', message: 'recurly 422 cannot redact: uninvoiced charges' };
    await run(s, async (handle) => {
      await ts.env.sleep(BLOCK_POLICY.needsPersonBlockAfterMs / 2);
      let p = await progress(handle);
      for (const x of ['media', 'auth0', 'database'] as const) expect(store(p, x).status).toBe('verified');
      expect(store(p, 'recurly').status).toBe('retrying');
      expect(p.status).toBe('running');

      await ts.env.sleep(BLOCK_POLICY.needsPersonBlockAfterMs + BLOCK_POLICY.retryEveryMs);
      p = await progress(handle);
      expect(p.status).toBe('blocked');
      expect(p.blocked).toEqual([expect.objectContaining({ store: 'recurly', reason: expect.stringContaining('uninvoiced charges'), action: expect.stringContaining('settle or void') })]);
      expect(s.notices).toEqual(['blocked']);
      expect(s.marks).toContain('blocked');
      // The steps are derived from the stores when the query is answered.
      expect(p.steps.map((x) => [x.name, x.status])).toEqual([
        ['freeze', 'completed'],
        ['recurly', 'running'],
        ['auth0', 'completed'],
        ['media', 'completed'],
        ['database', 'completed'],
        ['verify', 'pending'],
        ['receipt', 'pending'],
      ]);
      expect(p.steps.find((x) => x.name === 'recurly')?.detail).toMatch(/^blocked: .*uninvoiced charges/);
      expect(p.steps.find((x) => x.name === 'media')?.detail).toBe('3 blobs deleted');

      await ts.env.sleep(48 * HOUR);
      p = await progress(handle);
      expect([p.warning, p.overdue]).toEqual([true, false]);
      await ts.env.sleep(24 * HOUR);
      p = await progress(handle);
      expect([p.warning, p.overdue]).toEqual([true, true]);
      expect(s.notices).toEqual(['blocked', 'warning', 'overdue']);
      // Tried on the slow cadence all along, never given up on.
      expect(s.deletes.recurly).toBeGreaterThan((72 * HOUR) / BLOCK_POLICY.retryEveryMs - 2);
      expect(s.deletes.media).toBe(1);

      s.behaviour.recurly = 'ok';
      const before = s.deletes.recurly;
      await handle.signal(retryStoresSignal, { by: 'ops-1', actionId: randomUUID() });
      const receipt = (await handle.result()) as Receipt;
      expect(s.deletes.recurly).toBe(before + 1);
      expect(receipt.overdue).toBe(true);
      expect(receipt.verification.clean).toBe(true);
      expect(receipt.stores?.recurly).toMatchObject({ outcome: 'verified' });
      expect(s.receipt()).toEqual(receipt);
      // The person heard twice: when it started, and once the receipt was written.
      expect(s.told).toEqual(['acknowledgement', 'completion']);
    });
  }, 120_000);

  test('when a transient fault lasts, then the store keeps retrying (not blocked) until the transient bound, and then shows blocked', async () => {
    const s = stubs();
    s.behaviour.auth0 = { refuse: 'Unavailable', message: 'auth0 503 unavailable' };
    await run(s, async (handle) => {
      await ts.env.sleep(BLOCK_POLICY.transientBlockAfterMs - HOUR);
      let p = await progress(handle);
      expect(store(p, 'auth0').status).toBe('retrying');
      expect(p.status).toBe('running');
      await ts.env.sleep(2 * HOUR);
      p = await progress(handle);
      expect(store(p, 'auth0').status).toBe('blocked');
      expect(p.blocked?.map((b) => b.store)).toEqual(['auth0']);
      s.behaviour.auth0 = 'ok';
      await handle.signal(retryStoresSignal, { stores: ['auth0'], by: 'ops-1', actionId: randomUUID() });
      const receipt = (await handle.result()) as Receipt;
      expect(receipt.verification.clean).toBe(true);
    });
  }, 120_000);

  test('when a store still holds data after deleting, then it is deleted and read back again until it is empty', async () => {
    const s = stubs();
    s.behaviour.media = { leaveData: 2 };
    await run(s, async (handle) => {
      const receipt = (await handle.result()) as Receipt;
      expect(s.deletes.media).toBe(3);
      expect(s.deletes.auth0).toBe(1);
      expect(receipt.verification.clean).toBe(true);
      expect(receipt.counts.media?.blobsDeleted).toBe(9);
    });
  }, 120_000);

  test('when an operator resolves a held store outside Lethe, then the deletion completes and the receipt says resolved, never verified', async () => {
    const s = stubs();
    s.behaviour.media = { refuse: 'Held', message: 'media: blob batch sub-request refused: HTTP 409 BlobImmutableDueToLegalHold' };
    await run(s, async (handle) => {
      await ts.env.sleep(BLOCK_POLICY.needsPersonBlockAfterMs + BLOCK_POLICY.retryEveryMs + 60_000);
      expect((await progress(handle)).blocked?.[0]).toMatchObject({ store: 'media', action: expect.stringContaining('legal hold') });
      const actionId = randomUUID();
      await handle.signal(resolveStoreSignal, { store: 'media', by: 'privacy-officer', actionId });
      const receipt = (await handle.result()) as Receipt;
      expect(receipt.stores?.media).toMatchObject({ outcome: 'resolved_outside_lethe', resolution: { actionId, by: 'privacy-officer' } });
      expect(receipt.stores?.auth0).toMatchObject({ outcome: 'verified' });
      expect(receipt.verification.clean).toBe(false);
    });
  }, 120_000);

  test('when a media activity ends on a hold after deleting some blobs, then the receipt counts those with what the retry after the release deleted', async () => {
    const s = stubs();
    // What the activity reports in its failure's details (activities/deletion/media.ts): 40
    // blobs went before the hold stopped it; the retry finds only the 3 it held.
    const before = { containerIndex: 1, byContainer: { media: 38, exports: 2 }, listCalls: 2, batchCalls: 3, purged: 1, leasesBroken: 0 };
    s.behaviour.media = { refuse: 'Held', message: 'media: 3 blobs refused deletion (3 under a legal hold)', details: [before] };
    await run(s, async (handle) => {
      // Waited for in real time: the server's clock skips ahead only while the test waits on it,
      // so the store's next attempt (22.5–30 s later, workflows/stores.ts) does not come meanwhile.
      await until('the first media activity', async () => s.deletes.media > 0 || undefined, 30_000, 100);
      expect(s.deletes.media).toBe(1);
      s.behaviour.media = 'ok';
      await handle.signal(retryStoresSignal, { stores: ['media'], by: 'ops-1', actionId: randomUUID() });
      const receipt = (await handle.result()) as Receipt;
      expect(s.deletes.media).toBe(2);
      expect(receipt.counts.media).toMatchObject({ blobsDeleted: 43, byContainer: { media: 41, exports: 2 }, softDeletedPurged: 1, resumed: true });
      expect(receipt.verification.clean).toBe(true);
    });
  }, 120_000);

  test('when a run is started with an input the intake would refuse, then it fails at once naming every bad field, and no store is touched', async () => {
    // As an operator's `temporal workflow start` could: the intake is not in the way.
    const s = stubs();
    const taskQueue = `ts-${randomUUID()}`;
    const worker = await Worker.create({ connection: ts.env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities: s.activities });
    const bad = { requestId: randomUUID(), accountId: 'not-a-uuid', channel: 'fax', receivedAt: new Date().toISOString(), deadlineAt: 'soon', warningAt: new Date().toISOString() };
    const err = await worker.runUntil(async () => {
      const handle = await ts.env.client.workflow.start(accountDeletionWorkflow, { taskQueue, workflowId: `deletion-${randomUUID()}`, args: [bad as unknown as DeletionInput] });
      return handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
    });
    const cause = (err as { cause?: ApplicationFailure })?.cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    expect(cause!.message).toMatch(/accountId must be a UUID/);
    expect(cause!.message).toMatch(/channel must be one of/);
    expect(cause!.message).toMatch(/deadlineAt must be an RFC 3339 time, got "soon"/);
    expect(cause!.message).not.toMatch(/requestId|receivedAt|warningAt/);
    expect(s.deletes).toEqual({ media: 0, auth0: 0, recurly: 0, database: 0 });
    expect(s.marks).toEqual([]);
  }, 120_000);

  test('when another channel reports an earlier receipt, then the deadline, its timers and its search attribute move earlier', async () => {
    const s = stubs();
    s.behaviour.database = { refuse: 'Unauthorized', message: 'postgres permission denied' };
    await run(s, async (handle, input) => {
      const earlier = new Date(Date.parse(input.receivedAt) - 24 * HOUR).toISOString();
      await handle.signal(additionalRequestSignal, { channel: 'email', receivedAt: earlier });
      const p = await progress(handle);
      expect(p.deadlineAt).toBe(new Date(Date.parse(earlier) + 72 * HOUR).toISOString());
      const attrs = (await handle.describe()).typedSearchAttributes;
      expect(attrs.get(LetheDeadline)).toEqual(new Date(p.deadlineAt));
      // 49 h after our own receipt is 73 h after the earlier one: overdue already.
      await ts.env.sleep(49 * HOUR);
      expect((await progress(handle)).overdue).toBe(true);
      await handle.terminate('test done');
    });
  }, 120_000);

  test('when something reappears in a verified store while another is blocked, then the final read-back deletes it again before the receipt', async () => {
    const s = stubs();
    s.behaviour.recurly = { refuse: 'Precondition', message: 'recurly 422 cannot redact: 1 uninvoiced charge (line items)' };
    await run(s, async (handle) => {
      // Longer than FRESH_VENDOR_READ_MS: Auth0's own read-back is stale by the receipt.
      await ts.env.sleep(FRESH_VENDOR_READ_MS + 60_000);
      expect(store(await progress(handle), 'media').status).toBe('verified');
      expect(s.deletes.media).toBe(1);
      // An upload through an already-issued URL, after media was read back empty.
      s.remaining.media = 2;
      s.behaviour.recurly = 'ok';
      // The stubs' reads are stamped by the wall clock (the server's is skipped ahead).
      const unblockedAt = Date.now();
      await handle.signal(retryStoresSignal, { by: 'ops-1', actionId: randomUUID() });
      const receipt = (await handle.result()) as Receipt;
      expect(s.deletes.media).toBe(2);
      expect(s.deletes.auth0).toBe(1);
      expect(receipt.counts.media?.blobsDeleted).toBe(6);
      expect(receipt.verification.clean).toBe(true);
      // Each store's last read is the final read-back's, after Recurly was unblocked.
      for (const x of ['media', 'auth0', 'recurly', 'database'] as const) expect({ x, late: Date.parse(receipt.stores![x].verification!.checkedAt) >= unblockedAt }).toEqual({ x, late: true });
      expect(Date.parse(receipt.verification.checkedAt)).toBeGreaterThanOrEqual(unblockedAt);
    });
  }, 120_000);

  test('when every store is read back within minutes of the receipt, then the final read-back reads media and the database again but not the vendors, whose own reads the receipt keeps', async () => {
    const s = stubs();
    await run(s, async (handle) => {
      const receipt = (await handle.result()) as Receipt;
      expect(receipt.verification.clean).toBe(true);
      // Each vendor call counts against the rate that paces every deletion (issue 37).
      expect(s.reads).toEqual({ media: 2, auth0: 1, recurly: 1, database: 2 });
      for (const x of ['auth0', 'recurly'] as const) expect(receipt.stores![x].verification!.checkedAt).toEqual(expect.any(String));
    });
  }, 120_000);

  test('when the Recurly deletion hands over its own last read, then that is its read-back and Recurly is not read again', async () => {
    const s = stubs();
    const ownRead: StoreVerification = { store: 'recurly', clean: true, remaining: { account: 0 }, checkedAt: '2026-12-07T06:00:00.000Z' };
    s.activities.deleteRecurlyAccount = async () => ({ subscriptionsTerminated: 1, accountRedacted: true, hadAccount: true, readBack: ownRead });
    await run(s, async (handle) => {
      const receipt = (await handle.result()) as Receipt;
      expect(s.reads).toEqual({ media: 2, auth0: 1, recurly: 0, database: 2 });
      expect(receipt.stores!.recurly.verification).toMatchObject({ clean: true, checkedAt: ownRead.checkedAt });
      // Never part of the receipt's counts.
      expect(receipt.counts.recurly).toEqual({ subscriptionsTerminated: 1, accountRedacted: true, hadAccount: true });
    });
  }, 120_000);

  test("when only the sweep asked, then Recurly's deletion goes on the sweep's Recurly queue, and a person's on people's; Auth0's on its one queue either way", async () => {
    // The vendor deletions' queues, with the run's own task queue (a random name) written <tq>.
    const deletionQueues = async (handle: ReturnType<TimeSkipping['env']['client']['workflow']['getHandle']>, types: string[]) =>
      activityTasks(await handle.fetchHistory())
        .filter((t) => types.includes(t.type))
        .map((t) => [t.type, t.queue.replace(/^ts-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/, '<tq>')] as const);
    const queuesOf = async (handle: ReturnType<TimeSkipping['env']['client']['workflow']['getHandle']>) =>
      Object.fromEntries(await deletionQueues(handle, ['deleteRecurlyAccount', 'deleteAuth0User']));
    const swept = await run(
      stubs(),
      async (handle) => {
        await handle.result();
        return queuesOf(handle);
      },
      undefined,
      undefined,
      'inactivity',
    );
    expect(swept).toEqual({ deleteAuth0User: '<tq>-auth0', deleteRecurlyAccount: '<tq>-recurly-sweep' });
    const asked = await run(stubs(), async (handle) => {
      await handle.result();
      return queuesOf(handle);
    });
    expect(asked).toEqual({ deleteAuth0User: '<tq>-auth0', deleteRecurlyAccount: '<tq>-recurly' });

    // A person's request joins a sweep's deletion while Recurly refuses: the next attempt is theirs.
    const joined = stubs();
    joined.behaviour.recurly = { refuse: 'Precondition', message: 'recurly 422 cannot redact: uninvoiced charges' };
    const recurlyQueues = await run(
      joined,
      async (handle) => {
        await ts.env.sleep(60_000);
        await handle.signal(additionalRequestSignal, { channel: 'email', receivedAt: new Date(await ts.env.currentTimeMs()).toISOString() });
        joined.behaviour.recurly = 'ok';
        await handle.result();
        return (await deletionQueues(handle, ['deleteRecurlyAccount'])).map(([, queue]) => queue);
      },
      undefined,
      undefined,
      'inactivity',
    );
    // The attempts before the person asked on the sweep's queue, every one after on people's.
    const firstPeople = recurlyQueues.indexOf('<tq>-recurly');
    expect(firstPeople).toBeGreaterThan(0);
    expect(recurlyQueues).toEqual([...Array(firstPeople).fill('<tq>-recurly-sweep'), ...Array(recurlyQueues.length - firstPeople).fill('<tq>-recurly')]);
  }, 180_000);

  test('when soft-deleted blobs wait for the purge, then the receipt and the verify step say them pending with the date, never that every store is empty', async () => {
    const s = stubs();
    const what = 'media: 2 soft-deleted blobs, purged by Azure when the soft-delete retention ends';
    s.pending.media = [{ what, until: '2026-12-20T00:00:00.000Z' }];
    await run(s, async (handle) => {
      const receipt = (await handle.result()) as Receipt;
      expect(receipt.verification).toMatchObject({ clean: true, pending: [{ store: 'media', what, until: '2026-12-20T00:00:00.000Z' }] });
      const verify = (await progress(handle)).steps.find((x) => x.name === 'verify')?.detail;
      expect(verify).toContain(`pending: ${what} (until 2026-12-20T00:00:00.000Z)`);
      expect(verify).not.toContain('every store is empty');
    });
  }, 120_000);

  test("when a Recurly attempt ended subscriptions and then was refused the redaction, then the receipt counts them with the next attempt's", async () => {
    const s = stubs();
    s.behaviour.recurly = { refuse: 'Precondition', message: 'recurly 422 cannot redact: 1 uninvoiced charge', details: [{ recurlyTerminated: 2, recurlyCanceled: 1 }] };
    await run(s, async (handle) => {
      await until('the first Recurly attempt', async () => s.deletes.recurly > 0 || undefined, 30_000, 100);
      s.behaviour.recurly = 'ok';
      await handle.signal(retryStoresSignal, { stores: ['recurly'], by: 'ops-1', actionId: randomUUID() });
      const receipt = (await handle.result()) as Receipt;
      expect(receipt.counts.recurly).toMatchObject({ subscriptionsTerminated: 3, subscriptionsCanceled: 1, accountRedacted: true, hadAccount: true });
    });
  }, 120_000);

  test('when a store refuses, then it turns blocked by a timer as the bound passes since it began failing, while it is still backing off', async () => {
    // A bound that falls between attempts: attempts at about 0, 0.5, 1.5, 3.5 and 7.5 minutes,
    // the next not before 11.6. Marked at the end of a failed attempt, it would still say retrying at 10.5.
    const policy: BlockPolicy = { ...BLOCK_POLICY, needsPersonBlockAfterMs: 10 * 60_000, retryEveryMs: HOUR };
    const s = stubs();
    s.behaviour.recurly = { refuse: 'Precondition', message: 'recurly 422 cannot redact: 1 uninvoiced charge (line items)' };
    await run(
      s,
      async (handle) => {
        await ts.env.sleep(9.5 * 60_000);
        let p = await progress(handle);
        expect(store(p, 'recurly').status).toBe('retrying');
        expect(p.status).toBe('running');
        const attempts = store(p, 'recurly').attempts;
        await ts.env.sleep(60_000);
        p = await progress(handle);
        expect({ status: p.status, store: store(p, 'recurly').status, attempts: store(p, 'recurly').attempts }).toEqual({ status: 'blocked', store: 'blocked', attempts });
        expect(s.notices).toEqual(['blocked']);
        s.behaviour.recurly = 'ok';
        await handle.signal(retryStoresSignal, { by: 'ops-1', actionId: randomUUID() });
        expect(((await handle.result()) as Receipt).verification.clean).toBe(true);
      },
      undefined,
      policy,
    );
  }, 120_000);

  test('when the receipt cannot be written, then the request shows blocked on the receipt within the bound, with the reason and what to do, and writes it once fixed', async () => {
    const s = stubs();
    s.own.refuse.receipt = true;
    await run(s, async (handle) => {
      await ts.env.sleep(BLOCK_POLICY.needsPersonBlockAfterMs / 2);
      let p = await progress(handle);
      expect(p.status).toBe('running');
      expect(p.steps.find((x) => x.name === 'receipt')).toMatchObject({ status: 'running', detail: expect.stringMatching(/^retrying: Unauthorized: receipt: permission denied/) });
      await ts.env.sleep(BLOCK_POLICY.needsPersonBlockAfterMs / 2 + 60_000);
      p = await progress(handle);
      expect(p.status).toBe('blocked');
      expect(p.blocked).toEqual([{ store: 'receipt', reason: expect.stringContaining('permission denied for table receipts'), since: expect.any(String), action: expect.stringContaining('grants') }]);
      expect(p.steps.find((x) => x.name === 'receipt')?.detail).toMatch(/^blocked: /);
      expect(s.notices).toEqual(['blocked']);
      expect(s.marks).toContain('blocked');
      // Still retried on its own, on the slow cadence.
      const tries = s.own.receipt;
      await ts.env.sleep(BLOCK_POLICY.retryEveryMs + 60_000);
      expect(s.own.receipt).toBeGreaterThan(tries);
      s.own.refuse.receipt = false;
      await handle.signal(retryStoresSignal, { by: 'ops-1', actionId: randomUUID() });
      const receipt = (await handle.result()) as Receipt;
      expect(s.receipt()).toEqual(receipt);
    });
  }, 120_000);

  test('when a legal hold is placed while Recurly still refuses, then the verified stores stay done, no store is called while held, the clock stops, and the release goes on with a fresh deadline', async () => {
    const s = stubs();
    s.behaviour.recurly = { refuse: 'Precondition', message: 'recurly 422 cannot redact: uninvoiced charges' };
    await run(s, async (handle) => {
      await ts.env.sleep(BLOCK_POLICY.needsPersonBlockAfterMs / 2);
      let p = await progress(handle);
      for (const x of ['media', 'auth0', 'database'] as const) expect(store(p, x).status).toBe('verified');
      const at = new Date(await ts.env.currentTimeMs()).toISOString();
      await handle.signal(legalHoldSignal, { held: true, at });
      p = await progress(handle);
      expect(p.status).toBe('held');
      expect(p.hold).toEqual({ since: at, done: ['media', 'auth0', 'database'] });

      // Recurly would now succeed: while held it is not called, and the 72 hours do not run out.
      s.behaviour.recurly = 'ok';
      const calls = { ...s.deletes };
      await ts.env.sleep(100 * HOUR);
      p = await progress(handle);
      expect(s.deletes).toEqual(calls);
      expect([p.status, p.warning, p.overdue]).toEqual(['held', false, false]);
      expect(s.marks).toContain('held');
      expect(s.notices).toEqual([]);

      const releasedAt = await ts.env.currentTimeMs();
      const deadlineAt = new Date(releasedAt + 72 * HOUR).toISOString();
      await handle.signal(legalHoldSignal, { held: false, at: new Date(releasedAt).toISOString(), deadlineAt, warningAt: new Date(releasedAt + 48 * HOUR).toISOString() });
      const receipt = (await handle.result()) as Receipt;
      expect(receipt.deadlineAt).toBe(deadlineAt);
      expect(receipt.overdue).toBe(false);
      expect(receipt.verification.clean).toBe(true);
      expect(s.deletes).toEqual({ ...calls, recurly: calls.recurly + 1 });
    });
  }, 120_000);
});
