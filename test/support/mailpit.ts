/**
 * What Lethe mailed, read back from the test stack's mail catcher through Mailpit's API v1
 * (https://mailpit.axllent.org/docs/api-v1/): `GET /api/v1/search`, `GET /api/v1/message/{ID}`,
 * `GET /api/v1/message/{ID}/headers`, `DELETE /api/v1/messages`.
 *
 * Addresses: Mailpit's search is case-insensitive and matches parts of addresses (`to:nn@x.test`
 * finds ann@x.test), so it only narrows; every helper here then compares recipients exactly:
 * the local part as written (RFC 5321 §2.4 lets it be case-sensitive: Ann@x.test and ann@x.test
 * are different people to Lethe), the domain in any case (nodemailer writes it lower-case).
 * Test files share one catcher: use addresses of your own, and `after`, never a global clear.
 */

export interface CaughtMail {
  id: string;
  subject: string;
  /** The plain-text part, with SMTP's CRLF line ends as `\n`. */
  text: string;
  html: string;
  /** Header name as Mailpit reports it (`Auto-Submitted`) → its values. */
  headers: Record<string, string[]>;
  /** The recipients' addresses as they arrived. */
  to: string[];
  from: string;
  /** Its Date header (whole seconds). */
  date: Date;
}

interface Address {
  Name: string;
  Address: string;
}

interface Summary {
  ID: string;
  Subject: string;
  To: Address[] | null;
  Created: string;
}

export function mailpitUrl(): string {
  const url = process.env.LETHE_TEST_MAILPIT_URL;
  if (!url) throw new Error('LETHE_TEST_MAILPIT_URL is not set: the test stack (test/support/global-setup.ts) starts Mailpit and sets it');
  return url;
}

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`${mailpitUrl()}${path}`, init);
  if (!res.ok) throw new Error(`Mailpit ${init?.method ?? 'GET'} ${path}: HTTP ${res.status} ${await res.text()}`);
  const type = res.headers.get('content-type') ?? '';
  return (type.includes('json') ? await res.json() : await res.text()) as T;
}

/** Whether two addresses name the same mailbox: the local part exactly, the domain in any case. */
export function sameMailbox(a: string, b: string): boolean {
  const [la, da] = splitAddress(a);
  const [lb, db] = splitAddress(b);
  return la === lb && da.toLowerCase() === db.toLowerCase();
}

function splitAddress(addr: string): [string, string] {
  const at = addr.lastIndexOf('@');
  return at < 0 ? [addr, ''] : [addr.slice(0, at), addr.slice(at + 1)];
}

/** Summaries of the mail to `addr` exactly, oldest first. */
async function summariesTo(addr: string): Promise<Summary[]> {
  const found: Summary[] = [];
  for (let start = 0; ; start += 250) {
    const page = await api<{ messages: Summary[]; total: number }>(`/api/v1/search?${new URLSearchParams({ query: `to:"${addr}"`, start: String(start), limit: '250' })}`);
    found.push(...page.messages);
    if (page.messages.length < 250) break;
  }
  return found.filter((m) => (m.To ?? []).some((t) => sameMailbox(t.Address, addr))).sort((a, b) => Date.parse(a.Created) - Date.parse(b.Created));
}

/** One message, whole: its text, HTML and headers. */
export async function readMail(id: string): Promise<CaughtMail> {
  const m = await api<{ ID: string; Subject: string; Text: string; HTML: string; To: Address[] | null; From: Address; Date: string }>(`/api/v1/message/${encodeURIComponent(id)}`);
  const headers = await api<Record<string, string[]>>(`/api/v1/message/${encodeURIComponent(id)}/headers`);
  return { id: m.ID, subject: m.Subject, text: m.Text.replace(/\r\n/g, '\n'), html: m.HTML, headers, to: (m.To ?? []).map((t) => t.Address), from: m.From.Address, date: new Date(m.Date) };
}

/** Every mail caught for `addr` (exactly; see the file's comment), oldest first. */
export async function mailsTo(addr: string): Promise<CaughtMail[]> {
  return Promise.all((await summariesTo(addr)).map((s) => readMail(s.ID)));
}

/**
 * The first mail to `to` (exactly) received at or after `after` whose subject matches, waiting
 * up to `timeoutMs`; the error lists what did arrive for that address.
 */
export async function waitForMail(opts: { to: string; subject?: RegExp; after?: Date; timeoutMs?: number }): Promise<CaughtMail> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const since = opts.after?.getTime() ?? 0;
  for (;;) {
    const list = await summariesTo(opts.to);
    const hit = list.find((s) => Date.parse(s.Created) >= since && (!opts.subject || opts.subject.test(s.Subject)));
    if (hit) return readMail(hit.ID);
    if (Date.now() > deadline) {
      const seen = list.map((s) => `${s.Created} "${s.Subject}"`).join('; ') || 'none';
      throw new Error(
        `no mail to ${opts.to}${opts.subject ? ` matching ${opts.subject}` : ''}${opts.after ? ` since ${opts.after.toISOString()}` : ''} within ${opts.timeoutMs ?? 30_000} ms; caught for that address: ${seen}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The first link in `text` that starts with `prefix` (e.g. `${publicUrl}/privacy/confirm?token=`). */
export function linkIn(text: string, prefix: string): string {
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`${escaped}[^\\s<>"']*`).exec(text);
  if (!m) throw new Error(`no link starting with ${prefix} in the mail`);
  return m[0];
}

/** Deletes these messages (the catcher is shared: never everything). */
export async function deleteMail(ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await api('/api/v1/messages', { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ IDs: ids }) });
}
