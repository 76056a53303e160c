/**
 * Issue 19: PostgreSQL over TLS. The embedded PostgreSQL, started here with ssl=on, a
 * certificate for 127.0.0.1 made by this test and a pg_hba that takes only `hostssl`, as a
 * managed PostgreSQL does. Lethe's pool (stores/db.ts, what the worker, the API and the CLI
 * build from DATABASE_URL) connects with `sslmode=verify-full&sslrootcert=<CA>` and runs both
 * schemas' migrations; a wrong CA or a plain connection fails with one line naming DATABASE_URL
 * and what to change, never the password.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { Client } from 'pg';
import { ConfigError, loadConfig } from '../../config';
import { assertDatabaseReachable } from '../../config/reachability';
import { createDb } from '../../stores/db';
import { migrateApplicationSchema, migrateLetheSchema } from '../../migrations';
import { freePort } from '../../dev/stack/net';
import { ensureDatabase, initCluster, PG_PASSWORD, PG_USER, postgresSpec } from '../../dev/stack/postgres';
import { Supervisor } from '../../dev/stack/supervisor';
import { makeCerts, type TestCerts } from './certs';

jest.setTimeout(120_000);

// A password of its own, so "never in an error" is a check that can fail.
const PASSWORD = 'pw-Zq81-never-printed';
let tmp: string;
let certs: TestCerts;
let sup: Supervisor;
let port: number;

const urlOf = (query: string): string => `postgres://secure_app:${PASSWORD}@127.0.0.1:${port}/secure_app${query}`;

/** The one line a worker prints for `url`, or "connected". */
async function connectLine(url: string): Promise<string> {
  let db: Knex | undefined;
  try {
    db = createDb(loadConfig({ DATABASE_URL: url, LETHE_STATE_DIR: path.join(tmp, 'state') }).database.url, { poolMax: 1 });
    await assertDatabaseReachable(db);
    return 'connected';
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  } finally {
    await db?.destroy();
  }
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-pgtls-'));
  fs.chmodSync(tmp, 0o755);
  certs = makeCerts(path.join(tmp, 'certs'));
  port = await freePort();
  const dataDir = path.join(tmp, 'postgres');
  const { bin } = initCluster(dataDir, { clusterHome: path.join(tmp, 'clusters') });
  sup = new Supervisor(path.join(tmp, 'logs'), () => undefined);
  await sup.start(postgresSpec({ dataDir, port, durable: false, bin, tls: { certFile: certs.serverCert, keyFile: certs.serverKey, required: true } }));
  await ensureDatabase(port, 'postgres', true);
  const admin = new Client({ host: '127.0.0.1', port, user: PG_USER, password: PG_PASSWORD, database: 'postgres', ssl: { rejectUnauthorized: false } });
  await admin.connect();
  try {
    await admin.query(`create role secure_app login password '${PASSWORD}'`);
    await admin.query('create database secure_app owner secure_app');
  } finally {
    await admin.end();
  }
});

afterAll(async () => {
  await sup?.stopAll();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('PostgreSQL over TLS (DATABASE_URL sslmode and sslrootcert)', () => {
  test('when DATABASE_URL has sslmode=verify-full and the CA, then the pool connects encrypted and both schemas migrate', async () => {
    const config = loadConfig({ DATABASE_URL: urlOf(`?sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.ca)}`), LETHE_STATE_DIR: path.join(tmp, 'state') });
    const db = createDb(config.database.url, { poolMax: 2 });
    try {
      await assertDatabaseReachable(db);
      await migrateApplicationSchema(db);
      await migrateLetheSchema(db);
      const { rows } = await db.raw<{ rows: { ssl: boolean; version: string }[] }>('select ssl, version from pg_stat_ssl where pid = pg_backend_pid()');
      expect(rows).toEqual([{ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) }]);
      const tables = await db('information_schema.tables').whereIn('table_schema', ['public', 'lethe']).pluck('table_name');
      expect(tables).toEqual(expect.arrayContaining(['accounts', 'receipts']));
    } finally {
      await db.destroy();
    }
  });

  test('when sslmode=require has no CA, then it encrypts without verifying, as libpq does; verify-full without the CA refuses the unknown issuer', async () => {
    expect(await connectLine(urlOf('?sslmode=require'))).toBe('connected');
    const line = await connectLine(urlOf('?sslmode=verify-full'));
    expect(line).toMatch(
      /^DATABASE_URL: cannot connect to the database \(the server's TLS certificate was not accepted \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/,
    );
  });

  test('when sslrootcert names a CA that did not sign the server certificate, then one line names DATABASE_URL and sslrootcert, without the password', async () => {
    const line = await connectLine(urlOf(`?sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.otherCa)}`));
    expect(line).toMatch(/^DATABASE_URL: cannot connect to the database \(the server's TLS certificate was not accepted \(.*\); check sslrootcert in DATABASE_URL/);
    expect(line).not.toContain(PASSWORD);
    expect(line.split('\n')).toHaveLength(1);
  });

  test('when the server takes only TLS and DATABASE_URL asks for none (or sslmode=disable), then one line says to add sslmode=verify-full', async () => {
    for (const query of ['', '?sslmode=disable']) {
      const line = await connectLine(urlOf(query));
      expect(line).toMatch(
        /^DATABASE_URL: cannot connect to the database \(the server refuses connections without TLS \(28000: .*no encryption.*\); add sslmode=verify-full&sslrootcert=<CA file> to DATABASE_URL\)$/,
      );
      expect(line).not.toContain(PASSWORD);
    }
  });

  test('when the CA file is missing or sslmode would fall back to plain text, then the configuration is refused at start, naming DATABASE_URL', () => {
    const load = (query: string) => () => loadConfig({ DATABASE_URL: urlOf(query), LETHE_STATE_DIR: path.join(tmp, 'state') });
    expect(load('?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt')).toThrow(new ConfigError('DATABASE_URL', 'sslrootcert: cannot read /nonexistent/ca.crt (ENOENT)'));
    expect(load(`?sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.clientKey)}`)).toThrow(/^DATABASE_URL: sslrootcert: .* is not a PEM certificate$/);
    expect(load('?sslmode=prefer')).toThrow(/^DATABASE_URL: sslmode=prefer would fall back to plain text/);
    expect(load('?sslmode=verify')).toThrow(/^DATABASE_URL: sslmode must be one of disable, require, verify-ca, verify-full, got "verify"$/);
    for (const q of ['?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt', '?sslmode=prefer', '?sslmode=verify']) {
      try {
        load(q)();
      } catch (err) {
        expect((err as Error).message).not.toContain(PASSWORD);
      }
    }
  });
});
