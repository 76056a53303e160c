/**
 * A copy of one's data through the front door (issue 35 item 1, CONTRACT §6 and §8): the person
 * picks "a copy of my data" on the privacy page in a real browser (Debian's chromium through
 * playwright-core), the link comes from the mail catcher (Mailpit's API), the confirm page says
 * where the copy goes, and the confirmation starts an access request whose archive link is
 * mailed to the address on file. Never the wrong person: a case twin (an address that differs
 * only in letter case) gets nothing, whether it appears before the request (nothing is mailed to
 * either) or after the link went out (the copy is filed by the account the link was mailed for).
 * Rows are read from Lethe's tables, the mail from the catcher, the archive through its link.
 */
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import type { TestWorld } from '../support/stack';
import { rngFor } from '../support/world-seed';
import type { TestApi } from '../support/api';
import { mailsTo, waitForMail } from '../support/mailpit';
import { twinOf } from '../support/stores';
import { until } from '../support/until';
import { readZip } from '../export/zip';
import { seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { getFieldCipher } from '../../encryption';
import { requireKeyRing } from '../../config';
import { emailLookupKey } from '../../stores/subjects';
import { SHOTS, startPageWorld, type PageWorld } from '../support/browser';

const HOUR = 3_600_000;

describe('a copy of my data, asked for on the privacy page and confirmed from the mailbox on file', () => {
  let pages: PageWorld;
  let world: TestWorld;
  let api: TestApi;
  let seed: SeedDeps;
  let browser: Browser;
  const rand = rngFor(__filename);

  beforeAll(async () => {
    pages = await startPageWorld();
    ({ world, api, seed, browser } = pages);
  }, 120_000);
  afterAll(async () => {
    await pages?.close();
  });

  const confirmPath = (text: string) => pages.confirmPath(text);
  /** The verification rows for a typed address, found by its keyed hash (Lethe's own column). */
  const verificationsFor = (email: string) => seed.db('lethe.verifications').where({ email_hash: getFieldCipher(() => requireKeyRing(world.config)).lookupHash(emailLookupKey(email)) });
  const accessRows = (accountId: string) => seed.db('lethe.access_requests').where({ account_id: accountId });

  /** The privacy page, a copy chosen with the keyboard, sent. */
  async function askForACopy(email: string, shots = false) {
    const page = await browser.newPage({ viewport: { width: 1000, height: 1200 } });
    await page.goto(`${api.url}/privacy`);
    expect(await page.title()).toMatch(/copy of your data/i);
    await page.getByLabel("Your account's email address").fill(email);
    // One group, named by its legend; each choice named by its label and described by its hint.
    const group = page.getByRole('group', { name: 'What do you want?' });
    const copy = group.getByRole('radio', { name: 'Send me a copy of my data' });
    await expect(copy.getAttribute('aria-describedby')).resolves.toBe('access-hint');
    // Keyboard only: Tab reaches the checked choice, the arrow moves to the copy.
    await group.getByRole('radio', { name: /delete my account/i }).focus();
    await page.keyboard.press('ArrowDown');
    expect(await copy.isChecked()).toBe(true);
    if (shots) await page.screenshot({ path: path.join(SHOTS, 'privacy-page-copy.png'), fullPage: true });
    await page.getByRole('button', { name: /send me the link/i }).focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('text=Check your mailbox');
    return page;
  }

  test('when a person asks for a copy on /privacy and confirms, then the access request runs to its archive, mailed to the address on file, and a case twin gets nothing', async () => {
    const a = await seedAccount(seed, { media: 2, subscriptions: [{ state: 'active' }], emailOnlySupportRequests: 1 }, rand);
    const asked = new Date(Date.now() - 1000);
    const page = await askForACopy(a.email, true);

    const mail = await waitForMail({ to: a.email, subject: /copy of your data/i, after: asked });
    // It says which request it confirms, and where the copy would go.
    expect(mail.subject).not.toMatch(/delet/i);
    expect(mail.text).toMatch(/download link to this email address, the one on the account/);
    expect(mail.text).toMatch(/Anyone who can read this mailbox can download everything/);
    const [v] = await verificationsFor(a.email);
    expect(v).toMatchObject({ kind: 'access', channel: 'web', status: 'awaiting_confirmation', account_id: a.id });

    // A case twin appears after the link went out: the link stays the account's it was mailed for.
    const twin = await seedAccount(seed, { email: twinOf(a.email), media: 1, auth0: 'none', emailOnlySupportRequests: 1 }, rand);

    // Opening the link shows what is confirmed and starts nothing.
    await page.goto(`${api.url}${confirmPath(mail.text)}`);
    await page.waitForSelector('text=Confirm: send a copy of your data');
    expect(await page.textContent('#where-it-goes')).toMatch(/mail a download link for the copy to your account's email address/);
    await page.screenshot({ path: path.join(SHOTS, 'privacy-confirm-copy.png'), fullPage: true });
    expect(await accessRows(a.id)).toHaveLength(0);

    const accessFiled = async () => Number((await api.request('GET', '/metrics')).text.match(/^lethe_requests_total\{type="access"\} (\d+)/m)?.[1] ?? 0);
    const filedBefore = await accessFiled();
    const confirmedAt = Date.now();
    await page.getByRole('button', { name: 'Confirm: send me a copy of my data' }).click();
    await page.waitForSelector('#reference');
    const requestId = (await page.textContent('#reference'))!.trim();
    expect(await page.title()).toMatch(/preparing a copy of your data/i);
    await page.screenshot({ path: path.join(SHOTS, 'privacy-confirmed-copy.png'), fullPage: true });
    await page.close();

    // One access request, for the account, 72 hours from the confirmation; no deletion.
    const [row] = await accessRows(a.id);
    expect(row).toMatchObject({ request_id: requestId, channel: 'web' });
    expect(new Date(row.received_at).getTime()).toBeGreaterThanOrEqual(confirmedAt - 2000);
    expect(new Date(row.deadline_at).getTime() - new Date(row.received_at).getTime()).toBe(72 * HOUR);
    expect(await seed.db('lethe.deletion_requests').where({ account_id: a.id })).toHaveLength(0);
    expect(await seed.db('lethe.verifications').where({ verification_id: v.verification_id }).first()).toMatchObject({ status: 'confirmed', request_id: requestId });
    // Counted as an access request filed, as the operator's route counts its own.
    expect(await accessFiled()).toBe(filedBefore + 1);
    // The waiting verification is not a deletion request.
    expect((await api.request('GET', `/v1/deletion-requests/${v.verification_id}`)).status).toBe(404);

    const ready = await until(
      'the access request to be ready',
      async () => {
        const r = await api.request('GET', `/v1/access-requests/${requestId}`);
        return r.body.status === 'ready' ? r.body : undefined;
      },
      180_000,
      500,
    );
    expect(ready).toMatchObject({ accountId: a.id, archive: { parts: 1 } });

    const copy = await waitForMail({ to: a.email, subject: /copy of your data is ready/i, after: asked, timeoutMs: 60_000 });
    expect(copy.text).toContain(requestId);
    const links = [...copy.text.matchAll(/https?:\/\/\S+sig=\S+/g)].map((m) => m[0]);
    expect(links).toHaveLength(1);
    const zip = Buffer.from(await (await fetch(links[0])).arrayBuffer());
    const data = JSON.parse(readZip(zip).get('data.json')!.data.toString('utf8'));
    expect(data).toMatchObject({ requestId, accountId: a.id });
    expect(data.stores.database.tables.accounts.map((r: { id: string }) => r.id)).toEqual([a.id]);

    // Nothing to the twin, and nothing of the twin's in the copy.
    expect(await mailsTo(twin.email)).toHaveLength(0);
    expect(await accessRows(twin.id)).toHaveLength(0);
    expect(JSON.stringify(data)).not.toContain(twin.id);
  }, 300_000);

  test('when the address has a case twin at the time of asking, then nothing is mailed to either and no copy is made', async () => {
    const local = `copytwin.${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    // Auth0 holds one login per address in any case: the twins' logins are not what this is about.
    const a = await seedAccount(seed, { email: `${local[0].toUpperCase()}${local.slice(1)}@example.test`, media: 0, auth0: 'none' }, rand);
    const b = await seedAccount(seed, { email: `${local}@example.test`, media: 0, auth0: 'none' }, rand);
    const page = await askForACopy(b.email);
    await page.close();
    // The public API answers an access request exactly as it answers the page's.
    const res = await api.request('POST', '/v1/public/requests', { body: { email: a.email, type: 'access' }, token: null });
    expect(res.status).toBe(202);

    const settled = await until(
      'both requests settled as ambiguous',
      async () => {
        // The keyed hash is of the lower-cased address: both spellings' rows.
        const rows = await verificationsFor(a.email);
        return rows.length === 2 && rows.every((r) => r.status === 'ambiguous') ? rows : undefined;
      },
      30_000,
      200,
    );
    expect(settled.map((r) => [r.kind, r.account_id])).toEqual([
      ['access', null],
      ['access', null],
    ]);
    expect(await mailsTo(a.email)).toHaveLength(0);
    expect(await mailsTo(b.email)).toHaveLength(0);
    expect(await accessRows(a.id)).toHaveLength(0);
    expect(await accessRows(b.id)).toHaveLength(0);
  });

  test('when the public API is asked for anything but a deletion or a copy, then 400 names type; the same 202 answers a known and an unknown address', async () => {
    const a = await seedAccount(seed, { media: 0 }, rand);
    const bad = await api.request('POST', '/v1/public/requests', { body: { email: a.email, type: 'correction' }, token: null });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/type/);
    const known = await api.request('POST', '/v1/public/requests', { body: { email: a.email, type: 'access' }, token: null });
    const unknown = await api.request('POST', '/v1/public/requests', { body: { email: `nobody.${randomUUID().slice(0, 8)}@example.test`, type: 'access' }, token: null });
    expect([known.status, unknown.status]).toEqual([202, 202]);
    expect(known.body).toEqual(unknown.body);
    // The page refuses an unknown choice the same way, with its own message.
    const form = await fetch(`${api.url}/privacy`);
    const cookie = form.headers.get('set-cookie')!.split(';')[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())![1];
    const posted = await fetch(`${api.url}/privacy`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ email: a.email, type: 'everything', csrf }).toString(),
    });
    expect(posted.status).toBe(400);
    expect(await posted.text()).toMatch(/id="type-error" role="alert">Choose what you want/);
  });
});
