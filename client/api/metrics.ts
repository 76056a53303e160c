/**
 * The API's Prometheus metrics. Labels are routes, methods, statuses, channels and outcomes
 * only: never an id, an email or a token. Each server has its own registry, so tests can run
 * several in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Knex } from 'knex';
import type { RequestReader } from '../requests';
import { ALL_CHANNELS } from './schemas';

export type RequestOutcome = 'accepted' | 'joined' | 'already_completed' | 'not_found' | 'invalid' | 'awaiting_confirmation';

export function createApiMetrics(deletions: Pick<RequestReader, 'openCounts'>, db?: Knex) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const httpRequests = new Counter({
    name: 'lethe_api_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'lethe_api_request_duration_seconds',
    help: 'HTTP request duration, by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const deletionRequests = new Counter({
    name: 'lethe_deletion_requests_total',
    help: 'Deletion requests received by the API, by channel and outcome (accepted, joined, already_completed, not_found, invalid)',
    labelNames: ['channel', 'outcome'] as const,
    registers: [registry],
  });
  // Requests filed, by type (issue 35): `deletion` (counted with lethe_deletion_requests_total's
  // accepted and awaiting_confirmation), `access`, `correction`. One counter for all three: each
  // type's route calls requestFiled(type).
  const requestsFiled = new Counter({
    name: 'lethe_requests_total',
    help: 'Requests filed through the API, by type (deletion, access, correction); refused ones are not counted',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const sweepsStarted = new Counter({
    name: 'lethe_sweeps_started_total',
    help: 'Inactivity sweeps started through the API',
    labelNames: ['dry_run'] as const,
    registers: [registry],
  });

  // The state of every deletion, read from Lethe's records once per scrape (one query for
  // the three gauges). Shared state: when several API replicas are scraped, use max(), not sum().
  let snapshot: { at: number; value: Promise<Awaited<ReturnType<RequestReader['openCounts']>> | undefined> } | undefined;
  const openCounts = () => {
    if (!snapshot || Date.now() - snapshot.at > 1_000) {
      snapshot = { at: Date.now(), value: deletions.openCounts().catch(() => undefined) };
    }
    return snapshot.value;
  };
  new Gauge({
    name: 'lethe_api_metrics_database_up',
    help: '1 when the deletion gauges could be read from PostgreSQL at this scrape',
    registers: [registry],
    async collect() {
      this.set((await openCounts()) ? 1 : 0);
    },
  });
  const gauge = (name: string, help: string, pick: (c: { inFlight: number; nearDeadline: number; overdue: number; blocked: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['channel'] as const,
      registers: [registry],
      async collect() {
        const counts = await openCounts();
        this.reset();
        if (!counts) return;
        for (const ch of ALL_CHANNELS) this.set({ channel: ch }, 0);
        for (const c of counts) this.set({ channel: c.channel }, pick(c));
      },
    });
  gauge('lethe_deletions_in_flight', 'Deletion requests pending or running, by channel', (c) => c.inFlight);
  gauge('lethe_deletions_near_deadline', 'Deletion requests pending or running past their warning time, before the deadline', (c) => c.nearDeadline);
  gauge('lethe_deletions_blocked', "Deletion requests with a store waiting for a person (see the request view's `blocked`), by channel", (c) => c.blocked);
  gauge('lethe_deletions_overdue', 'Deletion requests past their deadline and not completed (running or failed), by channel', (c) => c.overdue);

  // The front door (docs/front-door.md): requests waiting for the person or refused before a
  // link, and what was mailed, read from Lethe's tables at each scrape (grouped counts only).
  if (db) {
    const grouped = (name: string, help: string, labels: [string, string], query: () => Promise<Record<string, string | number>[]>) =>
      new Gauge({
        name,
        help,
        labelNames: labels,
        registers: [registry],
        async collect() {
          const rows = await query().catch(() => undefined);
          this.reset();
          for (const r of rows ?? []) this.set({ [labels[0]]: String(r[labels[0]]), [labels[1]]: String(r[labels[1]]) }, Number(r.n));
        },
      });
    grouped(
      'lethe_public_requests',
      'Requests from the person (and staff requests verified by mail) in the last 24 months, by status (awaiting_confirmation, confirmed, expired, locked, no_account, ambiguous, needs_operator) and channel',
      ['status', 'channel'],
      () => db('lethe.verifications').select('status', 'channel').count({ n: '*' }).groupBy('status', 'channel'),
    );
    grouped('lethe_person_mails', 'Mails to people (verification, reminder, acknowledgement, completion, no_account, refused) by kind and outcome (sent, retrying, failed)', ['kind', 'status'], () =>
      db('lethe.outbound_mail').select('kind', 'status').count({ n: '*' }).groupBy('kind', 'status'),
    );
  }

  return {
    registry,
    observeRequest(method: string, route: string, statusCode: number, seconds: number) {
      httpRequests.inc({ method, route, status_code: String(statusCode) });
      httpDuration.observe({ method, route }, seconds);
    },
    deletionRequest(channel: string, outcome: RequestOutcome) {
      // Only the listed channels become label values; anything a caller invents is "invalid".
      deletionRequests.inc({ channel: (ALL_CHANNELS as readonly string[]).includes(channel) ? channel : 'invalid', outcome });
      if (outcome === 'accepted' || outcome === 'awaiting_confirmation') requestsFiled.inc({ type: 'deletion' });
    },
    /** A request of `type` was filed (a new one, not one joined or refused). */
    requestFiled(type: 'deletion' | 'access' | 'correction') {
      requestsFiled.inc({ type });
    },
    sweepStarted(dryRun: boolean) {
      sweepsStarted.inc({ dry_run: String(dryRun) });
    },
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
