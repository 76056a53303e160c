/**
 * Issue 22, the supervisor's restart rules on small stand-in services (a node one-liner that
 * serves a port, or prints a reason and exits 3 while a "fail" file exists): a crash is
 * restarted with a new pid; a service that keeps failing is reported with the last lines of its
 * log on a growing backoff and retried until it comes back; a deliberate stop never restarts
 * anything; a service restarts with one it depends on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RESTART_BACKOFF, restartDelayMs, Supervisor, ServiceSpec } from '../../dev/stack/supervisor';
import { freePort, isListening, waitFor } from '../../dev/stack/net';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SCRIPT = `
const fs = require('fs');
const [port, failFile] = process.argv.slice(1);
if (fs.existsSync(failFile)) { console.log('cannot start: ' + fs.readFileSync(failFile, 'utf8')); process.exit(3); }
require('http').createServer((q, r) => r.end('ok')).listen(Number(port), '127.0.0.1');
`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the supervisor', () => {
  let dir: string;
  let sup: Supervisor;
  let lines: string[];

  const fake = async (name: string, extra: Partial<ServiceSpec> = {}) => {
    const port = await freePort();
    const failFile = path.join(dir, `${name}.fail`);
    const spec: ServiceSpec = { name, command: process.execPath, args: ['-e', SCRIPT, String(port), failFile], ready: () => isListening(port), readyTimeoutMs: 15_000, ...extra };
    return { port, failFile, svc: await sup.start(spec) };
  };
  const said = (re: RegExp) => lines.filter((l) => re.test(l));

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-supervisor-'));
    lines = [];
    sup = new Supervisor(path.join(dir, 'logs'), (l) => lines.push(l));
  });
  afterEach(async () => {
    await sup.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('when the backoff is computed, then it doubles from 1 s with jitter down to half, up to a 30 s ceiling', () => {
    for (let n = 1; n <= 12; n++) {
      const base = Math.min(RESTART_BACKOFF.maxMs, 1_000 * 2 ** (n - 1));
      expect([restartDelayMs(n, () => 0), restartDelayMs(n, () => 1)]).toEqual([base, base / 2]);
    }
    expect(restartDelayMs(20, () => 0)).toBe(30_000);
  });

  test('when a service exits before it is first ready, then it is started once more (said, with its last lines) and runs; one that exits again fails the start in its own words', async () => {
    // Exits 3 on its first run only (the fail file is consumed): a crash at start that the same command does not repeat.
    const port = await freePort();
    const once = path.join(dir, 'once.fail');
    fs.writeFileSync(once, 'panic: nil pointer');
    const onceScript = `const fs = require('fs'); const [p, f] = process.argv.slice(1); if (fs.existsSync(f)) { console.log(fs.readFileSync(f, 'utf8')); fs.rmSync(f); process.exit(3); } require('http').createServer((q, r) => r.end('ok')).listen(Number(p), '127.0.0.1');`;
    const svc = await sup.start({ name: 'once', command: process.execPath, args: ['-e', onceScript, String(port), once], ready: () => isListening(port), readyTimeoutMs: 15_000 });
    expect(await isListening(port)).toBe(true);
    expect(svc.pid).toBeDefined();
    expect(said(/^once exited with code 3 before it was ready; starting it once more/)).toEqual([expect.stringMatching(/last lines of .*once\.log:\n.*panic: nil pointer/s)]);

    // A cause that stays: the second try fails too, and the start rejects with the service's words.
    const failFile = path.join(dir, 'stuck.fail');
    fs.writeFileSync(failFile, 'port 7233 in use');
    const stuckPort = await freePort();
    await expect(
      sup.start({ name: 'stuck', command: process.execPath, args: ['-e', SCRIPT, String(stuckPort), failFile], ready: () => isListening(stuckPort), readyTimeoutMs: 15_000 }),
    ).rejects.toThrow(/stuck did not start: exited with code 3; last lines:\n.*port 7233 in use/s);
    expect(said(/^stuck exited with code 3 before it was ready; starting it once more/)).toHaveLength(1);
  });

  test('when a service keeps failing, then each failure is reported with its last log lines and retried on a growing backoff until it comes back', async () => {
    const { port, failFile, svc } = await fake('flaky');
    const first = svc.pid!;
    fs.writeFileSync(failFile, 'disk full');
    process.kill(first, 'SIGKILL');
    await waitFor('a third attempt to be scheduled', async () => said(/^flaky exited with code 3 .*\(attempt 3\)/).length > 0, { timeoutMs: 30_000, intervalMs: 100 });
    fs.rmSync(failFile);
    await waitFor('the restart', async () => svc.restarts === 1, { timeoutMs: 30_000, intervalMs: 100 });

    expect(said(/^flaky killed by SIGKILL/)).toEqual([expect.stringMatching(new RegExp(`^flaky killed by SIGKILL \\(pid ${first}, unexpected\\); restarting in \\d\\.\\ds \\(attempt 1\\)$`))]);
    // Every repeated failure carries the service's own explanation.
    const failures = said(/^flaky exited with code 3/);
    expect(failures.length).toBeGreaterThanOrEqual(2);
    for (const f of failures) expect(f).toMatch(/last lines of .*flaky\.log:\n.*cannot start: disk full/s);
    // Each delay is within its attempt's jitter band.
    for (const l of said(/restarting in/)) {
      const [, s, n] = /restarting in (\d+\.\d)s \(attempt (\d+)\)/.exec(l)!;
      const base = Math.min(30, 2 ** (Number(n) - 1));
      expect(Number(s)).toBeGreaterThanOrEqual(base / 2 - 0.05);
      expect(Number(s)).toBeLessThanOrEqual(base + 0.05);
    }
    const attempts = Number(/\(attempt (\d+),/.exec(said(/^restarting flaky/).at(-1)!)![1]);
    expect(said(/^flaky restarted/)).toEqual([expect.stringMatching(new RegExp(`^flaky restarted \\(pid ${first} -> ${svc.pid}, down \\d+\\.\\ds, attempt ${attempts}\\)$`))]);
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(await isListening(port)).toBe(true);
    // The journal and the service's own log say it too.
    expect(fs.readFileSync(path.join(dir, 'logs', 'supervisor.log'), 'utf8')).toMatch(/Z flaky restarted \(pid/);
    expect(fs.readFileSync(svc.logFile, 'utf8')).toMatch(/--- lethe supervisor .*: restarting flaky after killed by SIGKILL \(attempt 1\) ---/);
  });

  test('when a service is stopped on purpose, then nothing restarts it, not even a restart already waiting on its backoff', async () => {
    const a = await fake('a');
    const pidA = a.svc.pid!;
    await a.svc.kill(); // a deliberate SIGKILL (fault tests)
    const b = await fake('b');
    const pidB = b.svc.pid!;
    process.kill(pidB, 'SIGKILL'); // a crash: b waits on its backoff...
    await waitFor('the crash to be seen', async () => said(/^b killed by SIGKILL/).length === 1, { timeoutMs: 5_000, intervalMs: 50 });
    await sup.stopAll(); // ...and Ctrl-C comes first
    await sleep(RESTART_BACKOFF.initialMs + 1_500);
    expect(said(/^restarting/)).toEqual([]);
    expect([a.svc.pid, b.svc.pid, alive(pidA), alive(pidB)]).toEqual([undefined, undefined, false, false]);
    expect([await isListening(a.port), await isListening(b.port)]).toEqual([false, false]);
  });

  test('when a service restarts after a crash, then the services that depend on it are restarted too', async () => {
    const dep = await fake('dep');
    const user = await fake('user', { restartWith: [{ name: 'dep', why: 'it caches a token dep issued' }] });
    const before = user.svc.pid!;
    process.kill(dep.svc.pid!, 'SIGKILL');
    await waitFor('the dependant to restart', async () => user.svc.restarts === 1, { timeoutMs: 20_000, intervalMs: 100 });
    expect(user.svc.pid).not.toBe(before);
    expect(alive(before)).toBe(false);
    expect(said(/^restarting user because/)).toEqual(['restarting user because dep restarted (it caches a token dep issued)']);
  });
});
