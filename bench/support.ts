/** What the benches share: the sandboxes' admin API, a bounded pool, percentiles, process memory, the compiled build. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeStackPorts, startStack, type StackOptions } from '../dev/stack/embedded';
import type { Knex } from 'knex';
import { loadConfig } from '../config';
import { buildDeps } from '../worker/deps';

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

/**
 * A process's resident memory by kind of mapping, in MiB, from /proc/<pid>/smaps: where a worker's
 * memory is when its V8 heap does not explain it. By how Linux shows them: `[heap]` is glibc's
 * main heap; an anonymous mapping of 64 MiB reserved is a glibc arena (its HEAP_MAX_SIZE on
 * 64-bit), where the SDK's Rust threads allocate; other anonymous mappings in whole 256 KiB are
 * V8's pages (every isolate's: the main thread's and the workflow thread's); file-backed ones are
 * code and data files; the rest is other anonymous memory (thread stacks, large mmap'd blocks).
 */
export function memoryByKind(pid: number | undefined): Record<'v8Pages' | 'glibcHeap' | 'glibcArenas' | 'files' | 'otherAnon', number> | undefined {
  if (!pid) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = { v8Pages: 0, glibcHeap: 0, glibcArenas: 0, files: 0, otherAnon: 0 };
  let kind: keyof typeof kb = 'otherAnon';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1].trim();
      kind = name === '[heap]' ? 'glibcHeap' : name.startsWith('/') ? 'files' : 'otherAnon';
      continue;
    }
    const size = /^Size:\s+(\d+) kB/.exec(line);
    if (size && kind === 'otherAnon') {
      const n = Number(size[1]);
      if (n === 65536) kind = 'glibcArenas';
      else if (n % 256 === 0 && n <= 65536) kind = 'v8Pages';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kb[kind] += Number(rss[1]);
  }
  return Object.fromEntries(Object.entries(kb).map(([k, v]) => [k, Math.round(v / 1024)])) as typeof kb;
}

/**
 * Compiles the product and bundles its workflows with the Dockerfile's own two commands, into the
 * project's `dist/` (git-ignored; the compiled code resolves its packages from node_modules), and
 * returns that directory: a bench measures the worker as the image runs it, not through tsx.
 */
export function compileLikeTheImage(): string {
  const root = path.join(__dirname, '..');
  const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const tsc = /^RUN npx tsc (-p \S+)$/m.exec(dockerfile);
  const bundle = /^RUN node (dist\/worker\/bundle\.js) (dist\/\S+)$/m.exec(dockerfile);
  if (!tsc || !bundle) throw new Error('Dockerfile: the build commands (RUN npx tsc -p …, RUN node dist/worker/bundle.js …) were not found');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), ...tsc[1].split(' ')], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, [bundle[1], bundle[2]], { cwd: root, stdio: 'inherit' });
  return path.join(root, 'dist');
}

/**
 * The whole embedded stack (worker and API) in a temporary folder on free ports, as the end-to-end
 * benches run it, and what they read from it. The caller stops it and removes `stateDir`.
 */
export async function startBenchStack(name: string, opts: Omit<StackOptions, 'stateDir' | 'ports' | 'durable' | 'headless' | 'withWorker' | 'withApi' | 'log'> = {}) {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `lethe-bench-${name}-`));
  fs.chmodSync(stateDir, 0o755);
  const ports = await freeStackPorts();
  const log = (l: string) => process.stderr.write(`[${name}] ${l}\n`);
  const stack = await startStack({ stateDir, ports, durable: false, headless: true, withWorker: true, withApi: true, log, ...opts });
  const config = loadConfig({ ...process.env, ...stack.env });
  return {
    stack,
    stateDir,
    log,
    config,
    deps: buildDeps(config),
    auth0Url: config.auth0.baseUrl!,
    recurlyUrl: config.recurly.baseUrl!,
    api: `http://127.0.0.1:${ports.api}`,
  };
}

/**
 * Files a deletion through the API as a client would: a 503 ("retry shortly", a dependency busy
 * under a burst) is retried with jitter, up to 10 times; anything else but 202 throws, with
 * `explain()`'s words (e.g. the API's log) appended. `filedAt` is when the first try was sent.
 */
export async function fileDeletion(api: string, token: string, accountId: string, opts: { onRetry?: () => void; explain?: () => string } = {}): Promise<{ requestId: string; filedAt: number }> {
  const filedAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${api}/v1/deletion-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ accountId, channel: 'support', requestedBy: 'bench' }),
    });
    if (res.status === 503 && attempt < 10) {
      opts.onRetry?.();
      await res.text();
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1500 * attempt));
      continue;
    }
    if (res.status !== 202) {
      const more = opts.explain?.() ?? '';
      throw new Error(`POST /v1/deletion-requests answered ${res.status}: ${await res.text()}${more ? `\n${more}` : ''}`);
    }
    return { ...((await res.json()) as { requestId: string }), filedAt };
  }
}

/** When the request's receipt was written (ms), once it is: polled every 250 ms. */
export async function receiptAt(db: Knex, requestId: string): Promise<number> {
  for (;;) {
    const r = await db('lethe.receipts').where({ request_id: requestId }).first('completed_at');
    if (r) return new Date(r.completed_at).getTime();
    await new Promise((res) => setTimeout(res, 250));
  }
}

/**
 * Stops a bench's stack and removes its folder, unless the bench failed: then the stack's logs
 * are kept there and their place is said.
 */
export async function closeBenchStack(b: { stack: { stop(): Promise<void> }; stateDir: string; log: (l: string) => void; deps: { close(): Promise<void> } }, failed: boolean): Promise<void> {
  if (failed) b.log(`failed; the stack's logs are kept in ${b.stateDir}`);
  await b.deps.close();
  await b.stack.stop();
  if (!failed) fs.rmSync(b.stateDir, { recursive: true, force: true });
}
