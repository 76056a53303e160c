/**
 * The vendor budget's arithmetic and the jitter on throttled calls, without a stack: the
 * configured limits become the task-queue rates the workers set; a throttled call or attempt
 * comes back at a random point of the vendor's next window, not with every other one at its
 * start; and the vendor's own headers hold a call back when its window is spent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig, ConfigError } from '../../config';
import { auth0Pace, throttledRetryDelay, VendorPace } from '../../stores/vendorPace';
import { attemptDeadline } from '../../activities/deletion/recurly';
import { toFailure } from '../../activities/failures';
import { VendorError } from '../../stores/errors';
import { FailureType } from '../../contract';
import type { ApplicationFailure } from '@temporalio/common';

describe('the vendor budget in configuration', () => {
  test('when nothing is set, then Auth0 16/s less 10% and Recurly 400/min less 3% are spent at the measured calls per deletion', () => {
    const b = loadConfig({}).budget;
    // The calls test/budget/call-counts.test.ts pins for a deletion, its read-back included.
    expect(b.auth0).toMatchObject({ callsPerDeletion: 7, tasksPerSecond: expect.closeTo((16 * 0.9) / 7, 6) });
    expect(b.recurly).toMatchObject({ callsPerDeletion: 6, tasksPerSecond: expect.closeTo(((400 / 60) * 0.97) / 6, 6) });
    // Room for two read-backs a deletion (the second after an outage left the first stale); Recurly's drain a quarter faster than deletions feed them, so they
    // never queue up; Auth0's at exactly that rate (its window is a second).
    expect(b.recurly.readBackTasksPerSecond).toBeCloseTo(b.recurly.tasksPerSecond * 2 * 1.25, 6);
    expect(b.auth0.readBackTasksPerSecond).toBeCloseTo(b.auth0.tasksPerSecond * 2, 6);
    // Recurly's sweep queue at the sweep's 5 calls (its re-check's listing, then no live
    // subscription: no listing or terminate in the deletion); Auth0's sweep deletions cost what a
    // person's do and share its queue.
    expect(b.recurly).toMatchObject({ sweepCallsPerDeletion: 5, sweepTasksPerSecond: expect.closeTo(((400 / 60) * 0.97) / 5, 6) });
    expect(b.auth0).toMatchObject({ sweepCallsPerDeletion: 7, sweepTasksPerSecond: b.auth0.tasksPerSecond });
    expect(b.worker).toEqual({ maxCachedWorkflows: 20, maxConcurrentWorkflowTasks: 10, maxConcurrentActivities: 20 });
  });

  test('when the limits, headroom and calls per deletion are set, then the task rates follow them', () => {
    const b = loadConfig({
      LETHE_AUTH0_RATE_PER_SECOND: '50',
      LETHE_RECURLY_RATE_PER_MINUTE: '1000',
      LETHE_AUTH0_RATE_HEADROOM: '10',
      LETHE_RECURLY_RATE_HEADROOM: '10',
      LETHE_AUTH0_CALLS_PER_DELETION: '5',
      LETHE_RECURLY_CALLS_PER_DELETION: '2',
      LETHE_RECURLY_SWEEP_CALLS_PER_DELETION: '1.5',
    }).budget;
    expect(b.auth0.tasksPerSecond).toBeCloseTo(9, 6);
    expect(b.recurly.tasksPerSecond).toBeCloseTo(7.5, 6);
    expect(b.recurly.sweepTasksPerSecond).toBeCloseTo(10, 6);
    // A production site counts GETs: 4 in a person's deletion and 4 in the sweep's.
    expect(loadConfig({ RECURLY_SITE_KIND: 'production' }).budget.recurly).toMatchObject({ callsPerDeletion: 4, sweepCallsPerDeletion: 4 });
  });

  test.each([
    ['LETHE_AUTH0_RATE_PER_SECOND', '0'],
    ['LETHE_RECURLY_RATE_PER_MINUTE', 'lots'],
    ['LETHE_AUTH0_RATE_HEADROOM', '100'],
    ['LETHE_RECURLY_RATE_HEADROOM', '-1'],
    ['LETHE_AUTH0_CALLS_PER_DELETION', '-1'],
    ['LETHE_RECURLY_SWEEP_CALLS_PER_DELETION', '0'],
    ['LETHE_WORKFLOW_BUNDLE', '/nonexistent/bundle.js'],
    ['LETHE_WORKER_MAX_CACHED_WORKFLOWS', '1.5'],
    ['LETHE_WORKER_MAX_CONCURRENT_ACTIVITIES', '0'],
  ])('when %s is %s, then the configuration error names it', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}: `));
  });

  test.each(['LETHE_VENDOR_RATE_HEADROOM', 'LETHE_AUTH0_CALLS_PER_TASK', 'LETHE_RECURLY_CALLS_PER_TASK'])(
    "when %s (an earlier release's setting) is still set, then start-up refuses it and names what replaced it",
    (name) => {
      expect(() => loadConfig({ [name]: '5' })).toThrow(new RegExp(`^${name}: is no longer read; set LETHE_(AUTH0|RECURLY)_`));
    },
  );

  test('when more workflow task slots than cached workflows are asked for, then the error names the variable and the cap', () => {
    expect(() => loadConfig({ LETHE_WORKER_MAX_CACHED_WORKFLOWS: '4', LETHE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '8' })).toThrow(
      'LETHE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: must not exceed LETHE_WORKER_MAX_CACHED_WORKFLOWS (4)',
    );
  });
});

describe('jitter on throttled calls', () => {
  test('when 200 attempts are throttled together, then their retries spread over the whole next window, none before the reset', () => {
    const delays = Array.from({ length: 200 }, () => throttledRetryDelay(700, 60_000));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(700);
    expect(Math.max(...delays)).toBeLessThanOrEqual(60_701);
    // (The extra millisecond guards against a timer firing early.) Spread, not herded: every tenth of the window holds some of them.
    const tenths = new Set(delays.map((d) => Math.min(9, Math.floor((d - 700) / 6_000))));
    expect(tenths.size).toBe(10);
  });

  test('when 200 read-backs are throttled by Recurly together, then their retries spread over the window after the reset, as the vendor steps do', () => {
    const delays = Array.from({ length: 200 }, () => {
      const failure = toFailure(new VendorError({ vendor: 'recurly', type: 'rate_limited', operation: 'getAccount', status: 429, retryAfterMs: 700 }), 'verifyStore') as ApplicationFailure;
      expect(failure.type).toBe(FailureType.RateLimited);
      return Number(failure.nextRetryDelay);
    });
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(700);
    expect(Math.max(...delays)).toBeLessThanOrEqual(60_701);
    expect(new Set(delays.map((d) => Math.min(9, Math.floor((d - 700) / 6_000)))).size).toBe(10);
  });

  test('when a vendor answers 429 to many calls at once, then each is sent again after the reset at its own point of the next window', async () => {
    // A vendor with a one-second window that throttles each request's first try.
    const seen = new Set<string>();
    const resentAt: number[] = [];
    let resetAt = 0;
    const server = http.createServer((req, res) => {
      const id = req.headers['x-id'] as string;
      if (!seen.has(id)) {
        seen.add(id);
        resetAt ||= Math.ceil(Date.now() / 1000) + 1;
        res.writeHead(429, { 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetAt) });
        return res.end();
      }
      resentAt.push(Date.now());
      res.writeHead(200, { 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '99', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000)) });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const pace = new VendorPace({ windowMs: 1_000, reserve: 0, maxWaitMs: 5_000, resends: 1 });
      const paced = pace.fetch(fetch);
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => paced(url, { headers: { 'x-id': String(i) } })));
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
      expect(pace.counts.resent).toBe(40);
      const offsets = resentAt.map((t) => t - resetAt * 1000);
      expect(Math.min(...offsets)).toBeGreaterThanOrEqual(-50);
      // Spread over the window: not all in its first tenth, where a herd would land.
      expect(offsets.filter((o) => o > 300).length).toBeGreaterThan(10);
      expect(Math.max(...offsets)).toBeGreaterThan(600);
      expect(Math.max(...offsets)).toBeLessThan(1_500);
    } finally {
      server.close();
    }
  });

  test('when the headers say the window is spent, then the next call waits for the reset instead of meeting a 429', async () => {
    const pace = new VendorPace({ windowMs: 1_000, reserve: 0, maxWaitMs: 5_000, resends: 0, random: () => 0 });
    const resetAt = Math.ceil(Date.now() / 1000) + 1;
    pace.observe((name) => ({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetAt) })[name]);
    const t0 = Date.now();
    await pace.beforeCall();
    expect(Date.now()).toBeGreaterThanOrEqual(resetAt * 1000 - 20);
    expect(pace.counts.waits).toBe(1);
    expect(Date.now() - t0).toBeLessThan(2_500);
  });
});

describe("Auth0's bucket", () => {
  test("when Auth0's headers say the bucket is empty, then the next call waits for one token (1/16 s, and a random part of two more), not for the bucket to be full", async () => {
    const pace = auth0Pace(() => 0.5);
    // Empty now, full in a second (what Auth0's x-ratelimit-reset says of a bucket).
    pace.observe((name) => ({ 'x-ratelimit-limit': '16', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 1) })[name]);
    const t0 = Date.now();
    await pace.beforeCall();
    const waited = Date.now() - t0;
    expect(pace.counts.waits).toBe(1);
    expect(waited).toBeGreaterThanOrEqual(62);
    expect(waited).toBeLessThan(400);
    // The calls after it go no faster than the bucket refills: five tokens take 5/16 s from empty.
    for (let i = 0; i < 4; i++) await pace.beforeCall();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5 * 62.5 - 2);
  });

  test('when 40 calls go at once through the pace to a bucket of 16 refilled at 16 a second, then none meets a 429', async () => {
    let tokens = 16;
    let at = Date.now();
    let throttled = 0;
    const server = http.createServer((_req, res) => {
      const now = Date.now();
      tokens = Math.min(16, tokens + ((now - at) * 16) / 1000);
      at = now;
      const ok = tokens >= 1;
      if (ok) tokens -= 1;
      else throttled++;
      res.writeHead(ok ? 200 : 429, { 'x-ratelimit-limit': '16', 'x-ratelimit-remaining': String(Math.floor(tokens)), 'x-ratelimit-reset': String(Math.ceil((now + (16 - tokens) * 62.5) / 1000)) });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/users/x`;
      const pace = auth0Pace();
      const paced = pace.fetch(fetch);
      await paced(url); // the first answer tells the pace where the bucket stands
      const t0 = Date.now();
      const answers = await Promise.all(Array.from({ length: 40 }, () => paced(url)));
      expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
      expect(throttled).toBe(0);
      // 15 were in the bucket; the other 25 came as it refilled, at 16 a second.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1_400);
    } finally {
      server.close();
    }
  });
});

describe('an attempt that waited on a vendor queue', () => {
  test('when a Recurly task started 10 minutes after it was scheduled, then its attempt still has its whole start-to-close to wait for a pending redaction', () => {
    const now = Date.now();
    const info = { scheduledTimestampMs: now - 10 * 60_000, startToCloseTimeoutMs: 5 * 60_000, scheduleToCloseTimeoutMs: 30 * 60_000 };
    // Five minutes from the start, less the margin to fail cleanly; not five from the scheduling (already past).
    expect(attemptDeadline(now, info)).toBe(now + 5 * 60_000 - 5_000);
    // The schedule-to-close still bounds it when that comes first.
    expect(attemptDeadline(now, { ...info, scheduleToCloseTimeoutMs: 12 * 60_000 })).toBe(now + 2 * 60_000 - 5_000);
  });
});
