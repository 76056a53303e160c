import type { DeletionSummary } from '../../requests';
import { apiTarget, call } from '../api';
import { Command, COMMON_HELP, parse, printHelp, usage, writeJson } from '../command';
import { EXIT } from '../exit';
import { table, when } from '../format';

export const listCommand: Command = {
  name: 'list',
  summary: 'list deletion requests (filter by status, channel, overdue)',
  help: `Usage: lethe list [--status STATUS] [--channel CHANNEL] [--overdue] [--limit N] [--cursor C | --all] [--json]

Lists deletion requests, newest filed first.

Options:
  --status STATUS    pending, running, completed, failed or skipped
  --channel CHANNEL  api, email, phone, support, in_app or inactivity
  --overdue          only requests past their deadline before finishing
  --limit N          requests per page, 1-200 (default 50)
  --cursor C         the page after the one that printed this cursor
  --all              every page

${COMMON_HELP}`,

  async run(argv, io) {
    const { values } = parse('list', argv, {
      status: { type: 'string' },
      channel: { type: 'string' },
      overdue: { type: 'boolean' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      all: { type: 'boolean' },
    });
    if (values.help) return printHelp(io, this.help);
    if (values.all && values.cursor) throw usage('list', 'give --cursor or --all, not both');
    const target = apiTarget({ apiUrl: values['api-url'] }, io.env);
    const items: DeletionSummary[] = [];
    let cursor = values.cursor;
    let next: string | undefined;
    do {
      const q = new URLSearchParams();
      if (values.status) q.set('status', values.status);
      if (values.channel) q.set('channel', values.channel);
      if (values.overdue) q.set('overdue', 'true');
      if (values.limit) q.set('limit', values.limit);
      if (cursor) q.set('cursor', cursor);
      const res = await call<{ items: DeletionSummary[]; nextCursor?: string }>(target, 'GET', `/v1/deletion-requests${q.size ? `?${q}` : ''}`);
      items.push(...res.body.items);
      next = res.body.nextCursor;
      cursor = next;
    } while (values.all && next);

    if (values.json) return writeJson(io, { items, ...(next && !values.all ? { nextCursor: next } : {}) });
    if (items.length === 0) io.stdout.write('No deletion requests match.\n');
    else {
      io.stdout.write(
        `${table(
          ['REQUEST', 'ACCOUNT', 'CHANNEL', 'STATUS', 'RECEIVED', 'DEADLINE', 'OVERDUE'],
          items.map((i) => [i.requestId, i.accountId, i.channel, i.status, when(i.receivedAt), when(i.deadlineAt), i.overdue ? 'yes' : '']),
        )}\n`,
      );
    }
    if (next && !values.all)
      io.stdout.write(
        `More: lethe list --cursor ${next}${argv
          .filter((a) => a !== '--cursor' && a !== values.cursor)
          .map((a) => ` ${a}`)
          .join('')}\n`,
      );
    return EXIT.ok;
  },
};
