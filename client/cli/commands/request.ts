import { apiTarget, call } from '../api';
import { Command, COMMON_HELP, parse, printHelp, usage, writeJson } from '../command';
import { CliError, EXIT } from '../exit';
import { relative, when } from '../format';

interface Started {
  requestId: string;
  accountId: string;
  status: string;
  receivedAt: string;
  deadlineAt: string;
  existing?: boolean;
}

/** The API names body fields; the CLI user typed options. */
const OPTION_OF: Record<string, string> = {
  'body/accountId': '--account',
  'body/email': '--email',
  'body/channel': '--channel',
  'body/receivedAt': '--received-at',
  'body/requestedBy': '--requested-by',
};

export const requestCommand: Command = {
  name: 'request',
  summary: 'file a deletion request for an account (by id or email)',
  help: `Usage: lethe request (--account ID | --email EMAIL) --channel CHANNEL [--received-at TIME] [--requested-by WHO] [--json]

Files a deletion request through the API. Everything about the person goes within the
deadline (72 h from --received-at). A request for an account whose deletion is under way
joins it and answers the same request id.

Options:
  --account ID         the account's id (UUID)
  --email EMAIL        the account's email, matched exactly and case-insensitively
  --channel CHANNEL    where the request came from: api, email, phone, support, in_app
  --received-at TIME   when it reached the company, RFC 3339 (e.g. 2026-11-28T09:30:00Z);
                       default now; the deadline counts from it
  --requested-by WHO   who files it (your staff id)

${COMMON_HELP}

Examples:
  lethe request --account 2c8a6b9f-316c-4e71-a603-c40a0906d6be --channel support
  lethe request --email someone@example.com --channel email --received-at 2026-11-27T16:02:00Z`,

  async run(argv, io) {
    const { values } = parse('request', argv, {
      account: { type: 'string' },
      email: { type: 'string' },
      channel: { type: 'string' },
      'received-at': { type: 'string' },
      'requested-by': { type: 'string' },
    });
    if (values.help) return printHelp(io, this.help);
    if ((values.account === undefined) === (values.email === undefined)) throw usage('request', 'give exactly one of --account or --email');
    if (!values.channel) throw usage('request', '--channel is required (api, email, phone, support, in_app)');
    const target = apiTarget({ apiUrl: values['api-url'] }, io.env);
    let res;
    try {
      res = await call<Started>(target, 'POST', '/v1/deletion-requests', {
        ...(values.account !== undefined ? { accountId: values.account } : { email: values.email }),
        channel: values.channel,
        ...(values['received-at'] !== undefined ? { receivedAt: values['received-at'] } : {}),
        ...(values['requested-by'] !== undefined ? { requestedBy: values['requested-by'] } : {}),
      });
    } catch (err) {
      // Say "--channel must be one of …" rather than the API's "body/channel …".
      if (err instanceof CliError && err.body?.field && OPTION_OF[err.body.field]) {
        const option = OPTION_OF[err.body.field];
        const message = err.body.message.split(err.body.field).join(option);
        throw new CliError(err.exitCode, message.startsWith('body') ? `${option}: ${message}` : message, err.body);
      }
      throw err;
    }
    const s = res.body;
    if (values.json) return writeJson(io, { ...s, location: res.location });
    const headline =
      s.existing && s.status === 'completed'
        ? 'This account was already deleted; this is the request that did it.'
        : s.existing
          ? 'A deletion of this account is already under way; this request joined it.'
          : 'Deletion request accepted.';
    io.stdout.write(
      [
        headline,
        `  request   ${s.requestId}`,
        `  account   ${s.accountId}`,
        `  status    ${s.status}`,
        `  received  ${when(s.receivedAt)}`,
        `  deadline  ${when(s.deadlineAt)} (${relative(Date.parse(s.deadlineAt) - Date.now())})`,
        `Follow it:  lethe status ${s.requestId} --wait`,
        '',
      ].join('\n'),
    );
    return EXIT.ok;
  },
};
