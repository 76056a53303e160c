import { spawn } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT, stateDir } from '../api';
import { Command, printHelp } from '../command';
import { EXIT } from '../exit';

export const seedCommand: Command = {
  name: 'seed',
  summary: 'fill the embedded stack with demo data (npm run seed)',
  help: `Usage: lethe seed [--accounts N] [--media-per-account M] [--seed S]

Demo data in every table, in Azurite and in both vendor sandboxes of the embedded stack,
deterministic for a given seed (scripts/seed.ts; refused in production mode).

Options:
  --accounts N            accounts to create (default 20)
  --media-per-account M   media rows and blobs each (default 10)
  --seed S                random seed (default 1)`,

  async run(argv, io) {
    if (argv.includes('--help') || argv.includes('-h')) return printHelp(io, this.help);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'scripts', 'seed.ts'), ...argv], {
      cwd: PROJECT_ROOT,
      // The stack this checkout runs, wherever the CLI was started from.
      env: { ...io.env, LETHE_STATE_DIR: stateDir(io.env) },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? EXIT.failed)));
    return code === 0 ? EXIT.ok : EXIT.failed;
  },
};
