/**
 * Starts the stack's processes, waits until each is ready, and stops every one of them on
 * shutdown. Each child gets its own process group so that stopping it also stops whatever it
 * spawned (no stray postgres or node left listening after Ctrl-C).
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
  /** True once the service answers; polled after spawn. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Restart when it dies unexpectedly (the worker and API; not the data stores). */
  restartOnCrash?: boolean;
  stopSignal?: NodeJS.Signals;
}

export interface Service {
  readonly name: string;
  readonly pid: number | undefined;
  readonly logFile: string;
  stop(): Promise<void>;
  /** Kills without a chance to clean up, as a crash would (fault tests). */
  kill(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
}

type Log = (line: string) => void;

const STOP_GRACE_MS = 10_000;

class ManagedService implements Service {
  private child?: ChildProcess;
  private exitInfo?: string;
  private stopping = false;
  private crashes = 0;

  constructor(
    private readonly spec: ServiceSpec,
    readonly logFile: string,
    private readonly log: Log,
  ) {}

  get name(): string {
    return this.spec.name;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    this.stopping = false;
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
      this.exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
      if (this.stopping || this.child !== child) return;
      this.log(`${this.name} ${this.exitInfo}; see ${this.logFile}`);
      if (this.spec.restartOnCrash && this.crashes++ < 20) {
        const delay = Math.min(30_000, 500 * 2 ** Math.min(this.crashes, 6));
        setTimeout(() => {
          if (!this.stopping && this.child === child) {
            this.log(`restarting ${this.name}`);
            this.start().catch((e) => this.log(`${this.name} restart failed: ${e.message}`));
          }
        }, delay).unref();
      }
    });
    await waitFor(this.name, this.spec.ready, {
      timeoutMs: this.spec.readyTimeoutMs ?? 60_000,
      aborted: () => (this.child === child && this.exitInfo ? `${this.exitInfo}; last lines:\n${tail(this.logFile)}` : undefined),
    });
  }

  async stop(): Promise<void> {
    await this.signal(this.spec.stopSignal ?? 'SIGTERM');
  }

  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.stopping = true;
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

function tail(file: string, lines = 15): string {
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

export class Supervisor {
  private readonly services: ManagedService[] = [];

  constructor(
    private readonly logDir: string,
    private readonly log: Log = (l) => process.stderr.write(`${l}\n`),
  ) {
    fs.mkdirSync(logDir, { recursive: true });
  }

  async start(spec: ServiceSpec): Promise<Service> {
    const svc = new ManagedService(spec, path.join(this.logDir, `${spec.name}.log`), this.log);
    this.services.push(svc);
    await svc.start();
    return svc;
  }

  get(name: string): Service | undefined {
    return this.services.find((s) => s.name === name);
  }

  /** Stops in reverse start order, so the worker and API go before the stores they use. */
  async stopAll(): Promise<void> {
    for (const svc of [...this.services].reverse()) await svc.stop();
  }
}
