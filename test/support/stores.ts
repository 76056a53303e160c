/** What every store holds about one seeded account: what "empty" is asserted against. */
import { DATA_MAP } from '../../activities/deletion/data-map';
import type { SeededAccount, SeedDeps } from '../../dev/seed/fixtures';

export async function storesOf(seed: SeedDeps, a: SeededAccount) {
  const rows: Record<string, number> = {};
  for (const link of DATA_MAP) {
    const q = seed.db(link.table).where(link.accountColumn, a.id);
    if (link.orphanEmailColumn) {
      q.orWhere((w) => {
        w.whereNull(link.accountColumn).andWhereRaw('lower(email) = lower(?)', [a.email]);
      });
    }
    rows[link.table] = Number((await q.count<{ n: number }[]>({ n: '*' }))[0].n);
  }
  let blobs = 0;
  for (const c of seed.blobs.containers) {
    for await (const _ of seed.blobs.container(c).listBlobsFlat({ prefix: `accounts/${a.id}/`, includeSnapshots: true })) blobs++;
  }
  const auth0ById = a.auth0UserId ? await seed.auth0.getUser(a.auth0UserId) : null;
  const auth0ByEmail = await seed.auth0.findUsersByEmail(a.email);
  const recurly = a.recurlyAccountCode ? await seed.recurly.getAccount(a.recurlyAccountCode) : null;
  return { rows, blobs, auth0ById, auth0ByEmail, recurly };
}

export function expectEmpty(s: Awaited<ReturnType<typeof storesOf>>): void {
  expect(s.blobs).toBe(0);
  expect(s.rows).toEqual(Object.fromEntries(DATA_MAP.map((l) => [l.table, 0])));
  expect(s.auth0ById).toBeNull();
  expect(s.auth0ByEmail).toEqual([]);
  expect(s.recurly === null || s.recurly.redacted === true).toBe(true);
}
