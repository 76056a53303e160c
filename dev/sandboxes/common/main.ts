/**
 * What both sandbox entry points share: reading their env with a message that names the bad
 * variable, one start-up log line, and a clean close on SIGTERM/SIGINT.
 */
import type { RunningSandbox } from './server';

export class SandboxEnvError extends Error {
  readonly type = 'config_invalid';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'SandboxEnvError';
  }
}

type Env = Record<string, string | undefined>;

export function envPort(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new SandboxEnvError(name, `expected a port number 0-65535, got "${raw}"`);
  return n;
}

export function envPositiveInt(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1) throw new SandboxEnvError(name, `expected a positive integer, got "${raw}"`);
  return n;
}

export function envString(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

function logLine(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
}

/** Starts a sandbox and keeps the process alive until a signal asks it to stop. */
export function serveUntilSignal(vendor: string, start: () => Promise<RunningSandbox>, details: Record<string, unknown>): void {
  start()
    .then((sandbox) => {
      logLine({ level: 'info', msg: `${vendor} sandbox listening`, vendor, url: sandbox.url, ...details });
      const stop = (signal: NodeJS.Signals) => {
        logLine({ level: 'info', msg: `${vendor} sandbox stopping`, vendor, signal });
        sandbox.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    })
    .catch((err: unknown) => {
      const e = err as { code?: string; message?: string };
      logLine({ level: 'error', msg: `${vendor} sandbox failed to start`, vendor, code: e.code, error: e.message });
      process.exit(1);
    });
}
