import { apiTarget, call } from '../api';
import { Command, COMMON_HELP, parse, printHelp, seconds, sleep, usage, writeJson } from '../command';
import { CliError, EXIT } from '../exit';
import { when } from '../format';
import type { SweepView } from '../../sweeps';

export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'run the inactivity sweep now (--dry-run to only list), or show one',
  help: `Usage: lethe sweep [--dry-run] [--wait] [--timeout SECONDS] [--json]
       lethe sweep status SWEEP_ID [--wait] [--page-token T] [--page-size N] [--json]

Starts the inactivity sweep now (the schedule runs it daily): accounts with no login for
over 24 months and no live subscription get a deletion (channel "inactivity"). With
--dry-run it only reports them. "status" shows a sweep's counts and, a page at a time, the
eligible account ids.

Options:
  --dry-run            select and report, delete nothing
  --wait               follow the sweep until it completes or fails (progress on stderr)
  --timeout SECONDS    with --wait: give up after this long (exit 6)
  --page-token T       status: the page of account ids after the one that printed T
  --page-size N        status: account ids per page

${COMMON_HELP}

Exit code: 0 running or completed; 1 the sweep failed; 3 no such sweep.`,

  async run(argv, io) {
    const { values, positionals } = parse(
      'sweep',
      argv,
      { 'dry-run': { type: 'boolean' }, wait: { type: 'boolean' }, timeout: { type: 'string' }, 'page-token': { type: 'string' }, 'page-size': { type: 'string' } },
      true,
    );
    if (values.help) return printHelp(io, this.help);
    const timeout = seconds('sweep', 'timeout', values.timeout);
    const target = apiTarget({ apiUrl: values['api-url'] }, io.env);
    let sweepId: string;
    if (positionals[0] === 'status') {
      if (positionals.length !== 2) throw usage('sweep', 'give one SWEEP_ID: lethe sweep status SWEEP_ID');
      if (values['dry-run']) throw usage('sweep', '--dry-run is for starting a sweep');
      sweepId = positionals[1];
    } else {
      if (positionals.length > 0) throw usage('sweep', `unknown argument "${positionals[0]}"`);
      if (values['page-token'] || values['page-size']) throw usage('sweep', '--page-token and --page-size are for "lethe sweep status"');
      sweepId = (await call<{ sweepId: string }>(target, 'POST', '/v1/sweeps', { dryRun: values['dry-run'] ?? false })).body.sweepId;
      if (!values.json) io.stderr.write(`Sweep ${sweepId} started${values['dry-run'] ? ' (dry run: nothing is deleted)' : ''}.\n`);
      if (!values.wait) {
        if (values.json) writeJson(io, { sweepId });
        else io.stdout.write(`${sweepId}\nFollow it:  lethe sweep status ${sweepId} --wait\n`);
        return EXIT.ok;
      }
    }
    const q = new URLSearchParams();
    if (values['page-token']) q.set('pageToken', values['page-token']);
    if (values['page-size']) q.set('pageSize', values['page-size']);
    const get = async () => (await call<SweepView>(target, 'GET', `/v1/sweeps/${encodeURIComponent(sweepId)}${q.size ? `?${q}` : ''}`)).body;
    let view = await get();
    const startedWaiting = Date.now();
    let last = '';
    while (values.wait && view.status === 'running') {
      const line = `scanned ${view.scanned}, eligible ${view.eligible}, deletions started ${view.started}`;
      if (line !== last) io.stderr.write(`[${`${Math.round((Date.now() - startedWaiting) / 1000)}s`.padStart(5)}] ${line}\n`);
      last = line;
      if (timeout !== undefined && Date.now() - startedWaiting > timeout * 1000) {
        if (values.json) writeJson(io, view);
        throw new CliError(EXIT.timeout, `sweep ${sweepId} still running after ${timeout} s`);
      }
      await sleep(1000);
      view = await get();
    }
    if (values.json) writeJson(io, view);
    else io.stdout.write(`${renderSweep(view)}\n`);
    return view.status === 'failed' ? EXIT.failed : EXIT.ok;
  },
};

export function renderSweep(v: SweepView): string {
  const lines = [
    `Sweep     ${v.sweepId}${v.dryRun ? '  (dry run)' : ''}`,
    `Status    ${v.status}`,
    `Started   ${when(v.startedAt)}${v.finishedAt ? `   finished ${when(v.finishedAt)}` : ''}`,
    `Scanned   ${v.scanned} accounts`,
    `Eligible  ${v.eligible} (inactive over 24 months, no live subscription)`,
    `Deletions ${v.dryRun ? 'none (dry run)' : `${v.started} started`}`,
    // The notice ladder (docs/notices.md): what was mailed, and who waits for a notice's lead time.
    `Notices   ${v.noticesSent} ${v.dryRun ? 'would be mailed' : 'mailed'}; ${v.deferred} eligible waiting for their last notice's lead time`,
  ];
  if (v.notices?.length) lines.push('Notices it would mail (account, rung, deleted from):', ...v.notices.map((n) => `  ${n.accountId}  ${n.rung}  ${when(n.deleteFrom)}`));
  if (v.accountIds?.length) lines.push('Eligible accounts:', ...v.accountIds.map((id) => `  ${id}`));
  if (v.nextPageToken) lines.push(`More: lethe sweep status ${v.sweepId} --page-token ${v.nextPageToken}`);
  return lines.join('\n');
}
