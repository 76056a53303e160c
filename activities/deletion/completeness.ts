/**
 * The completeness guard (issue 14, item 6; the idea of Meta's DELF): the data map is the only
 * record of where an account's rows live, so a table the application adds tomorrow with an
 * `account_id` or an email column would be silently left out of every deletion. This module
 * reads the LIVE schema from `pg_catalog` and finds every column that can point at an account
 * or hold a person's data, then checks each is covered by the data map or waived with a reason.
 *
 * What it finds, in tables, partitioned tables, materialized views and foreign tables of one
 * schema (`public` unless told; partitions are reached through their parent):
 *  - account references: a foreign key to `accounts` (any column, any name), and columns named
 *    `account_id` or `*_account_id` (with or without a foreign key);
 *  - rows owned by an account one step removed: a foreign key to a table that is `accounts`,
 *    in the data map, or itself holds an account reference (followed to a fixed point);
 *  - personal data by name (email, phone, names, address, city, region, postal code, country,
 *    ip, user agent, latitude/longitude/location), by type (inet, cidr, macaddr, geometric and
 *    PostGIS types, also as arrays or domains), and by the explicit list `PERSONAL_COLUMNS`.
 *
 * What "covered" means: a table in the data map is deleted row by row through its account
 * column (or its email fallback), so every personal column in it goes with the row, and so does
 * the whole `accounts` row. The exception is a SECOND account reference in a mapped table (say
 * `shares.recipient_account_id`): the map deletes those rows only through their own account
 * column, so deleting the other account would leave them; it is uncovered unless waived. A table
 * that is not in the map is uncovered for every column found in it, unless a waiver explains it.
 *
 * Messages name schemas, tables, columns and types only: never a row's content.
 */
import type { Knex } from 'knex';
import { COMPLETENESS_WAIVERS, DATA_MAP, PERSONAL_COLUMNS, type TableLink, type Waiver } from './data-map';

export type { Waiver } from './data-map';

export const DATA_MAP_FILE = 'activities/deletion/data-map.ts';

export interface CompletenessOptions {
  /** The schema to read (default `public`: the application's; Lethe's own tables are in `lethe`). */
  schema?: string;
  /** Default: DATA_MAP. */
  map?: readonly TableLink[];
  /** Default: COMPLETENESS_WAIVERS. Every waiver needs a non-empty reason. */
  waivers?: readonly Waiver[];
  /** Default: PERSONAL_COLUMNS. Column names (`column` or `table.column`) that are personal data. */
  personalColumns?: readonly string[];
  /** The account table (default `accounts`), in the same schema. */
  accountsTable?: string;
}

interface ColumnBase {
  table: string;
  column: string;
  /** The column's type as PostgreSQL prints it, e.g. `uuid`, `inet`, `text[]`. */
  type: string;
}

export interface UncoveredColumn extends ColumnBase {
  /** What was found and why it is not covered. */
  why: string;
}

export interface CoveredColumn extends ColumnBase {
  /** What was found. */
  why: string;
  /** How the deletion reaches it. */
  coveredBy: string;
}

export interface WaivedColumn extends ColumnBase {
  why: string;
  reason: string;
}

/** A data map entry that does not match the live schema (its deletion would fail or miss). */
export interface StaleMapEntry {
  table: string;
  column?: string;
  problem: string;
}

export interface CompletenessReport {
  schema: string;
  /** Relations read (tables, partitioned tables, materialized views, foreign tables; no partitions). */
  tablesChecked: number;
  uncovered: UncoveredColumn[];
  covered: CoveredColumn[];
  waived: WaivedColumn[];
  staleMap: StaleMapEntry[];
  /** Waivers that matched nothing needing one (informational: an environment may lack the table). */
  unusedWaivers: Waiver[];
}

/** The live schema has columns the deletion does not cover (or the data map names what is not there). */
export class CompletenessError extends Error {
  readonly schema: string;
  readonly uncovered: UncoveredColumn[];
  readonly staleMap: StaleMapEntry[];

  constructor(report: CompletenessReport) {
    super(describeProblems(report));
    this.name = 'CompletenessError';
    this.schema = report.schema;
    this.uncovered = report.uncovered;
    this.staleMap = report.staleMap;
  }
}

/** A waiver without a table, a column or a written reason. */
export class WaiverError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WaiverError';
  }
}

/** Refuses waivers that do not say what they waive and why. */
export function validateWaivers(waivers: readonly Waiver[]): void {
  for (const w of waivers) {
    const where = `${String(w?.table ?? '?')}.${String(w?.column ?? '?')}`;
    if (typeof w?.table !== 'string' || !w.table.trim()) throw new WaiverError(`completeness waiver ${where}: table is required`);
    if (typeof w.column !== 'string' || !w.column.trim()) throw new WaiverError(`completeness waiver ${where}: column is required`);
    if (typeof w.reason !== 'string' || !w.reason.trim()) {
      throw new WaiverError(`completeness waiver ${where}: a reason is required (say why the deletion may leave this column, in ${DATA_MAP_FILE})`);
    }
  }
}

/** Personal data by name; tested against the lower-cased column name. */
const PERSONAL_NAMES: { label: string; re: RegExp }[] = [
  { label: 'email', re: /e_?mail/ },
  { label: 'phone', re: /phone|(^|_)(mobile|msisdn)(_|$)/ },
  { label: 'name', re: /^name$|(^|_)(full|first|last|middle|given|family|sur|display|legal|maiden|nick)_?name$/ },
  { label: 'address', re: /(^|_)(?<!(ip|mac|e_?mail)_)addr(ess)?(\d|_|$)|(^|_)street(_|$)/ },
  { label: 'city', re: /(^|_)(city|town)(_|$)/ },
  { label: 'region', re: /(^|_)(region|province)(_|$)/ },
  { label: 'postal code', re: /(^|_)(postal_?code|post_?code|zip(_?code)?)(_|$)/ },
  { label: 'country', re: /(^|_)country(_|$)/ },
  { label: 'ip address', re: /(^|_)ip(_?addr(ess)?)?(_|$)/ },
  { label: 'user agent', re: /user_?agent/ },
  { label: 'location', re: /(^|_)(lat|latitude|lng|longitude|location|geo_?location|geo|coordinates)(_|$)/ },
];

/** Personal data by type (the element type of an array and the base type of a domain count too). */
const PERSONAL_TYPES = new Set(['inet', 'cidr', 'macaddr', 'macaddr8', 'point', 'geometry', 'geography']);

const ACCOUNT_REFERENCE_NAME = /^account_id$|_account_id$/;

interface LiveColumn {
  table_name: string;
  column_name: string;
  data_type: string;
  type_name: string;
  base_type_name: string | null;
}

interface LiveForeignKey {
  table_name: string;
  column_name: string;
  ref_table: string;
}

interface Found extends ColumnBase {
  /** A direct account reference (foreign key to accounts, or named like one). */
  accountReference: boolean;
  detected: string[];
}

/**
 * Reads the live schema and classifies every column that can point at an account or hold a
 * person's data as covered, waived or uncovered. Throws WaiverError before reading anything if a
 * waiver has no reason. Never throws for an incomplete schema: see assertComplete.
 */
export async function checkCompleteness(db: Knex, opts: CompletenessOptions = {}): Promise<CompletenessReport> {
  const schema = opts.schema ?? 'public';
  const map = opts.map ?? DATA_MAP;
  const waivers = opts.waivers ?? COMPLETENESS_WAIVERS;
  const accountsTable = opts.accountsTable ?? 'accounts';
  const personal = new Set((opts.personalColumns ?? PERSONAL_COLUMNS).map((c) => c.toLowerCase()));
  validateWaivers(waivers);

  const columns = rowsOf<LiveColumn>(
    await db.raw(
      `select c.relname as table_name, a.attname as column_name,
              pg_catalog.format_type(a.atttypid, a.atttypmod) as data_type,
              t.typname as type_name, coalesce(e.typname, b.typname) as base_type_name
         from pg_catalog.pg_attribute a
         join pg_catalog.pg_class c on c.oid = a.attrelid
         join pg_catalog.pg_namespace n on n.oid = c.relnamespace
         join pg_catalog.pg_type t on t.oid = a.atttypid
         left join pg_catalog.pg_type e on e.oid = t.typelem and t.typcategory = 'A'
         left join pg_catalog.pg_type b on b.oid = t.typbasetype and t.typtype = 'd'
        where n.nspname = ? and c.relkind in ('r', 'p', 'm', 'f') and not c.relispartition
          and a.attnum > 0 and not a.attisdropped
        order by c.relname, a.attnum`,
      [schema],
    ),
  );
  const foreignKeys = rowsOf<LiveForeignKey>(
    await db.raw(
      `select c.relname as table_name, a.attname as column_name, rc.relname as ref_table
         from pg_catalog.pg_constraint k
         join pg_catalog.pg_class c on c.oid = k.conrelid
         join pg_catalog.pg_namespace n on n.oid = c.relnamespace
         join pg_catalog.pg_class rc on rc.oid = k.confrelid
         join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace
         cross join lateral unnest(k.conkey) as u(attnum)
         join pg_catalog.pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum
        where k.contype = 'f' and n.nspname = ? and rn.nspname = ?
        order by c.relname, a.attname`,
      [schema, schema],
    ),
  );

  const tables = new Map<string, Map<string, LiveColumn>>();
  for (const c of columns) {
    if (!tables.has(c.table_name)) tables.set(c.table_name, new Map());
    tables.get(c.table_name)!.set(c.column_name, c);
  }

  const found = new Map<string, Found>();
  const note = (c: LiveColumn, reason: string, accountReference = false): void => {
    const k = key(c.table_name, c.column_name);
    const f = found.get(k) ?? { table: c.table_name, column: c.column_name, type: c.data_type, accountReference: false, detected: [] };
    if (!f.detected.includes(reason)) f.detected.push(reason);
    f.accountReference ||= accountReference;
    found.set(k, f);
  };
  const live = (table: string, column: string) => tables.get(table)?.get(column);

  for (const fk of foreignKeys) {
    const c = live(fk.table_name, fk.column_name);
    if (c && fk.ref_table === accountsTable) note(c, `foreign key to ${accountsTable}`, true);
  }
  for (const c of columns) {
    const name = c.column_name.toLowerCase();
    if (ACCOUNT_REFERENCE_NAME.test(name)) note(c, 'named like an account reference', true);
    for (const p of PERSONAL_NAMES) if (p.re.test(name)) note(c, `named like personal data (${p.label})`);
    const typed = [c.type_name, c.base_type_name].find((t) => t && PERSONAL_TYPES.has(t));
    if (typed) note(c, `typed like personal data (${typed})`);
    if (personal.has(name) || personal.has(`${c.table_name.toLowerCase()}.${name}`)) note(c, `listed in PERSONAL_COLUMNS (${DATA_MAP_FILE})`);
  }

  // Rows owned by an account one or more foreign keys away: a table pointing at an owned table.
  const owned = new Set<string>([accountsTable, ...map.map((l) => l.table)]);
  for (const f of found.values()) if (f.accountReference) owned.add(f.table);
  for (let grew = true; grew;) {
    grew = false;
    for (const fk of foreignKeys) {
      const c = live(fk.table_name, fk.column_name);
      if (!c || fk.ref_table === accountsTable || !owned.has(fk.ref_table)) continue;
      note(c, `foreign key to ${fk.ref_table} (rows owned by an account)`);
      if (!owned.has(fk.table_name)) {
        owned.add(fk.table_name);
        grew = true;
      }
    }
  }

  const links = new Map(map.map((l) => [l.table, l]));
  if (!links.has(accountsTable)) links.set(accountsTable, { table: accountsTable, key: 'id', accountColumn: 'id' });
  const unused = new Map(waivers.map((w) => [key(w.table, w.column), w]));
  const report: CompletenessReport = { schema, tablesChecked: tables.size, uncovered: [], covered: [], waived: [], staleMap: [], unusedWaivers: [] };

  for (const f of found.values()) {
    const { table, column, type } = f;
    const why = f.detected.join(', ');
    const link = links.get(table);
    let gap: string | undefined;
    if (!link) {
      gap = `${why}, not in the data map (${DATA_MAP_FILE}) and not waived`;
    } else if (column === link.accountColumn) {
      report.covered.push({ table, column, type, why, coveredBy: table === accountsTable ? 'deleted as the account row' : `the data map's account column of ${table}` });
    } else if (column === link.orphanEmailColumn) {
      report.covered.push({ table, column, type, why, coveredBy: `the data map's email fallback of ${table} (rows with no ${link.accountColumn})` });
    } else if (column === link.recipientEmailColumn) {
      report.covered.push({ table, column, type, why, coveredBy: `the data map's recipient email of ${table} (other accounts' rows naming the person are deleted with the person)` });
    } else if (f.accountReference) {
      gap = `${why}, but the data map deletes ${table} rows only by ${link.accountColumn}: a row pointing at another account through ${column} stays when that account is deleted; not waived`;
    } else {
      report.covered.push({
        table,
        column,
        type,
        why,
        coveredBy: table === accountsTable ? 'deleted as the account row' : `deleted with its row (the data map deletes ${table} by ${link.accountColumn})`,
      });
    }
    if (gap === undefined) continue;
    const waiver = unused.get(key(table, column));
    if (waiver) {
      report.waived.push({ table, column, type, why, reason: waiver.reason });
      unused.delete(key(table, column));
    } else {
      report.uncovered.push({ table, column, type, why: gap });
    }
  }
  report.unusedWaivers = [...unused.values()];

  for (const l of map) {
    const t = tables.get(l.table);
    if (!t) {
      report.staleMap.push({ table: l.table, problem: `in the data map (${DATA_MAP_FILE}) but not a table of schema ${schema}` });
      continue;
    }
    const named: [string, string | undefined][] = [
      ['key', l.key],
      ['accountColumn', l.accountColumn],
      ['orphanEmailColumn', l.orphanEmailColumn],
      ['recipientEmailColumn', l.recipientEmailColumn],
    ];
    for (const [field, column] of named) {
      if (column !== undefined && !t.has(column)) report.staleMap.push({ table: l.table, column, problem: `the data map's ${field} is not a column of ${schema}.${l.table}` });
    }
  }
  return report;
}

/** Throws a CompletenessError naming every uncovered column and stale map entry, and why. */
export function assertComplete(report: CompletenessReport): void {
  if (report.uncovered.length || report.staleMap.length) throw new CompletenessError(report);
}

/** checkCompleteness then assertComplete: what the worker runs before it takes deletions. */
export async function assertDataMapComplete(db: Knex, opts: CompletenessOptions = {}): Promise<CompletenessReport> {
  const report = await checkCompleteness(db, opts);
  assertComplete(report);
  return report;
}

function describeProblems(report: CompletenessReport): string {
  const s = report.schema;
  const lines = [
    `completeness guard: schema ${s} has ${report.uncovered.length} column(s) the deletion does not cover` +
      (report.staleMap.length ? ` and the data map has ${report.staleMap.length} entry(ies) the schema does not match` : ''),
    ...report.uncovered.map((u) => `  ${s}.${u.table}.${u.column}: ${u.why}`),
    ...report.staleMap.map((m) => `  ${s}.${m.table}${m.column ? `.${m.column}` : ''}: ${m.problem}`),
    `Add the table to DATA_MAP, or a waiver with its reason to COMPLETENESS_WAIVERS, in ${DATA_MAP_FILE}.`,
  ];
  return lines.join('\n');
}

function key(table: string, column: string): string {
  return `${table}\u0000${column}`;
}

function rowsOf<T>(result: { rows: T[] }): T[] {
  return result.rows;
}
