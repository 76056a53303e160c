/**
 * `lethe`: the operators' CLI. request / status / list / sweep talk to the HTTP API;
 * schedule talks to Temporal; seed fills the embedded stack with demo data.
 */
import type { Command, Io } from './command';
import { CliError, EXIT, EXIT_HELP } from './exit';
import { requestCommand } from './commands/request';
import { statusCommand } from './commands/status';
import { listCommand } from './commands/list';
import { sweepCommand } from './commands/sweep';
import { scheduleCommand } from './commands/schedule';
import { seedCommand } from './commands/seed';
import { resolveCommand, retryCommand } from './commands/retry';
import { auditCommand } from './commands/audit';
import { tokenCommand } from './commands/token';
import { holdCommand } from './commands/hold';
import { accessCommand } from './commands/access';
import { correctCommand } from './commands/correct';

const COMMANDS: Command[] = [
  requestCommand,
  statusCommand,
  listCommand,
  retryCommand,
  resolveCommand,
  sweepCommand,
  scheduleCommand,
  auditCommand,
  holdCommand,
  accessCommand,
  correctCommand,
  tokenCommand,
  seedCommand,
];

const USAGE = `Usage: lethe COMMAND [options]

Files and follows deletions of people's data (Lethe).

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`).join('\n')}

"lethe COMMAND --help" explains each. Every command takes --json for scripts.

${EXIT_HELP}

Environment: LETHE_API_URL (default http://127.0.0.1:8080), LETHE_API_TOKEN (default: the
embedded stack's .lethe/api-token; or LETHE_API_TOKEN_FILE), TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE,
TEMPORAL_TLS_CA / TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY / TEMPORAL_TLS_SERVER_NAME or TEMPORAL_API_KEY[_FILE]
and DATABASE_URL (schedule, which records its changes as LETHE_OPERATOR or the OS user).`;

export async function runCli(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr.write(`${USAGE}\n`);
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = rest[0] && COMMANDS.find((c) => c.name === rest[0]);
    io.stdout.write(`${topic ? topic.help : USAGE}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`lethe: unknown command "${name}"\nCommands: ${COMMANDS.map((c) => c.name).join(', ')}; see lethe --help\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof CliError) {
      if (rest.includes('--json') && err.body) io.stdout.write(`${JSON.stringify(err.body, null, 2)}\n`);
      io.stderr.write(`lethe ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr.write(`lethe ${name}: ${(err as Error)?.stack ?? err}\n`);
    return EXIT.failed;
  }
}

/** The process: exit code set, never process.exit(), so output is flushed first. */
export function main(): void {
  runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`lethe: ${err?.stack ?? err}\n`);
      process.exitCode = EXIT.failed;
    },
  );
}

if (require.main === module) main();
