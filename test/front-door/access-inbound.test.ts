/**
 * A mail to the privacy address that asks for a copy of the person's data (issue 35 item 1,
 * docs/front-door.md "What a mail asks for"): it becomes an access request's verification, the
 * link goes to the address on file, and confirming it starts the access request with channel
 * `email`. A deletion wording, or a mail that asks for neither clearly, stays a deletion request
 * as before. A case twin of the sender gets nothing, and neither does the sender.
 */
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { TestWorld } from '../support/stack';
import { startMailWorld, type MailWorld } from '../support/inbound';
import { rngFor } from '../support/world-seed';
import type { TestApi } from '../support/api';
import { linkIn, mailsTo, waitForMail } from '../support/mailpit';
import { until } from '../support/until';
import { seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { requireKeyRing } from '../../config';
import { getFieldCipher } from '../../encryption';
import { emailLookupKey } from '../../stores/subjects';
import { requestTypeOf } from '../../client/inbound';
import { readInbound } from '../../mail/inbound';
import { verificationMail, verificationReminder } from '../../mail/templates';

describe('what a mail to the privacy address asks for', () => {
  test.each([
    ['Copy of my data', 'Hello', 'access'],
    ['Subject access request', '', 'access'],
    ['GDPR Article 15', '', 'access'],
    ['Access request', 'Please delete nothing yet.', 'access'],
    ['Hello', 'Hi,\nwhat data do you have about me?', 'access'],
    ['Question', 'Could you send me a copy of my personal data please', 'access'],
    ['Please delete my account', 'and send me a copy of my data first', 'deletion'],
    ['Delete my data', '', 'deletion'],
    ['Hello', 'Please erase everything you hold on me.', 'deletion'],
    // Neither, or both in the same words: a deletion request, as every mail was before.
    ['Hello', 'Please help', 'deletion'],
    ['Re: your account', 'Delete everything, but first send me a copy of my data', 'deletion'],
    ['', '', 'deletion'],
  ])('subject %j, opening %j: %s', (subject, opening, type) => {
    expect(requestTypeOf({ subject, opening }).type).toBe(type);
  });

  test('the opening is the first lines the person wrote, without the quoted thread below', async () => {
    const raw = ['From: p@example.test', 'To: privacy@lethe.test', 'Subject: Re: hello', '', 'Thanks.', '', '> We can delete your account if you ask.', ''].join('\r\n');
    const mail = await readInbound(raw);
    expect(mail.opening).toBe('Thanks.');
    expect(requestTypeOf(mail)).toEqual({ type: 'deletion', by: 'default' });
  });

  test('the mails say which request is confirmed: a copy goes to this mailbox', () => {
    const publicUrl = 'http://127.0.0.1:8080';
    const opts = { publicUrl, link: `${publicUrl}/privacy/confirm?token=x`, expiresAt: new Date() };
    for (const m of [verificationMail({ ...opts, kind: 'access', channel: 'email' }), verificationReminder({ ...opts, kind: 'access' })]) {
      expect(m.subject).toMatch(/copy of your data/);
      expect(`${m.subject}\n${m.text}`).not.toMatch(/delet/i);
      expect(m.text).toMatch(/download link to this email address, the one on the account/);
    }
    expect(verificationMail({ ...opts, kind: 'deletion', channel: 'email' }).subject).toBe('Confirm the deletion of your account');
  });
});

describe('a mail asking for a copy of one’s data: verified through the account’s own mailbox', () => {
  let mail: MailWorld;
  let world: TestWorld;
  let api: TestApi;
  let seed: SeedDeps;
  let smtp: MailWorld['smtp'];
  let hookToken: string;
  const rand = rngFor(__filename);
  const privacy = () => mail.privacy;

  beforeAll(async () => {
    mail = await startMailWorld();
    ({ world, api, seed, smtp, hookToken } = mail);
  }, 120_000);
  afterAll(async () => mail?.close());

  const raw = (from: string, subject: string, text: string) =>
    [
      `From: ${from}`,
      `To: ${privacy()}`,
      `Subject: ${subject}`,
      `Message-ID: <${randomUUID()}@example.test>`,
      `Date: ${new Date().toUTCString()}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      text,
      '',
    ].join('\r\n');
  const post = (body: string) => api.request('POST', '/v1/inbound-email', { raw: body, token: hookToken, headers: { 'content-type': 'message/rfc822' } });
  const verificationsFor = (email: string) => seed.db('lethe.verifications').where({ email_hash: getFieldCipher(() => requireKeyRing(world.config)).lookupHash(emailLookupKey(email)) });

  /** Opens the mailed link and confirms, as the person would (GET shows the button, POST confirms). */
  async function confirmFrom(text: string): Promise<{ page: string; reference: string }> {
    const link = linkIn(text, `${world.config.mail.publicUrl}/privacy/confirm?token=`);
    const visit = await fetch(`${api.url}${link.slice(world.config.mail.publicUrl.length)}`);
    const cookie = visit.headers.get('set-cookie')!.split(';')[0];
    const shown = await visit.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(shown)![1];
    const res = await fetch(`${api.url}/privacy/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ token: decodeURIComponent(link.split('token=')[1]), csrf }).toString(),
    });
    expect(res.status).toBe(200);
    return { page: shown, reference: /id="reference">([^<]+)</.exec(await res.text())![1] };
  }

  test('when a mail asks for a copy in its first lines, then the link goes to the address on file, and confirming starts an access request that mails the archive there', async () => {
    const a = await seedAccount(seed, { media: 1 }, rand);
    const since = new Date(Date.now() - 1000);
    // The sender writes the address in capitals: the link goes to the address as on file.
    const shouted = a.email.toUpperCase();
    const res = await post(raw(shouted, 'Hello', 'Hi,\nwhat data do you have about me? I would like to see it.\nThanks'));
    expect([res.status, res.body]).toEqual([202, { outcome: 'filed' }]);

    const mail = await waitForMail({ to: a.email, subject: /copy of your data/i, after: since });
    expect(mail.headers['Auto-Submitted']?.[0]).toBe('auto-replied');
    expect(mail.text).toMatch(/The request came in a mail to our privacy address/);
    expect(await mailsTo(shouted)).toHaveLength(0);
    const [v] = await verificationsFor(a.email);
    expect(v).toMatchObject({ kind: 'access', channel: 'email', account_id: a.id });

    const { page, reference } = await confirmFrom(mail.text);
    expect(page).toMatch(/Confirm: send me a copy of my data/);
    const [row] = await seed.db('lethe.access_requests').where({ account_id: a.id });
    expect(row).toMatchObject({ request_id: reference, channel: 'email' });
    expect(await seed.db('lethe.deletion_requests').where({ account_id: a.id })).toHaveLength(0);

    const ready = await waitForMail({ to: a.email, subject: /copy of your data is ready/i, after: since, timeoutMs: 180_000 });
    expect(ready.text).toContain(reference);
    expect((await api.request('GET', `/v1/access-requests/${reference}`)).body).toMatchObject({ status: 'ready', channel: 'email' });
  }, 300_000);

  test('when a mail over SMTP names a subject access request, then it is an access verification; a deletion wording and an unclear one stay deletions', async () => {
    const [copy, del, unclear] = [await seedAccount(seed, { media: 0 }, rand), await seedAccount(seed, { media: 0 }, rand), await seedAccount(seed, { media: 0 }, rand)];
    const since = new Date(Date.now() - 1000);
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true });
    await transport.sendMail({ from: copy.email, to: privacy(), subject: 'Subject access request (GDPR Article 15)', text: 'Please see the subject.' });
    await transport.sendMail({ from: del.email, to: privacy(), subject: 'Please delete my account', text: 'Thanks.' });
    await transport.sendMail({ from: unclear.email, to: privacy(), subject: 'Hello', text: 'I have a question about my account.' });
    transport.close();

    expect((await waitForMail({ to: copy.email, after: since })).subject).toBe('Confirm your request for a copy of your data');
    expect((await waitForMail({ to: del.email, after: since })).subject).toBe('Confirm the deletion of your account');
    expect((await waitForMail({ to: unclear.email, after: since })).subject).toBe('Confirm the deletion of your account');
    const kinds = await Promise.all([copy, del, unclear].map(async (p) => (await verificationsFor(p.email)).map((r) => r.kind)));
    expect(kinds).toEqual([['access'], ['deletion'], ['deletion']]);
  });

  test('when a mail asking for a copy comes from an address with a case twin, then nothing is mailed to either and no copy is made', async () => {
    const local = `mailtwin.${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    const a = await seedAccount(seed, { email: `${local[0].toUpperCase()}${local.slice(1)}@example.test`, media: 0, auth0: 'none' }, rand);
    const b = await seedAccount(seed, { email: `${local}@example.test`, media: 0, auth0: 'none' }, rand);
    expect((await post(raw(b.email, 'Copy of my data', 'Please send it.'))).status).toBe(202);
    const [v] = await until(
      'the request settled',
      async () => {
        const rows = await verificationsFor(b.email);
        return rows.length && rows[0].status !== 'received' ? rows : undefined;
      },
      30_000,
      200,
    );
    expect(v).toMatchObject({ kind: 'access', status: 'ambiguous', account_id: null });
    expect(await mailsTo(a.email)).toHaveLength(0);
    expect(await mailsTo(b.email)).toHaveLength(0);
    expect(await seed.db('lethe.access_requests').whereIn('account_id', [a.id, b.id])).toHaveLength(0);
  });
});
