/**
 * PostgreSQL over TLS: `sslmode` and `sslrootcert` (libpq's own URL parameters) in DATABASE_URL.
 *
 * Why the URL and no variable of Lethe's own: the same DATABASE_URL then works unchanged with
 * psql and pg_dump, and a managed PostgreSQL's connection string is pasted as its provider gives it.
 *
 * Why Lethe maps them itself instead of leaving them to pg: pg-connection-string 2.6 (what pg
 * 8.23 parses connection strings with; index.js) turns every sslmode but `disable` into
 * `ssl: {}`, i.e. Node's full verification, so `require` and `verify-ca` behave as
 * `verify-full` and `prefer` never falls back; `sslrootcert` is read with a bare readFileSync.
 * Here each mode means what libpq documents (www.postgresql.org/docs/current/libpq-ssl.html,
 * table "SSL Mode Descriptions"), and a missing CA file is the one line naming DATABASE_URL.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from './env';

const MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof MODES)[number];

/** What pg's Client takes: the URL without the TLS parameters, and the `ssl` options they mean. */
export interface DatabaseConnection {
  connectionString: string;
  ssl: false | ConnectionOptions;
  sslmode?: SslMode;
}

/**
 * Parses the TLS part of a DATABASE_URL. Never quotes the URL (it carries the password). The
 * CA file is read here, when a process builds its pool: a renewed CA is used from its next start.
 */
export function databaseConnection(url: string, variable = 'DATABASE_URL'): DatabaseConnection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(variable, 'is not a valid URL');
  }
  const q = parsed.searchParams;
  const raw = q.get('sslmode') ?? undefined;
  const rootCert = q.get('sslrootcert') ?? undefined;
  for (const p of ['sslmode', 'sslrootcert', 'ssl', 'sslcert', 'sslkey']) q.delete(p);
  if (raw === 'prefer' || raw === 'allow') {
    throw new ConfigError(variable, `sslmode=${raw} would fall back to plain text without saying so; use sslmode=verify-full (or require, verify-ca, disable)`);
  }
  if (raw !== undefined && !(MODES as readonly string[]).includes(raw)) throw new ConfigError(variable, `sslmode must be one of ${MODES.join(', ')}, got "${raw}"`);
  const sslmode = raw as SslMode | undefined;
  if (rootCert && (!sslmode || sslmode === 'disable')) throw new ConfigError(variable, 'sslrootcert is set, but sslmode is not (add sslmode=verify-full)');
  const connectionString = parsed.toString();
  if (!sslmode || sslmode === 'disable') return { connectionString, ssl: false, sslmode };

  let ca: string | undefined;
  if (rootCert) {
    try {
      ca = fs.readFileSync(rootCert, 'utf8');
    } catch (err) {
      throw new ConfigError(variable, `sslrootcert: cannot read ${rootCert} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      new X509Certificate(ca);
    } catch {
      throw new ConfigError(variable, `sslrootcert: ${rootCert} is not a PEM certificate`);
    }
  }
  if (sslmode === 'require') {
    // libpq: encrypted; the server is verified only when a root certificate is given.
    return { connectionString, sslmode, ssl: ca ? { ca, checkServerIdentity: () => undefined } : { rejectUnauthorized: false } };
  }
  // verify-ca: the chain, not the host name; verify-full: both (Node's default check).
  const ssl: ConnectionOptions = ca ? { ca } : {};
  if (sslmode === 'verify-ca') ssl.checkServerIdentity = () => undefined;
  return { connectionString, sslmode, ssl };
}

const CERT_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|DEPTH_ZERO/;

/**
 * One line for a failed PostgreSQL connection that says what to change in DATABASE_URL. pg's
 * and Node's messages name users, hosts and files, never the password; the URL itself is not quoted.
 */
export function databaseConnectionProblem(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = (e?.message ?? String(err)).split('\n')[0].slice(0, 200);
  const code = e?.code ? `${e.code}: ` : '';
  if (e?.code && CERT_CODES.test(e.code)) {
    return `the server's TLS certificate was not accepted (${code}${message}); check sslrootcert in DATABASE_URL (the CA that signed the server's certificate) and the host name (sslmode=verify-full checks it)`;
  }
  if (/does not support SSL/i.test(message)) return `the server does not accept TLS (${message}); use sslmode=disable only on a trusted network`;
  if (/no encryption|SSL (connection )?(is )?required|hostssl/i.test(message)) {
    return `the server refuses connections without TLS (${code}${message}); add sslmode=verify-full&sslrootcert=<CA file> to DATABASE_URL`;
  }
  return e?.code ?? message;
}
