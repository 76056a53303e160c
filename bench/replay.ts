/**
 * What a workflow-cache miss costs: a deletion that is not in the worker's cache when its next
 * task comes is replayed from its history first (LETHE_WORKER_MAX_CACHED_WORKFLOWS, docs/operations.md
 * "Sizing the worker"). This replays the committed deletion histories (test/histories/, the
 * worker's own code and codec) many times in one replay worker and reports the time per whole
 * history: the upper bound of one miss, since a miss replays only the history so far.
 *
 * The baseline, same run: the same replays of the shortest history, so the ratio says how the
 * cost grows with a history's length.
 *
 *   node --import tsx bench/replay.ts [--rounds 200]
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Worker } from '@temporalio/worker';
import { writeWorkflowBundle } from '../worker/bundle';
import { HISTORIES_DIR, historyFiles, readHistory, replayDataConverter } from '../test/support/histories';

async function replayRounds(bundlePath: string, file: string, rounds: number): Promise<number> {
  const history = readHistory(file);
  const histories = Array.from({ length: rounds }, (_, i) => ({ workflowId: `replay-${i}`, history }));
  const t0 = process.hrtime.bigint();
  for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: bundlePath }, dataConverter: replayDataConverter(), replayName: 'bench-replay' }, histories)) {
    if (r.error) throw new Error(`${path.basename(file)}: ${r.error.message}`);
  }
  return Number(process.hrtime.bigint() - t0) / 1e6 / rounds;
}

export async function runReplayBench(opts: { rounds: number }): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-bench-replay-'));
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  try {
    await writeWorkflowBundle(bundlePath);
    const files = historyFiles(HISTORIES_DIR).filter((f) => path.basename(f).startsWith('deletion-'));
    const rows = [];
    for (const file of files) {
      const events = readHistory(file).events?.length ?? 0;
      await replayRounds(bundlePath, file, 5); // warm-up: the bundle's first load is not a miss
      rows.push({ name: path.basename(file, '.json'), events, ms: await replayRounds(bundlePath, file, opts.rounds) });
    }
    const shortest = rows.reduce((a, b) => (b.events < a.events ? b : a));
    return [
      `### Workflow cache miss: replaying a whole deletion history (${opts.rounds} replays each)`,
      '',
      '| history | events | ms per replay | vs the shortest |',
      '|---|---|---|---|',
      ...rows.map((r) => `| ${r.name} | ${r.events} | ${r.ms.toFixed(2)} | ${(r.ms / shortest.ms).toFixed(2)}× |`),
      '',
    ].join('\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '200' } } });
  runReplayBench({ rounds: Number(values.rounds) })
    .then((md) => process.stdout.write(`${md}\n`))
    .catch((err) => {
      process.stderr.write(`bench/replay: ${err?.stack ?? err}\n`);
      process.exit(1);
    });
}
