/**
 * The inactivity notice ladder walked day by day on Temporal's time-skipping test server
 * (issue 34's "Done when"): the real sweep workflow and its real page activities over the test
 * database, a daily sweep at 03:00 UTC, days skipped in seconds. The deletions the sweep starts
 * are recorded by a stub intake (the deletion itself is tested elsewhere), and the notices by a
 * mailer that keeps what it is given, refusing one address for good as a mail server refuses an
 * unknown mailbox (SMTP 550). test/sweep/notices.test.ts reads real notices from Mailpit.
 *
 * Dates are fixed on the test server's clock: day 0 is the first 03:00 UTC after the start, and
 * the walked account becomes eligible at the day-35 sweep (inactive since an hour before the
 * cut-off that sweep computes), so its notices are due at day 5 (30 days) and day 28 (7 days).
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { testConfig } from '../support/stack';
import { startTimeSkipping, workflowBundle, type TimeSkipping } from '../support/time-skipping';
import { buildDeps, type WorkerDeps } from '../../worker/deps';
import { createSweepActivities, type StartDeletion } from '../../activities/sweep/sweep';
import { cutoffFor } from '../../activities/sweep/candidates';
import { inactivitySweepWorkflow } from '../../workflows/sweep';
import { MailError, type Mailer, type OutboundMail } from '../../mail/transport';
import { readableUtc } from '../../mail/templates';
import { SWEEP_WORKFLOW_PREFIX, type SweepResult } from '../../contract';
import { newScopePrefix } from './support';

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** The UTC calendar day as the mails write it: `Sunday 10 January 2027`. */
const dayOf = (t: number): string => readableUtc(new Date(t)).split(',')[0];

interface Sent {
  to: string;
  subject: string;
  text: string;
  day: number;
}

describe('inactivity notices on the time-skipping server', () => {
  let ts: TimeSkipping;
  let deps: WorkerDeps;
  const workers: { worker: Worker; running: Promise<void> }[] = [];
  const prefixes: string[] = [];

  beforeAll(async () => {
    ts = await startTimeSkipping();
    deps = buildDeps(testConfig());
  }, 120_000);
  afterAll(async () => {
    // The shared database: this file's accounts (and their notices) go.
    for (const prefix of prefixes) {
      const ids = await deps
        .db('accounts')
        .whereRaw('id::text like ?', [`${prefix}%`])
        .pluck('id');
      await deps.db('lethe.inactivity_notices').whereIn('account_id', ids).del();
      await deps.db('accounts').whereIn('id', ids).del();
    }
    for (const w of workers) w.worker.shutdown();
    await Promise.all(workers.map((w) => w.running.catch(() => undefined)));
    await deps?.close();
    await ts?.close();
  });

  /** A sweep worker of its own (task queue, scope, ladder), recording what it mails and starts. */
  async function sweepWorker(ladder: string, refuse: (to: string) => boolean = () => false) {
    const prefix = newScopePrefix();
    prefixes.push(prefix);
    const taskQueue = `notices-${randomUUID()}`;
    const config = testConfig({ LETHE_TASK_QUEUE: taskQueue, LETHE_SWEEP_SCOPE: prefix, LETHE_SWEEP_STARTS_PER_MINUTE: '6000', LETHE_INACTIVITY_NOTICES: ladder });
    const state = { day: -1, sent: [] as Sent[], starts: [] as { accountId: string; day: number }[] };
    const mailer: Mailer = {
      async send(m: OutboundMail) {
        if (refuse(m.to)) throw new MailError('rejected', { responseCode: 550, command: 'RCPT' });
        state.sent.push({ to: m.to, subject: m.subject, text: m.text, day: state.day });
        return { messageId: randomUUID() };
      },
      close() {},
    };
    const startDeletion: StartDeletion = async (req) => {
      state.starts.push({ accountId: req.accountId, day: state.day });
      return 'started';
    };
    const activities = createSweepActivities({ sweep: config.sweep, db: deps.db, startDeletion, mailer: () => mailer, publicUrl: config.mail.publicUrl });
    const worker = await Worker.create({ connection: ts.env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities });
    const running = worker.run();
    workers.push({ worker, running });

    const account = async (email: string, inactiveSince: string | Date) => {
      const id = `${prefix}${randomUUID().slice(8)}`;
      await deps.db('accounts').insert({ id, email, created_at: new Date(new Date(inactiveSince).getTime() - 30 * DAY), last_login_at: inactiveSince });
      return id;
    };
    const sweep = async (day: number): Promise<SweepResult> => {
      state.day = day;
      // A plain client: the environment's own unlocks time skipping while it waits for a
      // result, and the server then jumps (years) while the page activity runs. Time moves here
      // only by sleep() and the seconds each sweep takes.
      return plain().workflow.execute(inactivitySweepWorkflow, { taskQueue, workflowId: `${SWEEP_WORKFLOW_PREFIX}-${randomUUID()}`, args: [{}] });
    };
    const row = (sweepId: string) => deps.db('lethe.sweeps').where({ sweep_id: sweepId }).first('notices_sent', 'notices_bounced', 'deferred', 'kept', 'started');
    return { prefix, config, state, account, sweep, row };
  }

  /** Skips the server's clock to the next 03:00 UTC (the Schedule's default time): day 0. */
  async function toNextSweepTime(): Promise<number> {
    const now = await ts.env.currentTimeMs();
    const d = new Date(now + 60_000);
    let t0 = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 3, 0, 0);
    if (t0 <= now) t0 += DAY;
    await ts.env.sleep(t0 - now);
    return t0;
  }

  let client: Client | undefined;
  const plain = (): Client => (client ??= new Client({ connection: ts.env.connection, namespace: 'default' }));

  const unique = (tag: string) => `${tag}.${randomUUID().slice(0, 8)}@notices.example.test`;

  test('when an account walks from 23 months to deletion, then it is mailed at 30 and 7 days before and deleted on the day; a sign-in or a live subscription after the first notice keeps it and restarts the ladder; a backlog account waits 7 days after its notice; a bounced address is deleted on eligibility; nobody else is mailed', async () => {
    const w = await sweepWorker('30d,7d', (to) => to.startsWith('bounces.'));
    const t0 = await toNextSweepTime();
    const eligibleDay = 35;
    // An hour before the cut-off the day-35 sweep computes: eligible from that sweep on.
    const since = new Date(Date.parse(await cutoffFor(deps.db, new Date(t0 + eligibleDay * DAY).toISOString(), 24, 'UTC')) - HOUR);
    const backlogSince = new Date(Date.parse(await cutoffFor(deps.db, new Date(t0).toISOString(), 24, 'UTC')) - 30 * DAY);

    const walkerEmail = unique('Walker');
    const walker = await w.account(walkerEmail, since);
    // Its case twin: another person, active, never within a rung.
    const twinEmail = walkerEmail.toLowerCase();
    const twin = await w.account(twinEmail, new Date(t0 - 2 * DAY));
    const signerEmail = unique('signer');
    const signer = await w.account(signerEmail, since);
    // Subscribes after its first notice (before the day-12 sweep), lapses before the day-30 one.
    const subscriberEmail = unique('subscriber');
    const subscriber = await w.account(subscriberEmail, since);
    const subscriptionId = randomUUID();
    const backlogEmail = unique('backlog');
    const backlog = await w.account(backlogEmail, backlogSince);
    const bouncedEmail = unique('bounces');
    const bounced = await w.account(bouncedEmail, backlogSince);
    // Inactive for a year: not within any rung.
    const yearEmail = unique('year');
    await w.account(yearEmail, new Date(t0 - 365 * DAY));

    const results: SweepResult[] = [];
    for (let day = 0; day <= eligibleDay + 2; day++) {
      if (day > 0) await ts.env.sleep(DAY);
      results[day] = await w.sweep(day);
      // The sign-in after the first notice (day 5): between the day-10 and day-11 sweeps.
      if (day === 10)
        await deps
          .db('accounts')
          .where({ id: signer })
          .update({ last_login_at: new Date(await ts.env.currentTimeMs()) });
      if (day === 11) await deps.db('subscriptions').insert({ id: subscriptionId, account_id: subscriber, plan_code: 'basic', state: 'active' });
      if (day === 29) await deps.db('subscriptions').where({ id: subscriptionId }).update({ state: 'expired' });
    }

    const mailsTo = (to: string) => w.state.sent.filter((m) => m.to === to);
    const firstStart = (id: string) => w.state.starts.find((s) => s.accountId === id)?.day;

    // The walk: 30 days before, 7 days before, deleted on the day.
    expect(mailsTo(walkerEmail).map((m) => m.day)).toEqual([5, 28]);
    for (const m of mailsTo(walkerEmail)) {
      expect(m.subject).toBe('Your account will be deleted for inactivity unless you sign in');
      expect(m.text).toContain(`yours will be deleted from ${dayOf(t0 + eligibleDay * DAY)}`);
      expect(m.text).toContain('Sign in or keep a live subscription to keep the account.');
    }
    expect(firstStart(walker)).toBe(eligibleDay);
    const walkerRows = await deps.db('lethe.inactivity_notices').where({ account_id: walker }).orderBy('lead_ms', 'desc').select('rung', 'status', 'notified_at');
    expect(walkerRows.map((r) => [r.rung, r.status, dayOf(new Date(r.notified_at).getTime())])).toEqual([
      ['30d', 'sent', dayOf(t0 + 5 * DAY)],
      ['7d', 'sent', dayOf(t0 + 28 * DAY)],
    ]);

    // The sign-in: mailed once (day 5), then kept: no 7-day notice, no deletion, counted kept.
    expect(mailsTo(signerEmail).map((m) => m.day)).toEqual([5]);
    expect(firstStart(signer)).toBeUndefined();
    expect(await w.row(results[11].sweepId)).toMatchObject({ kept: 1 });
    expect(await deps.db('lethe.inactivity_notices').where({ account_id: signer }).select('rung')).toEqual([]);

    // The subscription after the first notice: kept (day 12), its ladder over; once it lapsed,
    // the ladder began again at the rung due then (7 days), whose lead counts from then.
    expect(mailsTo(subscriberEmail).map((m) => m.day)).toEqual([5, 30]);
    expect(await w.row(results[12].sweepId)).toMatchObject({ kept: 1 });
    expect(firstStart(subscriber)).toBe(37);

    // The backlog: its notice first (the last rung's, saying day 7), deleted 7 days after it, not before.
    expect(mailsTo(backlogEmail).map((m) => [m.day, m.text.includes(`yours will be deleted from ${dayOf(t0 + 7 * DAY)}`)])).toEqual([[0, true]]);
    expect(firstStart(backlog)).toBe(7);
    for (let day = 0; day < 7; day++) expect({ day, deferred: results[day].deferred }).toEqual({ day, deferred: 1 });

    // The bounce: refused for good on day 0, deleted on eligibility (day 0), said in the counts.
    expect(mailsTo(bouncedEmail)).toEqual([]);
    expect(firstStart(bounced)).toBe(0);
    expect(await w.row(results[0].sweepId)).toMatchObject({ notices_sent: 1, notices_bounced: 1, deferred: 1 });
    expect(await deps.db('lethe.inactivity_notices').where({ account_id: bounced }).select('rung', 'status')).toEqual([{ rung: '7d', status: 'bounced' }]);

    // Nobody else: the case twin and the account a year inactive got nothing, and no twin suppressed another.
    expect(mailsTo(twinEmail)).toEqual([]);
    expect(mailsTo(yearEmail)).toEqual([]);
    expect(firstStart(twin)).toBeUndefined();
    expect(new Set(w.state.sent.map((m) => m.to))).toEqual(new Set([walkerEmail, signerEmail, subscriberEmail, backlogEmail]));

    // The ladder restarts from the sign-in: 24 months on, the 30-day notice comes again, first.
    // (The others are done with: their rows go, as their deletions would have taken them.)
    await deps.db('subscriptions').where({ id: subscriptionId }).del();
    await deps.db('accounts').whereIn('id', [walker, twin, backlog, bounced, subscriber]).del();
    await deps.db('accounts').where({ email: yearEmail }).del();
    const signedIn = (await deps.db('accounts').where({ id: signer }).first('last_login_at')).last_login_at as Date;
    const before = w.state.sent.length;
    const now = await ts.env.currentTimeMs();
    const nextEligible = Date.parse(await cutoffFor(deps.db, signedIn.toISOString(), -24, 'UTC'));
    await ts.env.sleep(nextEligible - 33 * DAY - now);
    let day = 1000;
    for (; day < 1010 && w.state.sent.length === before; day++) {
      await ts.env.sleep(DAY);
      await w.sweep(day);
    }
    const again = w.state.sent.slice(before);
    expect(again.map((m) => m.to)).toEqual([signerEmail]);
    const restarted = await deps.db('lethe.inactivity_notices').where({ account_id: signer }).select('rung', 'notified_at', 'delete_from');
    expect(restarted.map((r) => r.rung)).toEqual(['30d']);
    // Sent 30 days before the date it gives, within the sweep's hour.
    const lead = new Date(restarted[0].delete_from).getTime() - new Date(restarted[0].notified_at).getTime();
    expect(Math.abs(lead - 30 * DAY)).toBeLessThan(2 * HOUR);
  }, 600_000);

  test('when the ladder is off, then an eligible account is deleted on eligibility and nobody is mailed', async () => {
    const w = await sweepWorker('off');
    const t0 = await toNextSweepTime();
    const justPast = new Date(Date.parse(await cutoffFor(deps.db, new Date(t0).toISOString(), 24, 'UTC')) - HOUR);
    const soon = new Date(Date.parse(await cutoffFor(deps.db, new Date(t0 + 5 * DAY).toISOString(), 24, 'UTC')) - HOUR);
    const eligible = await w.account(unique('off-eligible'), justPast);
    await w.account(unique('off-soon'), soon);
    const result = await w.sweep(0);
    expect(result).toMatchObject({ eligible: 1, started: 1 });
    expect(result.noticesSent).toBeUndefined();
    expect(w.state.starts.map((s) => s.accountId)).toEqual([eligible]);
    expect(w.state.sent).toEqual([]);
  }, 120_000);
});
