/** Raw calls to a sandbox's `/__sandbox/` admin API, for arranging faults and reading stats. */
import type { StatsSnapshot } from '../../../dev/sandboxes/common/stats';

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
