import type { AuditRecord } from '../../audit';
import { apiTarget, call } from '../api';
import { Command, COMMON_HELP, parse, printHelp, usage, writeJson } from '../command';
import { EXIT } from '../exit';
import { table, when } from '../format';

export const auditCommand: Command = {
  name: 'audit',
  summary: 'who changed what: requests filed, retries, resolutions, sweeps, Schedule changes',
  help: `Usage: lethe audit [--actor NAME] [--action ACTION] [--request ID] [--since TIME] [--until TIME] [--limit N] [--cursor C | --all] [--json]

The audit trail, newest first: every request filed, retry, resolution, sweep started and
Schedule change, with the token's name (or cli:<user>@<host> for "lethe schedule"), the time,
the action and the ids. Never personal data. Needs an operator token (GET /v1/audit).

Options:
  --actor NAME      one token's name, e.g. support-desk
  --action ACTION   deletion_request.filed, deletion_request.retried, deletion_request.resolved,
                    deletion_requests.bulk_retried, sweep.started, schedule.paused,
                    schedule.resumed, schedule.triggered, schedule.backfilled
  --request ID      entries about one deletion request
  --since TIME      at or after this time (RFC 3339)
  --until TIME      before this time (RFC 3339)
  --limit N         entries per page, 1-1000 (default 100)
  --cursor C        the page after the one that printed this cursor
  --all             every page

${COMMON_HELP}`,

  async run(argv, io) {
    const { values } = parse('audit', argv, {
      actor: { type: 'string' },
      action: { type: 'string' },
      request: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      all: { type: 'boolean' },
    });
    if (values.help) return printHelp(io, this.help);
    if (values.all && values.cursor) throw usage('audit', 'give --cursor or --all, not both');
    const target = apiTarget({ apiUrl: values['api-url'] }, io.env);
    const items: AuditRecord[] = [];
    let cursor = values.cursor;
    let next: string | undefined;
    do {
      const q = new URLSearchParams();
      if (values.actor) q.set('actor', values.actor);
      if (values.action) q.set('action', values.action);
      if (values.request) q.set('requestId', values.request);
      if (values.since) q.set('since', values.since);
      if (values.until) q.set('until', values.until);
      if (values.limit) q.set('limit', values.limit);
      if (cursor) q.set('cursor', cursor);
      const res = await call<{ items: AuditRecord[]; nextCursor?: string }>(target, 'GET', `/v1/audit${q.size ? `?${q}` : ''}`);
      items.push(...res.body.items);
      next = res.body.nextCursor;
      cursor = next;
    } while (values.all && next);

    if (values.json) return writeJson(io, { items, ...(next && !values.all ? { nextCursor: next } : {}) });
    if (items.length === 0) io.stdout.write('No audit entries match.\n');
    else {
      io.stdout.write(
        `${table(
          ['AT', 'ACTOR', 'VIA', 'ACTION', 'IDS', 'DETAILS'],
          items.map((i) => [
            when(i.at),
            i.actor,
            i.via,
            i.action,
            [i.requestId && `request ${i.requestId}`, i.accountId && `account ${i.accountId}`, i.sweepId && `sweep ${i.sweepId}`, i.scheduleId && `schedule ${i.scheduleId}`]
              .filter(Boolean)
              .join(', ') || '-',
            i.details
              ? Object.entries(i.details)
                  .map(([k, v]) => `${k}=${String(v)}`)
                  .join(' ')
              : '',
          ]),
        )}\n`,
      );
    }
    if (next && !values.all)
      io.stdout.write(
        `More: lethe audit --cursor ${next}${argv
          .filter((a, i) => a !== '--cursor' && argv[i - 1] !== '--cursor')
          .map((a) => ` ${a}`)
          .join('')}\n`,
      );
    return EXIT.ok;
  },
};
