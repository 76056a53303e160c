/**
 * The archive's human-readable parts: a CSV per table (RFC 4180: comma-separated, `"`-quoted
 * where a value holds a comma, a quote or a line break, CRLF between records) and index.html, a
 * page a person opens in any browser, offline (no script, no remote resource, one inline style).
 */
import { csvCell } from '../../contract/csv';

/**
 * A value as one CSV field: times and objects as their JSON text, null as empty; a leading
 * formula character neutralised as the console's export does (contract/csv.ts), since a person
 * opens these tables in a spreadsheet and a value someone else typed (a share's note, a vendor's
 * field) must not run there.
 */
function field(v: unknown): string {
  return csvCell(v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
}

export function toCsv(rows: Record<string, unknown>[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return [columns.map(field).join(','), ...rows.map((r) => columns.map((c) => field(r[c])).join(','))].join('\r\n') + '\r\n';
}

const esc = (v: unknown): string =>
  String(v ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

const show = (v: unknown): string => esc(v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : v);

function table(headers: string[], rows: unknown[][]): string {
  if (rows.length === 0) return '<p class="none">None.</p>';
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

interface IndexData {
  requestId: string;
  generatedAt: string;
  parts: number;
  stores: {
    database: { tables: Record<string, Record<string, unknown>[]>; notes?: string[] };
    auth0: { users: Record<string, unknown>[]; notes?: string[] };
    recurly: { account: Record<string, unknown> | null; subscriptions: Record<string, unknown>[]; invoices: Record<string, unknown>[]; notes?: string[] };
    media: { files: { path: string; part: number; bytes: number; kind?: string; capturedAt?: string | null }[]; notes?: string[] };
  };
}

export function renderIndex(d: IndexData): string {
  const { database, auth0, recurly, media } = d.stores;
  const account = database.tables.accounts?.[0] ?? {};
  const notes = [...(database.notes ?? []), ...(auth0.notes ?? []), ...(recurly.notes ?? []), ...(media.notes ?? [])];
  const sections = [
    `<h1>Your data</h1>`,
    `<p>This is a copy of the data we hold about you, made on ${esc(d.generatedAt)} (reference ${esc(d.requestId)}). Everything is also in <a href="data.json">data.json</a>, in a form other programs can read, and each table is in a CSV file in <a href="tables/">tables/</a>.${d.parts > 1 ? ` Your images and videos are spread over ${d.parts} parts; this page lists each with its part.` : ''}</p>`,
    notes.length ? `<h2>Please note</h2><ul>${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '',
    `<h2>Your account</h2>`,
    table(
      ['Field', 'Value'],
      Object.entries(account).map(([k, v]) => [esc(k), show(v)]),
    ),
    `<h2>Our records, by table</h2>`,
    table(
      ['Table', 'Rows', 'File'],
      Object.entries(database.tables).map(([t, rows]) => [esc(t), String(rows.length), `<a href="tables/${esc(t)}.csv">tables/${esc(t)}.csv</a>`]),
    ),
    `<h2>Your login (Auth0)</h2>`,
    table(
      ['User', 'Email', 'Name', 'Last login', 'Logins', 'Signed in with'],
      auth0.users.map((u) => [
        show(u.user_id),
        show(u.email),
        show(u.name),
        show(u.last_login),
        show(u.logins_count),
        esc(((u.identities as { provider?: string; connection?: string }[] | undefined) ?? []).map((i) => `${i.provider ?? ''}${i.connection ? ` (${i.connection})` : ''}`).join(', ')),
      ]),
    ),
    `<h2>Your billing record (Recurly)</h2>`,
    recurly.account
      ? table(
          ['Field', 'Value'],
          Object.entries(recurly.account).map(([k, v]) => [esc(k), show(v)]),
        )
      : '<p class="none">You have no billing record.</p>',
    `<h3>Subscriptions</h3>`,
    table(
      ['Plan', 'State', 'Started', 'Current period ends'],
      recurly.subscriptions.map((s) => [show((s.plan as { code?: string } | undefined)?.code), show(s.state), show(s.activatedAt ?? s.createdAt), show(s.currentPeriodEndsAt)]),
    ),
    `<h3>Invoices</h3>`,
    table(
      ['Number', 'State', 'Total', 'Currency', 'Date'],
      recurly.invoices.map((i) => [show(i.number), show(i.state), show(i.total), show(i.currency), show(i.createdAt)]),
    ),
    `<h2>Your images and videos</h2>`,
    `<p>${media.files.length} files, ${media.files.reduce((n, f) => n + f.bytes, 0)} bytes.</p>`,
    table(
      ['File', 'Kind', 'Captured', 'Bytes', ...(d.parts > 1 ? ['Part'] : [])],
      media.files.map((f) => [
        f.part === 1 ? `<a href="${esc(encodeURI(f.path))}">${esc(f.path)}</a>` : esc(f.path),
        show(f.kind),
        show(f.capturedAt),
        String(f.bytes),
        ...(d.parts > 1 ? [String(f.part)] : []),
      ]),
    ),
  ];
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Your data</title>',
    '<style>body{font-family:Arial,Helvetica,sans-serif;max-width:960px;margin:24px auto;padding:0 16px;color:#111}table{border-collapse:collapse;margin:8px 0 24px;width:100%}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;word-break:break-word}th{background:#f3f3f3}.none{color:#555}</style>',
    '</head><body>',
    ...sections,
    '</body></html>',
  ].join('\n');
}
