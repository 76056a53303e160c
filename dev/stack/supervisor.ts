/**
 * Starts the stack's processes, waits until each is ready, restarts any of them that dies
 * unexpectedly, and stops every one of them on shutdown. Each child gets its own process group
 * so that stopping it also stops whatever it spawned (no stray postgres or node left listening
 * after Ctrl-C, and none left holding a port or shared memory after a crash).
 *
 * Restarts (issue 22): a child that exits or is killed without being asked to is started again
 * after RESTART_BACKOFF (exponential, jittered, capped); one that keeps failing is reported with
 * the last lines of its log on every attempt and retried forever on the capped backoff. After
 * it is ready again, its `afterRestart` re-creates what the crash lost, and services that list
 * it in `restartWith` are restarted too. A deliberate stop (stop(), kill(), stopAll()) never
 * triggers a restart. Every event goes to the log function (npm start's output) and to
 * `<logDir>/supervisor.log`; the crashed service's own log gets a marker line.
 */
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './net';

export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** True once the service answers; polled after spawn, given the new child's pid. */
  ready: (pid: number) => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Restarted when it dies unexpectedly; default true (every part of the stack heals). */
  restartOnCrash?: boolean;
  /** Runs once the service is ready again after a crash: re-creates what the crash lost. */
  afterRestart?: () => Promise<void>;
  /** Said when it crashes: what a crash of this service loses (in-memory state). */
  crashNote?: string;
  /** Restart this service too when one of these restarts after a crash, and why. */
  restartWith?: { name: string; why: string }[];
  stopSignal?: NodeJS.Signals;
}

export interface Service {
  readonly name: string;
  readonly pid: number | undefined;
  readonly logFile: string;
  /** Restarts after unexpected exits that reached ready, since the supervisor started it. */
  readonly restarts: number;
  stop(): Promise<void>;
  /** Kills without a chance to clean up, as a crash would, but deliberately: no restart follows (fault tests). */
  kill(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
}

type Log = (line: string) => void;

const STOP_GRACE_MS = 10_000;

/**
 * Delay before restart attempt n (1-based): min(maxMs, initialMs * 2^(n-1)), scaled by a random
 * factor in [1 - jitter, 1] so services that died together do not return in lockstep. The count
 * of consecutive failures starts again once a service has stayed up for stableAfterMs.
 */
export const RESTART_BACKOFF = { initialMs: 1_000, factor: 2, maxMs: 30_000, jitter: 0.5, stableAfterMs: 60_000 } as const;

export function restartDelayMs(attempt: number, random: () => number = Math.random): number {
  const b = RESTART_BACKOFF;
  const base = Math.min(b.maxMs, b.initialMs * b.factor ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - b.jitter * random()));
}

interface Owner {
  readonly shuttingDown: boolean;
  log: Log;
  recovered(name: string): void;
}

class ManagedService implements Service {
  private child?: ChildProcess;
  private exitInfo?: string;
  /** A deliberate stop is under way or done: exits are expected. */
  private stopping = false;
  /** Set once this run has been ready: from then on an exit is a crash to recover from. */
  private supervised = false;
  private timer?: NodeJS.Timeout;
  private failures = 0;
  private readyAt = 0;
  private downSince = 0;
  private lastPid?: number;
  restarts = 0;

  constructor(
    readonly spec: ServiceSpec,
    readonly logFile: string,
    private readonly owner: Owner,
  ) {}

  get name(): string {
    return this.spec.name;
  }
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  /**
   * A deliberate start: a failure before ready is the caller's to handle, after one more try if
   * the process exited (a timeout is not retried). Temporal's dev server was seen panicking at
   * start once (a nil pointer in its devserver.Start, in CI) where the same command then started;
   * a cause that stays (a port in use, a bad flag) fails the second try too, in its own words.
   */
  async start(): Promise<void> {
    this.clearTimer();
    this.stopping = false;
    this.supervised = false;
    try {
      await this.launch(this.spawnChild());
    } catch (err) {
      if (!this.exitInfo || this.stopping || this.owner.shuttingDown) throw err;
      this.owner.log(`${this.name} ${this.exitInfo} before it was ready; starting it once more\n  last lines of ${this.logFile}:\n${indent(tail(this.logFile, 10))}`);
      await this.launch(this.spawnChild());
    }
    this.supervised = true;
  }

  private spawnChild(): ChildProcess {
    this.exitInfo = undefined;
    const out = fs.openSync(this.logFile, 'a');
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd,
      env: this.spec.env ?? process.env,
      uid: this.spec.uid,
      gid: this.spec.gid,
      detached: true,
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    this.child = child;
    liveGroups.add(child.pid!);
    child.once('exit', (code, signal) => {
      liveGroups.delete(child.pid!);
      const info = signal ? `killed by ${signal}` : `exited with code ${code}`;
      if (this.child === child) this.exitInfo = info;
      if (this.stopping || this.child !== child) return;
      // Whatever the leader left behind (postgres backends, a tool's children) would hold the
      // port or shared memory its successor needs.
      killGroup(child.pid!, 'SIGKILL');
      if (this.supervised) this.crashed(child.pid!, info);
    });
    return child;
  }

  /** Waits until `child` is ready; rejects if it exits first, is replaced, or is not ready in time. */
  private async launch(child: ChildProcess): Promise<void> {
    await waitFor(this.name, () => this.spec.ready(child.pid!), {
      timeoutMs: this.spec.readyTimeoutMs ?? 60_000,
      aborted: () => (this.child !== child ? 'superseded' : this.exitInfo ? `${this.exitInfo}; last lines:\n${tail(this.logFile)}` : undefined),
    });
    this.readyAt = Date.now();
  }

  private crashed(pid: number, info: string): void {
    const now = Date.now();
    if (this.failures === 0 || (this.readyAt && now - this.readyAt >= RESTART_BACKOFF.stableAfterMs)) {
      this.failures = 0;
      this.downSince = now;
    }
    this.lastPid ??= pid;
    this.failures++;
    const note = this.spec.crashNote ? `; ${this.spec.crashNote}` : '';
    if (this.spec.restartOnCrash === false) {
      this.owner.log(`${this.name} ${info} (pid ${pid}, unexpected)${note}; not restarted (restartOnCrash: false); see ${this.logFile}`);
      return;
    }
    const delay = restartDelayMs(this.failures);
    // The first crash is usually explained by its cause (a kill, an OOM); a repeated one by its log.
    const lines = this.failures > 1 ? `\n  last lines of ${this.logFile}:\n${indent(tail(this.logFile, 10))}` : '';
    this.owner.log(`${this.name} ${info} (pid ${pid}, unexpected)${note}; restarting in ${(delay / 1000).toFixed(1)}s (attempt ${this.failures})${lines}`);
    this.clearTimer();
    this.timer = setTimeout(() => void this.recover(`${info}`), delay);
    this.timer.unref();
  }

  /** Starts the service again after a crash (or for a dependency's restart); never throws. */
  async recover(reason: string): Promise<void> {
    this.timer = undefined;
    if (this.stopping || this.owner.shuttingDown) return;
    const attempt = Math.max(1, this.failures);
    this.owner.log(`restarting ${this.name} (attempt ${attempt}, after: ${reason})`);
    try {
      fs.appendFileSync(this.logFile, `\n--- lethe supervisor ${new Date().toISOString()}: restarting ${this.name} after ${reason} (attempt ${attempt}) ---\n`);
    } catch {
      /* the log is a convenience */
    }
    this.supervised = true;
    const child = this.spawnChild();
    try {
      await this.launch(child);
    } catch (err) {
      // Stopped, or replaced by a newer restart (a dependency's): nothing of ours to handle.
      if (this.stopping || this.owner.shuttingDown || this.child !== child) return;
      if (child.exitCode === null && child.signalCode === null) {
        // Alive but not ready: kill it; its exit is handled as the next failure.
        this.owner.log(
          `${this.name} restart attempt ${attempt} failed: ${(err as Error).message.split('\n')[0]}; killing pid ${child.pid}\n  last lines of ${this.logFile}:\n${indent(tail(this.logFile, 10))}`,
        );
        killGroup(child.pid!, 'SIGKILL');
      }
      // Exited before ready: its exit handler has already reported it and scheduled the next attempt.
      return;
    }
    if (this.spec.afterRestart) {
      try {
        await this.spec.afterRestart();
      } catch (err) {
        if (this.stopping || this.owner.shuttingDown || this.child !== child) return;
        this.owner.log(`${this.name} restarted but re-initialising it failed (${(err as Error).message.split('\n')[0]}); killing it to try again`);
        killGroup(child.pid!, 'SIGKILL');
        return;
      }
    }
    if (this.stopping || this.owner.shuttingDown || this.child !== child) return;
    this.restarts++;
    const was = this.lastPid ? `pid ${this.lastPid} -> ${child.pid}` : `pid ${child.pid}`;
    const down = this.downSince ? `, down ${((Date.now() - this.downSince) / 1000).toFixed(1)}s` : '';
    this.owner.log(`${this.name} restarted (${was}${down}, attempt ${attempt})`);
    this.lastPid = undefined;
    this.downSince = 0;
    this.owner.recovered(this.name);
  }

  /** Restarts a healthy service because something it depends on was restarted. */
  async restartFor(dependency: string, why: string): Promise<void> {
    if (this.stopping || this.owner.shuttingDown) return;
    this.owner.log(`restarting ${this.name} because ${dependency} restarted (${why})`);
    this.clearTimer();
    this.lastPid = this.pid;
    this.stopping = true;
    await this.signal(this.spec.stopSignal ?? 'SIGTERM');
    this.stopping = false;
    this.failures = Math.max(1, this.failures);
    this.downSince = Date.now();
    await this.recover(`${dependency} restarted`);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.clearTimer();
    await this.signal(this.spec.stopSignal ?? 'SIGTERM');
  }

  async kill(): Promise<void> {
    this.stopping = true;
    this.clearTimer();
    await this.signal('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    killGroup(child.pid!, sig);
    const timer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
    // The group may hold grandchildren that outlive the leader; make sure none is left.
    killGroup(child.pid!, 'SIGKILL');
  }
}

const liveGroups = new Set<number>();

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* already gone */
  }
}

// Last line of defence: if the supervisor itself dies, take its children with it.
process.once('exit', () => {
  for (const pid of liveGroups) killGroup(pid, 'SIGKILL');
});

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

export function tail(file: string, lines = 15): string {
  try {
    const all = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    const last = all.slice(-lines);
    // A Go panic's cause is its first line, above a goroutine dump longer than any tail.
    const cause = all.find((l) => /^(panic|fatal error|Error):/.test(l));
    return (cause && !last.includes(cause) ? [cause, '\t...', ...last] : last).join('\n');
  } catch {
    return '(no log)';
  }
}

export class Supervisor implements Owner {
  private readonly services: ManagedService[] = [];
  private stoppingAll = false;
  private readonly journal: string;
  private readonly out: Log;

  constructor(
    private readonly logDir: string,
    log: Log = (l) => process.stderr.write(`${l}\n`),
  ) {
    fs.mkdirSync(logDir, { recursive: true });
    this.journal = path.join(logDir, 'supervisor.log');
    this.out = log;
  }

  get shuttingDown(): boolean {
    return this.stoppingAll;
  }

  /** What the supervisor did, to the caller's log and to supervisor.log. */
  log = (line: string): void => {
    try {
      fs.appendFileSync(this.journal, `${new Date().toISOString()} ${line}\n`);
    } catch {
      /* the journal is a convenience */
    }
    this.out(line);
  };

  recovered(name: string): void {
    for (const svc of this.services) {
      const dep = svc.spec.restartWith?.find((d) => d.name === name);
      if (dep) void svc.restartFor(name, dep.why);
    }
  }

  async start(spec: ServiceSpec): Promise<Service> {
    const svc = new ManagedService(spec, path.join(this.logDir, `${spec.name}.log`), this);
    this.services.push(svc);
    await svc.start();
    return svc;
  }

  get(name: string): Service | undefined {
    return this.services.find((s) => s.name === name);
  }

  /** Stops in reverse start order, so the worker and API go before the stores they use; nothing restarts from here on. */
  async stopAll(): Promise<void> {
    this.stoppingAll = true;
    for (const svc of [...this.services].reverse()) await svc.stop();
  }
}
