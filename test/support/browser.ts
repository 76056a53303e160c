/**
 * The browser the page tests drive: Debian's chromium through playwright-core (Playwright's own
 * downloads are not reachable from here), headless, with the flags that keep it from calling
 * home, and the folder the tests' screenshots go to (kept by CI as artifacts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { requireChromium } from '../privacy/support/chromium';
import { startWorld, type TestWorld } from './stack';
import { startApi, type TestApi } from './api';
import { seedDepsOf } from './world-seed';
import { linkIn } from './mailpit';
import type { SeedDeps } from '../../dev/seed/fixtures';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Where the page tests write their screenshots. */
export const SHOTS = path.join(__dirname, '..', '..', 'test-artifacts', 'screenshots');

/** Launches chromium (failing with what to install when it is missing), with the screenshots' folder made. */
export async function launchChromium(executablePath: string = requireChromium()): Promise<Browser> {
  fs.mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}

/** What a page test drives: its own stack and API, seeding on that stack, and the browser. */
export interface PageWorld {
  world: TestWorld;
  api: TestApi;
  seed: SeedDeps;
  browser: Browser;
  /** The confirmation link in a mail's text, as a path on this test's API (the mail names the stack's LETHE_PUBLIC_URL). */
  confirmPath(text: string): string;
  close(): Promise<void>;
}

/**
 * A stack, its API and chromium for a test of the person's pages (the privacy page, a
 * correction's link). Every request comes from 127.0.0.1, so the public per-client limit is
 * lifted: it has tests of its own. Whatever started is stopped again if a later part fails.
 */
export async function startPageWorld(): Promise<PageWorld> {
  const executablePath = requireChromium();
  const started: { close(): Promise<void> }[] = [];
  try {
    const world = await startWorld({ env: { LETHE_PUBLIC_RATE_LIMIT: '1000' } });
    started.push(world);
    const api = await startApi(world);
    started.push(api);
    const browser = await launchChromium(executablePath);
    started.push(browser);
    const close = async () => {
      for (const s of started.reverse()) await s.close();
    };
    const publicUrl = world.config.mail.publicUrl;
    const confirmPath = (text: string) => linkIn(text, `${publicUrl}/privacy/confirm?token=`).slice(publicUrl.length);
    return { world, api, seed: seedDepsOf(world), browser, confirmPath, close };
  } catch (err) {
    for (const s of started.reverse()) await s.close().catch(() => undefined);
    throw err;
  }
}
