/**
 * Issue 16, build 1: who the inactivity sweep finds at the boundary, with literal dates against
 * a fixed `now`. No expectation here is computed by the product (cutoffFor): every cut-off and
 * every eligible account is written out, so an off-by-one month or day, a month-end slip or a
 * time-zone leak in activities/sweep/candidates.ts fails a line below.
 *
 * What runs is the worker's own path (test/sweep/support.ts dryRunAt): beginSweep fixes the
 * cut-off from LETHE_INACTIVITY_MONTHS and LETHE_SWEEP_TIMEZONE, sweepPage reads the candidate
 * query in pages of two from its cursor and records the eligible ids; the re-check's
 * accountActivity is asked about every account at the same cut-off. Every test inserts its own
 * accounts (and subscriptions) under a fresh id prefix, sweeps that prefix only, and removes
 * them afterwards.
 *
 * The policy at the boundary (CONTRACT §1: "inactive for over 24 months", no login for 24
 * calendar months), as this file pins it:
 * - The cut-off is `now` minus 24 calendar months, counted on the calendar of
 *   LETHE_SWEEP_TIMEZONE (UTC by default). An account is eligible when its last login (or its
 *   creation, when it never logged in) is strictly before the cut-off: last seen exactly 24
 *   months ago, to the microsecond, is not yet *over* 24 months.
 * - Month-ends: counting back keeps the day of the month and the time of day; when the month
 *   counted back to is too short for that day, it takes that month's last day (PostgreSQL's
 *   interval arithmetic, the examples in candidates.ts: 2026-03-31 minus 24 months is
 *   2024-03-31, 2026-02-28 minus 24 months is 2024-02-28, never the 29th). Seen from the
 *   account, a login on a day the later month lacks becomes 24 months old only when that month
 *   is over: last seen 29 February 2024 at noon, eligible from 1 March 2026 00:00, not a day
 *   early (on 28 February 2026 it is still inside the window). Last seen 31 August 2024,
 *   eligible once 31 August 2026 has passed the same second, not after 24 × 30 days. With a
 *   shorter configured window the same rule: 6 months after 31 August 2025 is 1 March 2026.
 * - Time zones: the Node process's and the database session's zones change nothing; only
 *   LETHE_SWEEP_TIMEZONE does, and it moves the cut-off by the zones' offsets on both dates.
 * - A live subscription (active, or canceled but paid beyond `now`) keeps an inactive account:
 *   it is scanned, not eligible. Paid through exactly `now` is no longer live.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Knex } from 'knex';
import { testConfig } from '../support/stack';
import { createDb } from '../../stores/db';
import { scopeRange } from '../../activities/sweep/candidates';
import type { SubState } from '../../dev/seed/fixtures';
import type { SweepConfig } from '../../config';
import { dbInTimeZone, dryRunAt, newScopePrefix, type DryRunFinding } from './support';

const ROOT = path.resolve(__dirname, '..', '..');
const DATABASE_URL = testConfig().database.url;

interface Spec {
  lastLoginAt: string | null;
  /** Long before any boundary here unless given: the login is what counts. */
  createdAt?: string;
  subscriptions?: { state: SubState; currentPeriodEndsAt?: string | null }[];
}

interface Expected<K extends string> {
  cutoff: string;
  eligible: K[];
  /** Past the cut-off whatever the subscriptions say (scanned, and inactive to the re-check); default: `eligible`. */
  inactive?: K[];
}

describe('sweep eligibility at the boundary, in literal dates', () => {
  let db: Knex;
  const prefixes: string[] = [];

  beforeAll(() => {
    db = createDb(DATABASE_URL, { poolMax: 4 });
  });
  afterEach(async () => {
    for (const prefix of prefixes.splice(0)) {
      const [lo, hi] = scopeRange({ accountIdPrefix: prefix });
      await db('subscriptions').whereBetween('account_id', [lo, hi]).del();
      await db('accounts').whereBetween('id', [lo, hi]).del();
    }
  });
  afterAll(async () => db?.destroy());

  /** Inserts the accounts under a fresh prefix; returns how to sweep them and read the answer by name. */
  async function seed<K extends string>(specs: Record<K, Spec>) {
    const prefix = newScopePrefix();
    prefixes.push(prefix);
    const names = Object.keys(specs) as K[];
    const id = Object.fromEntries(names.map((n, i) => [n, `${prefix}-0000-4000-8000-${String(i + 1).padStart(12, '0')}`])) as Record<K, string>;
    const nameOf = new Map(names.map((n) => [id[n], n]));
    for (const n of names) {
      const s: Spec = specs[n];
      await db('accounts').insert({ id: id[n], email: `boundary-${id[n]}@example.test`, created_at: s.createdAt ?? '2019-01-01T00:00:00Z', last_login_at: s.lastLoginAt });
      for (const sub of s.subscriptions ?? []) {
        await db('subscriptions').insert({ id: randomUUID(), account_id: id[n], plan_code: 'camera-plus', state: sub.state, current_period_ends_at: sub.currentPeriodEndsAt ?? null });
      }
    }
    const ids = names.map((n) => id[n]);
    const named = (xs: string[]) => xs.map((x) => nameOf.get(x) ?? `foreign ${x}`).sort();
    /** The worker's sweep settings for this prefix: pages of two, so the cursor is crossed. */
    const sweep = (opts: { months?: number; timeZone?: string } = {}) =>
      testConfig({ LETHE_SWEEP_SCOPE: prefix, LETHE_SWEEP_PAGE_SIZE: '2', LETHE_INACTIVITY_MONTHS: String(opts.months ?? 24), LETHE_SWEEP_TIMEZONE: opts.timeZone ?? 'UTC' }).sweep;
    /** A dry run at `now` through `on` (default: this process, a session in the server's zone). */
    const at = (now: string, opts: { months?: number; timeZone?: string; on?: Knex } = {}) => dryRunAt(opts.on ?? db, sweep(opts), now, ids);
    /** The finding by name, beside the literal expectation, so a failure names the accounts. */
    const expectFound = (f: DryRunFinding, e: Expected<K>) => {
      const inactive = e.inactive ?? e.eligible;
      expect({ cutoff: f.cutoff, eligible: named(f.eligible), inactive: named(f.inactive), scanned: f.scanned }).toEqual({
        cutoff: e.cutoff,
        eligible: [...e.eligible].sort(),
        inactive: [...inactive].sort(),
        scanned: inactive.length,
      });
    };
    return { prefix, ids, sweep, at, expectFound };
  }

  test('when an account was last seen exactly 24 calendar months before now, to the second, then it is not yet eligible; a second (or a microsecond) earlier it is', async () => {
    const s = await seed({
      dayBefore: { lastLoginAt: '2024-06-14T12:00:00Z' },
      secondBefore: { lastLoginAt: '2024-06-15T11:59:59Z' },
      microsecondBefore: { lastLoginAt: '2024-06-15T11:59:59.999999Z' },
      exactly: { lastLoginAt: '2024-06-15T12:00:00Z' },
      secondAfter: { lastLoginAt: '2024-06-15T12:00:01Z' },
      dayAfter: { lastLoginAt: '2024-06-16T12:00:00Z' },
    });
    s.expectFound(await s.at('2026-06-15T12:00:00.000Z'), { cutoff: '2024-06-15T12:00:00.000Z', eligible: ['dayBefore', 'secondBefore', 'microsecondBefore'] });
    // One second on, exactly-24-months is over; the next second the one after it.
    s.expectFound(await s.at('2026-06-15T12:00:01.000Z'), { cutoff: '2024-06-15T12:00:01.000Z', eligible: ['dayBefore', 'secondBefore', 'microsecondBefore', 'exactly'] });
    s.expectFound(await s.at('2026-06-15T12:00:02.000Z'), { cutoff: '2024-06-15T12:00:02.000Z', eligible: ['dayBefore', 'secondBefore', 'microsecondBefore', 'exactly', 'secondAfter'] });
    // A day early is a day early: nothing from the boundary second on.
    s.expectFound(await s.at('2026-06-14T12:00:00.000Z'), { cutoff: '2024-06-14T12:00:00.000Z', eligible: [] });
  });

  test('when an account never logged in, then its creation is the boundary, to the second; a login after the boundary keeps an old account', async () => {
    const s = await seed({
      createdSecondBefore: { lastLoginAt: null, createdAt: '2024-06-15T11:59:59Z' },
      createdExactly: { lastLoginAt: null, createdAt: '2024-06-15T12:00:00Z' },
      createdSecondAfter: { lastLoginAt: null, createdAt: '2024-06-15T12:00:01Z' },
      oldButLoggedInAfter: { lastLoginAt: '2024-06-15T12:00:01Z', createdAt: '2019-01-01T00:00:00Z' },
    });
    s.expectFound(await s.at('2026-06-15T12:00:00.000Z'), { cutoff: '2024-06-15T12:00:00.000Z', eligible: ['createdSecondBefore'] });
    s.expectFound(await s.at('2026-06-15T12:00:01.000Z'), { cutoff: '2024-06-15T12:00:01.000Z', eligible: ['createdSecondBefore', 'createdExactly'] });
  });

  test('when an account was last seen on 29 February, then it becomes eligible when February 2026 is over, not on the 28th; counting back from a 29 February lands on the 28th', async () => {
    const s = await seed({
      feb28: { lastLoginAt: '2024-02-28T12:00:00Z' },
      leapDay: { lastLoginAt: '2024-02-29T12:00:00Z' },
      leapDayLate: { lastLoginAt: '2024-02-29T23:59:59Z' },
      mar1: { lastLoginAt: '2024-03-01T00:00:00Z' },
      // For a `now` on 29 February 2028: counted back, 2026 has no 29th.
      feb28of2026SecondBefore: { lastLoginAt: '2026-02-28T11:59:59Z' },
      feb28of2026: { lastLoginAt: '2026-02-28T12:00:00Z' },
    });
    const before2026 = ['feb28', 'leapDay', 'leapDayLate', 'mar1'] as const;
    s.expectFound(await s.at('2026-02-28T12:00:00.000Z'), { cutoff: '2024-02-28T12:00:00.000Z', eligible: [] });
    s.expectFound(await s.at('2026-02-28T12:00:01.000Z'), { cutoff: '2024-02-28T12:00:01.000Z', eligible: ['feb28'] });
    s.expectFound(await s.at('2026-02-28T23:59:59.000Z'), { cutoff: '2024-02-28T23:59:59.000Z', eligible: ['feb28'] });
    s.expectFound(await s.at('2026-03-01T00:00:00.000Z'), { cutoff: '2024-03-01T00:00:00.000Z', eligible: ['feb28', 'leapDay', 'leapDayLate'] });
    s.expectFound(await s.at('2026-03-01T00:00:01.000Z'), { cutoff: '2024-03-01T00:00:01.000Z', eligible: [...before2026] });
    // Now on a leap day: 24 months back is 28 February 2026 (the day the 28th of 2028 also gives).
    s.expectFound(await s.at('2028-02-28T12:00:00.000Z'), { cutoff: '2026-02-28T12:00:00.000Z', eligible: [...before2026, 'feb28of2026SecondBefore'] });
    s.expectFound(await s.at('2028-02-29T12:00:00.000Z'), { cutoff: '2026-02-28T12:00:00.000Z', eligible: [...before2026, 'feb28of2026SecondBefore'] });
    s.expectFound(await s.at('2028-03-01T00:00:00.000Z'), { cutoff: '2026-03-01T00:00:00.000Z', eligible: [...before2026, 'feb28of2026SecondBefore', 'feb28of2026'] });
  });

  test('when an account was last seen on 31 August, then it becomes eligible the second after 31 August 2026 at that time (not 24 × 30 days on); 6 configured months from 31 August end with February', async () => {
    const s = await seed({
      aug31: { lastLoginAt: '2024-08-31T23:59:59Z' },
      sep1: { lastLoginAt: '2024-09-01T00:00:00Z' },
      aug31of2025: { lastLoginAt: '2025-08-31T12:00:00Z' },
    });
    // 24 × 30 days after 31 August 2024 is 21 August 2026. (A count of 730 days agrees here; the 29 February test catches it.)
    s.expectFound(await s.at('2026-08-22T00:00:00.000Z'), { cutoff: '2024-08-22T00:00:00.000Z', eligible: [] });
    s.expectFound(await s.at('2026-08-31T23:59:59.000Z'), { cutoff: '2024-08-31T23:59:59.000Z', eligible: [] });
    s.expectFound(await s.at('2026-09-01T00:00:00.000Z'), { cutoff: '2024-09-01T00:00:00.000Z', eligible: ['aug31'] });
    s.expectFound(await s.at('2026-09-01T00:00:01.000Z'), { cutoff: '2024-09-01T00:00:01.000Z', eligible: ['aug31', 'sep1'] });
    // LETHE_INACTIVITY_MONTHS=6: 28 February counts back to 28 August, so 31 August waits for 1 March.
    s.expectFound(await s.at('2026-02-28T23:59:59.000Z', { months: 6 }), { cutoff: '2025-08-28T23:59:59.000Z', eligible: ['aug31', 'sep1'] });
    s.expectFound(await s.at('2026-03-01T00:00:00.000Z', { months: 6 }), { cutoff: '2025-09-01T00:00:00.000Z', eligible: ['aug31', 'sep1', 'aug31of2025'] });
  });

  test('when an inactive account has a live subscription, then it is scanned but not eligible; paid through exactly now is not live', async () => {
    const past = '2024-06-15T11:59:59Z';
    const s = await seed({
      noSubscription: { lastLoginAt: past },
      active: { lastLoginAt: past, subscriptions: [{ state: 'active', currentPeriodEndsAt: '2026-07-01T00:00:00Z' }] },
      canceledPaidASecondMore: { lastLoginAt: past, subscriptions: [{ state: 'canceled', currentPeriodEndsAt: '2026-06-15T12:00:01Z' }] },
      canceledPaidThroughNow: { lastLoginAt: past, subscriptions: [{ state: 'canceled', currentPeriodEndsAt: '2026-06-15T12:00:00Z' }] },
      expiredAndRunOut: {
        lastLoginAt: past,
        subscriptions: [
          { state: 'expired', currentPeriodEndsAt: '2025-01-01T00:00:00Z' },
          { state: 'canceled', currentPeriodEndsAt: '2026-06-01T00:00:00Z' },
        ],
      },
      recentWithActive: { lastLoginAt: '2026-06-01T00:00:00Z', subscriptions: [{ state: 'active' }] },
    });
    s.expectFound(await s.at('2026-06-15T12:00:00.000Z'), {
      cutoff: '2024-06-15T12:00:00.000Z',
      eligible: ['noSubscription', 'canceledPaidThroughNow', 'expiredAndRunOut'],
      inactive: ['noSubscription', 'active', 'canceledPaidASecondMore', 'canceledPaidThroughNow', 'expiredAndRunOut'],
    });
  });

  describe('in time zones other than UTC', () => {
    // 27 September 2026 23:00 UTC is 28 September 12:00 in Auckland, a day after New Zealand
    // moved its clocks forward (UTC+13); on 28 September 2024 it was still on UTC+12 (the
    // change came on the 29th). Counted on Auckland's calendar, 24 months back is 28 September
    // 2024 12:00 +12, an hour later in UTC than on UTC's calendar.
    const NOW = '2026-09-27T23:00:00.000Z';
    const UTC_CALENDAR = { cutoff: '2024-09-27T23:00:00.000Z', eligible: ['secondBefore'] as const };
    const AUCKLAND_CALENDAR = { cutoff: '2024-09-28T00:00:00.000Z', eligible: ['secondBefore', 'utcBoundary', 'halfHourAfter'] as const };
    const boundaryAccounts = {
      secondBefore: { lastLoginAt: '2024-09-27T22:59:59Z' },
      utcBoundary: { lastLoginAt: '2024-09-27T23:00:00Z' },
      halfHourAfter: { lastLoginAt: '2024-09-27T23:30:00Z' },
      aucklandBoundary: { lastLoginAt: '2024-09-28T00:00:00Z' },
    };

    /** A Node process of its own with TZ set (the jest worker's environment is left alone). */
    async function inChildProcess(tz: string, sessionTimeZone: string | null, sweeps: SweepConfig[], ids: string[]): Promise<DryRunFinding[]> {
      const script = `
        const { dryRunAt, dbInTimeZone } = require('./test/sweep/support.ts');
        const { createDb } = require('./stores/db.ts');
        (async () => {
          const input = JSON.parse(process.argv[1]);
          const db = input.sessionTimeZone ? dbInTimeZone(process.env.DATABASE_URL, input.sessionTimeZone) : createDb(process.env.DATABASE_URL, { poolMax: 2 });
          try {
            const out = [];
            for (const sweep of input.sweeps) out.push(await dryRunAt(db, sweep, input.now, input.ids));
            process.stdout.write('FINDINGS ' + JSON.stringify(out) + '\\n');
          } finally {
            await db.destroy();
          }
        })().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\\n'); process.exit(1); });`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script, JSON.stringify({ now: NOW, sessionTimeZone, sweeps, ids })], {
        cwd: ROOT,
        env: { ...process.env, TZ: tz, DATABASE_URL },
        timeout: 120_000,
      });
      const line = stdout.split('\n').find((l) => l.startsWith('FINDINGS '));
      if (!line) throw new Error(`the child process printed no findings:\n${stdout}`);
      return JSON.parse(line.slice('FINDINGS '.length)) as DryRunFinding[];
    }

    test('when the database session runs in Pacific/Auckland, then the cut-off and the accounts found are the same as in UTC, on either sweep calendar', async () => {
      const s = await seed(boundaryAccounts);
      const auckland = dbInTimeZone(DATABASE_URL, 'Pacific/Auckland');
      try {
        for (const on of [db, auckland]) {
          const utc = await s.at(NOW, { on });
          s.expectFound(utc, { ...UTC_CALENDAR, eligible: [...UTC_CALENDAR.eligible] });
          s.expectFound(await s.at(NOW, { on, timeZone: 'Pacific/Auckland' }), { ...AUCKLAND_CALENDAR, eligible: [...AUCKLAND_CALENDAR.eligible] });
          // The session really ran where it says.
          if (on === auckland) expect(utc.sessionTimeZone).toBe('Pacific/Auckland');
        }
      } finally {
        await auckland.destroy();
      }
    });

    test('when the sweep runs in a Node process in Pacific/Auckland or America/St_Johns, with sessions in UTC or Asia/Kathmandu, then it finds the same accounts as in UTC', async () => {
      const s = await seed(boundaryAccounts);
      const sweeps = [s.sweep(), s.sweep({ timeZone: 'Pacific/Auckland' })];
      for (const [tz, session] of [
        ['Pacific/Auckland', null], // sessions in the server's own zone
        ['America/St_Johns', 'Asia/Kathmandu'],
      ] as const) {
        const [utc, aucklandCalendar] = await inChildProcess(tz, session, sweeps, s.ids);
        // The process and its sessions really ran where they say.
        expect(utc.nodeTimeZone).toBe(tz);
        if (session) expect(utc.sessionTimeZone).toBe(session);
        s.expectFound(utc, { ...UTC_CALENDAR, eligible: [...UTC_CALENDAR.eligible] });
        s.expectFound(aucklandCalendar, { ...AUCKLAND_CALENDAR, eligible: [...AUCKLAND_CALENDAR.eligible] });
      }
    }, 300_000);
  });
});
