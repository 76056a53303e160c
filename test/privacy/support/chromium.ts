/**
 * Debian's chromium for the browser test, installed by the test itself when missing (the
 * machines are Debian; Playwright's own browser downloads are not reachable from here).
 * Synchronous on purpose: it runs while jest collects the file, so the suite can be skipped
 * with a reason, rather than passed, when the package cannot be installed at all.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

export type ChromiumStatus = { ok: true; path: string } | { ok: false; reason: string };

const run = (args: string[]) =>
  spawnSync('apt-get', args, {
    encoding: 'utf8',
    timeout: 15 * 60_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });

export function ensureChromium(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): ChromiumStatus {
  if (fs.existsSync(CHROMIUM)) return { ok: true, path: CHROMIUM };
  log(`[browser] ${CHROMIUM} is missing: apt-get install -y chromium`);
  let r = run(['install', '-y', 'chromium']);
  if (r.status !== 0) {
    // A fresh machine has stale or no package lists.
    log('[browser] install failed; apt-get update, then again');
    const u = run(['update']);
    if (u.error || u.status !== 0) return { ok: false, reason: `apt-get update failed: ${(u.error?.message ?? u.stderr ?? '').trim().split('\n').pop()}` };
    r = run(['install', '-y', 'chromium']);
  }
  if (r.error || r.status !== 0 || !fs.existsSync(CHROMIUM)) {
    return { ok: false, reason: `apt-get install -y chromium failed: ${(r.error?.message ?? r.stderr ?? '').trim().split('\n').pop()}` };
  }
  log('[browser] chromium installed');
  return { ok: true, path: CHROMIUM };
}
