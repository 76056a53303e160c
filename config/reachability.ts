/**
 * Start-up checks that turn "connection refused" deep inside a driver into the one-line error
 * naming the variable to fix, like every other configuration mistake.
 *
 * A dependency that is down is not always a mistake: Temporal or PostgreSQL may be restarting
 * (issue 22). With LETHE_STARTUP_WAIT the worker waits for them, logging each failed attempt and
 * retrying on a capped exponential backoff (STARTUP_BACKOFF); only when the wait is over does it
 * exit with the same one line, and its supervisor (the embedded stack, compose's restart policy,
 * Kubernetes) starts it again. A malformed address never gets this far: loadConfig refuses it.
 */
import type { Knex } from 'knex';
import { ConfigError } from './index';
import { duration, type Env } from './env';
import { databaseConnectionProblem } from './database-tls';
import type { Mode } from './types';

function reason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.code ?? (e?.message ?? String(err)).split('\n')[0].slice(0, 120);
}

/** Delay before retry n (1-based): min(maxMs, initialMs * 2^(n-1)), times a random factor in [0.5, 1]. */
export const STARTUP_BACKOFF = { initialMs: 1_000, factor: 2, maxMs: 15_000 } as const;

/** Production processes wait this long by default; embedded ones not at all unless told. */
export const PRODUCTION_STARTUP_WAIT = '5m';

/**
 * LETHE_STARTUP_WAIT: how long to wait for an unreachable Temporal or PostgreSQL at start
 * (`0`: not at all, fail at once). Default 5m in production; 0 in embedded mode, where a
 * process started by hand should say at once that the stack is not running (the embedded
 * supervisor sets it for the worker it runs).
 */
export function startupWaitMs(env: Env, mode: Mode): number {
  const raw = (env.LETHE_STARTUP_WAIT ?? '').trim();
  if (raw === '0') return 0;
  if (raw === '') return mode === 'production' ? duration({}, 'LETHE_STARTUP_WAIT', PRODUCTION_STARTUP_WAIT, 0) : 0;
  return duration(env, 'LETHE_STARTUP_WAIT', raw, 0);
}

export interface WaitOptions {
  /** 0 or absent: a single attempt. */
  waitMs?: number;
  /** Where each failed attempt is reported. */
  log?: (line: string) => void;
  /** Test seam. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * Runs `attempt` until it succeeds or `waitMs` is spent; returns its value or throws its last
 * error. A ConfigError (a mistake found while connecting, e.g. no encryption key) is not retried.
 */
async function retrying<T>(what: string, attempt: () => Promise<T>, opts: WaitOptions): Promise<T> {
  const waitMs = opts.waitMs ?? 0;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = opts.random ?? Math.random;
  const started = Date.now();
  for (let n = 1; ; n++) {
    try {
      const value = await attempt();
      if (n > 1) opts.log?.(`${what} is reachable after ${Math.round((Date.now() - started) / 1000)}s`);
      return value;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const left = waitMs - (Date.now() - started);
      if (left <= 0) throw err;
      const b = STARTUP_BACKOFF;
      const delay = Math.min(left, Math.round(Math.min(b.maxMs, b.initialMs * b.factor ** (n - 1)) * (1 - 0.5 * random())));
      opts.log?.(`${what} is unreachable (${reason(err)}); retrying in ${(delay / 1000).toFixed(1)}s (attempt ${n}, waiting up to ${Math.round(waitMs / 1000)}s)`);
      await sleep(delay);
    }
  }
}

function gaveUp(opts: WaitOptions): string {
  return opts.waitMs ? `; gave up after waiting ${Math.round(opts.waitMs / 1000)}s` : '';
}

export async function assertDatabaseReachable(db: Knex, opts: WaitOptions = {}): Promise<void> {
  try {
    await retrying('DATABASE_URL: the database', () => db.raw('select 1'), opts);
  } catch (err) {
    throw new ConfigError('DATABASE_URL', `cannot connect to the database (${databaseConnectionProblem(err)})${gaveUp(opts)}`);
  }
}

/**
 * `connect` builds what needs Temporal (the worker); with a wait, `probe` (a bare connection)
 * is retried first, so only the server being down is waited for, never a bundling error.
 */
export async function assertTemporalReachable<T>(address: string, connect: () => Promise<T>, opts: WaitOptions & { probe?: () => Promise<void> } = {}): Promise<T> {
  if (opts.probe && opts.waitMs) {
    try {
      await retrying(`TEMPORAL_ADDRESS: Temporal at ${address}`, opts.probe, opts);
    } catch (err) {
      throw new ConfigError('TEMPORAL_ADDRESS', `cannot connect to Temporal at ${address} (${reason(err)})${gaveUp(opts)}`);
    }
  }
  try {
    return await connect();
  } catch (err) {
    // A configuration mistake found while connecting (e.g. no encryption key) keeps its own name.
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('TEMPORAL_ADDRESS', `cannot connect to Temporal at ${address} (${reason(err)})`);
  }
}
