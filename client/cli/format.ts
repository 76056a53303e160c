/** Human-readable output: times, tables, the status view and the live progress display. */
import type { DeletionView, StepView } from '../requests';

export const when = (iso: string | undefined): string => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

export function relative(ms: number): string {
  const abs = Math.abs(ms);
  const d = Math.floor(abs / 86_400_000);
  const h = Math.floor((abs % 86_400_000) / 3_600_000);
  const m = Math.floor((abs % 3_600_000) / 60_000);
  const s = Math.floor((abs % 60_000) / 1000);
  const text = d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

const ICON: Record<StepView['status'], string> = { completed: '✓', running: '▸', failed: '✗', pending: '·', skipped: '–' };

export function stepLine(s: StepView, nameWidth = 9): string {
  const attempts = s.attempts && s.attempts > 1 ? ` (attempt ${s.attempts})` : '';
  return `  ${ICON[s.status] ?? '?'} ${s.name.padEnd(nameWidth)} ${s.status.padEnd(9)}${s.detail ? ` ${s.detail}` : ''}${s.detail ? '' : attempts}`.trimEnd();
}

export function renderView(v: DeletionView, now = Date.now()): string {
  const deadline = Date.parse(v.deadlineAt);
  const deadlineNote =
    v.status === 'completed' && v.completedAt
      ? Date.parse(v.completedAt) <= deadline
        ? 'met'
        : 'MISSED'
      : v.status === 'skipped'
        ? 'not applicable'
        : deadline < now
          ? `OVERDUE by ${relative(now - deadline).replace(/^in /, '')}`
          : relative(deadline - now);
  const others = v.channels.filter((c) => c !== v.channel);
  const lines = [
    `Request   ${v.requestId}`,
    `Account   ${v.accountId}`,
    `Channel   ${v.channel}${others.length ? ` (also: ${others.join(', ')})` : ''}`,
    `Status    ${v.status}${v.completedAt ? ` at ${when(v.completedAt)}` : ''}${v.source === 'records' ? "  (from Lethe's records: Temporal no longer has this run's history, or cannot be reached)" : ''}`,
    `Received  ${when(v.receivedAt)}`,
    `Deadline  ${when(v.deadlineAt)} (${deadlineNote})${v.warning && v.status !== 'completed' ? '  near deadline' : ''}`,
  ];
  if (v.reason) lines.push(`Reason    ${v.reason}`);
  if (v.stalled) lines.push(`STALLED   since ${when(v.stalled.since)} (attempt ${v.stalled.attempts}): ${v.stalled.reason}`);
  for (const b of v.blocked ?? []) {
    lines.push(
      `BLOCKED   ${b.store} since ${when(b.since)}: ${b.reason}`,
      `  what to do: ${b.action}`,
      `  then: lethe retry ${v.requestId}   (or, if dealt with outside Lethe: lethe resolve ${v.requestId} --store ${b.store} --justification "..." --by YOU)`,
    );
  }
  lines.push('Steps', ...v.steps.map((s) => stepLine(s)));
  if (v.receipt) lines.push('Receipt', ...receiptLines(v.receipt as unknown as Record<string, unknown>));
  return lines.join('\n');
}

function receiptLines(r: Record<string, unknown>): string[] {
  const counts = (r.counts ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const v = (r.verification ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  const media = counts.media as { blobsDeleted?: number; byContainer?: Record<string, number>; atLeast?: boolean } | undefined;
  if (media)
    out.push(
      `  media     ${media.atLeast ? 'at least ' : ''}${media.blobsDeleted ?? 0} blobs deleted${
        media.byContainer
          ? ` (${Object.entries(media.byContainer)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ')})`
          : ''
      }`,
    );
  const rows = counts.database as Record<string, number> | undefined;
  if (rows)
    out.push(
      `  database  ${Object.values(rows).reduce((a, b) => a + b, 0)} rows deleted (${Object.entries(rows)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')})`,
    );
  const auth0 = counts.auth0 as { usersDeleted?: number; alreadyGone?: number } | undefined;
  if (auth0) out.push(`  auth0     ${auth0.usersDeleted ?? 0} users deleted, ${auth0.alreadyGone ?? 0} already gone`);
  const recurly = counts.recurly as { subscriptionsTerminated?: number; accountRedacted?: boolean; hadAccount?: boolean } | undefined;
  if (recurly)
    out.push(`  recurly   ${recurly.hadAccount === false ? 'no billing account' : `${recurly.subscriptionsTerminated ?? 0} subscriptions terminated, account redacted: ${recurly.accountRedacted}`}`);
  for (const [store, o] of Object.entries((r.stores ?? {}) as Record<string, { outcome?: string; resolution?: { by?: string; actionId?: string } }>)) {
    if (o.outcome === 'resolved_outside_lethe') out.push(`  ${store.padEnd(9)} RESOLVED OUTSIDE LETHE by ${o.resolution?.by ?? '?'} (action ${o.resolution?.actionId ?? '?'}); not verified by Lethe`);
  }
  const pending = (v.pending ?? []) as { store?: string; what?: string; until?: string }[];
  out.push(
    `  verified  ${v.clean ? (pending.length ? 'no live data in any store' : 'every store is empty') : 'DATA REMAINED'}${v.checkedAt ? ` (stores last read from ${when(String(v.checkedAt))})` : ''}${r.passes && Number(r.passes) > 1 ? ` after ${r.passes} passes` : ''}`,
  );
  // Soft-deleted copies are gone from the live data but kept by the vendor until their purge.
  for (const p of pending) out.push(`  pending   ${p.what ?? p.store}${p.until ? `, until ${when(p.until)}` : ''}`);
  return out;
}

/**
 * The live display while `--wait`ing: on a terminal, the steps redrawn in place; elsewhere
 * (a pipe, a log file), one line whenever a step changes.
 */
export function createProgressDisplay(stream: NodeJS.WriteStream, started = Date.now()) {
  const tty = Boolean(stream.isTTY);
  let drawn = 0;
  const seen = new Map<string, string>();
  return {
    update(v: DeletionView): void {
      const elapsed = `${Math.round((Date.now() - started) / 1000)}s`.padStart(5);
      if (tty) {
        const lines = [`[${elapsed}] ${v.status}  deadline ${relative(Date.parse(v.deadlineAt) - Date.now())}`, ...v.steps.map((s) => stepLine(s))];
        stream.write(`${drawn ? `\x1b[${drawn}A\x1b[J` : ''}${lines.join('\n')}\n`);
        drawn = lines.length;
        return;
      }
      for (const s of v.steps) {
        const key = `${s.status}|${s.detail ?? ''}|${s.attempts ?? ''}`;
        if (seen.get(s.name) === key || (s.status === 'pending' && !seen.has(s.name))) {
          seen.set(s.name, seen.get(s.name) ?? key);
          continue;
        }
        seen.set(s.name, key);
        stream.write(`[${elapsed}]${stepLine(s)}\n`);
      }
    },
    clear(): void {
      if (tty && drawn) stream.write(`\x1b[${drawn}A\x1b[J`);
      drawn = 0;
    },
  };
}
