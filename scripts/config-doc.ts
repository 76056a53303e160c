/**
 * `npm run docs:config`: writes docs/configuration.md from config/settings.ts, the list of every
 * variable Lethe reads. test/config-doc.test.ts fails when the committed document differs from
 * what this generates, so edit the list and run this; never edit the document by hand.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { SETTINGS, type Setting } from '../config/settings';

export const CONFIGURATION_DOC = path.join(__dirname, '..', 'docs', 'configuration.md');

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function row(s: Setting): string {
  const meaning = s.secret ? `*secret*, or from a file: \`${s.name}_FILE\`. ${s.meaning.charAt(0).toUpperCase()}${s.meaning.slice(1)}` : s.meaning;
  return `| \`${s.name}\` | ${cell(s.default)} | ${cell(meaning)} |`;
}

/** The document's text, formatted as the repository's prettier formats markdown (so `prettier --check` and the test agree). */
export function configurationDocument(settings: readonly Setting[] = SETTINGS): string {
  const text = [
    '# Configuration',
    '',
    '<!-- Generated from config/settings.ts by `npm run docs:config`; test/config-doc.test.ts fails when this file differs. Do not edit it by hand. -->',
    '',
    'Every variable is validated at start; a bad one stops the process with one line naming it. Defaults are',
    "those of the embedded stack (`npm start`, the tests); production mode (`LETHE_MODE=production`) refuses the sandboxes' and",
    "Azurite's defaults and requires real credentials, API tokens and encryption keys.",
    '',
    "Every secret can be read from a mounted file instead: `<NAME>_FILE` (the official postgres image's convention) for each",
    "variable marked *secret* below; set one of the two, never both. The file's surrounding whitespace (an editor's trailing",
    "newline) is trimmed. TLS to Temporal and PostgreSQL, and the secrets' mounts: [security.md](security.md#secure-connections).",
    '',
    '| variable | default (embedded stack) | meaning |',
    '|---|---|---|',
    ...settings.map(row),
    '',
  ].join('\n');
  // Through prettier's CLI, as `prettier --check` runs: its API lays markdown tables out otherwise (aligned columns).
  return execFileSync(process.execPath, [require.resolve('prettier/bin/prettier.cjs'), '--stdin-filepath', CONFIGURATION_DOC], { input: text, encoding: 'utf8' });
}

function main(): void {
  fs.writeFileSync(CONFIGURATION_DOC, configurationDocument());
  process.stdout.write(`wrote ${path.relative(process.cwd(), CONFIGURATION_DOC)} (${SETTINGS.length} settings)\n`);
}

if (require.main === module) {
  main();
}
