/** What every `lethe` command shares: its shape, option parsing, and output. */
import { parseArgs, ParseArgsConfig } from 'node:util';
import { CliError, EXIT } from './exit';

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  summary: string;
  help: string;
  run(argv: string[], io: Io): Promise<number>;
}

export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  'api-url': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const COMMON_HELP = `Common options:
  --json          machine-readable output on stdout (progress, if any, stays on stderr)
  --api-url URL   the Lethe API (default LETHE_API_URL, else http://127.0.0.1:\${LETHE_API_PORT:-8080});
                  the token is LETHE_API_TOKEN, else .lethe/api-token of the embedded stack
  -h, --help      this help`;

/** node:util parseArgs, strict, with a usage error (exit 2) naming the command's help. */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: O, positionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: positionals, strict: true });
  } catch (err) {
    throw new CliError(EXIT.usage, `${(err as Error).message.split('\n')[0]}\nSee: lethe ${command} --help`);
  }
}

export function usage(command: string, message: string): CliError {
  return new CliError(EXIT.usage, `${message}\nSee: lethe ${command} --help`);
}

export function writeJson(io: Io, value: unknown): number {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  return EXIT.ok;
}

export function printHelp(io: Io, help: string): number {
  io.stdout.write(`${help}\n`);
  return EXIT.ok;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A positive number of seconds from an option, or a usage error naming it. */
export function seconds(command: string, name: string, raw: string | undefined, fallback?: number): number | undefined {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw usage(command, `--${name} must be a positive number of seconds, got "${raw}"`);
  return n;
}
