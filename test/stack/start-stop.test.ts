/**
 * `npm start` end to end: the whole embedded stack and the service come up, on Node 24 (issue
 * 23) even where the system's Node is older, the Web UI and /healthz answer, a component killed
 * by SIGKILL is restarted (and npm start says so), and after SIGINT no process of the stack
 * remains, the restarted one included, and no port listens.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, isListening } from '../../dev/stack/net';

const ROOT = path.resolve(__dirname, '..', '..');

function descendants(pid: number): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,ppid=']).toString();
  const children = new Map<number, number[]>();
  for (const line of out.trim().split('\n')) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const all: number[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => (all.push(c), walk(c)));
  walk(pid);
  return all;
}

/** Still running: exists and is not a zombie (an exited child whose reaper is slow holds nothing). */
const alive = (pid: number) => {
  try {
    return !execFileSync('ps', ['-o', 'stat=', '-p', String(pid)])
      .toString()
      .trim()
      .startsWith('Z');
  } catch {
    return false;
  }
};
const describePids = (pids: number[]) =>
  pids.map((p) => {
    try {
      return execFileSync('ps', ['-o', 'pid=,stat=,args=', '-p', String(p)])
        .toString()
        .trim();
    } catch {
      return `${p} gone`;
    }
  });

/** What `node --version` says for the very binary a running process executes. */
const nodeVersionOf = (pid: number) =>
  execFileSync(fs.readlinkSync(`/proc/${pid}/exe`), ['--version'])
    .toString()
    .trim();

test('when npm start runs, then everything answers on Node 24, a crashed component comes back, and after SIGINT no process or port of the stack is left', async () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-start-'));
  fs.chmodSync(stateDir, 0o755);
  const ports = {
    LETHE_TEMPORAL_PORT: await freePort(),
    TEMPORAL_UI_PORT: await freePort(),
    LETHE_POSTGRES_PORT: await freePort(),
    LETHE_AZURITE_PORT: await freePort(),
    LETHE_AUTH0_SANDBOX_PORT: await freePort(),
    LETHE_RECURLY_SANDBOX_PORT: await freePort(),
    LETHE_API_PORT: await freePort(),
    LETHE_CODEC_PORT: await freePort(),
  };
  // The PATH of a plain shell, without the Node 24 that npm puts first (node_modules/.bin): the
  // script itself must run the stack on it, whatever `node` the machine has.
  const PATH = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((d) => path.resolve(d) !== path.join(ROOT, 'node_modules', '.bin'))
    .join(path.delimiter);
  const env: NodeJS.ProcessEnv = { PATH, HOME: process.env.HOME, LETHE_STATE_DIR: stateDir };
  for (const [k, v] of Object.entries(ports)) env[k] = String(v);
  // The script `npm start` runs (it execs node, so child.pid is the stack's supervisor).
  const child = spawn('bash', ['scripts/start.sh'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    // Measured 105-150 s on 2 shared cores under load (the worker bundles its workflows).
    const deadline = Date.now() + 180_000;
    while (!out.includes('Ctrl-C stops everything')) {
      if (child.exitCode !== null) throw new Error(`npm start exited early:\n${out}`);
      if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const token = fs.readFileSync(path.join(stateDir, 'api-token'), 'utf8').trim();
    expect(out).toContain(`API token: ${token}`);
    expect(out).toContain(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`);
    const health = await fetch(`http://127.0.0.1:${ports.LETHE_API_PORT}/healthz`);
    expect(health.status).toBe(200);
    const ui = await fetch(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`);
    expect(ui.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.LETHE_API_PORT}/v1/deletion-requests`)).status).toBe(401);

    // Issue 23: the worker and the API (and the supervisor that spawned them) run on Node 24 LTS.
    const byEntry = (entry: string) => descendants(child.pid!).filter((p) => describePids([p])[0].includes(entry));
    const [worker] = byEntry('worker/main.ts');
    const [api] = byEntry('client/api/main.ts');
    expect({ worker: worker > 0, api: api > 0 }).toEqual({ worker: true, api: true });
    expect({ supervisor: nodeVersionOf(child.pid!), worker: nodeVersionOf(worker), api: nodeVersionOf(api) }).toEqual({
      supervisor: expect.stringMatching(/^v24\./),
      worker: expect.stringMatching(/^v24\./),
      api: expect.stringMatching(/^v24\./),
    });

    // Issue 22: a component that crashes comes back on its own, and npm start says so.
    const sandbox = descendants(child.pid!).find((p) => describePids([p])[0].includes('dev/sandboxes/recurly/main.ts'))!;
    process.kill(sandbox, 'SIGKILL');
    const back = new RegExp(`recurly-sandbox restarted \\(pid ${sandbox} -> \\d+, down`);
    for (const until = Date.now() + 60_000; !back.test(out);) {
      if (Date.now() > until) throw new Error(`the Recurly sandbox did not come back:\n${out}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(out).toContain(`recurly-sandbox killed by SIGKILL (pid ${sandbox}, unexpected)`);
    expect(await isListening(ports.LETHE_RECURLY_SANDBOX_PORT)).toBe(true);

    const tree = descendants(child.pid!);
    expect(tree.length).toBeGreaterThanOrEqual(7); // temporal, postgres (+ its workers), azurite, 2 sandboxes, worker, api
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    expect(describePids(tree.filter(alive))).toEqual([]);
    for (const [name, port] of Object.entries(ports)) {
      expect([name, await isListening(port)]).toEqual([name, false]);
    }
  } finally {
    // A failed assertion must not leave the stack running: SIGINT lets npm start stop its
    // children (SIGKILL would orphan them); SIGKILL only if it does not exit in time.
    const running = () => child.exitCode === null && child.signalCode === null;
    if (running()) {
      child.kill('SIGINT');
      await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 30_000))]);
      if (running()) child.kill('SIGKILL');
    }
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}, 300_000);
