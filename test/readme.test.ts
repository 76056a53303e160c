/**
 * The README is the newcomer's page (issue 31): what Lethe does, the two commands, what
 * `npm start` shows, and links. It stays short only if something says when it grows, and it is
 * an index only if every document in docs/ is reachable from it and every link in it resolves.
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** About 150 lines, as the 1.0 cut set it; detail belongs in docs/. */
const MAX_LINES = 150;

describe('the README', () => {
  test(`has at most ${MAX_LINES} lines (move detail to docs/)`, () => {
    expect(README.replace(/\n$/, '').split('\n').length).toBeLessThanOrEqual(MAX_LINES);
  });

  test('links every document in docs/', () => {
    const docs = fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md'));
    const unlinked = docs.filter((f) => !README.includes(`docs/${f}`));
    expect(unlinked).toEqual([]);
  });

  test('has no link to a file that does not exist', () => {
    const targets = [...README.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/.test(t));
    const missing = targets.filter((t) => !fs.existsSync(path.join(ROOT, t)));
    expect(missing).toEqual([]);
  });
});
