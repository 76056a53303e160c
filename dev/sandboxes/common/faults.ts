/**
 * Fault injection: the next N matching requests fail in a chosen way, so tests can prove how
 * Lethe behaves when a vendor is down, throttling, or slow, without a real outage.
 */
import { isPlainObject } from './body';

export type FaultMode = '500' | '429' | 'hang';

export interface FaultSpec {
  mode: FaultMode;
  count: number;
  /** For mode 429: the Retry-After the sandbox announces. */
  retryAfterSeconds: number;
  /** For mode hang: how long the request is held before it is served normally. */
  hangMs: number;
  /** Only requests whose path starts with this are affected; all vendor requests when absent. */
  pathPrefix?: string;
}

export class FaultSpecError extends Error {
  readonly type = 'invalid_fault_spec';
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'FaultSpecError';
  }
}

export function parseFaultSpec(body: unknown): FaultSpec {
  if (!isPlainObject(body)) throw new FaultSpecError('body', 'expected a JSON object');
  const mode = body.mode;
  if (mode !== '500' && mode !== '429' && mode !== 'hang') {
    throw new FaultSpecError('mode', 'expected "500", "429" or "hang"');
  }
  const count = body.count ?? 1;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
    throw new FaultSpecError('count', 'expected a positive integer');
  }
  const retryAfterSeconds = body.retryAfterSeconds ?? 1;
  if (typeof retryAfterSeconds !== 'number' || !Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0) {
    throw new FaultSpecError('retryAfterSeconds', 'expected a non-negative integer');
  }
  const hangMs = body.hangMs ?? 30_000;
  if (typeof hangMs !== 'number' || !Number.isFinite(hangMs) || hangMs < 0) {
    throw new FaultSpecError('hangMs', 'expected a non-negative number of milliseconds');
  }
  const pathPrefix = body.pathPrefix;
  if (pathPrefix !== undefined && (typeof pathPrefix !== 'string' || !pathPrefix.startsWith('/'))) {
    throw new FaultSpecError('pathPrefix', 'expected a path starting with "/"');
  }
  return { mode, count, retryAfterSeconds, hangMs, pathPrefix };
}

/** Per mode, how many uses were armed and how many requests were actually faulted. */
export type FaultCounts = Record<FaultMode, number>;

const zero = (): FaultCounts => ({ '500': 0, '429': 0, hang: 0 });

export class FaultInjector {
  private armed: FaultSpec[] = [];
  // Counted apart from `armed`, which forgets a fault once used up: a test proves its faults
  // reached Lethe by comparing what it armed with what the sandbox says it fired.
  private armedCounts = zero();
  private firedCounts = zero();

  arm(spec: FaultSpec): void {
    this.armed.push({ ...spec });
    this.armedCounts[spec.mode] += spec.count;
  }

  /**
   * Drops the faults still armed, or only those armed with exactly `pathPrefix`: a test on the
   * shared sandbox clears its own and leaves another file's. The counters keep what happened
   * (reset() clears them).
   */
  clear(pathPrefix?: string): void {
    this.armed = pathPrefix === undefined ? [] : this.armed.filter((f) => f.pathPrefix !== pathPrefix);
  }

  /** Clears the armed faults and the counters (the sandbox's reset). */
  reset(): void {
    this.clear();
    this.armedCounts = zero();
    this.firedCounts = zero();
  }

  pending(): FaultSpec[] {
    return this.armed.map((f) => ({ ...f }));
  }

  /** Since the last reset: uses armed, and requests faulted, per mode. */
  counts(): { armed: FaultCounts; fired: FaultCounts } {
    return { armed: { ...this.armedCounts }, fired: { ...this.firedCounts } };
  }

  /** Consumes one use of the first armed fault that matches the path. */
  take(path: string): FaultSpec | undefined {
    const i = this.armed.findIndex((f) => f.pathPrefix === undefined || path.startsWith(f.pathPrefix));
    if (i < 0) return undefined;
    const fault = this.armed[i];
    fault.count -= 1;
    if (fault.count <= 0) this.armed.splice(i, 1);
    this.firedCounts[fault.mode] += 1;
    return { ...fault };
  }
}
