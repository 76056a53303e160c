/**
 * `npm run bench [-- media|sweep|e2e|replay ...] [--quick]`: runs the benchmarks one after another,
 * each in its own process (each starts the stack it needs, so one bench's leftovers cannot
 * skew the next), and writes what each printed, with the command, date and machine, to
 * bench/out/. bench/RESULTS.md is the curated record with the analysis.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BENCHES: Record<string, { script: string; full: string[]; quick: string[] }> = {
  media: { script: 'bench/media.ts', full: ['--sizes', '10000,100000', '--skip-baselines-above', '100000'], quick: ['--sizes', '2000,10000'] },
  sweep: { script: 'bench/sweep.ts', full: ['--accounts', '1000000'], quick: ['--accounts', '100000'] },
  e2e: { script: 'bench/e2e.ts', full: ['--accounts', '1000'], quick: ['--accounts', '100'] },
  // The same burst with a second worker process on the same queues: one vendor budget for both.
  'e2e-2-workers': { script: 'bench/e2e.ts', full: ['--accounts', '1000', '--workers', '2'], quick: ['--accounts', '100', '--workers', '2'] },
  // A real sweep through the vendor sandboxes with people's requests arriving during it (RESULTS §3f).
  'sweep-e2e': { script: 'bench/sweep-e2e.ts', full: ['--accounts', '10000', '--requests', '50'], quick: ['--accounts', '300', '--requests', '10'] },
  // An access request's archive against a bare download-and-upload loop (RESULTS §7).
  access: { script: 'bench/access.ts', full: ['--media', '10000'], quick: ['--media', '1000'] },
  // Capacity: deletions held open at once behind an Auth0 outage (section 4b of RESULTS.md).
  open: { script: 'bench/open.ts', full: ['--accounts', '10000'], quick: ['--accounts', '500', '--wait', '5'] },
  // What a workflow-cache miss costs: a whole deletion history replayed (section 5 of RESULTS.md).
  replay: { script: 'bench/replay.ts', full: ['--rounds', '200'], quick: ['--rounds', '20'] },
};

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

function main(): void {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !BENCHES[n]);
  if (unknown.length) {
    process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  const root = path.resolve(__dirname, '..');
  const outDir = path.join(root, 'bench', 'out');
  fs.mkdirSync(outDir, { recursive: true });
  let failed = 0;
  for (const name of names.length ? names : Object.keys(BENCHES)) {
    const b = BENCHES[name];
    const argv = [...(quick ? b.quick : b.full)];
    // The Temporal the stacks run on (LETHE_TEMPORAL=server: the production-shaped one) is part of the command.
    const command = `${process.env.LETHE_TEMPORAL ? `LETHE_TEMPORAL=${process.env.LETHE_TEMPORAL} ` : ''}node --import tsx ${b.script} ${argv.join(' ')}`;
    process.stderr.write(`bench: ${command}\n`);
    const started = new Date();
    const r = spawnSync(process.execPath, ['--import', 'tsx', b.script, ...argv], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    const minutes = ((Date.now() - started.getTime()) / 60_000).toFixed(1);
    if (r.status !== 0) {
      failed++;
      process.stderr.write(`bench: ${name} failed (exit ${r.status}) after ${minutes} min\n`);
      continue;
    }
    const md = [`## ${name}`, '', `- command: \`${command}\``, `- date: ${started.toISOString()} (${minutes} min)`, `- machine: ${machine()}`, '', r.stdout.trim(), ''].join('\n');
    fs.writeFileSync(path.join(outDir, `${started.toISOString().slice(0, 10)}-${name}${process.env.LETHE_TEMPORAL === 'server' ? '-server' : ''}.md`), md);
    process.stdout.write(`${md}\n`);
  }
  process.exit(failed ? 1 : 0);
}

main();
