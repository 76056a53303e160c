import type { AccessView } from '../../../activities/access/types';
import { apiTarget, asOptions, call } from '../api';
import { Command, COMMON_HELP, parse, printHelp, seconds, sleep, usage, writeJson } from '../command';
import { CliError, EXIT } from '../exit';
import { relative, when } from '../format';

const VERBS = ['request', 'status', 'retry'] as const;
const FINAL = ['ready', 'expired', 'cancelled', 'failed'];

/** The API names body fields; the CLI user typed options. */
const OPTION_OF: Record<string, string> = {
  'body/accountId': '--account',
  'body/email': '--email',
  'body/channel': '--channel',
  'body/receivedAt': '--received-at',
  'body/requestedBy': '--requested-by',
  'body/by': '--by',
};

function show(v: AccessView): string {
  const lines = [
    `  request   ${v.requestId}`,
    `  account   ${v.accountId}`,
    `  status    ${v.status}${v.overdue ? ' (overdue)' : ''}`,
    `  received  ${when(v.receivedAt)}`,
    `  deadline  ${when(v.deadlineAt)} (${relative(Date.parse(v.deadlineAt) - Date.now())})`,
  ];
  for (const s of v.stores ?? []) {
    const counts = s.counts
      ? ` ${Object.entries(s.counts)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ')}`
      : '';
    lines.push(`  ${s.name.padEnd(9)} ${s.status}${counts}${s.reason ? `: ${s.reason}` : ''}`);
  }
  for (const b of v.blocked ?? []) if (b.store === 'archive') lines.push(`  archive   blocked: ${b.reason}`);
  if (v.reason) lines.push(`  reason    ${v.reason}`);
  if (v.archive) {
    lines.push(
      `  archive   ${v.archive.parts} part(s), ${v.archive.bytes} bytes; ${v.archive.deletedAt ? `deleted ${when(v.archive.deletedAt)}` : `link mailed to the account, expires ${when(v.archive.expiresAt)}`}`,
    );
  }
  return lines.join('\n') + '\n';
}

export const accessCommand: Command = {
  name: 'access',
  summary: 'file or follow a request for a copy of a person’s data',
  help: `Usage: lethe access request (--account ID | --email EMAIL) --channel CHANNEL [--received-at TIME] [--requested-by WHO] [--json]
       lethe access status REQUEST_ID [--wait] [--timeout SECONDS] [--json]
       lethe access retry REQUEST_ID [--by WHO] [--json]

An access request gathers everything Lethe's stores hold about the account into a ZIP archive
and mails a read-only link (valid LETHE_ACCESS_LINK_TTL, default 7 days) to the account's
address on file; the link is never shown here (docs/access.md). Within 72 h of --received-at.

retry (operator role): a request still gathering tries its blocked or failing stores now; a
failed one (its run failed or was terminated) is started again and gathers everything afresh.
Recorded with who did it (--by, default the token; a staff id, no email or name).

${COMMON_HELP}

Examples:
  lethe access request --account 2c8a6b9f-316c-4e71-a603-c40a0906d6be --channel support --requested-by agent-7
  lethe access status 5f0c2d1e-6a7b-4c8d-9e0f-112233445566 --wait
  lethe access retry 5f0c2d1e-6a7b-4c8d-9e0f-112233445566 --by agent-7`,

  async run(argv, io) {
    const { values, positionals } = parse(
      'access',
      argv,
      {
        account: { type: 'string' },
        email: { type: 'string' },
        channel: { type: 'string' },
        'received-at': { type: 'string' },
        'requested-by': { type: 'string' },
        wait: { type: 'boolean' },
        timeout: { type: 'string' },
        by: { type: 'string' },
      },
      true,
    );
    if (values.help) return printHelp(io, this.help);
    const verb = positionals[0] as (typeof VERBS)[number] | undefined;
    if (!verb || !VERBS.includes(verb)) throw usage('access', `give one of ${VERBS.join(', ')}`);
    const target = apiTarget({ apiUrl: values['api-url'] }, io.env);
    if (verb === 'request') {
      if (positionals.length !== 1) throw usage('access', 'request takes no positional argument');
      if ((values.account === undefined) === (values.email === undefined)) throw usage('access', 'give exactly one of --account or --email');
      if (!values.channel) throw usage('access', '--channel is required (api, email, phone, support, in_app)');
      const res = await asOptions(OPTION_OF, () =>
        call<AccessView>(target, 'POST', '/v1/access-requests', {
          ...(values.account !== undefined ? { accountId: values.account } : { email: values.email }),
          channel: values.channel,
          ...(values['received-at'] !== undefined ? { receivedAt: values['received-at'] } : {}),
          ...(values['requested-by'] !== undefined ? { requestedBy: values['requested-by'] } : {}),
        }),
      );
      if (values.json) return writeJson(io, { ...res.body, location: res.location });
      io.stdout.write(
        `${res.body.existing ? 'An access request for this account is already open; this is it.' : 'Access request accepted.'}\n${show(res.body)}Follow it:  lethe access status ${res.body.requestId} --wait\n`,
      );
      return EXIT.ok;
    }
    if (verb === 'retry') {
      if (positionals.length !== 2) throw usage('access', 'retry needs REQUEST_ID');
      const path = `/v1/access-requests/${encodeURIComponent(positionals[1])}/retry`;
      const { body } = await asOptions(OPTION_OF, () => call<AccessView>(target, 'POST', path, values.by !== undefined ? { by: values.by } : {}));
      if (values.json) return writeJson(io, body);
      io.stdout.write(`Retry asked for.\n${show(body)}`);
      return EXIT.ok;
    }
    if (positionals.length !== 2) throw usage('access', 'status needs REQUEST_ID');
    const path = `/v1/access-requests/${encodeURIComponent(positionals[1])}`;
    const timeoutS = seconds('access', 'timeout', values.timeout, 600)!;
    const end = Date.now() + timeoutS * 1000;
    for (;;) {
      const { body } = await call<AccessView>(target, 'GET', path);
      if (!values.wait || FINAL.includes(body.status)) {
        if (values.json) writeJson(io, body);
        else io.stdout.write(show(body));
        return body.status === 'failed' ? EXIT.failed : EXIT.ok;
      }
      if (Date.now() > end) {
        if (!values.json) io.stdout.write(show(body));
        throw new CliError(EXIT.timeout, `access request ${body.requestId} is still ${body.status} after ${timeoutS} s`);
      }
      await sleep(1_000);
    }
  },
};
