/**
 * Correction requests on the real stack (issue 35, CONTRACT §8, docs/correction.md): every field
 * reaches the database, the Auth0 user and the Recurly account and reads back; a new email is
 * applied nowhere until the person confirms the link mailed to it (read from Mailpit, clicked in
 * Chromium); an account under a legal hold, being deleted or deleted is refused; a new email that
 * a case twin holds is refused, when filed and when confirmed. Every store is read through its
 * own path: SQL, and the sandboxes' own endpoints (the vendors' paths with the vendors' auth, and
 * their admin views), never through Lethe's adapters.
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import type { TestWorld } from '../support/stack';
import { rngFor } from '../support/world-seed';
import { waitForStatus, type JsonBody, type TestApi } from '../support/api';
import { auth0UsersUnder, sandboxUrls } from '../support/stores';
import { linkIn, mailsTo, waitForMail } from '../support/mailpit';
import { seedAccount, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import { createCorrectionService } from '../../client/corrections';
import { EMAIL_PATTERN } from '../../client/validation';
import { correctionWorkflowId } from '../../contract/correction';
import { until } from '../support/until';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { getDataConverter } from '../../encryption';
import { requireKeyRing } from '../../config';
import { SHOTS, startPageWorld, type PageWorld } from '../support/browser';

const ENDED = ['completed', 'refused', 'failed'];

describe('correction requests: what the person asked support to put right, in every store', () => {
  let world: TestWorld;
  let api: TestApi;
  let seed: SeedDeps;
  let browser: Browser;
  let urls: { auth0: string; recurly: string };
  const rand = rngFor(__filename);
  const run = randomBytes(4).toString('hex');

  let pages: PageWorld;
  beforeAll(async () => {
    pages = await startPageWorld();
    ({ world, api, seed, browser } = pages);
    urls = sandboxUrls(seed);
  }, 120_000);
  afterAll(async () => {
    await pages?.close();
  });

  const person = (spec: Parameters<typeof seedAccount>[1] = {}) => seedAccount(seed, { media: 1, ...spec }, rand);

  /** The account row as the application's table holds it. */
  const row = (id: string) => seed.db('accounts').where({ id }).first('email', 'full_name', 'phone', 'address_line1', 'address_line2', 'city', 'region', 'postal_code', 'country');

  /** Auth0's own path: a client-credentials token, then GET /api/v2/users/{id}. */
  async function auth0User(userId: string): Promise<JsonBody> {
    const tokenRes = await fetch(`${urls.auth0}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'client_credentials',
        client_id: world.config.auth0.clientId,
        client_secret: world.config.auth0.clientSecret,
        audience: `https://${world.config.auth0.domain}/api/v2/`,
      }),
    });
    const { access_token } = (await tokenRes.json()) as { access_token: string };
    const res = await fetch(`${urls.auth0}/api/v2/users/${encodeURIComponent(userId)}`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(res.status).toBe(200);
    return res.json();
  }

  /** Recurly's own path: GET /accounts/code-{code} with the API key as Recurly takes it. */
  async function recurlyAccount(code: string): Promise<JsonBody> {
    const res = await fetch(`${urls.recurly}/accounts/code-${encodeURIComponent(code)}`, {
      headers: { authorization: `Basic ${Buffer.from(`${world.config.recurly.apiKey}:`).toString('base64')}`, accept: 'application/vnd.recurly.v2021-02-25+json' },
    });
    expect(res.status).toBe(200);
    return res.json();
  }

  /** Everything the three stores hold of the fields a correction touches. */
  async function everywhere(a: SeededAccount) {
    const u = await auth0User(a.auth0UserId!);
    const r = await recurlyAccount(a.recurlyAccountCode!);
    return {
      database: await row(a.id),
      auth0: { name: u.name, email: u.email, phone_number: u.phone_number },
      recurly: { first_name: r.first_name, last_name: r.last_name, email: r.email, address: r.address },
    };
  }

  const file = (a: SeededAccount, changes: Record<string, unknown>) =>
    api.request('POST', '/v1/correction-requests', { body: { accountId: a.id, changes, channel: 'support', requestedBy: 'agent-7' } });

  /** Polls the request until it is in one of `statuses`; fails at once if it ends otherwise. */
  async function waitFor(requestId: string, statuses: string[], timeoutMs = 60_000): Promise<JsonBody> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await api.request('GET', `/v1/correction-requests/${requestId}`);
      expect(res.status).toBe(200);
      if (statuses.includes(res.body.status)) return res.body;
      if (ENDED.includes(res.body.status)) throw new Error(`correction ${requestId} ended ${res.body.status}, not ${statuses.join('/')}: ${JSON.stringify(res.body)}`);
      if (Date.now() > deadline) throw new Error(`correction ${requestId} still ${res.body.status} after ${timeoutMs} ms: ${JSON.stringify(res.body)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  test('when every field is corrected, then each reaches the database, the Auth0 user and the Recurly account, reads back, and the receipt names fields only', async () => {
    const a = await person();
    const b = await person(); // a bystander: nothing of theirs changes
    const bBefore = await everywhere(b);
    const changes = {
      full_name: 'Marie Salomea Skłodowska Curie',
      phone: '+33 1 23-45-67-89',
      address_line1: '11 Rue Pierre et Marie Curie',
      address_line2: 'Pavillon 2',
      city: 'Paris',
      region: 'Île-de-France',
      postal_code: '75005',
      country: 'fr',
    };
    const res = await file(a, changes);
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/correction-requests/${res.body.requestId}`);
    const done = await waitFor(res.body.requestId, ['completed']);

    const now = await everywhere(a);
    expect(now.database).toEqual({
      email: a.email,
      full_name: 'Marie Salomea Skłodowska Curie',
      phone: '+33123456789',
      address_line1: '11 Rue Pierre et Marie Curie',
      address_line2: 'Pavillon 2',
      city: 'Paris',
      region: 'Île-de-France',
      postal_code: '75005',
      country: 'FR',
    });
    expect(now.auth0).toEqual({ name: 'Marie Salomea Skłodowska Curie', email: a.email.toLowerCase(), phone_number: '+33123456789' });
    expect(now.recurly).toMatchObject({
      first_name: 'Marie Salomea Skłodowska',
      last_name: 'Curie',
      email: a.email,
      address: { street1: '11 Rue Pierre et Marie Curie', street2: 'Pavillon 2', city: 'Paris', region: 'Île-de-France', postal_code: '75005', country: 'FR', phone: '+33123456789' },
    });

    // The receipt: which fields went where, by name; no value anywhere in it or in the view.
    const fields = ['full_name', 'phone', 'address_line1', 'address_line2', 'city', 'region', 'postal_code', 'country'];
    expect(done.receipt.stores).toEqual([
      { store: 'database', applied: fields, outcome: 'applied' },
      { store: 'auth0', applied: ['full_name', 'phone'], outcome: 'applied' },
      { store: 'recurly', applied: fields, outcome: 'applied' },
    ]);
    expect(done.receipt.notApplied).toEqual([]);
    const stored = await seed.db('lethe.correction_requests').where({ request_id: done.requestId }).first();
    expect(stored.changes_sealed).toBeNull();
    expect(stored.subject_sealed).toBeNull();
    for (const text of [JSON.stringify(done), JSON.stringify(stored)]) for (const v of ['Curie', '+33123456789', 'Pavillon', '75005', 'Paris']) expect(text).not.toContain(v);
    const audit = await seed.db('lethe.audit_log').where({ request_id: done.requestId, action: 'correction_request.filed' }).first();
    expect(audit.details).toEqual({ channel: 'support', fields, requestedBy: 'agent-7' });

    const listed = await api.request('GET', `/v1/correction-requests?accountId=${a.id}`);
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((i: JsonBody) => [i.requestId, i.status, i.fields])).toEqual([[done.requestId, 'completed', fields]]);
    expect(await everywhere(b)).toEqual(bBefore);
    const metrics = await api.request('GET', '/metrics');
    expect(metrics.text).toMatch(/lethe_requests_total\{type="correction"\} [1-9]/);
  }, 120_000);

  test('when a change is malformed, then 400 names the field and nothing is filed', async () => {
    const a = await person({ subscriptions: null, auth0: 'none' });
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'body/changes'],
      [{ nickname: 'x' }, 'body/changes/nickname'],
      [{ phone: '12345' }, 'body/changes/phone'],
      [{ email: 'not an email' }, 'body/changes/email'],
      [{ country: 'Portugal' }, 'body/changes/country'],
      [{ full_name: null }, 'body/changes/full_name'],
      [{ city: '   ' }, 'body/changes/city'],
      [{ address_line1: 'x'.repeat(51) }, 'body/changes/address_line1'],
    ];
    for (const [changes, field] of cases) {
      const res = await file(a, changes);
      expect({ changes, status: res.status, field: res.body.field }).toEqual({ changes, status: 400, field });
      expect(res.body.message).toContain(field);
    }
    expect(await seed.db('lethe.correction_requests').where({ account_id: a.id })).toEqual([]);
  }, 60_000);

  test('when the email is corrected, then the new address gets a link and nothing changes until the person confirms it in the browser; then every store has it', async () => {
    const a = await person();
    const before = await everywhere(a);
    const newEmail = `Marie.Curie.${run}@Example.test`;
    const asked = new Date(Date.now() - 1000);
    const res = await file(a, { email: newEmail, full_name: 'Marie Curie' });
    expect(res.status).toBe(202);
    const waiting = await waitFor(res.body.requestId, ['awaiting_confirmation']);
    expect(waiting.email.status).toBe('awaiting_confirmation');

    const mail = await waitForMail({ to: newEmail, subject: /confirm your new email/i, after: asked });
    // The other fields are applied; the email is applied nowhere yet, and the old address got nothing.
    const meanwhile = await everywhere(a);
    expect(meanwhile.database.email).toBe(a.email);
    expect(meanwhile.database.full_name).toBe('Marie Curie');
    expect(meanwhile.auth0.email).toBe(before.auth0.email);
    expect(meanwhile.recurly.email).toBe(before.recurly.email);
    expect((await mailsTo(a.email)).filter((m) => m.date >= new Date(asked.getTime() - 1000))).toEqual([]);

    const link = linkIn(mail.text, `${world.config.mail.publicUrl}/corrections/confirm?token=`);
    const page = await browser.newPage({ viewport: { width: 900, height: 800 } });
    try {
      await page.goto(`${api.url}${link.slice(world.config.mail.publicUrl.length)}`);
      await page.getByRole('heading', { name: 'Confirm your new email address' }).waitFor();
      // Opening the link changes nothing.
      expect((await row(a.id)).email).toBe(a.email);
      await page.screenshot({ path: path.join(SHOTS, 'correction-confirm.png') });
      await page.getByRole('button', { name: 'Confirm the new address' }).click();
      await page.getByRole('heading', { name: 'Your new address is confirmed' }).waitFor();
      expect(await page.locator('#reference').textContent()).toBe(res.body.requestId);
      await page.screenshot({ path: path.join(SHOTS, 'correction-confirmed.png') });
      // The link works once.
      await page.goto(`${api.url}${link.slice(world.config.mail.publicUrl.length)}`);
      await page.getByRole('heading', { name: 'This link was already used' }).waitFor();
      // The request id without its secret tells nothing of the request, not even that it was confirmed.
      const forged = link.replace(/\.[A-Za-z0-9_-]{43}$/, `.${'A'.repeat(43)}`);
      expect(forged).not.toBe(link);
      await page.goto(`${api.url}${forged.slice(world.config.mail.publicUrl.length)}`);
      await page.getByRole('heading', { name: 'This link does not work' }).waitFor();
    } finally {
      await page.close();
    }

    const done = await waitFor(res.body.requestId, ['completed']);
    expect(done.email.status).toBe('applied');
    const after = await everywhere(a);
    expect(after.database.email).toBe(newEmail);
    // Auth0 keeps a database user's email lower-cased (reference.md, users.listUsersByEmail).
    expect(after.auth0.email).toBe(newEmail.toLowerCase());
    expect(after.recurly.email).toBe(newEmail);
    expect(done.receipt.stores.map((s: JsonBody) => [s.store, s.applied])).toEqual([
      ['database', ['full_name', 'email']],
      ['auth0', ['full_name', 'email']],
      ['recurly', ['full_name', 'email']],
    ]);
    const confirmed = await seed.db('lethe.audit_log').where({ request_id: done.requestId, action: 'correction_request.email_confirmed' }).first();
    expect(confirmed.actor).toBe('the-person');
  }, 120_000);

  test('when the link is never confirmed, then the address expires applied nowhere, and the receipt says so', async () => {
    // The service as the API builds it, with a link that lives 5 seconds (LETHE_VERIFICATION_TTL's floor is a minute).
    const corrections = createCorrectionService({ config: { ...world.config, frontDoor: { ...world.config.frontDoor, verificationTtlMs: 5_000 } }, db: seed.db, temporal: world.client });
    const a = await person();
    const before = await everywhere(a);
    const filed = await corrections.file({ accountId: a.id, changes: { email: `Never.${run}@example.test` }, channel: 'phone' }, new RegExp(EMAIL_PATTERN));
    await waitForMail({ to: `Never.${run}@example.test`, subject: /confirm your new email/i });
    const done = await waitFor(filed.requestId, ['completed'], 60_000);
    expect(done.email.status).toBe('expired');
    expect(done.receipt.notApplied).toEqual([{ field: 'email', reason: 'the new address was not confirmed before its link expired' }]);
    expect(await everywhere(a)).toEqual(before);
  }, 120_000);

  test('when the account is under a legal hold, being deleted or deleted, then the correction is refused with a clear error and nothing changes', async () => {
    // Held: placed through the API, as an admin does.
    const held = await person();
    const heldBefore = await everywhere(held);
    const hold = await api.request('POST', '/v1/holds', { body: { accountId: held.id, reason: 'litigation hold for the correction test' } });
    expect(hold.status).toBe(201);
    const refusedHeld = await file(held, { full_name: 'Someone Else' });
    expect(refusedHeld.status).toBe(409);
    expect(refusedHeld.body.error).toBe('account_held');
    expect(refusedHeld.body.message).toMatch(/legal hold/);
    expect(await everywhere(held)).toEqual(heldBefore);

    // Deleted: through a real deletion, completed.
    const gone = await person();
    const deletion = await api.request('POST', '/v1/deletion-requests', { body: { accountId: gone.id, channel: 'support' } });
    expect(deletion.status).toBe(202);
    await waitForStatus(api, deletion.body.requestId, 90_000);
    const refusedGone = await file(gone, { city: 'Lyon' });
    expect(refusedGone.status).toBe(410);
    expect(refusedGone.body.error).toBe('account_deleted');
    expect(refusedGone.body.message).toContain(deletion.body.requestId);

    // Being deleted: a deletion request on record that has not ended (a held deletion, the hold released by hand here).
    const deleting = await person();
    const deletingBefore = await everywhere(deleting);
    await seed.db('lethe.deletion_requests').insert({
      request_id: `test-open-${run}`,
      account_id: deleting.id,
      channel: 'support',
      received_at: new Date(),
      deadline_at: new Date(Date.now() + 72 * 3_600_000),
      status: 'running',
    });
    const refusedDeleting = await file(deleting, { city: 'Lyon' });
    expect(refusedDeleting.status).toBe(409);
    expect(refusedDeleting.body.error).toBe('account_being_deleted');
    expect(await everywhere(deleting)).toEqual(deletingBefore);
    await seed
      .db('lethe.deletion_requests')
      .where({ request_id: `test-open-${run}` })
      .del();

    // A hold placed while the new address waits for its link: the confirmed address is refused at every store.
    const later = await person();
    const laterBefore = await everywhere(later);
    const asked = new Date(Date.now() - 1000);
    const res = await file(later, { email: `Later.${run}@example.test` });
    expect(res.status).toBe(202);
    await waitFor(res.body.requestId, ['awaiting_confirmation']);
    const mail = await waitForMail({ to: `Later.${run}@example.test`, subject: /confirm your new email/i, after: asked });
    expect((await api.request('POST', '/v1/holds', { body: { accountId: later.id, reason: 'a hold arrives while the link waits' } })).status).toBe(201);
    await confirmByForm(mail.text);
    const refused = await waitFor(res.body.requestId, ['refused']);
    expect(refused.reason).toMatch(/legal hold/);
    expect(refused.email.status).toBe('refused');
    expect(await everywhere(later)).toEqual(laterBefore);
  }, 180_000);

  test('when the new email is a case twin of another account’s, then it is refused (409 naming the other by id, never its address) and neither account changes in any store', async () => {
    const twinEmail = `Twin.${run}@example.test`;
    const twin = await person({ email: twinEmail });
    const a = await person();
    const aBefore = await everywhere(a);
    const twinBefore = await everywhere(twin);
    for (const spelling of [twinEmail.toLowerCase(), twinEmail.toUpperCase(), twinEmail]) {
      const res = await file(a, { email: spelling });
      expect(res.status).toBe(409);
      expect(res.body.error).toBe('email_taken');
      expect(res.body.field).toBe('body/changes/email');
      expect(res.body.message).toContain(twin.id);
      expect(res.text.toLowerCase()).not.toContain(twinEmail.toLowerCase());
    }
    // Read through SQL (every account under the address in any case) and the sandboxes' own views.
    const holders = await seed.db('accounts').whereRaw('lower(email) = lower(?)', [twinEmail]).select('id', 'email');
    expect(holders).toEqual([{ id: twin.id, email: twinEmail }]);
    expect((await auth0UsersUnder(urls.auth0, twinEmail)).map((u) => u.user_id)).toEqual([twin.auth0UserId]);
    expect(await everywhere(a)).toEqual(aBefore);
    expect(await everywhere(twin)).toEqual(twinBefore);
    expect(await seed.db('lethe.correction_requests').where({ account_id: a.id })).toEqual([]);
  }, 60_000);

  test('when a case twin takes the new address while its link waits, then the confirmed address is applied nowhere and the request is refused', async () => {
    const a = await person();
    const other = await person();
    const aBefore = await everywhere(a);
    const newEmail = `Racer.${run}@example.test`;
    const asked = new Date(Date.now() - 1000);
    const res = await file(a, { email: newEmail });
    expect(res.status).toBe(202);
    await waitFor(res.body.requestId, ['awaiting_confirmation']);
    const mail = await waitForMail({ to: newEmail, subject: /confirm your new email/i, after: asked });
    // Meanwhile the application gives another account the same address in other letters.
    await seed.db('accounts').where({ id: other.id }).update({ email: newEmail.toUpperCase() });
    await confirmByForm(mail.text);
    const refused = await waitFor(res.body.requestId, ['refused']);
    expect(refused.reason).toContain(other.id);
    expect(refused.reason.toLowerCase()).not.toContain(newEmail.toLowerCase());
    expect(await everywhere(a)).toEqual(aBefore);
    expect(await seed.db('accounts').whereRaw('lower(email) = lower(?)', [newEmail]).select('id')).toEqual([{ id: other.id }]);
  }, 120_000);

  test("when an account with no Auth0 user id is corrected and a legacy case twin's login answers its email, then nothing of the twin's login changes and the refusal names the twin by id", async () => {
    // A is all lower case with no Auth0 login of its own; B (Legacy.x@) is legacy: a database
    // user Auth0 stores lower-cased, which a lookup of A's email finds.
    const local = `legacy.${run}`;
    const a = await person({ email: `${local}@example.test`, auth0: 'none' });
    const b = await person({ email: `L${local.slice(1)}@example.test`, auth0: 'legacy' });
    const [twinLogin] = (await auth0UsersUnder(urls.auth0, b.email)).map((u) => u.user_id);
    expect(twinLogin).toBeDefined();
    const twinBefore = await auth0User(twinLogin);
    const converter = loadDataConverter(getDataConverter(requireKeyRing(world.config)));
    const res = await file(a, { full_name: 'Not The Twin', phone: '+33 1 98 76 54 32' });
    expect(res.status).toBe(202);
    // The run's own record: the step that finds the login failed, naming the twin's account (never its address).
    const failure = await until(
      'the login lookup refused',
      async () => {
        const history = await world.client.workflow.getHandle(correctionWorkflowId(res.body.requestId)).fetchHistory();
        // Failures are encoded in history (payload encryption): decoded as the Web UI's codec does.
        const failures = history.events?.map((e) => e.activityTaskFailedEventAttributes?.failure).filter((f) => f) ?? [];
        const messages = await Promise.all(failures.map(async (f) => (await decodeOptionalFailureToOptionalError(converter, f))?.message));
        const refusal = messages.find((m) => m?.includes(b.id));
        if (refusal) return refusal;
        // Or the correction went through: the test then shows what it did to the twin.
        const status = (await api.request('GET', `/v1/correction-requests/${res.body.requestId}`)).body.status;
        return status === 'completed' ? `completed without a refusal` : undefined;
      },
      60_000,
      250,
    );
    // Through Auth0's own path: the twin's login is as it was; the database row of the twin too.
    expect(await auth0User(twinLogin)).toEqual(twinBefore);
    expect((await row(b.id))?.full_name).not.toBe('Not The Twin');
    expect(failure).toContain(twinLogin);
    expect(failure.toLowerCase()).not.toContain(local);
    expect((await api.request('GET', `/v1/correction-requests/${res.body.requestId}`)).body.status).not.toBe('completed');
  }, 120_000);

  test('when Auth0 alone holds the new address (a login no account row names), then the confirmed address is applied nowhere: not in the database or Recurly either', async () => {
    const a = await person();
    const aBefore = await everywhere(a);
    const newEmail = `Orphan.${run}@example.test`;
    // A login at Auth0 under the address (Auth0 keeps a database user's email lower-cased), in no account row.
    const orphan = await seed.auth0.createUser({ email: newEmail.toLowerCase(), name: 'Someone Else' });
    expect(await seed.db('accounts').whereRaw('lower(email) = lower(?)', [newEmail]).select('id')).toEqual([]);
    const asked = new Date(Date.now() - 1000);
    const res = await file(a, { email: newEmail });
    expect(res.status).toBe(202);
    // Refused before the link is sent; were it sent, the confirmation must not apply it anywhere either.
    if ((await waitFor(res.body.requestId, ['awaiting_confirmation', 'refused'])).status === 'awaiting_confirmation') {
      const mail = await waitForMail({ to: newEmail, subject: /confirm your new email/i, after: asked });
      await confirmByForm(mail.text);
    }
    const refused = await waitFor(res.body.requestId, ['refused']);
    expect(refused.reason).toMatch(/another Auth0 user holds this address/);
    // Every store as it was (SQL, Auth0's and Recurly's own paths); the other login untouched.
    expect(await everywhere(a)).toEqual(aBefore);
    expect((await auth0User(orphan.userId)).name).toBe('Someone Else');
  }, 120_000);

  /** Confirms a mailed link the way a browser's form does (GET for the CSRF cookie, then POST). */
  async function confirmByForm(text: string): Promise<void> {
    const link = linkIn(text, `${world.config.mail.publicUrl}/corrections/confirm?token=`);
    const token = decodeURIComponent(link.split('token=')[1]);
    const get = await fetch(`${api.url}${link.slice(world.config.mail.publicUrl.length)}`);
    expect(get.status).toBe(200);
    const cookie = (get.headers.get('set-cookie') ?? '').split(';')[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(await get.text())![1];
    const post = await fetch(`${api.url}/corrections/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ token, csrf }).toString(),
    });
    expect(post.status).toBe(200);
  }
});
