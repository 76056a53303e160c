/**
 * What every store holds about one seeded account, read through each store's own paths and
 * never through Lethe's: SQL over every table the application schema has (not the data map),
 * the sandboxes' own endpoints (Auth0 users by id and every user under the email in any case;
 * the Recurly account as the sandbox keeps it), and the blob listings. What Lethe's lookups
 * cannot see is then not "empty" by construction (issue 30, item 4).
 */
import type { Knex } from 'knex';
import type { SeededAccount, SeedDeps } from '../../dev/seed/fixtures';
import type { Config } from '../../config';
import { testConfig } from './stack';

/** How a row names the person by email: `any-case` (no case twin exists) or `exact` (one does). */
export type EmailMatchRule = 'any-case' | 'exact';

/** The same address with the local part's first letter in the other case: a case twin's. */
export const twinOf = (email: string): string => {
  const c = email[0];
  return `${c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()}${email.slice(1)}`;
};

interface Table {
  name: string;
  textColumns: string[];
}

/** Every base table of the application schema and its text columns, from the catalogue. */
async function applicationTables(db: Knex): Promise<Table[]> {
  const rows: { table_name: string; column_name: string | null; data_type: string | null }[] = (
    await db.raw(
      `select t.table_name, c.column_name, c.data_type
         from information_schema.tables t
         left join information_schema.columns c on c.table_schema = t.table_schema and c.table_name = t.table_name
        where t.table_schema = 'public' and t.table_type = 'BASE TABLE' and t.table_name not like 'knex\\_%'
        order by t.table_name, c.ordinal_position`,
    )
  ).rows;
  const tables = new Map<string, Table>();
  for (const r of rows) {
    const t = tables.get(r.table_name) ?? { name: r.table_name, textColumns: [] };
    if (r.column_name && (r.data_type === 'text' || r.data_type === 'character varying')) t.textColumns.push(r.column_name);
    tables.set(r.table_name, t);
  }
  return [...tables.values()];
}

/**
 * The rows of every application table that name the account: its id anywhere in the row (an id
 * column, a blob name), or its email in a text column (`rule`). `excludeIds`, `excludeEmails`
 * (as spelt): rows naming one of these are someone else's (a twin, whose rows hold a case
 * variant of the email).
 */
export async function rowsNaming(db: Knex, a: { id: string; email: string }, opts: { rule?: EmailMatchRule; excludeIds?: string[]; excludeEmails?: string[] } = {}): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of await applicationTables(db)) {
    const q = db(`${t.name} as r`)
      .select(db.raw('row_to_json(r)::text as row'))
      .where((w) => {
        w.whereRaw('position(? in row_to_json(r)::text) > 0', [a.id]);
        for (const c of t.textColumns) {
          if (opts.rule === 'exact') w.orWhere(`r.${c}`, a.email);
          else w.orWhereRaw('lower(??) = lower(?)', [`r.${c}`, a.email]);
        }
      });
    for (const other of [...(opts.excludeIds ?? []), ...(opts.excludeEmails ?? [])]) q.andWhereRaw('position(? in row_to_json(r)::text) = 0', [other]);
    out[t.name] = ((await q) as { row: string }[]).map((r) => r.row).sort();
  }
  return out;
}

/** The Auth0 sandbox's own view: every user whose email is this one in any letter case. */
export async function auth0UsersUnder(auth0Url: string, email: string): Promise<{ user_id: string; email?: string }[]> {
  const res = await fetch(`${auth0Url}/__sandbox/users?email=${encodeURIComponent(email)}`);
  if (!res.ok) throw new Error(`Auth0 sandbox: GET /__sandbox/users answered ${res.status}`);
  return (await res.json()) as { user_id: string; email?: string }[];
}

/** The Auth0 sandbox's own view of one user id: whether it exists on its own. */
export async function auth0UserExists(auth0Url: string, userId: string): Promise<boolean> {
  const res = await fetch(`${auth0Url}/__sandbox/users/${encodeURIComponent(userId)}/artifacts`);
  if (!res.ok) throw new Error(`Auth0 sandbox: artifacts of ${userId} answered ${res.status}`);
  return ((await res.json()) as { userExists: boolean }).userExists;
}

/** The Recurly sandbox's own view of an account, by code: null when it never existed. */
export async function recurlyAccountState(recurlyUrl: string, code: string): Promise<{ redactedAt: string | null; redactionPending: boolean; subscriptions: { id: string; state: string }[] } | null> {
  const res = await fetch(`${recurlyUrl}/__sandbox/accounts/${encodeURIComponent(code)}`);
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`Recurly sandbox: account ${code} answered ${res.status}`);
  return (await res.json()) as { redactedAt: string | null; redactionPending: boolean; subscriptions: { id: string; state: string }[] };
}

/** The sandboxes' addresses for a seed: the stack's config travels in a world's deps. */
export function sandboxUrls(seed: SeedDeps): { auth0: string; recurly: string } {
  const config = (seed as SeedDeps & { config?: Config }).config ?? testConfig();
  const auth0 = config.auth0.baseUrl;
  const recurly = seed.recurlySandboxUrl ?? config.recurly.baseUrl;
  if (!auth0 || !recurly) throw new Error('the stores are read through the sandboxes: no sandbox URL in this seed or config');
  return { auth0, recurly };
}

export async function storesOf(seed: SeedDeps, a: SeededAccount, opts: { rule?: EmailMatchRule; excludeIds?: string[] } = {}) {
  const urls = sandboxUrls(seed);
  const named = await rowsNaming(seed.db, a, opts);
  const rows = Object.fromEntries(Object.entries(named).map(([t, r]) => [t, r.length]));
  let blobs = 0;
  for (const c of seed.blobs.containers) {
    for await (const _ of seed.blobs.container(c).listBlobsFlat({ prefix: `accounts/${a.id}/`, includeSnapshots: true })) blobs++;
  }
  const auth0ById = a.auth0UserId && (await auth0UserExists(urls.auth0, a.auth0UserId)) ? { userId: a.auth0UserId } : null;
  const auth0ByEmail = (await auth0UsersUnder(urls.auth0, a.email)).filter((u) => opts.rule !== 'exact' || u.email === a.email || u.email === a.email.toLowerCase()).map((u) => u.user_id);
  const recurlyState = a.recurlyAccountCode ? await recurlyAccountState(urls.recurly, a.recurlyAccountCode) : null;
  const recurly = recurlyState ? { redacted: recurlyState.redactedAt !== null && !recurlyState.redactionPending } : null;
  return { rows, blobs, auth0ById, auth0ByEmail, recurly };
}

export function expectEmpty(s: Awaited<ReturnType<typeof storesOf>>): void {
  expect(s.blobs).toBe(0);
  expect(Object.fromEntries(Object.entries(s.rows).filter(([, n]) => n > 0))).toEqual({});
  expect(s.auth0ById).toBeNull();
  expect(s.auth0ByEmail).toEqual([]);
  expect(s.recurly === null || s.recurly.redacted === true).toBe(true);
}

/**
 * Everything a bystander has in every store, through the stores' own paths, to compare before
 * and after someone else's deletion: equal means not one row, blob, snapshot, login or billing
 * record of theirs changed. `others`: the accounts being deleted. Their rows and logins hold
 * the bystander's email in another letter case when they are its twins, and go with them.
 */
export async function bystanderOf(seed: SeedDeps, a: SeededAccount, others: SeededAccount[]): Promise<Record<string, unknown>> {
  const urls = sandboxUrls(seed);
  const blobs: string[] = [];
  for (const c of seed.blobs.containers) {
    for await (const b of seed.blobs.container(c).listBlobsFlat({ prefix: `accounts/${a.id}/`, includeSnapshots: true })) {
      blobs.push(`${c}/${b.name}@${b.snapshot ?? ''}:${b.properties.etag}:${b.properties.contentLength}`);
    }
  }
  const theirLogins = new Set(others.flatMap((o) => (o.auth0UserId ? [o.auth0UserId] : [])));
  return {
    rows: await rowsNaming(seed.db, a, { rule: 'any-case', excludeIds: others.map((o) => o.id), excludeEmails: others.map((o) => o.email) }),
    blobs: blobs.sort(),
    auth0: (await auth0UsersUnder(urls.auth0, a.email))
      .filter((u) => !theirLogins.has(u.user_id))
      .map((u) => JSON.stringify(u))
      .sort(),
    auth0ById: a.auth0UserId ? await auth0UserExists(urls.auth0, a.auth0UserId) : null,
    recurly: a.recurlyAccountCode ? await recurlyAccountState(urls.recurly, a.recurlyAccountCode) : null,
  };
}
