/**
 * What the console tests share: a world with short block bounds (a refusal shows blocked in
 * 2 s, as test/api/operator-actions.test.ts), the API on port 0 with an operator and a requester
 * token, Debian's chromium, rows planted with known deadlines under a channel of the file's own
 * (so another file's requests never change this file's counts), and screenshots.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Browser, Page } from 'playwright-core';
import { startWorld, type TestWorld } from '../support/stack';
import { startApi, type TestApi } from '../support/api';
import { requireChromium } from '../privacy/support/chromium';
import { tokenDigest } from '../../config';
import { newScopePrefix } from '../sweep/support';
import { launchChromium } from '../support/browser';

export const SCREENSHOTS = path.resolve(__dirname, '..', '..', 'test-artifacts', 'screenshots');

export const OPERATOR_TOKEN = `op-${randomUUID()}`;
export const REQUESTER_TOKEN = `rq-${randomUUID()}`;

export interface ConsoleRig {
  world: TestWorld;
  api: TestApi;
  browser: Browser;
}

export async function startConsoleRig(opts: { browser?: boolean } = {}): Promise<ConsoleRig> {
  const executablePath = opts.browser === false ? undefined : requireChromium();
  const world = await startWorld({
    env: {
      LETHE_STORE_ATTEMPT_BUDGET: '30s',
      LETHE_BLOCK_AFTER: '2s',
      LETHE_BLOCK_AFTER_TRANSIENT: '2s',
      LETHE_STORE_RETRY_EVERY: '3s',
      LETHE_SWEEP_SCOPE: newScopePrefix(),
    },
  });
  const api = await startApi(world, {
    config: {
      credentials: [
        ...(world.config.api.credentials ?? []),
        { name: 'privacy-officer', role: 'operator', digest: tokenDigest(OPERATOR_TOKEN) },
        { name: 'help-desk', role: 'requester', digest: tokenDigest(REQUESTER_TOKEN) },
      ],
    },
  });
  const browser = executablePath ? await launchChromium(executablePath) : (undefined as unknown as Browser);
  return { world, api, browser };
}

export async function stopConsoleRig(rig: Partial<ConsoleRig>): Promise<void> {
  await rig.browser?.close();
  await rig.api?.close();
  await rig.world?.close();
}

/** Signs in through the form with `token`; answers the page. */
export async function signIn(page: Page, url: string, token = OPERATOR_TOKEN): Promise<void> {
  await page.goto(`${url}/console/sign-in`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState('domcontentloaded');
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const HOUR = 3_600_000;

/** A request row as the intake writes it, with its deadline `leftHours` from now. */
export async function plantRequest(db: Knex, channel: string, o: { leftHours: number; status: string; completedHoursAgo?: number; receivedHoursAgo?: number }): Promise<string> {
  const id = randomUUID();
  const now = Date.now();
  const received = new Date(now - (o.receivedHoursAgo ?? 72 - o.leftHours) * HOUR);
  await db('lethe.deletion_requests').insert({
    request_id: id,
    account_id: randomUUID(),
    channel,
    received_at: received,
    deadline_at: new Date(now + o.leftHours * HOUR),
    status: o.status,
    completed_at: o.completedHoursAgo !== undefined ? new Date(now - o.completedHoursAgo * HOUR) : null,
    created_at: received,
  });
  return id;
}

export async function plantVerification(db: Knex, channel: string, status = 'awaiting_confirmation', firstContactHoursAgo = 1): Promise<string> {
  const id = randomUUID();
  await db('lethe.verifications').insert({
    verification_id: id,
    kind: 'deletion',
    channel,
    status,
    first_contact_at: new Date(Date.now() - firstContactHoursAgo * HOUR),
    expires_at: new Date(Date.now() + 24 * HOUR),
  });
  return id;
}

/** Each store's state of a planted request, as the deletion workflow records it (activities/deletion/state.ts); a blocked store's episode too. */
export async function plantStoreStates(db: Knex, requestId: string, states: Record<string, string>, blockedSinceHoursAgo = 1): Promise<void> {
  const since = new Date(Date.now() - blockedSinceHoursAgo * HOUR);
  for (const [store, state] of Object.entries(states)) {
    const blocked = state === 'blocked';
    await db('lethe.deletion_store_states').insert({
      request_id: requestId,
      store,
      state,
      attempts: 1,
      reason_code: blocked ? 'Precondition' : null,
      since: blocked ? since : null,
      seq: Date.now() * 1000,
    });
    if (blocked) await db('lethe.deletion_store_blocks').insert({ request_id: requestId, store, since, reason_code: 'Precondition' });
  }
}
