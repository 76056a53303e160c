/**
 * The worker's Prometheus metrics: what its activities did (steps, durations, failures by
 * type, vendor errors, blobs and rows deleted, deadline notifications), counted by an
 * activity interceptor so no activity carries metrics code. Labels are step names, vendors,
 * failure types, containers, tables, statuses: never an id or anything about a person.
 *
 * Served at /metrics on LETHE_WORKER_METRICS_PORT together with the Temporal SDK's own
 * metrics (core's Prometheus exporter on a loopback port, appended to each scrape).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { stepOfActivity, type NoticeCounts } from '../contract';

/** The outside system a step talks to, for vendor error counts. */
const VENDOR_OF_STEP: Readonly<Record<string, string>> = { recurly: 'recurly', auth0: 'auth0', media: 'azure_blob' };

/** One registry per process: every worker of the process counts into it. */
export const workerRegistry = new Registry();
collectDefaultMetrics({ register: workerRegistry });

const steps = new Counter({
  name: 'lethe_steps_total',
  help: 'Activity attempts by deletion step and outcome (completed, failed)',
  labelNames: ['step', 'outcome'] as const,
  registers: [workerRegistry],
});
const stepDuration = new Histogram({
  name: 'lethe_step_duration_seconds',
  help: 'Duration of one activity attempt, by deletion step and outcome',
  labelNames: ['step', 'outcome'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
  registers: [workerRegistry],
});
const stepsInFlight = new Gauge({
  name: 'lethe_steps_in_flight',
  help: 'Activity attempts running now in this worker, by deletion step',
  labelNames: ['step'] as const,
  registers: [workerRegistry],
});
const stepFailures = new Counter({
  name: 'lethe_step_failures_total',
  help: 'Failed activity attempts by step and failure type (RateLimited, Unavailable, Unauthorized, …)',
  labelNames: ['step', 'type'] as const,
  registers: [workerRegistry],
});
const vendorErrors = new Counter({
  name: 'lethe_vendor_errors_total',
  help: 'Failed calls to an outside system (recurly, auth0, azure_blob) by failure type',
  labelNames: ['vendor', 'type'] as const,
  registers: [workerRegistry],
});
const blobsDeleted = new Counter({
  name: 'lethe_blobs_deleted_total',
  help: 'Blobs (with their snapshots and versions) deleted, by container',
  labelNames: ['container'] as const,
  registers: [workerRegistry],
});
const rowsDeleted = new Counter({
  name: 'lethe_rows_deleted_total',
  help: 'Application database rows deleted, by table',
  labelNames: ['table'] as const,
  registers: [workerRegistry],
});
const deletionsFinished = new Counter({
  name: 'lethe_deletions_finished_total',
  help: 'Deletions that ended, by status (completed, failed, skipped)',
  labelNames: ['status'] as const,
  registers: [workerRegistry],
});
const completedLate = new Counter({
  name: 'lethe_deletions_completed_overdue_total',
  help: 'Deletions completed after their deadline',
  registers: [workerRegistry],
});
const notifications = new Counter({
  name: 'lethe_deadline_notifications_total',
  help: 'Deadline warnings and breaches notified to operators, by kind',
  labelNames: ['kind'] as const,
  registers: [workerRegistry],
});
const webhookDeliveries = new Counter({
  name: 'lethe_webhook_deliveries_total',
  help: 'Operator webhook notices by kind and outcome: delivered, or failed after every retry',
  labelNames: ['kind', 'outcome'] as const,
  registers: [workerRegistry],
});
const webhookRetries = new Counter({
  name: 'lethe_webhook_retries_total',
  help: 'Operator webhook attempts after the first (backoff with jitter), by kind',
  labelNames: ['kind'] as const,
  registers: [workerRegistry],
});
// The inactivity notice ladder (docs/notices.md), from real sweeps' page results (dry runs send nothing).
const inactivityNotices = new Counter({
  name: 'lethe_inactivity_notices_total',
  help: 'Inactivity notices by rung (as configured: 30d, 7d) and outcome: sent, bounced (refused for good), failed (mail server away; tried again by the next sweep)',
  labelNames: ['rung', 'outcome'] as const,
  registers: [workerRegistry],
});
const sweepKept = new Counter({
  name: 'lethe_sweep_accounts_kept_total',
  help: 'Accounts whose notice ladder a sign-in or a live subscription after a notice cancelled (the ladder starts over)',
  registers: [workerRegistry],
});
const sweepDeferred = new Counter({
  name: 'lethe_sweep_deletions_deferred_total',
  help: "Eligible accounts a sweep page did not delete, by reason: notice (the last notice younger than its rung's lead time), hold (a legal hold placed since the read)",
  labelNames: ['reason'] as const,
  registers: [workerRegistry],
});
const sweepUndeliverable = new Counter({
  name: 'lethe_sweep_undeliverable_total',
  help: 'Eligible accounts deleted on eligibility because their inactivity notice bounced',
  registers: [workerRegistry],
});
const sdkUp = new Gauge({
  name: 'lethe_worker_sdk_metrics_up',
  help: "1 when this scrape includes the Temporal SDK's own metrics",
  registers: [workerRegistry],
});

/** Failure types are a closed vocabulary (activities/failures.ts); anything else is "Error". */
function failureType(err: unknown): string {
  const e = err as { type?: unknown; name?: unknown } | undefined;
  const t = typeof e?.type === 'string' ? e.type : typeof e?.name === 'string' ? e.name : 'Error';
  return /^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(t) ? t : 'Error';
}

const label = (s: unknown, fallback: string): string => (typeof s === 'string' && /^[A-Za-z0-9_.-]{1,63}$/.test(s) ? s : fallback);

/** What a successful attempt's result says, for the counters that follow it. */
function countResult(step: string, args: unknown[], result: unknown): void {
  if (step === 'media') {
    const byContainer = (result as { byContainer?: Record<string, number> } | undefined)?.byContainer ?? {};
    for (const [container, n] of Object.entries(byContainer)) if (n > 0) blobsDeleted.inc({ container: label(container, 'other') }, n);
  } else if (step === 'database') {
    for (const [table, n] of Object.entries((result as Record<string, number> | undefined) ?? {})) if (n > 0) rowsDeleted.inc({ table: label(table, 'other') }, n);
  } else if (step === 'receipt') {
    deletionsFinished.inc({ status: 'completed' });
    if ((args[0] as { overdue?: boolean } | undefined)?.overdue) completedLate.inc();
  } else if (step === 'markRequest') {
    const status = args[1];
    if (status === 'failed' || status === 'skipped') deletionsFinished.inc({ status });
  } else if (step === 'sweepPage' || step === 'beginSweep') {
    if ((args[0] as { dryRun?: boolean } | undefined)?.dryRun) return;
    const r = result as { kept?: number; notices?: NoticeCounts } | undefined;
    if (step === 'beginSweep') {
      if (r?.kept) sweepKept.inc(r.kept);
      return;
    }
    const n = r?.notices;
    if (!n) return;
    for (const [rung, count] of Object.entries(n.sent)) if (count > 0) inactivityNotices.inc({ rung: label(rung, 'other'), outcome: 'sent' }, count);
    // A bounce or failure is not split by rung in the page's counts: 'any'.
    if (n.bounced) inactivityNotices.inc({ rung: 'any', outcome: 'bounced' }, n.bounced);
    if (n.failed) inactivityNotices.inc({ rung: 'any', outcome: 'failed' }, n.failed);
    if (n.kept) sweepKept.inc(n.kept);
    if (n.deferred) sweepDeferred.inc({ reason: 'notice' }, n.deferred);
    if (n.held) sweepDeferred.inc({ reason: 'hold' }, n.held);
    if (n.undeliverable) sweepUndeliverable.inc(n.undeliverable);
  } else if (step === 'notifyOperators') {
    const kind = (args[0] as { kind?: string } | undefined)?.kind;
    if (kind === 'warning' || kind === 'overdue') notifications.inc({ kind });
    // activities/deletion/notify.ts NotifyResult; no attempts means no webhook is configured.
    const r = result as { delivered?: boolean; attempts?: number } | undefined;
    if (r?.attempts) {
      const k = label(kind, 'other');
      webhookDeliveries.inc({ kind: k, outcome: r.delivered ? 'delivered' : 'failed' });
      if (r.attempts > 1) webhookRetries.inc({ kind: k }, r.attempts - 1);
    }
  }
}

class MetricsInterceptor implements ActivityInboundCallsInterceptor {
  constructor(private readonly step: string) {}

  async execute(input: { args: unknown[] }, next: (input: never) => Promise<unknown>): Promise<unknown> {
    const step = this.step;
    const started = process.hrtime.bigint();
    stepsInFlight.inc({ step });
    try {
      const result = await next(input as never);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      steps.inc({ step, outcome: 'completed' });
      stepDuration.observe({ step, outcome: 'completed' }, seconds);
      countResult(step, input.args, result);
      return result;
    } catch (err) {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const type = failureType(err);
      steps.inc({ step, outcome: 'failed' });
      stepDuration.observe({ step, outcome: 'failed' }, seconds);
      stepFailures.inc({ step, type });
      const vendor = VENDOR_OF_STEP[step];
      if (vendor) vendorErrors.inc({ vendor, type });
      throw err;
    } finally {
      stepsInFlight.dec({ step });
    }
  }
}

/** For Worker.create({ interceptors: { activity: [...] } }). */
export const activityMetricsInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: new MetricsInterceptor(label(stepOfActivity(ctx.info.activityType), 'other')),
});

/** The text a scrape answers: Lethe's metrics, then the SDK's (when its exporter answers). */
export async function workerMetricsText(sdkMetricsUrl?: string): Promise<string> {
  let sdk = '';
  if (sdkMetricsUrl) {
    try {
      const res = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) sdk = await res.text();
    } catch {
      sdk = '';
    }
  }
  sdkUp.set(sdk ? 1 : 0);
  const own = await workerRegistry.metrics();
  return sdk ? `${own}\n${sdk.endsWith('\n') ? sdk : `${sdk}\n`}` : own;
}

/** GET /metrics (no token: bind it to an address only the scraper reaches). */
export async function startWorkerMetricsServer(opts: { host: string; port: number; sdkMetricsUrl?: string }): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    workerMetricsText(opts.sdkMetricsUrl).then(
      (text) => res.writeHead(200, { 'content-type': workerRegistry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A free loopback port for the SDK's own Prometheus endpoint, which /metrics then appends. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = http.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
