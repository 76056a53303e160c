/**
 * Issue 33: the privacy console in Debian's chromium (playwright-core), against the real stack.
 *
 * Signs in, walks every page and uses every action: retry, bulk retry with its preview, resolve
 * with a justification, reveal an email; checks the buckets against requests planted with known
 * deadlines (under a channel of this file's own, so other files' requests never count), pages
 * the table, finds a request by email with a case twin about (never the twin's), downloads the
 * receipt and the compliance CSV; and shows that a requester token, a missing session and a
 * missing CSRF token are refused. Screenshots land in test-artifacts/screenshots/.
 *
 * The blocked request is blocked the way a real one is: an uninvoiced Recurly charge.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Knex } from 'knex';
import type { BrowserContext, Page } from 'playwright-core';
import { seedDepsOf } from '../support/world-seed';
import { createApiServer } from '../../client/api/server';
import { createConsoleData } from '../../client/console/data';
import { getFieldCipher } from '../../encryption';
import { requireKeyRing } from '../../config';
import { verificationContext } from '../../stores/verifications';
import { emailLookupKey } from '../../stores/subjects';
import { until } from '../support/until';
import { rng, seedAccount, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import { type ConsoleRig, OPERATOR_TOKEN, plantRequest, plantStoreStates, plantVerification, REQUESTER_TOKEN, screenshot, signIn, startConsoleRig, stopConsoleRig } from './support';

// Runs in the page; the project compiles without the DOM lib.
type Doc = { document: { querySelectorAll(s: string): { length: number } & Iterable<{ textContent: string | null; getAttribute(n: string): string | null }> } };

describe('the privacy console', () => {
  const rig: Partial<ConsoleRig> = {};
  let seed: SeedDeps;
  const rand = rng(33_033);
  const charges: string[] = [];
  const channel = `console-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    Object.assign(rig, await startConsoleRig());
    seed = seedDepsOf(rig.world!);
  }, 180_000);
  afterAll(async () => {
    for (const id of charges) await seed?.recurly.removeLineItem(id).catch(() => undefined);
    await stopConsoleRig(rig);
  });

  const url = () => rig.api!.url;
  const db = () => rig.world!.deps.db;
  async function newPage(opts: { javaScriptEnabled?: boolean; width?: number } = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await rig.browser!.newContext({ viewport: { width: opts.width ?? 1280, height: 900 }, acceptDownloads: true, javaScriptEnabled: opts.javaScriptEnabled ?? true });
    return { context, page: await context.newPage() };
  }
  const countOf = async (q: Knex.QueryBuilder): Promise<number> => Number(((await q.count({ n: '*' })) as { n: string }[])[0].n);
  const openWith = async (base: string, cookie: string): Promise<number> => (await fetch(`${base}/console`, { headers: { cookie: `lethe_console=${cookie}` }, redirect: 'manual' })).status;
  const bucketCounts = async (page: Page): Promise<Record<string, number>> =>
    page.evaluate(() => {
      const out: Record<string, number> = {};
      for (const el of (globalThis as unknown as Doc).document.querySelectorAll('[data-bucket]')) {
        out[el.getAttribute('data-bucket')!] = Number((el as unknown as { querySelector(s: string): { textContent: string } }).querySelector('.n').textContent);
      }
      return out;
    });

  test('when there is no session, a requester token, or no CSRF token, then the console refuses; an operator signs in with a HttpOnly SameSite=Strict cookie, and sign-out revokes it', async () => {
    const { context, page } = await newPage();
    try {
      // No session: every page sends the browser to the sign-in form; an action is 401.
      await page.goto(`${url()}/console`);
      expect(new URL(page.url()).pathname).toBe('/console/sign-in');
      const noSession = await fetch(`${url()}/console/bulk-retry/preview`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'status=blocked' });
      expect(noSession.status).toBe(401);

      // A requester token: refused, no cookie.
      await signIn(page, url(), REQUESTER_TOKEN);
      expect(await page.textContent('[role=alert]')).toMatch(/"help-desk" has the requester role; the console needs an operator or admin token/);
      expect(await context.cookies()).toHaveLength(0);
      // A wrong token likewise.
      await signIn(page, url(), 'not-a-token-at-all');
      expect(await page.textContent('[role=alert]')).toMatch(/not valid/);
      await screenshot(page, 'console-sign-in-refused');

      // An operator: a session cookie only this path sees, not readable by scripts, not sent cross-site.
      await signIn(page, url(), OPERATOR_TOKEN);
      expect(new URL(page.url()).pathname).toBe('/console');
      const [cookie] = await context.cookies();
      expect(cookie).toMatchObject({ name: 'lethe_console', path: '/console', httpOnly: true, sameSite: 'Strict', secure: false });
      expect(cookie.expires).toBeGreaterThan(Date.now() / 1000 + 3600);
      // Only the id's hash is stored.
      const stored: { session_hash: string; token_name: string }[] = await db()('lethe.console_sessions').where({ token_name: 'privacy-officer' });
      expect(stored.length).toBeGreaterThan(0);
      expect(stored.some((s) => s.session_hash === cookie.value)).toBe(false);

      // An action with the session but without (or with a wrong) CSRF token: 403, nothing done.
      const planted = await plantRequest(db(), channel, { leftHours: 10, status: 'failed' });
      const before = await db()('lethe.operator_actions').where({ request_id: planted }).count<{ n: string }[]>({ n: '*' });
      for (const form of [{ status: 'x' }, { _csrf: 'forged' }] as Record<string, string>[]) {
        const r = await context.request.post(`${url()}/console/requests/${planted}/retry`, { form, maxRedirects: 0 });
        expect(r.status()).toBe(403);
        expect(await r.text()).toMatch(/CSRF/);
      }
      expect(await db()('lethe.operator_actions').where({ request_id: planted }).count<{ n: string }[]>({ n: '*' })).toEqual(before);

      // The JSON API is unchanged by the console's form parser: a form body is still 415 there.
      const api = await rig.api!.request('POST', '/v1/deletion-requests', { raw: 'accountId=x&channel=api', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(api.status).toBe(415);

      // Sign-out revokes: the same cookie opens nothing afterwards.
      await page.getByRole('button', { name: 'Sign out' }).click();
      expect(new URL(page.url()).pathname).toBe('/console/sign-in');
      const replay = await fetch(`${url()}/console`, { headers: { cookie: `lethe_console=${cookie.value}` }, redirect: 'manual' });
      expect(replay.status).toBe(303);
      const audit: { action: string; actor: string }[] = await db()('lethe.audit_log').whereIn('action', ['console.signed_in', 'console.signed_out']).where({ actor: 'privacy-officer' });
      expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['console.signed_in', 'console.signed_out']));
      expect(await db()('lethe.audit_log').where({ actor: 'help-desk', action: 'console.signed_in' }).first()).toBeUndefined();

      // A form from another site is refused, sign-in included (no login into someone else's session).
      const crossSite = await fetch(`${url()}/console/sign-in`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://attacker.example' },
        body: `token=${OPERATOR_TOKEN}`,
        redirect: 'manual',
      });
      expect(crossSite.status).toBe(403);
      expect(crossSite.headers.get('set-cookie')).toBeNull();

      // An expired session opens nothing.
      await signIn(page, url(), OPERATOR_TOKEN);
      const expiring = (await context.cookies())[0].value;
      const hashOf = (id: string) => createHash('sha256').update(id).digest('hex');
      expect(await openWith(url(), expiring)).toBe(200);
      await db()('lethe.console_sessions')
        .where({ session_hash: hashOf(expiring) })
        .update({ expires_at: new Date(Date.now() - 1000) });
      expect(await openWith(url(), expiring)).toBe(303);

      // A token taken out of the configuration ends its sessions: the same cookie, to an API started without that token
      // (the world's own configuration: the operator token is added only for the API under test).
      await signIn(page, url(), OPERATOR_TOKEN);
      const live = (await context.cookies())[0].value;
      expect(await openWith(url(), live)).toBe(200);
      const without = createApiServer({
        config: { ...rig.world!.config, api: { ...rig.world!.config.api, credentials: rig.world!.config.api.credentials ?? [] } },
        db: db(),
        temporal: rig.world!.client,
      });
      try {
        await without.listen({ host: '127.0.0.1', port: 0 });
        const port = (without.server.address() as { port: number }).port;
        const r = await fetch(`http://127.0.0.1:${port}/console`, { headers: { cookie: `lethe_console=${live}` }, redirect: 'manual' });
        expect(r.status).toBe(303);
        expect(r.headers.get('location')).toBe('/console/sign-in');
      } finally {
        await without.close();
      }
    } finally {
      await context.close();
    }
  });

  test('when requests with known deadlines are planted, then each bucket counts exactly them, the table filters by bucket with live countdowns (and reads without JavaScript), and pages by keyset', async () => {
    const ch = `${channel}-b`;
    await plantVerification(db(), ch);
    await plantRequest(db(), ch, { leftHours: 48, status: 'running' }); // on time
    await plantRequest(db(), ch, { leftHours: 30, status: 'blocked' }); // on time and blocked
    await plantRequest(db(), ch, { leftHours: 3, status: 'running' }); // due soon
    await plantRequest(db(), ch, { leftHours: 20, status: 'pending' }); // due soon (24 h margin)
    await plantRequest(db(), ch, { leftHours: -2, status: 'running' }); // past due
    await plantRequest(db(), ch, { leftHours: -5, status: 'held' }); // held: its clock paused, never past due
    await plantRequest(db(), ch, { leftHours: 40, status: 'completed', completedHoursAgo: 24 }); // completed in the period
    await plantRequest(db(), ch, { leftHours: -24 * 60, status: 'completed', completedHoursAgo: 24 * 60, receivedHoursAgo: 24 * 63 }); // completed, before the 30 d period
    const { context, page } = await newPage();
    try {
      await signIn(page, url());
      await page.goto(`${url()}/console?channel=${ch}`);
      expect(await bucketCounts(page)).toEqual({ awaiting_confirmation: 1, on_time: 2, due_soon: 2, past_due: 1, blocked: 1, held: 1, completed: 1 });
      await page.goto(`${url()}/console?channel=${ch}&period=90`);
      expect((await bucketCounts(page)).completed).toBe(2);
      await page.goto(`${url()}/console?channel=${ch}`);
      await screenshot(page, 'console-requests');

      // A bucket filters the table; the countdown is live (it changes as seconds pass).
      await page.click('[data-bucket=due_soon]');
      expect(await page.locator('#requests tbody tr').count()).toBe(2);
      const lefts = await page.locator('#requests time[data-deadline]').allTextContents();
      expect(lefts.every((t) => /^\d+ h \d+ min left$/.test(t))).toBe(true);
      await page.click('[data-bucket=past_due]');
      expect(await page.locator('#requests time[data-deadline]').allTextContents()).toEqual([expect.stringMatching(/^(1 h 59|2 h 0) min overdue$/)]);
      await page.click('[data-bucket=awaiting_confirmation]');
      expect(await page.locator('#requests tbody').textContent()).toMatch(/verification/);

      // On a phone, the table reads as one card per request.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${url()}/console?channel=${ch}`);
      await screenshot(page, 'console-requests-phone');
    } finally {
      await context.close();
    }

    // Every value is escaped: a channel that looks like markup shows as text, and no element comes of it.
    const markup = `<img src=x id=injected>${ch}`;
    await plantRequest(db(), markup, { leftHours: 10, status: 'running' });
    const escaped = await newPage();
    try {
      await signIn(escaped.page, url());
      await escaped.page.goto(`${url()}/console?channel=${encodeURIComponent(markup)}`);
      expect(await escaped.page.locator('#requests tbody td[data-label=Channel]').allTextContents()).toEqual([markup]);
      expect(await escaped.page.locator('#injected').count()).toBe(0);
    } finally {
      await escaped.context.close();
    }

    // Without JavaScript the time left is there, as rendered.
    const noJs = await newPage({ javaScriptEnabled: false });
    try {
      await signIn(noJs.page, url());
      await noJs.page.goto(`${url()}/console?channel=${ch}&bucket=due_soon`);
      expect(await noJs.page.locator('#requests time[data-deadline]').allTextContents()).toEqual([expect.stringMatching(/h \d+ min left/), expect.stringMatching(/h \d+ min left/)]);
    } finally {
      await noJs.context.close();
    }

    // Keyset paging: 60 rows, 50 then 10, none twice, newest first.
    const pch = `${channel}-p`;
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push(await plantRequest(db(), pch, { leftHours: 50, status: 'running', receivedHoursAgo: 1 + i / 100 }));
    const paged = await newPage();
    try {
      await signIn(paged.page, url());
      await paged.page.goto(`${url()}/console?channel=${pch}`);
      const first = await paged.page.locator('#requests tbody tr').evaluateAll((rows) => rows.map((r) => (r as unknown as { getAttribute(n: string): string }).getAttribute('data-ref')));
      await paged.page.getByRole('link', { name: 'Next page' }).click();
      const second = await paged.page.locator('#requests tbody tr').evaluateAll((rows) => rows.map((r) => (r as unknown as { getAttribute(n: string): string }).getAttribute('data-ref')));
      expect(first).toHaveLength(50);
      expect(second).toHaveLength(10);
      expect([...first, ...second]).toEqual(ids);
      expect(await paged.page.getByRole('link', { name: 'Next page' }).count()).toBe(0);
    } finally {
      await paged.context.close();
    }
  });

  test('when request records are older than 24 months, then the pruning removes finished requests, their receipts and unconfirmed public requests, and keeps newer and open ones', async () => {
    const ch = `${channel}-old`;
    const months = (n: number) => n * 30.5 * 24;
    const oldDone = await plantRequest(db(), ch, { leftHours: -months(25), status: 'completed', receivedHoursAgo: months(25) + 72, completedHoursAgo: months(25) });
    const oldOpen = await plantRequest(db(), ch, { leftHours: -months(25), status: 'blocked', receivedHoursAgo: months(25) + 72 });
    const recentDone = await plantRequest(db(), ch, { leftHours: -months(23), status: 'completed', receivedHoursAgo: months(23) + 72, completedHoursAgo: months(23) });
    for (const id of [oldDone, recentDone]) {
      const r = await db()('lethe.deletion_requests').where({ request_id: id }).first();
      await db()('lethe.receipts').insert({
        request_id: id,
        account_id: r.account_id,
        channel: ch,
        received_at: r.received_at,
        deadline_at: r.deadline_at,
        completed_at: r.completed_at,
        counts: '{}',
        verification: '{}',
      });
    }
    const oldExpired = await plantVerification(db(), ch, 'expired', months(25));
    const oldAwaiting = await plantVerification(db(), ch, 'awaiting_confirmation', months(25));

    expect(await createConsoleData({ db: db() }).pruneRequestRecords()).toBeGreaterThanOrEqual(3);

    const left: string[] = await db()('lethe.deletion_requests').where({ channel: ch }).pluck('request_id');
    expect(left.sort()).toEqual([oldOpen, recentDone].sort());
    expect(await db()('lethe.receipts').where({ channel: ch }).pluck('request_id')).toEqual([recentDone]);
    expect(await db()('lethe.verifications').where({ channel: ch }).pluck('verification_id')).toEqual([oldAwaiting]);
    expect(oldExpired).toBeDefined();
  });

  /** A deletion filed through the API whose Recurly store stays blocked (an open charge). */
  async function blockedOnRecurly(a: SeededAccount): Promise<string> {
    const charge = await seed.recurly.createCharge({ accountCode: a.recurlyAccountCode!, amount: 15, description: 'replacement camera mount' });
    charges.push(charge.id);
    const filed = await rig.api!.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'support', requestedBy: 'desk-33' } });
    expect(filed.status).toBe(202);
    const requestId: string = filed.body.requestId;
    await waitBlocked(requestId);
    return requestId;
  }
  async function waitBlocked(requestId: string): Promise<void> {
    await until(
      'recurly blocked',
      async () => {
        const v = (await rig.api!.request('GET', `/v1/deletion-requests/${requestId}`)).body;
        return v.status === 'blocked' && v.stores?.some((s: { store: string; status: string }) => s.store === 'recurly' && s.status === 'blocked') ? true : undefined;
      },
      90_000,
      250,
    );
  }

  test('when a request is blocked, then the operator finds it by email (not its case twin), reveals the email (audited), retries it, bulk-retries it after a preview, resolves the store with a justification, and downloads its receipt', async () => {
    const a = await seedAccount(seed, { media: 2, loginEvents: 1 }, rand);
    // A bystander whose address differs only in letter case: a different person.
    const twinEmail = a.email.replace(/^./, (c) => c.toUpperCase());
    const twin = await seedAccount(seed, { media: 1, email: twinEmail, subscriptions: null, auth0: 'none' }, rand);
    const requestId = await blockedOnRecurly(a);
    const { context, page } = await newPage();
    try {
      await signIn(page, url());

      // Find by email: the person's request; the twin's address finds nothing of theirs.
      await page.getByLabel('Find by request id, account id or email').fill(a.email);
      await page.getByRole('button', { name: 'Find' }).click();
      expect(await page.locator('#requests tbody tr').evaluateAll((rows) => rows.map((r) => (r as unknown as { getAttribute(n: string): string }).getAttribute('data-ref')))).toEqual([requestId]);
      await page.getByLabel('Find by request id, account id or email').fill(twin.email);
      await page.getByRole('button', { name: 'Find' }).click();
      expect(await page.locator('#requests').count()).toBe(0);
      expect(await page.textContent('main')).toMatch(/No requests match/);
      // Public requests typed with an address: the one as spelt, never its case twin's.
      const cipher = getFieldCipher(() => requireKeyRing(rig.world!.config));
      const typed: Record<string, string> = {};
      for (const email of [a.email, twin.email]) {
        const id = await plantVerification(db(), `${channel}-v`);
        await db()('lethe.verifications')
          .where({ verification_id: id })
          .update({ email_sealed: cipher.seal(email, verificationContext(id)), email_hash: cipher.lookupHash(emailLookupKey(email)) });
        typed[email] = id;
      }
      for (const email of [a.email, twin.email]) {
        await page.getByLabel('Find by request id, account id or email').fill(email);
        await page.getByRole('button', { name: 'Find' }).click();
        expect(await page.locator('#public-requests tbody tr').evaluateAll((rows) => rows.map((r) => (r as unknown as { getAttribute(n: string): string }).getAttribute('data-ref')))).toEqual([
          typed[email],
        ]);
      }

      // By request id and by account id.
      for (const q of [requestId, a.id]) {
        await page.getByLabel('Find by request id, account id or email').fill(q);
        await page.getByRole('button', { name: 'Find' }).click();
        expect(await page.locator('#requests tbody tr').count()).toBe(1);
      }

      // One request: the store chips, the vendor's reason and what to do, the Temporal link.
      await page.click(`a[href="/console/requests/${requestId}"]`);
      const main = await page.textContent('main');
      expect(main).toMatch(/recurly: blocked/);
      expect(main).toMatch(/media: verified/);
      expect(main).toMatch(/What to do:/);
      expect(main).not.toContain(a.email);
      expect(await page.getByRole('link', { name: 'Open the run in the Temporal Web UI' }).getAttribute('href')).toMatch(new RegExp(`/namespaces/default/workflows/deletion-${a.id}$`));
      await screenshot(page, 'console-request');

      // Reveal the email: shown, and the audit trail says who saw which request's, without the address.
      await page.getByRole('button', { name: 'Reveal email' }).click();
      expect(await page.textContent('#revealed-email')).toBe(a.email);
      const revealed = await db()('lethe.audit_log').where({ action: 'deletion_subject.email_revealed', request_id: requestId }).first();
      expect(revealed).toMatchObject({ actor: 'privacy-officer', via: 'api' });
      expect(JSON.stringify(revealed)).not.toContain(a.email.split('@')[0]);

      // Retry: recorded under the token's name, audited.
      await page.goto(`${url()}/console/requests/${requestId}`);
      await page.getByRole('button', { name: 'Retry now' }).click();
      expect(await page.textContent('[role=status]')).toMatch(/Retry requested/);
      expect(await countOf(db()('lethe.operator_actions').where({ request_id: requestId, action: 'retry', by: 'privacy-officer' }))).toBe(1);
      expect(await db()('lethe.audit_log').where({ action: 'deletion_request.retried', request_id: requestId, actor: 'privacy-officer' }).first()).toBeDefined();
      await waitBlocked(requestId);

      // Bulk retry: a preview that does nothing, then only the ticked requests (others' blocked requests are left alone).
      await page.goto(`${url()}/console`);
      await page.getByRole('button', { name: 'Preview' }).click();
      expect(await page.textContent('main')).toMatch(/would be retried now\. Nothing has been done yet/);
      await screenshot(page, 'console-bulk-preview');
      expect(await countOf(db()('lethe.operator_actions').where({ request_id: requestId, action: 'retry' }))).toBe(1);
      for (const box of await page.locator('input[name=ids]').all()) if ((await box.getAttribute('value')) !== requestId) await box.uncheck();
      await page.getByRole('button', { name: 'Retry the ticked requests' }).click();
      expect(await page.textContent('main')).toMatch(/1 of 1 request\(s\) retried/);
      expect(await countOf(db()('lethe.operator_actions').where({ request_id: requestId, action: 'retry' }))).toBe(2);
      expect(await db()('lethe.audit_log').where({ action: 'deletion_requests.bulk_retried', actor: 'privacy-officer' }).first()).toBeDefined();
      await waitBlocked(requestId);

      // Resolve: the justification is required (the browser will not send an empty one; the server refuses a short one).
      await page.goto(`${url()}/console/requests/${requestId}`);
      const csrf = await page.locator('form[action$="/resolve"] input[name=_csrf]').getAttribute('value');
      const short = await context.request.post(`${url()}/console/requests/${requestId}/resolve`, { form: { _csrf: csrf!, store: 'recurly', justification: 'done' }, maxRedirects: 0 });
      expect(short.status()).toBe(400);
      expect(await short.text()).toMatch(/justification is required/);
      await page.getByLabel(/Justification/).fill('Charge voided by hand in Recurly by billing, ticket FIN-3302');
      await page.getByRole('button', { name: 'Resolve' }).click();
      expect(await page.textContent('[role=status]')).toMatch(/resolved outside Lethe/);
      await until('the request completes', async () => ((await rig.api!.request('GET', `/v1/deletion-requests/${requestId}`)).body.status === 'completed' ? true : undefined), 90_000, 250);
      await page.goto(`${url()}/console/requests/${requestId}`);
      const done = await page.textContent('main');
      expect(done).toMatch(/privacy-officer resolved recurly outside Lethe: “Charge voided by hand in Recurly by billing, ticket FIN-3302”/);
      expect(done).toMatch(/Completed, receipt written/);
      expect(done).toMatch(/hidden \(the request has ended\)/);
      await screenshot(page, 'console-request-completed');

      // The receipt as a page and as JSON.
      await page.getByRole('link', { name: 'Receipt', exact: true }).click();
      expect(await page.textContent('main')).toMatch(/resolved outside Lethe/);
      await screenshot(page, 'console-receipt');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download the receipt (JSON)' }).click()]);
      expect(download.suggestedFilename()).toBe(`receipt-${requestId}.json`);
      const receipt = JSON.parse(fs.readFileSync((await download.path())!, 'utf8'));
      expect(receipt).toMatchObject({ requestId, accountId: a.id, stores: { recurly: { outcome: 'resolved_outside_lethe' }, media: { outcome: 'verified' } } });
    } finally {
      await context.close();
    }
  }, 300_000);

  test('when stores have recorded states, then each row shows a chip per store, the store filter finds the requests blocked at Recurly, and the overview charts blocked requests by store', async () => {
    const ch = `${channel}-s`;
    const atRecurly = await plantRequest(db(), ch, { leftHours: 40, status: 'blocked' });
    await plantStoreStates(db(), atRecurly, { media: 'verified', auth0: 'verified', recurly: 'blocked', database: 'verified' }, 50);
    const atAuth0 = await plantRequest(db(), ch, { leftHours: 30, status: 'blocked' });
    await plantStoreStates(db(), atAuth0, { media: 'verified', auth0: 'blocked', recurly: 'retrying', database: 'running' });
    const fresh = await plantRequest(db(), ch, { leftHours: 60, status: 'pending' });
    const { context, page } = await newPage();
    try {
      await signIn(page, url());
      await page.goto(`${url()}/console?channel=${ch}`);
      const chips = async (id: string) => page.locator(`#requests tr[data-ref="${id}"] td.stores .chip`).allTextContents();
      expect(await chips(atRecurly)).toEqual(['media: verified', 'auth0: verified', 'recurly: blocked', 'database: verified']);
      expect(await chips(atAuth0)).toEqual(['media: verified', 'auth0: blocked', 'recurly: retrying', 'database: running']);
      expect(await chips(fresh)).toEqual([]);
      expect(await page.locator(`#requests tr[data-ref="${atRecurly}"] td.stores .chip.blocked`).count()).toBe(1);

      // "Blocked at Recurly", through the filter form.
      await page.locator('form[aria-label="Filter requests"] select[name=store]').selectOption('recurly');
      await page.locator('form[aria-label="Filter requests"] select[name=store_state]').selectOption('blocked');
      await page.getByRole('button', { name: 'Apply' }).click();
      expect(new URL(page.url()).searchParams.get('store')).toBe('recurly');
      const refs = await page.locator('#requests tbody tr').evaluateAll((rows) => rows.map((r) => (r as unknown as { getAttribute(n: string): string }).getAttribute('data-ref')));
      expect(refs).toEqual([atRecurly]);
      await screenshot(page, 'console-requests-blocked-at-recurly');
      await page.goto(`${url()}/console?channel=${ch}&store=recurly&store_state=retrying`);
      expect(await page.locator('#requests tbody tr').evaluateAll((rows) => rows.map((r) => (r as unknown as { getAttribute(n: string): string }).getAttribute('data-ref')))).toEqual([atAuth0]);

      // The chart: the Recurly episode began two days ago and goes on, Auth0's an hour ago.
      await page.getByRole('link', { name: 'Overview' }).click();
      await page.waitForSelector('#chart-blocked canvas');
      const legend = await page.locator('#chart-blocked .u-legend').textContent();
      expect(legend).toContain('recurly');
      expect(legend).toContain('auth0');
      const numbers = page.locator('section', { has: page.locator('#chart-blocked') }).locator('table');
      const header = await numbers.locator('thead th').allTextContents();
      const rowOf = async (day: string) => numbers.locator('tbody tr', { hasText: day }).first().locator('td').allTextContents();
      const day = (ago: number) => new Date(Date.now() - ago * 86_400_000).toISOString().slice(0, 10);
      const at = (cells: string[], store: string) => Number(cells[header.indexOf(store)]);
      expect(at(await rowOf(day(0)), 'recurly')).toBeGreaterThanOrEqual(1);
      expect(at(await rowOf(day(2)), 'recurly')).toBeGreaterThanOrEqual(1);
      expect(at(await rowOf(day(0)), 'auth0')).toBeGreaterThanOrEqual(1);
      await screenshot(page, 'console-overview-blocked-by-store');
    } finally {
      await context.close();
    }
  });

  test('when the overview and the compliance report are opened, then the charts draw from Lethe’s tables and the report counts the period’s requests, as a page and as CSV', async () => {
    const ch = `${channel}-r`;
    // Two completed in 1 and 3 days, one received and open, one public request that expired.
    await plantRequest(db(), ch, { leftHours: 48, status: 'completed', receivedHoursAgo: 24, completedHoursAgo: 0 });
    await plantRequest(db(), ch, { leftHours: -24, status: 'completed', receivedHoursAgo: 96, completedHoursAgo: 24 });
    await plantRequest(db(), ch, { leftHours: 60, status: 'running' });
    await plantVerification(db(), ch, 'expired', 30);
    const { context, page } = await newPage();
    try {
      await signIn(page, url());
      await page.getByRole('link', { name: 'Overview' }).click();
      await page.waitForSelector('#chart-per-day canvas');
      await page.waitForSelector('#chart-time canvas');
      expect(await page.locator('#chart-per-day .u-legend').textContent()).toContain(ch);
      expect(Number(await page.textContent('#reaching'))).toBeGreaterThanOrEqual(0);
      await screenshot(page, 'console-overview');

      await page.getByRole('link', { name: 'Compliance report' }).click();
      const row = page.locator('#report tbody tr', { hasText: ch }).first();
      const cells = await row.locator('td').allTextContents();
      // Type, channel, received, completed, skipped, denied, expired, withdrawn, median, mean.
      // The expired public request was received too, and counts as expired.
      expect(cells.slice(0, 8)).toEqual(['deletion', ch, '4', '2', '0', '0', '1', '0']);
      expect(Number(cells[8])).toBeCloseTo(2, 1);
      expect(Number(cells[9])).toBeCloseTo(2, 1);
      await screenshot(page, 'console-report');
      const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download CSV' }).click()]);
      expect(csv.suggestedFilename()).toMatch(/^lethe-report-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv$/);
      const lines = fs
        .readFileSync((await csv.path())!, 'utf8')
        .trim()
        .split('\r\n');
      expect(lines[0]).toBe('Type,Channel,Received,Completed,Skipped (active again),Denied,Expired,Withdrawn,Median days to complete,Mean days to complete');
      expect(lines).toContain(`deletion,${ch},4,2,0,0,1,0,2.00,2.00`);
      expect(lines[lines.length - 1]).toMatch(/^all,all,/);
    } finally {
      await context.close();
    }
  });
});
