/**
 * The front door as a person uses it (issue 32, CONTRACT §6): the privacy page in a real browser
 * (Debian's chromium through playwright-core), the link read from the mail catcher (Mailpit's
 * API), the confirmation, the deletion, and the two notices. Then everything the confirmation
 * must refuse. Stores are read through their own paths (SQL, the sandboxes' endpoints, blob
 * listings: test/support/stores.ts), never through Lethe's lookups.
 */
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import type { TestWorld } from '../support/stack';
import { rngFor } from '../support/world-seed';
import { startApi, waitForStatus, type TestApi } from '../support/api';
import { bystanderOf, expectEmpty, storesOf } from '../support/stores';
import { mailsTo, waitForMail } from '../support/mailpit';
import { seedAccount, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import { until } from '../support/until';
import { watchAllAddresses } from '../../stores/verifications';
import { getFieldCipher } from '../../encryption';
import { requireKeyRing, tokenDigest } from '../../config';
import { SHOTS, startPageWorld, type PageWorld } from '../support/browser';

/** Waits until `fn` says true. */
const eventually = (what: string, fn: () => Promise<boolean>) => until(what, async () => ((await fn()) ? true : undefined));

const HOUR = 3_600_000;

describe('the privacy page: a person asks, proves it is them by mail, and hears back', () => {
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
  const tokenOf = (text: string) => decodeURIComponent(confirmPath(text).split('token=')[1]);
  const deletionRows = (accountId: string) => seed.db('lethe.deletion_requests').where({ account_id: accountId });
  const verificationsOf = (accountId: string) => seed.db('lethe.verifications').where({ account_id: accountId }).orderBy('first_contact_at');
  const person = (spec: Parameters<typeof seedAccount>[1] = {}) => seedAccount(seed, { media: 3, emailOnlySupportRequests: 1, ...spec }, rand);

  /** Files through the public API and returns the link's path once the mail is caught. */
  async function askByApi(a: SeededAccount): Promise<{ path: string; token: string }> {
    const earlier = new Set((await mailsTo(a.email)).map((m) => m.id));
    const res = await api.request('POST', '/v1/public/requests', { body: { email: a.email, type: 'deletion' }, token: null });
    expect(res.status).toBe(202);
    const mail = await until('a new confirmation mail', async () => (await mailsTo(a.email)).find((m) => !earlier.has(m.id) && /confirm/i.test(m.subject)), 30_000, 200);
    return { path: confirmPath(mail.text), token: tokenOf(mail.text) };
  }

  test('when a person asks on /privacy, opens the mailed link and confirms, then the deletion completes, they are told twice, and nothing of them remains', async () => {
    const a = await person();
    const b = await person(); // a bystander
    const before = await bystanderOf(seed, b, [a]);
    const accountRow = await seed.db('accounts').where({ id: a.id }).first();
    const asked = new Date(Date.now() - 1000);

    const page = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
    await page.goto(`${api.url}/privacy`);
    expect(await page.title()).toMatch(/delete your account/i);
    // Keyboard only: the label names the field; the button is reached with Tab.
    await page.getByLabel("Your account's email address").fill(a.email);
    await page.screenshot({ path: path.join(SHOTS, 'privacy-page.png'), fullPage: true });
    await page.getByRole('button', { name: /send me the link/i }).focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('text=Check your mailbox');
    await page.screenshot({ path: path.join(SHOTS, 'privacy-check-your-mail.png'), fullPage: true });

    const mail = await waitForMail({ to: a.email, subject: /confirm/i, after: asked });
    expect(mail.headers['Auto-Submitted']?.[0]).toMatch(/^auto-/);
    expect(mail.html).not.toMatch(/<img/i);
    // The link's secret is stored only hashed: no table holds the token.
    const token = tokenOf(mail.text);
    const [vRow] = await verificationsOf(a.id);
    expect(JSON.stringify(vRow)).not.toContain(token.split('.')[1]);
    expect(vRow).toMatchObject({ status: 'awaiting_confirmation', channel: 'web', email_sealed: null });

    // Opening the link (as a mail scanner would) starts nothing.
    await page.goto(`${api.url}${confirmPath(mail.text)}`);
    await page.waitForSelector('text=Confirm the deletion of your account');
    await page.screenshot({ path: path.join(SHOTS, 'privacy-confirm.png'), fullPage: true });
    expect(await deletionRows(a.id)).toHaveLength(0);

    const confirmedAt = Date.now();
    await page.getByRole('button', { name: /confirm: delete my account/i }).click();
    await page.waitForSelector('#reference');
    const requestId = (await page.textContent('#reference'))!.trim();
    await page.screenshot({ path: path.join(SHOTS, 'privacy-confirmed.png'), fullPage: true });
    await page.close();
    expect(requestId).toBe(vRow.verification_id);

    const done = await waitForStatus(api, requestId);
    expect(done.status).toBe('completed');
    expect(done.channel).toBe('web');
    expect(done.verification).toBe('email');
    // The 72 hours count from the confirmation; the first contact is kept.
    expect(Date.parse(done.receivedAt)).toBeGreaterThanOrEqual(confirmedAt - 2000);
    expect(Date.parse(done.deadlineAt) - Date.parse(done.receivedAt)).toBe(72 * HOUR);
    expect(Date.parse(done.firstContactAt)).toBeLessThan(Date.parse(done.receivedAt));

    const ack = await waitForMail({ to: a.email, subject: /received|started|deleting/i, after: asked });
    expect(ack.text).toContain(requestId);
    const notice = await waitForMail({ to: a.email, subject: /deleted|complete/i, after: asked });
    expect(notice.text).toContain(requestId);
    // No personal data beyond the recipient: not the address, the name, the phone, the account id.
    for (const m of [ack, notice]) {
      for (const v of [a.email, a.id, accountRow.full_name, accountRow.phone, accountRow.address_line1, accountRow.city, accountRow.postal_code]) {
        if (v) expect(`${m.subject}\n${m.text}\n${m.html}`).not.toContain(String(v));
      }
    }

    expectEmpty(await storesOf(seed, a));
    // The sealed address went with its last mail.
    await eventually('the pending notice row is erased', async () => (await seed.db('lethe.pending_notices').where({ account_id: a.id })).length === 0);
    expect(await seed.db('lethe.deletion_subjects').where({ account_id: a.id })).toHaveLength(0);
    expect((await verificationsOf(a.id)).every((v) => v.email_sealed === null)).toBe(true);
    expect(await bystanderOf(seed, b, [a])).toEqual(before);
    expect(await mailsTo(b.email)).toHaveLength(0);
  });

  test('when an address names no account, then the answer is the same as for one that does, and no mail goes anywhere', async () => {
    const a = await person({ media: 0 });
    const nobody = `nobody.${randomUUID().slice(0, 8)}@example.test`;
    const known = await api.request('POST', '/v1/public/requests', { body: { email: a.email, type: 'deletion' }, token: null });
    const unknown = await api.request('POST', '/v1/public/requests', { body: { email: nobody, type: 'deletion' }, token: null });
    expect(unknown.status).toBe(known.status);
    expect(unknown.text).toBe(known.text);
    await waitForMail({ to: a.email, subject: /confirm/i });
    // Its workflow has run (the row says no_account) and sent nothing.
    await eventually(
      'the unknown address is settled',
      async () =>
        (
          await seed
            .db('lethe.verifications')
            .where({ status: 'no_account' })
            .whereNull('account_id')
            .where('first_contact_at', '>', new Date(Date.now() - 60_000))
        ).length > 0,
    );
    expect(await mailsTo(nobody)).toHaveLength(0);
  });

  test('when an address has a case twin, then nothing is mailed to either and the request waits for an operator as ambiguous', async () => {
    const local = `twin.${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    // Auth0 holds one login per address in any case: the twins' logins are not what this is about.
    const a = await person({ email: `${local[0].toUpperCase()}${local.slice(1)}@example.test`, media: 0, auth0: 'none' });
    const b = await person({ email: `${local}@example.test`, media: 0, auth0: 'none' });
    const res = await api.request('POST', '/v1/public/requests', { body: { email: b.email, type: 'deletion' }, token: null });
    expect(res.status).toBe(202);
    await eventually(
      'the request is settled as ambiguous',
      async () =>
        (
          await seed
            .db('lethe.verifications')
            .where({ status: 'ambiguous' })
            .where('first_contact_at', '>', new Date(Date.now() - 60_000))
        ).length > 0,
    );
    expect(await mailsTo(a.email)).toHaveLength(0);
    expect(await mailsTo(b.email)).toHaveLength(0);
    expect(await deletionRows(a.id)).toHaveLength(0);
    expect(await deletionRows(b.id)).toHaveLength(0);
  });

  test('when a link is wrong, tampered, used again or expired, or the form lacks its CSRF token, then a clear page refuses it and nothing starts', async () => {
    const a = await person({ media: 0 });
    const { path: link, token } = await askByApi(a);
    const form = (t: string, csrf?: string, cookie?: string) =>
      fetch(`${api.url}/privacy/confirm`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
        body: new URLSearchParams({ token: t, ...(csrf ? { csrf } : {}) }).toString(),
        redirect: 'manual',
      });
    // A real page visit gives the cookie and the form's field.
    const visit = await fetch(`${api.url}${link}`);
    expect(visit.status).toBe(200);
    const cookie = visit.headers.get('set-cookie')!.split(';')[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(await visit.text())![1];
    expect(visit.headers.get('referrer-policy')).toBe('no-referrer');

    const noCsrf = await form(token);
    expect(noCsrf.status).toBe(403);
    expect(await noCsrf.text()).toMatch(/another site|expired/i);
    const tampered = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    const wrong = await form(tampered, csrf, cookie);
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toMatch(/not valid/);
    const garbage = await fetch(`${api.url}/privacy/confirm?token=nonsense`);
    expect(garbage.status).toBe(400);
    expect(await deletionRows(a.id)).toHaveLength(0);

    const ok = await form(token, csrf, cookie);
    expect(ok.status).toBe(200);
    const requestId = /id="reference">([^<]+)</.exec(await ok.text())![1];
    const again = await form(token, csrf, cookie);
    expect(again.status).toBe(410);
    const againText = await again.text();
    expect(againText).toMatch(/already/);
    expect(againText).toContain(requestId);
    await waitForStatus(api, requestId);
    expect(await deletionRows(a.id)).toHaveLength(1);

    // Expired: the link's time passed before it was used.
    const c = await person({ media: 0 });
    const late = await askByApi(c);
    await seed
      .db('lethe.verifications')
      .where({ account_id: c.id })
      .update({ expires_at: new Date(Date.now() - 1000) });
    const expiredGet = await fetch(`${api.url}${late.path}`);
    expect(expiredGet.status).toBe(410);
    expect(await expiredGet.text()).toMatch(/expired/);
    expect((await form(late.token, csrf, cookie)).status).toBe(410);
    expect(await deletionRows(c.id)).toHaveLength(0);
  });

  test('when wrong links keep coming for one request, then it locks after the configured number, and its real link no longer works', async () => {
    const a = await person({ media: 0 });
    const { token } = await askByApi(a);
    const [id] = token.split('.');
    for (let i = 0; i < world.config.frontDoor.maxWrongAttempts; i++) {
      const r = await fetch(`${api.url}/privacy/confirm?token=${encodeURIComponent(`${id}.${'x'.repeat(43)}`)}`);
      expect(r.status).toBe(400);
    }
    const real = await fetch(`${api.url}/privacy/confirm?token=${encodeURIComponent(token)}`);
    expect(real.status).toBe(410);
    expect(await real.text()).toMatch(/locked/);
    expect((await seed.db('lethe.verifications').where({ verification_id: id }).first()).status).toBe('locked');
  });

  test('when two confirmed requests for one account arrive together, then the second joins the first deletion (one requestId)', async () => {
    const a = await person({ media: 20 });
    const one = await askByApi(a);
    const two = await askByApi(a);
    const late = await askByApi(a);
    const confirm = async (link: string) => {
      const visit = await fetch(`${api.url}${link}`);
      const cookie = visit.headers.get('set-cookie')!.split(';')[0];
      const csrf = /name="csrf" value="([^"]+)"/.exec(await visit.text())![1];
      const token = decodeURIComponent(link.split('token=')[1]);
      const r = await fetch(`${api.url}/privacy/confirm`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ token, csrf }).toString(),
      });
      return { status: r.status, ref: /id="reference">([^<]+)</.exec(await r.text())?.[1] };
    };
    const [x, y] = await Promise.all([confirm(one.path), confirm(two.path)]);
    expect([x.status, y.status]).toEqual([200, 200]);
    expect(x.ref).toBeDefined();
    expect(y.ref).toBe(x.ref);
    await waitForStatus(api, x.ref!);
    // A link confirmed after the account is gone answers with the request that deleted it.
    const z = await confirm(late.path);
    expect(z).toEqual({ status: 200, ref: x.ref });
    expect(await deletionRows(a.id)).toHaveLength(1);
  });

  test('when staff file with verification "email", then the request awaits the person, and only their confirmation starts it', async () => {
    const a = await person({ media: 0 });
    const after = new Date(Date.now() - 1000);
    const filed = await api.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'phone', verification: 'email', requestedBy: 'agent-7' } });
    expect(filed.status).toBe(202);
    expect(filed.body).toMatchObject({ accountId: a.id, status: 'awaiting_confirmation' });
    const view = await api.request('GET', `/v1/deletion-requests/${filed.body.requestId}`);
    expect(view.body).toMatchObject({ status: 'awaiting_confirmation', channel: 'phone', verification: 'email' });
    expect(await deletionRows(a.id)).toHaveLength(0);
    const mail = await waitForMail({ to: a.email, subject: /confirm/i, after });
    const link = confirmPath(mail.text);
    const visit = await fetch(`${api.url}${link}`);
    const cookie = visit.headers.get('set-cookie')!.split(';')[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(await visit.text())![1];
    const ok = await fetch(`${api.url}/privacy/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ token: tokenOf(mail.text), csrf }).toString(),
    });
    expect(ok.status).toBe(200);
    const done = await waitForStatus(api, filed.body.requestId);
    expect(done).toMatchObject({ status: 'completed', channel: 'phone', verification: 'email' });
    const audit = await api.request('GET', `/v1/audit?requestId=${filed.body.requestId}`);
    expect(audit.status).toBe(200);
  });

  test('when a token is configured to verify by email, then its requests wait for the person, and it cannot vouch itself; the metrics count the waiting and the mail', async () => {
    const desk = randomBytes(32).toString('base64url');
    const api2 = { ...world.config.api, credentials: [...(world.config.api.credentials ?? []), { name: 'support-desk', role: 'requester' as const, digest: tokenDigest(desk) }] };
    const strict = await startApi(world, { config: api2, deps: { config: { ...world.config, api: api2, frontDoor: { ...world.config.frontDoor, emailVerifiedTokens: ['support-desk'] } } } });
    try {
      const a = await person({ media: 0 });
      const vouch = await strict.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'phone', verification: 'staff' }, token: desk });
      expect(vouch.status).toBe(400);
      expect(vouch.body.field).toBe('body/verification');
      const filed = await strict.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'phone' }, token: desk });
      expect(filed.status).toBe(202);
      expect(filed.body.status).toBe('awaiting_confirmation');
      expect(await deletionRows(a.id)).toHaveLength(0);
      await waitForMail({ to: a.email, subject: /confirm/i });
      const metrics = await strict.request('GET', '/metrics');
      expect(metrics.text).toMatch(/lethe_public_requests\{status="awaiting_confirmation",channel="phone"\} [1-9]/);
      expect(metrics.text).toMatch(/lethe_person_mails\{kind="verification",status="sent"\} [1-9]/);
    } finally {
      await strict.close();
    }
  });

  test('when the account’s address changed within 72 hours, then no link is mailed and the request waits for an operator', async () => {
    const a = await person({ media: 0 });
    const fields = getFieldCipher(() => requireKeyRing(world.config));
    // The API's watch reads every address; then the address changes (as a takeover would), and is read again.
    await watchAllAddresses(seed.db, fields);
    const taken = `taken.${randomUUID().slice(0, 8)}@example.test`;
    await seed.db('accounts').where({ id: a.id }).update({ email: taken });
    expect((await watchAllAddresses(seed.db, fields)).changed).toBeGreaterThanOrEqual(1);
    const after = new Date(Date.now() - 1000);
    const res = await api.request('POST', '/v1/public/requests', { body: { email: taken, type: 'deletion' }, token: null });
    expect(res.status).toBe(202);
    await eventually('the request waits for an operator', async () => (await verificationsOf(a.id)).some((v) => v.status === 'needs_operator'));
    const mails = (await mailsTo(taken)).filter((m) => m.date.getTime() >= after.getTime() - 1000);
    expect(mails.filter((m) => /confirm/i.test(m.subject))).toHaveLength(0);
    expect(await deletionRows(a.id)).toHaveLength(0);
  });

  test('when one address or one client asks too often, then 429 with Retry-After, for known and unknown addresses alike', async () => {
    const nobody = `flood.${randomUUID().slice(0, 8)}@example.test`;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < world.config.frontDoor.publicPerAddressPerHour + 1; i++) {
      const r = await api.request('POST', '/v1/public/requests', { body: { email: nobody, type: 'deletion' }, token: null });
      statuses.push(r.status);
      retryAfter = r.headers.get('retry-after');
    }
    expect(statuses.slice(0, -1).every((s) => s === 202)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    const bad = await api.request('POST', '/v1/public/requests', { body: { email: 'not an address', type: 'deletion' }, token: null });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/email/);

    // Per client: a third API with a limit of 3 a minute; the 4th request from this client is refused, whatever the address.
    const strict = await startApi(world, { deps: { config: { ...world.config, frontDoor: { ...world.config.frontDoor, publicPerClientPerMinute: 3 } } } });
    try {
      const seen: number[] = [];
      for (let i = 0; i < 4; i++)
        seen.push((await strict.request('POST', '/v1/public/requests', { body: { email: `c${i}.${randomUUID().slice(0, 6)}@example.test`, type: 'deletion' }, token: null })).status);
      expect(seen).toEqual([202, 202, 202, 429]);
      const page = await fetch(`${strict.url}/privacy`, { method: 'GET' });
      expect(page.status).toBe(200);
    } finally {
      await strict.close();
    }
  });
});
