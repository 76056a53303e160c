/**
 * Reading one environment variable each: every parser names the variable in its error, so a
 * bad setting is one line at start in every process.
 */
import fs from 'node:fs';
import path from 'node:path';

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  readonly type = 'config_invalid';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export function port(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a port number 0-65535, got "${raw}"`);
  const n = Number(raw);
  if (n > 65535) throw new ConfigError(name, `expected a port number 0-65535, got ${n}`);
  return n;
}

export function positiveNumber(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(name, `expected a positive number, got "${raw}"`);
  return n;
}

export function positiveInteger(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new ConfigError(name, `expected a whole number of at least 1, got "${raw}"`);
  return Number(raw);
}

/** `HH:MM`, 24-hour clock. */
export function timeOfDay(env: Env, name: string, fallback: string): { time: string; hour: number; minute: number } {
  const raw = env[name] || fallback;
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(raw);
  if (!m) throw new ConfigError(name, `expected a time of day HH:MM (00:00-23:59), got "${raw}"`);
  return { time: `${m[1].padStart(2, '0')}:${m[2]}`, hour: Number(m[1]), minute: Number(m[2]) };
}

/** An IANA time zone name the runtime knows, e.g. UTC or Europe/Lisbon. */
export function timeZone(env: Env, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: raw });
  } catch {
    throw new ConfigError(name, `expected an IANA time zone such as UTC or Europe/Lisbon, got "${raw}"`);
  }
  return raw;
}

/** A duration such as `1d`, `12h`, `30m`, `90s`, or `1 day`. */
export function duration(env: Env, name: string, fallback: string, minMs: number): number {
  const raw = env[name] || fallback;
  const m = /^(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?)$/i.exec(raw.trim());
  if (!m) throw new ConfigError(name, `expected a duration such as 1d, 12h or 30m, got "${raw}"`);
  const unit = m[2][0].toLowerCase();
  const ms = Number(m[1]) * ({ s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as Record<string, number>)[unit];
  if (ms < minMs) throw new ConfigError(name, `must be at least ${minMs / 1000} seconds, got "${raw}"`);
  return ms;
}

/** 1-12 hex digits (an account id prefix), lower-cased. */
export function hexPrefix(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^[0-9a-fA-F]{1,12}$/.test(raw)) throw new ConfigError(name, `expected 1-12 hex digits, got "${raw}"`);
  return raw.toLowerCase();
}

export const uiOrigins = (uiPort: number): string[] => [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`];

export function hostPort(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(raw);
  if (!m || Number(m[2]) > 65535) throw new ConfigError(name, `expected host:port, got "${raw}"`);
  return raw;
}

export function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL, got ${parsed.protocol}`);
  }
  return raw;
}

/** A file that must exist and be readable now, as an absolute path; undefined when unset. */
export function readableFile(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const file = path.resolve(raw);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (err) {
    throw new ConfigError(name, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  return file;
}

export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

/** Comma-separated browser origins (scheme://host[:port]), as a CORS allow-list compares them. */
export function origins(env: Env, name: string, fallback: string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  return raw
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean)
    .map((o) => {
      let u: URL;
      try {
        u = new URL(o);
      } catch {
        throw new ConfigError(name, `"${o}" is not an origin like http://127.0.0.1:8233`);
      }
      if (!['http:', 'https:'].includes(u.protocol) || u.origin !== o.replace(/\/$/, '')) {
        throw new ConfigError(name, `"${o}" is not an origin like http://127.0.0.1:8233 (scheme, host and port only)`);
      }
      return u.origin;
    });
}
