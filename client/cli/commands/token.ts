import { randomBytes } from 'node:crypto';
import { credentialEntry, ROLES, type Role } from '../../../config';
import { Command, parse, printHelp, usage, writeJson } from '../command';
import { EXIT } from '../exit';

export const tokenCommand: Command = {
  name: 'token',
  summary: 'make a new named API token with a role (prints it once, and its configuration line)',
  help: `Usage: lethe token new --name NAME --role requester|operator|admin [--json]

Generates a token (32 random bytes) for one holder and prints it once, with the line to add to
LETHE_API_TOKENS (comma-separated) or LETHE_API_TOKENS_FILE (one a line). The line holds only
the token's SHA-256, so the configuration never holds a usable secret; the token itself goes
to its holder (their LETHE_API_TOKEN) and is not kept anywhere by Lethe.

Roles (each may also do what the ones before it may):
  requester   file deletion requests and read one request
  operator    list requests, retry, resolve, dry-run sweeps, read sweeps, the Schedule,
              the audit trail and /metrics; decode payloads (LETHE_CODEC_AUTH=api-tokens)
  admin       real sweeps, and pausing, resuming, triggering or backfilling the Schedule

Options:
  --name NAME   who holds it (1-64 letters, digits, ".", "_", "-"); shown in the audit trail
  --role ROLE   requester, operator or admin
  --json        {"name","role","token","entry"} on stdout`,

  async run(argv, io) {
    const { values, positionals } = parse('token', argv, { name: { type: 'string' }, role: { type: 'string' } }, true);
    if (values.help) return printHelp(io, this.help);
    if (positionals.length !== 1 || positionals[0] !== 'new') throw usage('token', 'give the verb "new": lethe token new --name NAME --role ROLE');
    if (!values.name || !/^[A-Za-z0-9._-]{1,64}$/.test(values.name)) throw usage('token', '--name is required: 1-64 letters, digits, ".", "_" or "-"');
    if (!values.role || !(ROLES as readonly string[]).includes(values.role)) throw usage('token', `--role is required: one of ${ROLES.join(', ')}`);
    const role = values.role as Role;
    const token = randomBytes(32).toString('base64url');
    const entry = credentialEntry(values.name, role, token);
    if (values.json) return writeJson(io, { name: values.name, role, token, entry });
    io.stdout.write(
      [
        `Token for ${values.name} (${role}); give it to its holder, it is not shown again:`,
        `  ${token}`,
        'Add this line to LETHE_API_TOKENS (comma-separated) or LETHE_API_TOKENS_FILE (one a line), then restart the API:',
        `  ${entry}`,
        '',
      ].join('\n'),
    );
    return EXIT.ok;
  },
};
