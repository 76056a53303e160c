/** The sweep's variables: defaults, and a bad value stops start-up with its name. */
import { ConfigError, loadConfig } from '../../config';

describe('sweep configuration', () => {
  test("when nothing is set, then the sweep runs daily at 03:00 UTC over 24 months, 82 starts a minute (the vendor budget's 77.6 sweep deletions a minute and a twentieth), 4 at once, pages of 1000, catch-up 1 day", () => {
    expect(loadConfig({}).sweep).toEqual({
      time: '03:00',
      hour: 3,
      minute: 0,
      timezone: 'UTC',
      catchupWindowMs: 86_400_000,
      concurrency: 4,
      startsPerMinute: 82,
      pageSize: 1000,
      pagesPerRun: 100,
      pageTimeBudgetMs: 300_000,
      inactivityMonths: 24,
      schedule: 'on',
      scheduleId: 'lethe-inactivity-sweep',
      // The notice ladder (docs/notices.md): 30 and 7 days before the account becomes eligible.
      notices: [
        { name: '30d', leadMs: 30 * 86_400_000 },
        { name: '7d', leadMs: 7 * 86_400_000 },
      ],
    });
  });

  test("when the vendor budget changes, then the sweep's default pace follows the slower vendor's queue for the sweep's deletions, a twentieth above it", () => {
    // Recurly's sweep queue binds by default: 400 a minute less 3% over the sweep's 5 calls = 77.6.
    expect(loadConfig({}).sweep.startsPerMinute).toBe(Math.ceil(((400 * 0.97) / 5) * 1.05));
    // Recurly doubled: Auth0 binds (16/s less 10% over 7 calls = 123.4 a minute).
    expect(loadConfig({ LETHE_RECURLY_RATE_PER_MINUTE: '800' }).sweep.startsPerMinute).toBe(Math.ceil(((16 * 0.9 * 60) / 7) * 1.05));
    // A production Recurly site (1,000 GETs a minute less 3% over the sweep's 4 GETs): Auth0 binds.
    expect(loadConfig({ RECURLY_SITE_KIND: 'production' }).sweep.startsPerMinute).toBe(130);
    // Recurly's rate halved: it binds (200 a minute less 3% over 5 calls = 38.8).
    expect(loadConfig({ LETHE_RECURLY_RATE_PER_MINUTE: '200' }).sweep.startsPerMinute).toBe(41);
    // The sweep's calls set by hand: 400 less 3% over 8 = 48.5.
    expect(loadConfig({ LETHE_RECURLY_SWEEP_CALLS_PER_DELETION: '8' }).sweep.startsPerMinute).toBe(51);
    // A pace set by hand is kept whatever the budget.
    expect(loadConfig({ LETHE_RECURLY_RATE_PER_MINUTE: '200', LETHE_SWEEP_STARTS_PER_MINUTE: '90' }).sweep.startsPerMinute).toBe(90);
  });

  test('when set, then each is read', () => {
    const c = loadConfig({
      LETHE_SWEEP_TIME: '4:05',
      LETHE_SWEEP_TIMEZONE: 'Europe/Lisbon',
      LETHE_SWEEP_CATCHUP: '12h',
      LETHE_SWEEP_CONCURRENCY: '2',
      LETHE_SWEEP_STARTS_PER_MINUTE: '10',
      LETHE_SWEEP_PAGE_SIZE: '500',
      LETHE_INACTIVITY_MONTHS: '36',
      LETHE_SWEEP_PAGES_PER_RUN: '7',
      LETHE_SWEEP_PAGE_BUDGET: '90s',
      LETHE_SWEEP_SCHEDULE: 'dry-run',
      LETHE_SWEEP_SCHEDULE_ID: 'other-sweep',
      LETHE_SWEEP_SCOPE: 'AB12',
      LETHE_INACTIVITY_NOTICES: '60d,14d,1d',
    }).sweep;
    expect(c).toEqual({
      time: '04:05',
      hour: 4,
      minute: 5,
      timezone: 'Europe/Lisbon',
      catchupWindowMs: 43_200_000,
      concurrency: 2,
      startsPerMinute: 10,
      pageSize: 500,
      inactivityMonths: 36,
      pagesPerRun: 7,
      pageTimeBudgetMs: 90_000,
      schedule: 'dry-run',
      scheduleId: 'other-sweep',
      scopePrefix: 'ab12',
      notices: [
        { name: '60d', leadMs: 60 * 86_400_000 },
        { name: '14d', leadMs: 14 * 86_400_000 },
        { name: '1d', leadMs: 86_400_000 },
      ],
    });
    expect(loadConfig({ LETHE_INACTIVITY_NOTICES: 'off' }).sweep.notices).toEqual([]);
    expect(loadConfig({ LETHE_SWEEP_CATCHUP: '1 day' }).sweep.catchupWindowMs).toBe(86_400_000);
    expect(loadConfig({ LETHE_SWEEP_CATCHUP: '30m' }).sweep.catchupWindowMs).toBe(1_800_000);
  });

  test.each([
    ['LETHE_SWEEP_TIME', '25:00'],
    ['LETHE_SWEEP_TIME', '3am'],
    ['LETHE_SWEEP_TIMEZONE', 'Mars/Olympus_Mons'],
    ['LETHE_SWEEP_CATCHUP', 'soon'],
    ['LETHE_INACTIVITY_NOTICES', 'soon'],
    ['LETHE_SWEEP_SCHEDULE', 'sometimes'],
    ['LETHE_SWEEP_SCOPE', 'xyz'],
    ['LETHE_SWEEP_CATCHUP', '10s'],
    ['LETHE_SWEEP_CONCURRENCY', '0'],
    ['LETHE_SWEEP_STARTS_PER_MINUTE', '-5'],
    ['LETHE_SWEEP_PAGE_SIZE', 'many'],
    ['LETHE_INACTIVITY_MONTHS', '1.5'],
  ])('when %s is "%s", then loading fails naming it', (name, value) => {
    let err: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(name);
    expect((err as Error).message.startsWith(`${name}: `)).toBe(true);
  });
});
