/**
 * Mailpit, the embedded stack's mail catcher: Lethe's outbound mail goes to its SMTP port and
 * stays there, and a person (or a test, test/support/mailpit.ts) reads it through its HTTP API
 * v1 (https://mailpit.axllent.org/docs/api-v1/). Built from source by scripts/install-tools.sh.
 * Nothing it catches is delivered anywhere: it relays nothing unless told to, and we never tell it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ServiceSpec } from './supervisor';
import { isListening } from './net';
import { PROJECT_ROOT } from './temporal';

export const MAILPIT_BIN = path.join(PROJECT_ROOT, '.tools', 'bin', 'mailpit');

/** Builds Mailpit on a first run (a no-op once the pinned version is there). */
export function ensureMailpit(): string {
  execFileSync('bash', [path.join(PROJECT_ROOT, 'scripts', 'install-tools.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (!fs.existsSync(MAILPIT_BIN)) throw new Error(`Mailpit missing at ${MAILPIT_BIN} after install`);
  return MAILPIT_BIN;
}

export function mailpitSpec(opts: { smtpPort: number; httpPort: number; dir: string }): ServiceSpec {
  fs.mkdirSync(opts.dir, { recursive: true });
  const args = [
    // Loopback only: its defaults listen on every address ([::]).
    '--smtp',
    `127.0.0.1:${opts.smtpPort}`,
    '--listen',
    `127.0.0.1:${opts.httpPort}`,
    // Kept in the state dir, so mail caught before a crash or a restart is still there after it.
    '--database',
    path.join(opts.dir, 'mailpit.db'),
    // Room for a whole test run's mail; the oldest go first beyond it.
    '--max',
    '5000',
    // No calls out: no release check on GitHub, no reverse DNS of the loopback client.
    '--disable-version-check',
    '--smtp-disable-rdns',
    // No SMTP authentication: Lethe sends none to a plain smtp:// URL without credentials, and
    // --smtp-auth-accept-any would only make a wrong SMTP_URL with credentials look right.
  ];
  return {
    name: 'mailpit',
    command: MAILPIT_BIN,
    args,
    readyTimeoutMs: 30_000,
    // Both halves: the API answering while SMTP is still closed would lose the first mail.
    ready: async () => (await isListening(opts.smtpPort)) && (await fetch(`http://127.0.0.1:${opts.httpPort}/readyz`)).ok,
    crashNote: 'the mail it had caught is kept in its database',
  };
}
