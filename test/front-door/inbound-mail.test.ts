/**
 * Mail to the privacy address as a channel (issue 32, CONTRACT §6): posted raw by a mail
 * provider's hook (`POST /v1/inbound-email`) and sent over SMTP to the API's listener. The
 * sender's address is not proof: the link goes to the account's address on file, read here from
 * the mail catcher (Mailpit). Robots' mail (auto-replies, bounces, list mail) gets no answer.
 */
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { TestWorld } from '../support/stack';
import { startMailWorld, type MailWorld } from '../support/inbound';
import { rngFor } from '../support/world-seed';
import { waitForStatus, type TestApi } from '../support/api';
import { expectEmpty, storesOf } from '../support/stores';
import { linkIn, mailsTo, waitForMail } from '../support/mailpit';
import { until, sleep } from '../support/until';
import { seedAccount, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';

const eventually = (what: string, fn: () => Promise<boolean>) => until(what, async () => ((await fn()) ? true : undefined));

describe('mail to the privacy address: a request verified through the account’s own mailbox', () => {
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

  const person = (spec: Parameters<typeof seedAccount>[1] = {}) => seedAccount(seed, { media: 2, emailOnlySupportRequests: 1, ...spec }, rand);
  const raw = (from: string, extra: Record<string, string> = {}) =>
    [
      `From: ${from}`,
      `To: ${privacy()}`,
      'Subject: Please delete my account',
      `Message-ID: <${randomUUID()}@example.test>`,
      `Date: ${new Date().toUTCString()}`,
      ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hello, please delete my account and all my timelapses. Thanks.',
      '',
    ].join('\r\n');
  const post = (body: string, token: string | null = hookToken) => api.request('POST', '/v1/inbound-email', { raw: body, token, headers: { 'content-type': 'message/rfc822' } });

  /** Opens the mailed link and confirms, as the person would (GET shows the button, POST confirms). */
  async function confirmFrom(text: string): Promise<string> {
    const link = linkIn(text, `${world.config.mail.publicUrl}/privacy/confirm?token=`);
    const visit = await fetch(`${api.url}${link.slice(world.config.mail.publicUrl.length)}`);
    const cookie = visit.headers.get('set-cookie')!.split(';')[0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(await visit.text())![1];
    const token = decodeURIComponent(link.split('token=')[1]);
    const res = await fetch(`${api.url}/privacy/confirm`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ token, csrf }).toString(),
    });
    expect(res.status).toBe(200);
    return /id="reference">([^<]+)</.exec(await res.text())![1];
  }

  async function completes(a: SeededAccount, since: Date) {
    const mail = await waitForMail({ to: a.email, subject: /confirm/i, after: since });
    const requestId = await confirmFrom(mail.text);
    const done = await waitForStatus(api, requestId);
    expect(done).toMatchObject({ status: 'completed', channel: 'email', verification: 'email' });
    await waitForMail({ to: a.email, subject: /deleted|complete/i, after: since });
    expectEmpty(await storesOf(seed, a));
    await eventually('the sealed address is erased', async () => (await seed.db('lethe.pending_notices').where({ account_id: a.id })).length === 0);
  }

  test('when a raw mail from the account’s address is posted to /v1/inbound-email, then the link goes to the address on file, and confirming deletes everything', async () => {
    const a = await person();
    const since = new Date(Date.now() - 1000);
    const res = await post(raw(a.email));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ outcome: 'filed' });
    await completes(a, since);
  });

  test('when a mail is sent over SMTP to the privacy address, then the same happens; mail for any other address is refused', async () => {
    const a = await person();
    const since = new Date(Date.now() - 1000);
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true });
    await transport.sendMail({ from: a.email, to: privacy(), subject: 'Delete my data', text: 'Please delete my account.' });
    await expect(transport.sendMail({ from: a.email, to: `someone-else@${privacy().split('@')[1]}`, subject: 'x', text: 'x' })).rejects.toThrow(/550/);
    transport.close();
    await completes(a, since);
  });

  test('when the sender writes the address in another letter case, then the link goes to the address on file, not to the sender’s spelling', async () => {
    const a = await person({ media: 0 });
    const shouted = a.email.toUpperCase();
    const since = new Date(Date.now() - 1000);
    expect((await post(raw(shouted))).status).toBe(202);
    await waitForMail({ to: a.email, subject: /confirm/i, after: since });
    expect(await mailsTo(shouted)).toHaveLength(0);
  });

  test('when an auto-reply, a bounce or list mail arrives, then it is ignored and nobody is answered', async () => {
    const a = await person({ media: 0 });
    const robots = [
      raw(a.email, { 'Auto-Submitted': 'auto-replied' }),
      raw(a.email, { Precedence: 'bulk' }),
      raw(a.email, { 'List-Id': '<news.example.test>' }),
      raw(a.email, { 'Return-Path': '<>' }),
      raw(`MAILER-DAEMON@example.test`, {}),
    ];
    for (const r of robots) {
      const res = await post(r);
      expect(res.status).toBe(202);
      expect(res.body.outcome).toBe('ignored');
      expect(res.body.reason).toBeTruthy();
    }
    // A bounce over SMTP: the empty envelope sender (MAIL FROM:<>).
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true });
    await transport.sendMail({ envelope: { from: '', to: privacy() }, from: a.email, to: privacy(), subject: 'Undeliverable', text: 'bounce' } as never);
    transport.close();
    await sleep(3000);
    expect(await mailsTo(a.email)).toHaveLength(0);
    expect(await seed.db('lethe.verifications').where({ account_id: a.id })).toHaveLength(0);
  });

  test('when mail comes from an address with no account, then one polite reply goes back, at most once a day', async () => {
    const stranger = `stranger.${randomUUID().slice(0, 8)}@example.test`;
    expect((await post(raw(stranger))).status).toBe(202);
    const reply = await waitForMail({ to: stranger, subject: /no account|not find|couldn/i });
    expect(reply.text).toContain('/privacy');
    expect((await post(raw(stranger))).status).toBe(202);
    await eventually(
      'the second mail is settled',
      async () =>
        (
          await seed
            .db('lethe.verifications')
            .where({ status: 'no_account', channel: 'email' })
            .where('first_contact_at', '>', new Date(Date.now() - 60_000))
        ).length >= 2,
    );
    await sleep(1000);
    expect(await mailsTo(stranger)).toHaveLength(1);
  });

  test('when the hook’s token is missing or of another role, then it is refused; the inbound token can do nothing else', async () => {
    const a = await person({ media: 0 });
    expect((await post(raw(a.email), null)).status).toBe(401);
    const res = await api.request('GET', '/v1/deletion-requests', { token: hookToken });
    expect(res.status).toBe(403);
    const bad = await api.request('POST', '/v1/inbound-email', { raw: 'not a mail at all', token: hookToken, headers: { 'content-type': 'message/rfc822' } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/header/);
    const json = await api.request('POST', '/v1/inbound-email', { body: { from: a.email }, token: hookToken });
    expect(json.status).toBe(415);
  });
});
