/**
 * HTML from template literals where every interpolated value is escaped unless it is itself
 * HTML built here (`Html`): a page cannot print a request id, a vendor's reason or a
 * justification unescaped by forgetting to call the escaper, because there is no other way in.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]);

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return (v as readonly Value[]).map(render).join('');
  return escapeHtml(String(v));
}

/** `html\`<td>${value}</td>\``: values escaped, nested `html` kept, arrays joined, null/false/undefined empty. */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** JSON for a `<script type="application/json">` block: `<` escaped so no value can close the tag. */
export const jsonScript = (id: string, data: unknown): Html => new Html(`<script type="application/json" id="${escapeHtml(id)}">${JSON.stringify(data).replace(/</g, '\\u003c')}</script>`);

/** A duration as people read a deadline: `2 d 4 h`, `5 h 12 min`, `40 min`; negative is overdue. */
export function timeLeft(ms: number): string {
  const past = ms < 0;
  let m = Math.floor(Math.abs(ms) / 60_000);
  const d = Math.floor(m / 1440);
  m -= d * 1440;
  const h = Math.floor(m / 60);
  m -= h * 60;
  const text = d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : `${m} min`;
  return past ? `${text} overdue` : `${text} left`;
}

/** `2026-12-06 19:52 UTC`: one format for every time shown. */
export const when = (t: Date | string | null | undefined): string => (t ? `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '');
