/** What the benches share: the sandboxes' admin API, a bounded pool, percentiles, process memory. */
import fs from 'node:fs';

/** The vendor sandboxes' admin API (dev/sandboxes/README.md): not rate limited, no auth. */
export async function sandboxAdmin(base: string, method: string, p: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}/__sandbox/${p}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`sandbox ${method} ${p}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
}

/** Runs `fn` over `items`, at most `limit` at once. */
export async function pool<T>(items: T[], limit: number, fn: (t: T, i: number) => Promise<unknown>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        await fn(items[k], k);
      }
    }),
  );
}

/** The p-th percentile of an ascending list (nearest rank). */
export const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** A process's resident memory in MiB from /proc: `VmRSS` now, or `VmHWM` its peak; undefined once it is gone. */
export function rssMiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM' = 'VmHWM'): number | undefined {
  if (!pid) return undefined;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : undefined;
  } catch {
    return undefined;
  }
}
