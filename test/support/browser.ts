/**
 * The browser the page tests drive: Debian's chromium through playwright-core (Playwright's own
 * downloads are not reachable from here), headless, with the flags that keep it from calling
 * home, and the folder the tests' screenshots go to (kept by CI as artifacts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { requireChromium } from '../privacy/support/chromium';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Where the page tests write their screenshots. */
export const SHOTS = path.join(__dirname, '..', '..', 'test-artifacts', 'screenshots');

/** Launches chromium (failing with what to install when it is missing), with the screenshots' folder made. */
export async function launchChromium(executablePath: string = requireChromium()): Promise<Browser> {
  fs.mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}
