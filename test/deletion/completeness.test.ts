/**
 * The completeness guard against the real PostgreSQL of the test stack. The shipped `public`
 * schema is only read; every table a test adds goes into a private schema of its own
 * (`guard_<random>`, a copy of the application schema made by its own migrations), because the
 * database is shared with test files running in parallel and the guard reads a whole schema.
 */
import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { testConfig } from '../support/stack';
import { createDb } from '../../stores/db';
import * as app001 from '../../migrations/app/001_application_schema';
import * as app002 from '../../migrations/app/002_inactivity_index';
import { COMPLETENESS_WAIVERS, DATA_MAP, type TableLink, type Waiver } from '../../activities/deletion/data-map';
import { assertComplete, assertDataMapComplete, checkCompleteness, CompletenessError, type CompletenessReport, WaiverError } from '../../activities/deletion/completeness';

describe('completeness guard', () => {
  let db: Knex;
  const schemas: string[] = [];

  beforeAll(() => {
    db = createDb(testConfig().database.url, { poolMax: 2 });
  });
  afterAll(async () => {
    for (const s of schemas) await db.raw('drop schema if exists ?? cascade', [s]);
    await db.destroy();
  });

  /** A private schema holding the application schema (its own migrations) plus `extra` DDL. */
  async function scratch(...extra: string[]): Promise<string> {
    const schema = `guard_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    await db.raw('create schema ??', [schema]);
    await db.transaction(async (trx) => {
      await trx.raw(`set local search_path to ${schema}`);
      await app001.up(trx);
      await app002.up(trx);
      for (const sql of extra) await trx.raw(sql);
    });
    return schema;
  }

  const at = <T extends { table: string; column: string }>(r: T[], table: string, column: string): T | undefined => r.find((f) => f.table === table && f.column === column);
  const names = (r: { table: string; column: string }[]) => r.map((f) => `${f.table}.${f.column}`).sort();
  const failure = (report: CompletenessReport): Error => {
    try {
      assertComplete(report);
    } catch (err) {
      return err as Error;
    }
    throw new Error('assertComplete did not throw');
  };

  test('when the shipped public schema is read with the shipped data map, then every column found is covered or waived', async () => {
    const report = await assertDataMapComplete(db);
    expect(report.schema).toBe('public');
    expect(report.uncovered).toEqual([]);
    expect(report.staleMap).toEqual([]);
    // What it found in the application's tables, and how the deletion reaches each.
    expect(at(report.covered, 'accounts', 'email')?.coveredBy).toBe('deleted as the account row');
    expect(at(report.covered, 'accounts', 'auth0_user_id')?.why).toContain('PERSONAL_COLUMNS');
    expect(at(report.covered, 'cameras', 'account_id')?.why).toBe('foreign key to accounts, named like an account reference');
    expect(at(report.covered, 'cameras', 'name')?.coveredBy).toMatch(/deleted with its row/);
    expect(at(report.covered, 'login_events', 'ip_address')?.why).toMatch(/ip address.*typed like personal data \(inet\)/);
    expect(at(report.covered, 'shares', 'recipient_email')).toBeDefined();
    expect(at(report.covered, 'media', 'camera_id')?.why).toBe('foreign key to cameras (rows owned by an account)');
    expect(at(report.covered, 'support_requests', 'email')?.coveredBy).toMatch(/email fallback/);
    for (const link of DATA_MAP.filter((l) => l.table !== 'accounts')) expect(at(report.covered, link.table, link.accountColumn)).toBeDefined();
    expect(names(report.waived)).toEqual(['knex_migrations_app.name']);
    // Lethe's own tables (schema lethe) are not the application's.
    const lethe = await db('pg_tables').where({ schemaname: 'lethe' }).pluck('tablename');
    expect(lethe).toContain('deletion_subjects');
    for (const f of [...report.covered, ...report.waived]) expect(lethe).not.toContain(f.table);
  });

  test('when a copy of the application schema is read in a schema of its own, then it passes too', async () => {
    const schema = await scratch();
    const report = await checkCompleteness(db, { schema });
    expect(report.uncovered).toEqual([]);
    expect(report.staleMap).toEqual([]);
    expect(report.tablesChecked).toBe(DATA_MAP.length);
    expect(report.covered.length).toBeGreaterThan(20);
    // No knex bookkeeping table here: its waiver matched nothing.
    expect(report.unusedWaivers).toEqual(COMPLETENESS_WAIVERS);
  });

  test('when a table with an account_id foreign key to accounts is not in the data map, then the guard fails naming it', async () => {
    const schema = await scratch(`create table invoices (id uuid primary key, account_id uuid not null references accounts(id), total_cents bigint not null)`);
    const report = await checkCompleteness(db, { schema });
    expect(names(report.uncovered)).toEqual(['invoices.account_id']);
    expect(report.uncovered[0].why).toBe('foreign key to accounts, named like an account reference, not in the data map (activities/deletion/data-map.ts) and not waived');
    const err = failure(report);
    expect(err).toBeInstanceOf(CompletenessError);
    expect(err.name).toBe('CompletenessError');
    expect(err.message).toContain(`${schema}.invoices.account_id: foreign key to accounts`);
    expect((err as CompletenessError).uncovered).toEqual(report.uncovered);
    await expect(assertDataMapComplete(db, { schema })).rejects.toThrow(CompletenessError);
  });

  test('when a foreign key to accounts has any name, or a column is named *_account_id without one, then both are found', async () => {
    const schema = await scratch(
      `create table transfers (id uuid primary key, owner uuid references accounts(id), amount bigint)`,
      `create table legacy_orders (id uuid primary key, buyer_account_id uuid, placed_at timestamptz)`,
    );
    const report = await checkCompleteness(db, { schema });
    expect(names(report.uncovered)).toEqual(['legacy_orders.buyer_account_id', 'transfers.owner']);
    expect(at(report.uncovered, 'transfers', 'owner')?.why).toMatch(/^foreign key to accounts, not in the data map/);
    expect(at(report.uncovered, 'legacy_orders', 'buyer_account_id')?.why).toMatch(/^named like an account reference, not in the data map/);
  });

  test('when the unmapped table is waived with a reason, then it passes; a waiver without a reason is refused', async () => {
    const schema = await scratch(`create table invoices (id uuid primary key, account_id uuid not null references accounts(id))`);
    const waiver: Waiver = { table: 'invoices', column: 'account_id', reason: 'kept 10 years by tax law; anonymised by the finance job' };
    const report = await checkCompleteness(db, { schema, waivers: [...COMPLETENESS_WAIVERS, waiver] });
    expect(report.uncovered).toEqual([]);
    expect(report.waived).toEqual([{ table: 'invoices', column: 'account_id', type: 'uuid', why: expect.stringContaining('foreign key to accounts'), reason: waiver.reason }]);
    expect(() => assertComplete(report)).not.toThrow();

    for (const reason of ['', '   ', undefined]) {
      const bad = { table: 'invoices', column: 'account_id', reason } as unknown as Waiver;
      const refused = checkCompleteness(db, { schema, waivers: [bad] });
      await expect(refused).rejects.toThrow(WaiverError);
      await expect(checkCompleteness(db, { schema, waivers: [bad] })).rejects.toThrow('completeness waiver invoices.account_id: a reason is required');
    }
  });

  test('when a table has an email column and no account link, then the guard fails naming it', async () => {
    const schema = await scratch(`create table newsletter_signups (id bigserial primary key, email text not null, created_at timestamptz not null)`);
    const report = await checkCompleteness(db, { schema });
    expect(report.uncovered).toEqual([
      { table: 'newsletter_signups', column: 'email', type: 'text', why: 'named like personal data (email), not in the data map (activities/deletion/data-map.ts) and not waived' },
    ]);
    expect(failure(report).message).toContain(`${schema}.newsletter_signups.email: named like personal data (email)`);
  });

  test('when a new table has a column of type inet (or cidr[]) whatever its name, then it is found', async () => {
    const schema = await scratch(`create table network_audit (id bigserial primary key, source inet, peers cidr[], note text)`);
    const report = await checkCompleteness(db, { schema });
    expect(names(report.uncovered)).toEqual(['network_audit.peers', 'network_audit.source']);
    expect(at(report.uncovered, 'network_audit', 'source')?.why).toMatch(/^typed like personal data \(inet\), not in the data map/);
    expect(at(report.uncovered, 'network_audit', 'peers')?.why).toMatch(/^typed like personal data \(cidr\)/);
    expect(failure(report).message).toContain(`${schema}.network_audit.source`);
  });

  test('when a table is in the data map, then its account column and its personal columns are covered by deleting the row', async () => {
    const schema = await scratch(`create table invoices (id uuid primary key, account_id uuid not null references accounts(id), billing_email text, billing_address_line1 text, ip inet)`);
    const map: TableLink[] = [{ table: 'invoices', key: 'id', accountColumn: 'account_id' }, ...DATA_MAP];
    const report = await checkCompleteness(db, { schema, map });
    expect(report.uncovered).toEqual([]);
    expect(report.staleMap).toEqual([]);
    expect(at(report.covered, 'invoices', 'account_id')?.coveredBy).toBe("the data map's account column of invoices");
    for (const c of ['billing_email', 'billing_address_line1', 'ip']) {
      expect(at(report.covered, 'invoices', c)?.coveredBy).toBe('deleted with its row (the data map deletes invoices by account_id)');
    }
    // The same schema with the shipped map fails on exactly that table.
    expect(names((await checkCompleteness(db, { schema })).uncovered)).toEqual(['invoices.account_id', 'invoices.billing_address_line1', 'invoices.billing_email', 'invoices.ip']);
  });

  test('when a mapped table points at a second account, or an unmapped table points at a mapped one, then those are uncovered', async () => {
    const schema = await scratch(
      `create table invoices (id uuid primary key, account_id uuid not null references accounts(id), payer_account_id uuid references accounts(id))`,
      `create table invoice_lines (id bigserial primary key, invoice_id uuid not null references invoices(id), amount bigint)`,
    );
    const map: TableLink[] = [{ table: 'invoices', key: 'id', accountColumn: 'account_id' }, ...DATA_MAP];
    const report = await checkCompleteness(db, { schema, map });
    expect(names(report.uncovered)).toEqual(['invoice_lines.invoice_id', 'invoices.payer_account_id']);
    expect(at(report.uncovered, 'invoices', 'payer_account_id')?.why).toMatch(/the data map deletes invoices rows only by account_id/);
    expect(at(report.uncovered, 'invoice_lines', 'invoice_id')?.why).toMatch(/^foreign key to invoices \(rows owned by an account\), not in the data map/);
  });

  test('when the data map names a table or column the schema lacks, then the guard fails naming it', async () => {
    const schema = await scratch();
    const map: TableLink[] = [
      { table: 'invoices', key: 'id', accountColumn: 'account_id' },
      { table: 'support_requests', key: 'id', accountColumn: 'account_id', orphanEmailColumn: 'requester_email' },
      ...DATA_MAP.filter((l) => l.table !== 'support_requests'),
    ];
    const report = await checkCompleteness(db, { schema, map });
    expect(report.staleMap.map((m) => `${m.table}.${m.column ?? ''}`).sort()).toEqual(['invoices.', 'support_requests.requester_email']);
    const message = failure(report).message;
    expect(message).toContain(`${schema}.invoices: in the data map`);
    expect(message).toContain(`${schema}.support_requests.requester_email: the data map's orphanEmailColumn`);
  });
});
