/**
 * Issue 6, done-when 3: an operator opens a deletion in the Temporal Web UI and sees its
 * input decoded, through Lethe's codec server, while Temporal stores only ciphertext.
 *
 * A stack of its own with the Web UI and the codec server (startStack, headless: false, free
 * ports), sharing the global test stack's database, Azurite and sandboxes; Debian's chromium
 * driven by playwright-core. The screenshot lands in test-artifacts/ (git-ignored).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { startStack, RunningStack } from '../../dev/stack/embedded';
import { freePort } from '../../dev/stack/net';
import { startWorld, TestWorld } from '../support/stack';
import { seedDepsOf } from '../support/world-seed';
import { rng, seedAccount } from '../../dev/seed/fixtures';
import { createIntake, StartedDeletion } from '../../client/intake';
import { requireChromium } from './support/chromium';
import { launchChromium } from '../support/browser';

const ARTIFACTS = path.resolve(__dirname, '..', '..', 'test-artifacts');
// Runs in the page, where `document` exists; the project compiles without the DOM lib.
const bodyText = (): string => (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText;

test('when chromium is missing, then the browser test fails naming what to install (never a skip)', () => {
  expect(() => requireChromium('/nonexistent/chromium')).toThrow(/\/nonexistent\/chromium is missing .*`apt-get install chromium`.*`bash scripts\/ensure-test-packages\.sh`/);
});

describe('the Web UI through the codec server', () => {
  let stateDir: string;
  let stack: RunningStack;
  let world: TestWorld;
  let browser: Browser;
  let uiPort: number;
  let codecPort: number;

  beforeAll(async () => {
    // First, before any stack starts: no chromium fails every test here with the install line.
    const executablePath = requireChromium();
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-ui-'));
    uiPort = await freePort();
    codecPort = await freePort();
    // Only Temporal (with its UI) and the codec server are new: the stores are the global stack's.
    const shared = ['DATABASE_URL', 'AZURE_STORAGE_CONNECTION_STRING', 'AUTH0_BASE_URL', 'RECURLY_BASE_URL'];
    stack = await startStack({
      stateDir,
      ports: { temporal: await freePort(), temporalUi: uiPort, codec: codecPort, postgres: 0, azurite: 0, auth0: 0, recurly: 0, api: 0 },
      durable: false,
      headless: false,
      withWorker: false,
      withApi: false,
      env: Object.fromEntries(shared.map((v) => [v, process.env[v]])),
      log: (l) => process.stderr.write(`[ui-stack] ${l}\n`),
    });
    world = await startWorld({ env: stack.env });
    browser = await launchChromium(executablePath);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await world?.close();
    await stack?.stop();
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
  });

  test('when an operator opens a deletion in the Web UI, then its input shows decoded (requestId and channel), and a screenshot is saved', async () => {
    const deletions = createIntake({ config: world.config, db: world.deps.db, temporal: world.client });
    const a = await seedAccount(seedDepsOf(world), { media: 2 }, rng(6063));
    const started: StartedDeletion = await deletions.start({ accountId: a.id, channel: 'in_app', requestedBy: 'web-ui-test' });
    const handle = world.client.workflow.getHandle(started.workflowId);
    await handle.result();
    const { runId } = await handle.describe();

    const page = await browser.newPage({ viewport: { width: 1440, height: 1600 } });
    const codecCalls: number[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(`http://127.0.0.1:${codecPort}/decode`)) codecCalls.push(r.status());
    });
    try {
      await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/${started.workflowId}/${runId}/history`, { waitUntil: 'domcontentloaded' });
      // The requestId is in the input only, encrypted at rest: visible only if decoding worked.
      await page.waitForFunction((id) => (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText.includes(id), started.requestId, { timeout: 60_000 });
      const text = await page.evaluate(bodyText);
      expect(text).toContain(started.requestId);
      expect(text).toContain('in_app');
      expect(text).not.toContain(a.email);
      expect(codecCalls.length).toBeGreaterThan(0);
      expect(codecCalls.every((s) => s === 200)).toBe(true);
    } finally {
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-decoded-deletion.png'), fullPage: true });
      await page.close();
    }
  });
});
