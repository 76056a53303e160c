import { apiTarget, call } from '../api';
import { Command, COMMON_HELP, parse, printHelp, usage, writeJson } from '../command';
import { EXIT } from '../exit';

const VERBS = ['place', 'release', 'list'] as const;

interface HoldItem {
  holdId: string;
  accountId: string;
  reason: string;
  matter?: string;
  until?: string;
  placedAt: string;
  placedBy: string;
  releasedAt?: string;
  active: boolean;
}

export const holdCommand: Command = {
  name: 'hold',
  summary: 'place, release or list legal holds (admin token)',
  help: `Usage: lethe hold place ACCOUNT_ID --reason TEXT [--matter TEXT] [--until TIME] [--json]
       lethe hold release HOLD_ID --justification TEXT [--json]
       lethe hold list [--account ACCOUNT_ID] [--json]

A legal hold keeps an account out of the inactivity sweep and makes its deletion requests wait
(status held); a deletion already running stops before its next store. Releasing the last hold
starts them with 72 hours from the release (docs/holds.md). Needs an admin token.

${COMMON_HELP}`,

  async run(argv, io) {
    const { values, positionals } = parse(
      'hold',
      argv,
      { reason: { type: 'string' }, matter: { type: 'string' }, until: { type: 'string' }, justification: { type: 'string' }, account: { type: 'string' } },
      true,
    );
    if (values.help) return printHelp(io, this.help);
    const verb = positionals[0] as (typeof VERBS)[number] | undefined;
    if (!verb || !VERBS.includes(verb)) throw usage('hold', `give one of ${VERBS.join(', ')}`);
    const target = apiTarget({ apiUrl: values['api-url'] }, io.env);
    if (verb === 'place') {
      if (positionals.length !== 2 || !values.reason) throw usage('hold', 'place needs ACCOUNT_ID and --reason');
      const { body } = await call<{ holdId: string; accountId: string; placedAt: string; until?: string }>(target, 'POST', '/v1/holds', {
        accountId: positionals[1],
        reason: values.reason,
        ...(values.matter ? { matter: values.matter } : {}),
        ...(values.until ? { until: values.until } : {}),
      });
      if (values.json) return writeJson(io, body);
      io.stdout.write(`Hold ${body.holdId} placed on account ${body.accountId} at ${body.placedAt}${body.until ? ` until ${body.until}` : ''}.\n`);
      return EXIT.ok;
    }
    if (verb === 'release') {
      if (positionals.length !== 2 || !values.justification) throw usage('hold', 'release needs HOLD_ID and --justification');
      const { body } = await call<{ holdId: string; accountId: string; releasedAt: string; started: { requestId: string; deadlineAt: string }[] }>(
        target,
        'POST',
        `/v1/holds/${encodeURIComponent(positionals[1])}/release`,
        { justification: values.justification },
      );
      if (values.json) return writeJson(io, body);
      io.stdout.write(`Hold ${body.holdId} released at ${body.releasedAt}.\n`);
      for (const s of body.started) io.stdout.write(`  request ${s.requestId} goes on; deadline ${s.deadlineAt}\n`);
      return EXIT.ok;
    }
    if (positionals.length !== 1) throw usage('hold', 'list takes no positional argument (use --account)');
    const { body } = await call<{ items: HoldItem[] }>(target, 'GET', `/v1/holds${values.account ? `?accountId=${encodeURIComponent(values.account)}` : ''}`);
    if (values.json) return writeJson(io, body);
    for (const h of body.items) io.stdout.write(`${h.holdId}  ${h.accountId}  ${h.active ? 'active  ' : 'released'}  placed ${h.placedAt} by ${h.placedBy}  ${h.reason}\n`);
    if (body.items.length === 0) io.stdout.write('No holds.\n');
    return EXIT.ok;
  },
};
