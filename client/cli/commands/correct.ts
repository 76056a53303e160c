import { apiTarget, call } from '../api';
import { Command, COMMON_HELP, parse, printHelp, seconds, sleep, usage, writeJson } from '../command';
import { CliError, EXIT } from '../exit';

/** Each option and the field it sets (CONTRACT §8). */
const FIELD_OPTIONS = {
  'full-name': 'full_name',
  phone: 'phone',
  email: 'email',
  'address-line1': 'address_line1',
  'address-line2': 'address_line2',
  city: 'city',
  region: 'region',
  'postal-code': 'postal_code',
  country: 'country',
} as const;

interface CorrectionView {
  requestId: string;
  accountId: string;
  status: string;
  fields: string[];
  email?: { status: string; confirmBy?: string };
  stores?: { store: string; status: string; applied: string[]; detail?: string }[];
  reason?: string;
  receipt?: { stores: { store: string; applied: string[]; outcome: string }[]; notApplied: { field: string; reason: string }[] };
}

const ENDED = ['completed', 'refused', 'failed'];

export const correctCommand: Command = {
  name: 'correct',
  summary: 'correct a person’s name, phone, address or email in every store (operator token)',
  help: `Usage: lethe correct ACCOUNT_ID --channel CHANNEL [--requested-by ID] [field options] [--clear FIELD]... [--wait [--timeout S]] [--json]
       lethe correct status REQUEST_ID [--wait [--timeout S]] [--json]

Files a correction request (docs/correction.md): the database, the Auth0 user and the Recurly
account are changed and read back. A new email is applied only after the person confirms the
link mailed to that new address. Refused: an account under a legal hold, being deleted or
deleted, and a new email another account holds in any letter case.

Field options: --full-name TEXT, --phone +351912345678, --email ADDRESS, --address-line1 TEXT,
--address-line2 TEXT, --city TEXT, --region TEXT, --postal-code TEXT, --country PT.
--clear phone|address_line2|region empties that field.
--wait follows the request until it ends (or waits for the person's confirmation); with
--timeout S it stops waiting after S seconds (exit 6; the request goes on).

${COMMON_HELP}`,

  async run(argv, io) {
    const fieldOptions = Object.fromEntries(Object.keys(FIELD_OPTIONS).map((k) => [k, { type: 'string' as const }]));
    const { values, positionals } = parse(
      'correct',
      argv,
      { ...fieldOptions, channel: { type: 'string' }, 'requested-by': { type: 'string' }, clear: { type: 'string', multiple: true }, wait: { type: 'boolean' }, timeout: { type: 'string' } },
      true,
    );
    if (values.help) return printHelp(io, this.help);
    const timeout = seconds('correct', 'timeout', values.timeout as string | undefined);
    const target = apiTarget({ apiUrl: values['api-url'] as string | undefined }, io.env);
    const get = async (id: string) => (await call<CorrectionView>(target, 'GET', `/v1/correction-requests/${encodeURIComponent(id)}`)).body;

    let view: CorrectionView;
    if (positionals[0] === 'status') {
      if (positionals.length !== 2) throw usage('correct', 'status needs REQUEST_ID');
      view = await get(positionals[1]);
    } else {
      if (positionals.length !== 1) throw usage('correct', 'give ACCOUNT_ID (or: status REQUEST_ID)');
      if (!values.channel) throw usage('correct', '--channel is required (api, email, phone, support, in_app)');
      const changes: Record<string, string | null> = {};
      for (const [option, field] of Object.entries(FIELD_OPTIONS)) {
        const v = (values as Record<string, unknown>)[option];
        if (typeof v === 'string') changes[field] = v;
      }
      for (const f of (values.clear as string[] | undefined) ?? []) changes[f] = null;
      if (Object.keys(changes).length === 0) throw usage('correct', 'name at least one field to correct');
      const { body } = await call<{ requestId: string }>(target, 'POST', '/v1/correction-requests', {
        accountId: positionals[0],
        changes,
        channel: values.channel,
        ...(values['requested-by'] ? { requestedBy: values['requested-by'] } : {}),
      });
      view = await get(body.requestId);
    }
    const started = Date.now();
    while (values.wait && !ENDED.includes(view.status) && view.status !== 'awaiting_confirmation') {
      // A store blocked for days keeps the request open: a script says how long it will wait.
      if (timeout !== undefined && Date.now() - started > timeout * 1000) {
        if (values.json) writeJson(io, view);
        throw new CliError(EXIT.timeout, `still ${view.status} after ${timeout} s; it goes on: lethe correct status ${view.requestId} --wait`);
      }
      await sleep(1000);
      view = await get(view.requestId);
    }
    if (values.json) return writeJson(io, view);
    io.stdout.write(`Correction ${view.requestId} of account ${view.accountId}: ${view.status} (fields: ${view.fields.join(', ')})\n`);
    if (view.email) io.stdout.write(`  new email: ${view.email.status}${view.email.confirmBy ? `, the person confirms by ${view.email.confirmBy}` : ''}\n`);
    for (const s of view.receipt?.stores ?? view.stores ?? []) {
      const st = s as { store: string; applied: string[]; outcome?: string; status?: string; detail?: string };
      io.stdout.write(`  ${st.store.padEnd(9)} ${st.outcome ?? st.status}${st.applied.length ? `: ${st.applied.join(', ')}` : ''}${st.detail ? ` (${st.detail})` : ''}\n`);
    }
    for (const n of view.receipt?.notApplied ?? []) io.stdout.write(`  not applied: ${n.field}: ${n.reason}\n`);
    if (view.reason) io.stdout.write(`  ${view.reason}\n`);
    return view.status === 'refused' || view.status === 'failed' ? EXIT.failed : EXIT.ok;
  },
};
