import { VendorPace } from '../../../stores/vendorPace';
/** Raw calls to a sandbox's `/__sandbox/` admin API, for arranging faults and reading stats. */
import type { StatsSnapshot } from '../../../dev/sandboxes/common/stats';
import type { FaultCounts, FaultSpec } from '../../../dev/sandboxes/common/faults';

export interface FaultRequest {
  mode: '500' | '429' | 'hang';
  count?: number;
  retryAfterSeconds?: number;
  hangMs?: number;
  pathPrefix?: string;
}

async function admin(baseUrl: string, method: string, path: string, body?: unknown): Promise<Response> {
  const res = await fetch(`${baseUrl}/__sandbox/${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`sandbox admin ${method} ${path} answered ${res.status}: ${await res.text()}`);
  return res;
}

export async function armFault(baseUrl: string, fault: FaultRequest): Promise<void> {
  await admin(baseUrl, 'POST', 'faults', fault);
}

export async function resetSandbox(baseUrl: string, opts: { keepData?: boolean } = {}): Promise<void> {
  await admin(baseUrl, 'POST', 'reset', opts);
}

export async function stats(baseUrl: string): Promise<StatsSnapshot> {
  return (await (await admin(baseUrl, 'GET', 'stats')).json()) as StatsSnapshot;
}

/** The sandbox's fault counters since its last reset: uses armed and requests faulted, per mode. */
export async function faultCounts(baseUrl: string): Promise<{ pending: FaultSpec[]; armed: FaultCounts; fired: FaultCounts }> {
  return (await (await admin(baseUrl, 'GET', 'faults')).json()) as { pending: FaultSpec[]; armed: FaultCounts; fired: FaultCounts };
}

/** Answers of one status summed over every route, e.g. how many 429s a sandbox sent. */
export function statusCount(s: StatsSnapshot, status: number | string): number {
  return Object.values(s.statuses).reduce((n, m) => n + (m[String(status)] ?? 0), 0);
}

export async function adminJson<T>(baseUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  return (await (await admin(baseUrl, method, path, body)).json()) as T;
}

/** Runs `fn` and returns what it threw, failing the test when it did not throw. */
export async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/**
 * A pace that never waits and never sends a call again: for tests of the vendor's raw 429 and
 * how the client classifies it. The default pace (stores/vendorPace.ts) waits a near reset out,
 * so a burst would not surface as rate_limited.
 */
export const unpaced = (): VendorPace => new VendorPace({ windowMs: 1000, reserve: 0, maxWaitMs: 0, resends: 0 });
