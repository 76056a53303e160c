/**
 * What /healthz knows about the API's dependencies (issue 22): each one's state and since when
 * it has been in it, as observed by this process. The checks run on every /healthz call and in
 * the background every HEALTH_PROBE_INTERVAL_MS, so "since" is right to within that interval
 * even when nobody was asking when the dependency went down.
 */
import { healthSchema } from './schemas';

export type DependencyStatus = 'ok' | 'unreachable';

export interface DependencyState {
  status: DependencyStatus;
  /** RFC 3339: when this process first saw the dependency in this state. */
  since: string;
}

export const HEALTH_PROBE_INTERVAL_MS = 10_000;

export interface HealthTracker {
  /** Runs every check (one run at a time; callers during a run share it). */
  check(): Promise<Record<string, DependencyState>>;
  /** Probes in the background until stop(). */
  start(intervalMs?: number): void;
  /** Stops the probes and waits for one in flight: the caller may close the connections next. */
  stop(): Promise<void>;
}

export function createHealthTracker(checks: Record<string, () => Promise<unknown>>, now: () => Date = () => new Date()): HealthTracker {
  const states: Record<string, DependencyState> = {};
  let running: Promise<Record<string, DependencyState>> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const run = async () => {
    // A state is dated by the check that first saw it, from when that check began.
    const at = now().toISOString();
    const results = await Promise.all(
      Object.entries(checks).map(
        async ([name, probe]) =>
          [
            name,
            await probe().then(
              () => 'ok' as const,
              () => 'unreachable' as const,
            ),
          ] as const,
      ),
    );
    for (const [name, status] of results) {
      if (states[name]?.status !== status) states[name] = { status, since: at };
    }
    return Object.fromEntries(Object.keys(checks).map((name) => [name, { ...states[name] }]));
  };

  const tracker: HealthTracker = {
    check() {
      running ??= run().finally(() => (running = undefined));
      return running;
    },
    start(intervalMs = HEALTH_PROBE_INTERVAL_MS) {
      if (timer) return;
      void tracker.check().catch(() => undefined);
      timer = setInterval(() => void tracker.check().catch(() => undefined), intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      // A probe still retrying on a connection the caller closes next would call a shut-down
      // channel from a timer (an uncaught error in whatever runs then).
      await running?.catch(() => undefined);
    },
  };
  return tracker;
}

/**
 * The answer: `checks` maps each dependency to `ok` or `unreachable` (the shape monitors
 * already parse); with `?detail=true` each is `{ status, since }` instead.
 */
export function healthBody(states: Record<string, DependencyState>, detail: boolean) {
  const healthy = Object.values(states).every((s) => s.status === 'ok');
  const checks = Object.fromEntries(Object.entries(states).map(([name, s]) => [name, detail ? s : s.status]));
  return { healthy, body: { status: healthy ? ('ok' as const) : ('unavailable' as const), checks } };
}

const dependencyState = {
  type: 'object',
  required: ['status', 'since'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unreachable'] },
    since: { type: 'string', format: 'date-time', description: 'When this API process first saw the dependency in this state (RFC 3339)' },
  },
} as const;

export const healthResponseSchema = {
  ...healthSchema,
  properties: {
    ...healthSchema.properties,
    checks: {
      type: 'object',
      description: 'Each dependency (postgres, temporal): `ok` or `unreachable`; with `?detail=true`, `{ status, since }`',
      additionalProperties: { anyOf: [{ type: 'string', enum: ['ok', 'unreachable'] }, dependencyState] },
    },
  },
} as const;

/** Other query fields are ignored, not refused: monitors add cache-busters. */
export const healthQuery = {
  type: 'object',
  properties: { detail: { type: 'boolean', default: false, description: 'Also say since when each dependency has been in its state' } },
} as const;
