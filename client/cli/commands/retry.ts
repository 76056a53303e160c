import type { DeletionView } from '../../requests';
import { apiTarget, asOptions, call } from '../api';
import { Command, COMMON_HELP, parse, printHelp, usage, writeJson } from '../command';
import { EXIT } from '../exit';
import { renderView } from '../format';

/** The API names body fields; the CLI user typed options ("--by must be an identifier …"). */
const OPTION_OF: Record<string, string> = { 'body/by': '--by', 'body/store': '--store', 'body/justification': '--justification' };

interface BulkResult {
  matched: number;
  requestIds: string[];
  retried?: { requestId: string; outcome: string }[];
  errors?: { requestId: string; message: string }[];
}

export const retryCommand: Command = {
  name: 'retry',
  summary: 'retry a blocked or failed request now (or every one matching a filter)',
  help: `Usage: lethe retry REQUEST_ID [--by WHO] [--json]
       lethe retry --all --status blocked|failed [--channel CH] [--received-before TIME] [--yes] [--by WHO] [--json]

Asks a deletion to try its blocked or failed stores now. A running deletion retries at once; a
failed or terminated one is resumed as a new run of the same request, from what Lethe captured
when it froze the account. Each action is recorded with who did it (--by, default the token;
a staff id: letters, digits and . _ : - only, no email or name).

With --all: every request with that status (and channel, filed before that time). Without
--yes it only counts and lists them (a dry run); with --yes it retries each.

${COMMON_HELP}

Exit code: 0 done; 3 no such request; 2 a bad option.`,

  async run(argv, io) {
    const { values, positionals } = parse(
      'retry',
      argv,
      { by: { type: 'string' }, all: { type: 'boolean' }, status: { type: 'string' }, channel: { type: 'string' }, 'received-before': { type: 'string' }, yes: { type: 'boolean' } },
      true,
    );
    if (values.help) return printHelp(io, this.help);
    const target = apiTarget({ apiUrl: values['api-url'] }, io.env);
    if (values.all) {
      if (positionals.length) throw usage('retry', 'give either REQUEST_ID or --all, not both');
      if (values.status !== 'blocked' && values.status !== 'failed') throw usage('retry', '--all needs --status blocked or --status failed');
      const body = {
        status: values.status,
        dryRun: !values.yes,
        ...(values.channel ? { channel: values.channel } : {}),
        ...(values['received-before'] ? { receivedBefore: values['received-before'] } : {}),
        ...(values.by ? { by: values.by } : {}),
      };
      const r = (await asOptions(OPTION_OF, () => call<BulkResult>(target, 'POST', '/v1/deletion-requests/retry', body))).body;
      if (values.json) return writeJson(io, r);
      if (!values.yes) {
        io.stdout.write(`${r.matched} ${values.status} request(s) match; nothing retried (dry run). Retry them: the same command with --yes\n${r.requestIds.map((id) => `  ${id}`).join('\n')}\n`);
        return EXIT.ok;
      }
      io.stdout.write(`${r.retried?.length ?? 0} of ${r.matched} retried\n`);
      for (const e of r.errors ?? []) io.stdout.write(`  ${e.requestId}: ${e.message}\n`);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw usage('retry', 'give one REQUEST_ID, or --all with --status');
    const view = (await asOptions(OPTION_OF, () => call<DeletionView>(target, 'POST', `/v1/deletion-requests/${encodeURIComponent(positionals[0])}/retry`, values.by ? { by: values.by } : {}))).body;
    if (values.json) return writeJson(io, view);
    io.stdout.write(`Retry asked for.\n${renderView(view)}\n`);
    return EXIT.ok;
  },
};

export const resolveCommand: Command = {
  name: 'resolve',
  summary: 'record that one store of a request was dealt with outside Lethe',
  help: `Usage: lethe resolve REQUEST_ID --store media|auth0|recurly|database --justification TEXT --by WHO [--json]

For a store Lethe cannot finish (a legal hold on media, a vendor record removed by the vendor's
support): say what was done and by whom. Only a store that is blocked now (lethe status shows
it under "blocked"); any other is refused, naming the store and its state. The receipt shows
the store as resolved outside Lethe, never as a verified deletion; the justification stays in
the action trail (GET /v1/deletion-requests/REQUEST_ID/actions) for the audit trail's retention.
--by is a staff id: letters, digits and . _ : - only, no email or name.

${COMMON_HELP}

Exit code: 0 done; 3 no such request; 2 a bad option; 1 the store is not blocked (or the
deletion is not running).`,

  async run(argv, io) {
    const { values, positionals } = parse('resolve', argv, { store: { type: 'string' }, justification: { type: 'string' }, by: { type: 'string' } }, true);
    if (values.help) return printHelp(io, this.help);
    if (positionals.length !== 1) throw usage('resolve', 'give one REQUEST_ID');
    for (const name of ['store', 'justification', 'by'] as const) if (!values[name]) throw usage('resolve', `--${name} is required`);
    const target = apiTarget({ apiUrl: values['api-url'] }, io.env);
    const view = (
      await asOptions(OPTION_OF, () =>
        call<DeletionView>(target, 'POST', `/v1/deletion-requests/${encodeURIComponent(positionals[0])}/resolve`, { store: values.store, justification: values.justification, by: values.by }),
      )
    ).body;
    if (values.json) return writeJson(io, view);
    io.stdout.write(`Recorded as resolved outside Lethe.\n${renderView(view)}\n`);
    return EXIT.ok;
  },
};
