import type { DeletionView } from '../../requests';
import { apiTarget, call } from '../api';
import { Command, COMMON_HELP, parse, printHelp, seconds, sleep, usage, writeJson } from '../command';
import { CliError, EXIT } from '../exit';
import { createProgressDisplay, renderView } from '../format';

const FINAL = ['completed', 'failed', 'skipped'];

export const statusCommand: Command = {
  name: 'status',
  summary: 'show a deletion request: steps, deadline, receipt (--wait to follow it)',
  help: `Usage: lethe status REQUEST_ID [--wait] [--timeout SECONDS] [--interval SECONDS] [--json]

Shows a deletion request: its status, each step (with retries under way), the deadline, and
once completed the receipt (ids, times, per-store counts, verification; no personal data).

Options:
  --wait               follow it until it completes, fails or is skipped, showing progress
                       on stderr; Ctrl-C stops waiting, never the deletion
  --timeout SECONDS    with --wait: give up after this long (exit 6)
  --interval SECONDS   with --wait: how often to look (default 1)

${COMMON_HELP}

Exit code: 0 pending, running, completed or skipped; 1 failed; 3 no such request.`,

  async run(argv, io) {
    const { values, positionals } = parse('status', argv, { wait: { type: 'boolean' }, timeout: { type: 'string' }, interval: { type: 'string' } }, true);
    if (values.help) return printHelp(io, this.help);
    if (positionals.length !== 1) throw usage('status', 'give one REQUEST_ID');
    const timeout = seconds('status', 'timeout', values.timeout);
    const interval = seconds('status', 'interval', values.interval, 1)!;
    const target = apiTarget({ apiUrl: values['api-url'] }, io.env);
    // The first read is live: a person at a terminal wants the request as it is now (a run
    // terminated a moment ago, the vendor's own reason), not as the tables last recorded it. The
    // polls of --wait read the tables, as dashboards do: each live read asks the worker.
    const get = async (live = false) => (await call<DeletionView>(target, 'GET', `/v1/deletion-requests/${encodeURIComponent(positionals[0])}${live ? '?live=true' : ''}`)).body;

    let view = await get(true);
    if (values.wait && !FINAL.includes(view.status)) {
      const started = Date.now();
      const display = createProgressDisplay(io.stderr, started);
      io.stderr.write(`Waiting for ${view.requestId} (Ctrl-C stops waiting, not the deletion)\n`);
      display.update(view);
      while (!FINAL.includes(view.status)) {
        if (timeout !== undefined && Date.now() - started > timeout * 1000) {
          display.clear();
          if (values.json) writeJson(io, view);
          throw new CliError(EXIT.timeout, `still ${view.status} after ${timeout} s; it goes on: lethe status ${view.requestId} --wait`);
        }
        await sleep(interval * 1000);
        view = await get();
        display.update(view);
      }
      display.clear();
    }
    if (values.json) writeJson(io, view);
    else io.stdout.write(`${renderView(view)}\n`);
    return view.status === 'failed' ? EXIT.failed : EXIT.ok;
  },
};
