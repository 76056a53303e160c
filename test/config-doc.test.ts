/**
 * docs/configuration.md is generated from config/settings.ts (scripts/config-doc.ts). These
 * tests keep the three in step with the code: a variable a process reads and the list lacks, a
 * listed one nothing reads, or a document edited by hand or not regenerated, each fails here,
 * naming what to do.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SECRET_FILE_VARIABLES } from '../config';
import { SETTINGS } from '../config/settings';
import { CONFIGURATION_DOC, configurationDocument } from '../scripts/config-doc';

const ROOT = path.join(__dirname, '..');

/**
 * Where Lethe's processes read their environment: the config module and its helpers, and the
 * few reads outside it (the CLI, the loggers, the embedded stack and `npm start`). Tests, benches
 * and the vendor sandboxes' own knobs (AUTH0_SANDBOX_*, RECURLY_SANDBOX_*, dev/sandboxes/README.md)
 * are not settings of Lethe.
 */
const READERS = ['config', 'client', 'worker', 'encryption', 'logging', 'stores', 'activities', 'dev/stack', 'scripts/start.ts'];
const LIST = path.join('config', 'settings.ts');

const NAME = /^(?:(?:LETHE|TEMPORAL|AUTH0|RECURLY|AZURE)_[A-Z0-9_]+|(?:DATABASE|SMTP)_URL(?:_FILE)?)$/;
const NOT_OURS = /^(?:AUTH0|RECURLY)_SANDBOX_/;

function tsFiles(rel: string): string[] {
  const abs = path.join(ROOT, rel);
  if (!fs.existsSync(abs)) return [];
  if (fs.statSync(abs).isFile()) return [rel];
  return fs.readdirSync(abs, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(path.join(rel, e.name)) : e.name.endsWith('.ts') ? [path.join(rel, e.name)] : []));
}

/** Names read in a source text: `'NAME'`, `"NAME"`, `` `NAME` ``, `env.NAME`, and templates such as `` `LETHE_${vendor}_CONCURRENCY` `` as patterns. */
function variablesIn(source: string): { names: Set<string>; patterns: string[] } {
  const names = new Set<string>();
  const patterns: string[] = [];
  for (const m of source.matchAll(/(['"`])([A-Z][A-Z0-9_]*)\1|\benv\.([A-Z][A-Z0-9_]*)/g)) {
    const name = m[2] ?? m[3];
    if (NAME.test(name) && !NOT_OURS.test(name)) names.add(name);
  }
  for (const m of source.matchAll(/`((?:LETHE|TEMPORAL|AUTH0|RECURLY|AZURE)_[A-Z0-9_]*(?:\$\{[^}`]+\}[A-Z0-9_]*)+)`/g)) patterns.push(m[1]);
  return { names, patterns };
}

function readsByName(): Map<string, string[]> {
  const reads = new Map<string, string[]>();
  for (const file of READERS.flatMap(tsFiles)) {
    if (file === LIST) continue;
    const { names, patterns } = variablesIn(fs.readFileSync(path.join(ROOT, file), 'utf8'));
    for (const n of names) reads.set(n, [...(reads.get(n) ?? []), file]);
    for (const p of patterns) {
      const re = new RegExp(`^${p.split(/\$\{[^}]+\}/).join('[A-Z0-9]+')}$`);
      const matched = SETTINGS.filter((s) => re.test(s.name)).map((s) => s.name);
      // A pattern that lists nothing is itself a variable missing from the list.
      if (!matched.length) reads.set(p, [...(reads.get(p) ?? []), file]);
      for (const n of matched) reads.set(n, [...(reads.get(n) ?? []), file]);
    }
  }
  return reads;
}

const listed = new Map(SETTINGS.map((s) => [s.name, s]));
/** `NAME_FILE` is covered by its own entry, or by NAME's when NAME is a secret. */
const isListed = (name: string): boolean => listed.has(name) || (name.endsWith('_FILE') && listed.get(name.slice(0, -'_FILE'.length))?.secret === true);

describe('the configuration document', () => {
  test('when docs/configuration.md is read, then it is exactly what config/settings.ts generates (else run: npm run docs:config)', () => {
    expect(fs.readFileSync(CONFIGURATION_DOC, 'utf8')).toBe(configurationDocument());
  });

  test('when a process reads a variable, then config/settings.ts lists it (add it there with its default and meaning, then npm run docs:config)', () => {
    const reads = readsByName();
    const missing = [...reads].filter(([name]) => !isListed(name)).map(([name, files]) => `${name} (read in ${[...new Set(files)].join(', ')})`);
    expect(missing).toEqual([]);
    // The scan finds what it should: the config module's reads, a template's, a file variant's, and one outside config/.
    expect(['LETHE_MODE', 'TEMPORAL_TLS_CA', 'LETHE_AUTH0_CONCURRENCY', 'DATABASE_URL_FILE', 'LETHE_API_URL'].filter((known) => !reads.has(known))).toEqual([]);
  });

  test('when config/settings.ts lists a variable, then some process reads it (else drop it from the list)', () => {
    const reads = readsByName();
    expect(SETTINGS.map((s) => s.name).filter((n) => !reads.has(n))).toEqual([]);
  });

  test('when a variable may come from a mounted file, then the list marks it secret, and lists each variable once', () => {
    expect(SECRET_FILE_VARIABLES.filter((n) => listed.get(n)?.secret !== true)).toEqual([]);
    expect(SETTINGS.map((s) => s.name).filter((n, i, all) => all.indexOf(n) !== i)).toEqual([]);
  });
});
