/**
 * The request that waits for the person's confirmation (workflows/verification.ts) on Temporal's
 * time-skipping test server, with stub activities: a day of waiting runs in seconds. The real
 * stack's tests (test/front-door) cover the activities, the mail and the pages.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { requestVerificationWorkflow } from '../../workflows/verification';
import { verificationConfirmedSignal, verificationStatusQuery, verificationWorkflowId, type VerificationInput, type VerificationStatus } from '../../contract';
import { startTimeSkipping, workflowBundle, type TimeSkipping } from '../support/time-skipping';

const HOUR = 3_600_000;

describe('a request waiting for the person, on the time-skipping server (stub activities)', () => {
  let ts: TimeSkipping;
  beforeAll(async () => {
    ts = await startTimeSkipping();
  }, 120_000);
  afterAll(async () => ts?.close());

  async function run<T>(
    fn: (h: ReturnType<TimeSkipping['env']['client']['workflow']['getHandle']>, calls: { at: number; name: string }[], start: number) => Promise<T>,
    opts: { mailServerAway?: boolean } = {},
  ) {
    const calls: { at: number; name: string }[] = [];
    const now = async () => ts.env.currentTimeMs();
    let dbStatus: VerificationStatus = 'received';
    const activities = {
      prepareVerification: async () => {
        calls.push({ at: await now(), name: 'prepare' });
        if (opts.mailServerAway) throw ApplicationFailure.create({ type: 'Unavailable', message: 'connect ECONNREFUSED 127.0.0.1:1025' });
        dbStatus = 'awaiting_confirmation';
        return dbStatus;
      },
      remindVerification: async () => {
        calls.push({ at: await now(), name: 'remind' });
        return true;
      },
      expireVerification: async () => {
        calls.push({ at: await now(), name: 'expire' });
        // As the real one: a request still received or awaiting expires; a confirmed one stays.
        if (dbStatus === 'received' || dbStatus === 'awaiting_confirmation') dbStatus = 'expired';
        return { status: dbStatus };
      },
    };
    const taskQueue = `ts-${randomUUID()}`;
    const worker = await Worker.create({ connection: ts.env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
    const start = await now();
    const verificationId = randomUUID();
    const input: VerificationInput = {
      verificationId,
      kind: 'deletion',
      channel: 'web',
      firstContactAt: new Date(start).toISOString(),
      expiresAt: new Date(start + 24 * HOUR).toISOString(),
      reminderAt: new Date(start + 18 * HOUR).toISOString(),
    };
    return worker.runUntil(async () => {
      const handle = await ts.env.client.workflow.start(requestVerificationWorkflow, { taskQueue, workflowId: verificationWorkflowId(verificationId), args: [input] });
      return fn(handle, calls, start);
    });
  }

  test('when nobody confirms, then one reminder goes at its time, and the request expires at 24 hours, counted', async () => {
    await run(async (handle, calls, start) => {
      await ts.env.sleep(17 * HOUR);
      expect((await handle.query(verificationStatusQuery)).status).toBe('awaiting_confirmation');
      expect(calls.map((c) => c.name)).toEqual(['prepare']);
      const outcome = await handle.result();
      expect(outcome).toMatchObject({ status: 'expired', reminded: true });
      expect(calls.map((c) => c.name)).toEqual(['prepare', 'remind', 'expire']);
      const [, remind, expire] = calls;
      expect(remind.at - start).toBeGreaterThanOrEqual(18 * HOUR);
      expect(remind.at - start).toBeLessThan(18 * HOUR + 60_000);
      expect(expire.at - start).toBeGreaterThanOrEqual(24 * HOUR);
      expect(expire.at - start).toBeLessThan(24 * HOUR + 60_000);
    });
  }, 120_000);

  test('when the person confirms after two hours, then the workflow ends confirmed with the deletion’s id, with no reminder and no expiry', async () => {
    await run(async (handle, calls) => {
      await ts.env.sleep(2 * HOUR);
      const requestId = randomUUID();
      await handle.signal(verificationConfirmedSignal, { requestId });
      expect(await handle.result()).toMatchObject({ status: 'confirmed', requestId, reminded: false });
      expect(calls.map((c) => c.name)).toEqual(['prepare']);
    });
  }, 120_000);

  test('when the mail server is away for the link’s whole life, then the mailing stops at its end and the request expires, counted', async () => {
    await run(
      async (handle, calls, start) => {
        const outcome = await handle.result();
        expect(outcome).toMatchObject({ status: 'expired', reminded: false });
        expect(calls.filter((c) => c.name === 'prepare').length).toBeGreaterThan(1);
        const expire = calls.find((c) => c.name === 'expire')!;
        expect(expire.at - start).toBeGreaterThanOrEqual(24 * HOUR - 60_000);
        expect(expire.at - start).toBeLessThan(24 * HOUR + 60_000);
      },
      { mailServerAway: true },
    );
  }, 120_000);
});
