/**
 * Issue 35 item 6: the console lists every type of request (deletion, access, correction) with a
 * Type column and a type filter, each linking to its own page with its clock; in Debian's
 * chromium (playwright-core), against the real stack, requests filed through the API's routes.
 *
 * What must never reach a page: the person's address, a correction's new values (sealed in
 * lethe.correction_requests) and the archive's links (mailed to the account, read back here from
 * Mailpit only to be looked for in the HTML). A bystander whose address differs only in letter
 * case never shows among the person's requests.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { seedDepsOf } from '../support/world-seed';
import { rngFor } from '../support/world-seed';
import { waitForMail } from '../support/mailpit';
import { until } from '../support/until';
import { seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { type ConsoleRig, screenshot, signIn, startConsoleRig, stopConsoleRig } from './support';

const HOUR = 3_600_000;

describe('the privacy console: every type of request', () => {
  const rig: Partial<ConsoleRig> = {};
  let seed: SeedDeps;
  const rand = rngFor(__filename);
  const run = randomBytes(4).toString('hex');

  beforeAll(async () => {
    Object.assign(rig, await startConsoleRig());
    seed = seedDepsOf(rig.world!);
  }, 180_000);
  afterAll(async () => stopConsoleRig(rig));

  const url = () => rig.api!.url;
  const db = () => rig.world!.deps.db;
  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await rig.browser!.newContext({ viewport: { width: 1280, height: 900 } });
    return { context, page: await context.newPage() };
  }
  /** The table's rows as `type:ref`, in order. */
  const rowsOf = async (page: Page, table = '#requests'): Promise<string[]> =>
    page.locator(`${table} tbody tr`).evaluateAll((rows) =>
      rows.map((r) => {
        const el = r as unknown as { getAttribute(n: string): string };
        return `${el.getAttribute('data-type')}:${el.getAttribute('data-ref')}`;
      }),
    );
  /** An element's text with its whitespace as a person reads it. */
  const textOf = async (page: Page, sel: string): Promise<string> => ((await page.textContent(sel)) ?? '').replace(/\s+/g, ' ').trim();
  const find = async (page: Page, q: string) => {
    await page.getByLabel('Find by request id, account id or email').fill(q);
    await page.getByRole('button', { name: 'Find' }).click();
  };

  test('when a deletion, an access request and a correction are filed, then each is listed with its type, the type filter narrows them, each links to its own page, and no address, new value or archive link reaches a page', async () => {
    const person = await seedAccount(seed, { media: 2, auth0: 'none', subscriptions: null }, rand);
    const twin = await seedAccount(seed, { media: 1, auth0: 'none', subscriptions: null, email: person.email.replace(/^./, (c) => c.toUpperCase()) }, rand);
    const sealedName = `Sealed Name ${run}`;
    const sealedEmail = `sealed-${run}@example.test`;

    const access = await rig.api!.request('POST', '/v1/access-requests', { body: { accountId: person.id, channel: 'support' } });
    expect(access.status).toBe(202);
    const correction = await rig.api!.request('POST', '/v1/correction-requests', { body: { accountId: person.id, channel: 'phone', changes: { full_name: sealedName, email: sealedEmail } } });
    expect(correction.status).toBe(202);
    const deletion = await rig.api!.request('POST', '/v1/deletion-requests', { body: { accountId: twin.id, channel: 'api' } });
    expect(deletion.status).toBe(202);
    const ids = { access: access.body.requestId as string, correction: correction.body.requestId as string, deletion: deletion.body.requestId as string };

    // The archive is written and its links mailed to the person's address (never shown in the console).
    await until('the archive', async () => ((await rig.api!.request('GET', `/v1/access-requests/${ids.access}`)).body.status === 'ready' ? true : undefined), 120_000, 500);
    const mail = await waitForMail({ to: person.email, subject: /copy of your data/i, timeoutMs: 60_000 });
    const links = [...mail.text.matchAll(/https?:\/\/\S+sig=\S+/g)].map((m) => m[0]);
    expect(links.length).toBeGreaterThan(0);
    // The deletion's stores recorded (its chips), as the deletion table shows them.
    await until('the deletion to finish', async () => ((await rig.api!.request('GET', `/v1/deletion-requests/${ids.deletion}`)).body.status === 'completed' ? true : undefined), 120_000, 500);

    // The new address waits for the person's confirmation (mailed to it, never shown here).
    await until(
      'the link to the new address',
      async () => ((await db()('lethe.correction_requests').where({ request_id: ids.correction }).first('email_status'))?.email_status === 'awaiting_confirmation' ? true : undefined),
      60_000,
      250,
    );
    const secrets = [person.email, twin.email, sealedName, sealedEmail, 'sig=', ...links];
    const noSecrets = async (page: Page, where: string) => {
      const text = await page.content();
      for (const s of secrets) expect([where, s, text.includes(s)]).toEqual([where, s, false]);
    };

    const { context, page } = await newPage();
    try {
      await signIn(page, url());
      // By the person's account id: their two, newest first, with their types; the twin's deletion is not theirs.
      await find(page, person.id);
      expect(await rowsOf(page)).toEqual([`correction:${ids.correction}`, `access:${ids.access}`]);
      expect(await page.locator('#requests tbody td[data-label=Type]').allTextContents()).toEqual(['correction', 'access']);
      expect(await page.locator('#requests thead th').allTextContents()).toEqual(['Reference', 'Type', 'Channel', 'Received', 'Time left', 'Status', 'Stores']);
      // Each open request's clock counts down.
      expect(await page.locator('#requests tbody tr[data-type=correction] td[data-label="Time left"]').textContent()).toMatch(/(\d+ d )?\d+ h( \d+ min)? left|waiting for the person/);
      await noSecrets(page, 'list');
      await screenshot(page, 'console-requests-types');

      // The type filter, through the form (the search is kept).
      await page.locator('form[aria-label="Filter requests"] select[name=type]').selectOption('access');
      await page.getByRole('button', { name: 'Apply' }).click();
      expect(new URL(page.url()).searchParams.get('type')).toBe('access');
      expect(await rowsOf(page)).toEqual([`access:${ids.access}`]);
      await page.locator('form[aria-label="Filter requests"] select[name=type]').selectOption('correction');
      await page.getByRole('button', { name: 'Apply' }).click();
      expect(await rowsOf(page)).toEqual([`correction:${ids.correction}`]);
      await page.goto(`${url()}/console?q=${person.id}&type=deletion`);
      expect(await rowsOf(page)).toEqual([]);

      // By the person's email: theirs, never the case twin's (whose deletion has its own account).
      await find(page, person.email);
      expect(await rowsOf(page)).toEqual([`correction:${ids.correction}`, `access:${ids.access}`]);
      await noSecrets(page, 'found by email');
      // The twin's account id: its deletion, a deletion row with its store chips as before.
      await find(page, twin.id);
      expect(await rowsOf(page)).toEqual([`deletion:${ids.deletion}`]);
      expect(await page.locator(`#requests tr[data-ref="${ids.deletion}"] td.stores .chip`).allTextContents()).toEqual([
        'media: verified',
        'auth0: verified',
        'recurly: verified',
        'database: verified',
      ]);
      expect(await page.locator(`#requests tr[data-ref="${ids.deletion}"] a`).getAttribute('href')).toBe(`/console/requests/${ids.deletion}`);

      // The access request's page: status, deadline, the archive's parts, size and expiry; never a link.
      await find(page, person.id);
      await page.click(`a[href="/console/access/${ids.access}"]`);
      expect(new URL(page.url()).pathname).toBe(`/console/access/${ids.access}`);
      const accessMain = await textOf(page, 'main');
      expect(accessMain).toMatch(/Type access/);
      expect(accessMain).toMatch(/Status ready/);
      expect(accessMain).toMatch(/Completed \d{4}-\d\d-\d\d \d\d:\d\d UTC \(on time\)/);
      expect(await textOf(page, '#archive')).toMatch(/1 part\(s\), [\d.]+ (bytes|KiB|MiB); the links expire \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      expect(await textOf(page, '#deadline')).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d UTC · done/);
      expect(await textOf(page, '#gathered')).toMatch(/media/);
      await noSecrets(page, 'access page');
      await screenshot(page, 'console-access-request');

      // The correction's page: the fields by name and the new address's state; never the values.
      await page.goto(`${url()}/console?q=${person.id}`);
      await page.click(`a[href="/console/corrections/${ids.correction}"]`);
      expect(await textOf(page, '#fields')).toMatch(/^full_name, email \(names only/);
      expect(await textOf(page, '#email-status')).toMatch(/awaiting confirmation the person's link works until \d{4}-/);
      expect(await textOf(page, '#deadline')).toMatch(/left/);
      await noSecrets(page, 'correction page');
      await screenshot(page, 'console-correction');

      // An id of another type, or none: not found.
      for (const path of [`/console/access/${ids.correction}`, `/console/corrections/${ids.access}`, '/console/access/not-an-id', `/console/corrections/${randomUUID()}`]) {
        const res = await context.request.get(`${url()}${path}`);
        expect([path, res.status()]).toEqual([path, 404]);
      }
    } finally {
      await context.close();
    }
  }, 300_000);

  test('when requests of each type are past their deadline, then the privacy officer sees each one’s clock overdue, in the list (filtered by the clock) and on its page', async () => {
    const account = randomUUID();
    const ago = (h: number) => new Date(Date.now() - h * HOUR);
    const base = () => ({ request_id: randomUUID(), account_id: account, channel: 'support', status: 'running', received_at: ago(80) });
    const del = { ...base(), deadline_at: ago(8) };
    const acc = { ...base(), deadline_at: ago(8), received_at: ago(81) };
    const cor = { ...base(), fields: JSON.stringify(['phone']), received_at: ago(82) };
    const onTime = { ...base(), fields: JSON.stringify(['city']), received_at: ago(1) };
    await db()('lethe.deletion_requests').insert(del);
    await db()('lethe.access_requests').insert(acc);
    await db()('lethe.correction_requests').insert([cor, onTime]);

    const { context, page } = await newPage();
    try {
      await signIn(page, url());
      await page.goto(`${url()}/console?q=${account}`);
      expect(await rowsOf(page)).toEqual([`correction:${onTime.request_id}`, `deletion:${del.request_id}`, `access:${acc.request_id}`, `correction:${cor.request_id}`]);
      // The clock filter, through the form: the three overdue ones, each counting past its deadline.
      await page.locator('form[aria-label="Filter requests"] select[name=overdue]').selectOption('true');
      await page.getByRole('button', { name: 'Apply' }).click();
      expect(await rowsOf(page)).toEqual([`deletion:${del.request_id}`, `access:${acc.request_id}`, `correction:${cor.request_id}`]);
      for (const left of await page.locator('#requests time[data-deadline]').allTextContents()) expect(left).toMatch(/overdue$/);
      await screenshot(page, 'console-requests-overdue');
      // Each type's page says so.
      for (const p of [`/console/access/${acc.request_id}`, `/console/corrections/${cor.request_id}`]) {
        await page.goto(`${url()}${p}`);
        expect([p, await page.locator('main .chip', { hasText: 'overdue' }).count()]).toEqual([p, 1]);
        expect(await textOf(page, '#deadline')).toMatch(/overdue$/);
      }
      await page.goto(`${url()}/console/corrections/${onTime.request_id}`);
      expect(await page.locator('main .chip', { hasText: 'overdue' }).count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
