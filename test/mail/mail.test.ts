/**
 * Outbound mail against the real catcher: every template goes through createMailer over SMTP to
 * the test stack's Mailpit and is read back through its API v1, as a person would see it. Also:
 * addresses differing only in case are different recipients, and an SMTP server that is down or
 * refuses says whether a retry can help.
 */
import { randomUUID } from 'node:crypto';
import { SMTPServer } from 'smtp-server';
import { testConfig } from '../support/stack';
import { freePort } from '../../dev/stack/net';
import { createMailer, isMailError, MailError, type Mailer } from '../../mail/transport';
import { acknowledgementMail, completionMail, noAccountMail, refusedMail, verificationMail, verificationReminder, type RenderedMail } from '../../mail/templates';
import { mailsTo, waitForMail, linkIn, deleteMail, sameMailbox } from '../support/mailpit';

const config = testConfig();
const publicUrl = config.mail.publicUrl;
/** A domain of this run's own: the catcher is shared with the other test files. */
const domain = `${randomUUID().slice(0, 8)}.mail.test`;
const link = `${publicUrl}/privacy/confirm?token=${'a'.repeat(43)}`;
const expiresAt = new Date(Date.now() + 24 * 3_600_000);

const TEMPLATES: [string, RenderedMail, 'auto-generated' | 'auto-replied'][] = [
  ['verification (web)', verificationMail({ publicUrl, link, expiresAt, kind: 'deletion', channel: 'web' }), 'auto-generated'],
  ['verification (email)', verificationMail({ publicUrl, link, expiresAt, kind: 'deletion', channel: 'email' }), 'auto-replied'],
  ['verification (staff)', verificationMail({ publicUrl, link, expiresAt, kind: 'deletion', channel: 'staff' }), 'auto-generated'],
  ['reminder', verificationReminder({ publicUrl, link, expiresAt }), 'auto-generated'],
  ['acknowledgement', acknowledgementMail({ publicUrl, requestId: 'req-7f3a', deadlineAt: new Date(Date.now() + 72 * 3_600_000) }), 'auto-generated'],
  [
    'completion',
    completionMail({
      publicUrl,
      requestId: 'req-7f3a',
      completedAt: new Date(),
      // An outcome with markup: the HTML must show it, not run it.
      stores: [
        { name: 'Images and videos', outcome: '12 files deleted' },
        { name: 'Login', outcome: '1 login deleted <script>x</script>' },
      ],
    }),
    'auto-generated',
  ],
  ['no account', noAccountMail({ publicUrl }), 'auto-replied'],
  ['refused (ambiguous)', refusedMail({ publicUrl, reason: 'ambiguous' }), 'auto-generated'],
  ['refused (needs operator, by mail)', refusedMail({ publicUrl, reason: 'needs_operator', channel: 'email' }), 'auto-replied'],
];

/** Every http(s) URL in a text or an HTML body. */
const urlsIn = (s: string): string[] => [...s.matchAll(/https?:\/\/[^\s"'<>]+/g)].map((m) => m[0]);

let mailer: Mailer;
const sent: string[] = [];

beforeAll(() => {
  mailer = createMailer(config.mail);
});

afterAll(async () => {
  mailer.close();
  await deleteMail(sent);
});

describe('outbound mail through the embedded mail catcher', () => {
  test.each(TEMPLATES)('when the %s mail is sent, then it arrives as rendered, marked Auto-Submitted, with no image and no link but ours', async (name, mail, autoSubmitted) => {
    const to = `${name.replace(/[^a-z]+/g, '-')}@${domain}`;
    const before = new Date();
    const { messageId } = await mailer.send({ to, ...mail });
    expect(messageId).toMatch(/^<.+@.+>$/);
    const got = await waitForMail({ to, after: before, timeoutMs: 15_000 });
    sent.push(got.id);

    expect(got.subject).toBe(mail.subject);
    expect(got.subject.length).toBeGreaterThan(10);
    expect(got.text.trim()).toBe(mail.text.trim());
    expect(got.html).toContain('<p');
    expect(got.from).toBe('privacy@lethe.test');
    expect(got.to).toEqual([to]);
    expect(got.headers['Auto-Submitted']).toEqual([autoSubmitted]);
    expect(got.headers['X-Auto-Response-Suppress']).toEqual(['All']);
    // Says who sends it and why, in both forms.
    for (const body of [got.text, got.html]) {
      expect(body).toMatch(/Sent by the privacy team at /);
      expect(body).toMatch(/You get this mail because/);
    }
    // No tracking: no image, no remote style or font, and every link is this Lethe's.
    expect(got.html).not.toMatch(/<img|<link|<script|@import|url\(|src=/i);
    const urls = [...urlsIn(got.text), ...urlsIn(got.html)];
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) expect(u.startsWith(`${publicUrl}/`)).toBe(true);
  });

  test('when a mail carries the confirmation link, then the text and the HTML hold the same link, and linkIn finds it', async () => {
    const to = `link@${domain}`;
    const before = new Date();
    await mailer.send({ to, ...verificationMail({ publicUrl, link, expiresAt, kind: 'deletion', channel: 'web' }) });
    const got = await waitForMail({ to, subject: /^Confirm the deletion/, after: before, timeoutMs: 15_000 });
    sent.push(got.id);
    expect(linkIn(got.text, `${publicUrl}/privacy/confirm?token=`)).toBe(link);
    expect(linkIn(got.html, `${publicUrl}/privacy/confirm?token=`)).toBe(link);
    // Readable expiry, in UTC, and the 72 hours counted from the confirmation.
    expect(got.text).toContain(`${expiresAt.getUTCFullYear()},`);
    expect(got.text).toMatch(/\d{2}:\d{2} UTC/);
    expect(got.text).toMatch(/The 72 hours start when you confirm/);
  });

  test('when a value holds markup, then the HTML escapes it', async () => {
    const to = `escape@${domain}`;
    const before = new Date();
    await mailer.send({ to, ...completionMail({ publicUrl, requestId: 'req-1', completedAt: new Date(), stores: [{ name: 'Login', outcome: '<b onclick="x()">1</b>' }] }) });
    const got = await waitForMail({ to, after: before, timeoutMs: 15_000 });
    sent.push(got.id);
    expect(got.html).not.toContain('<b onclick');
    expect(got.html).toContain('&lt;b onclick=&quot;x()&quot;&gt;1&lt;/b&gt;');
    expect(got.text).toContain('<b onclick="x()">1</b>');
  });

  test('when mail goes to Ann@ and to ann@ of one domain, then each is listed for its own address only', async () => {
    const upper = `Ann@${domain}`;
    const lower = `ann@${domain}`;
    const before = new Date();
    await mailer.send({ to: upper, ...noAccountMail({ publicUrl }) });
    const toUpper = await waitForMail({ to: upper, after: before, timeoutMs: 15_000 });
    sent.push(toUpper.id);
    // Mailpit keeps the local part as sent (nodemailer writes the domain lower-case).
    expect(toUpper.to).toEqual([upper]);
    // The bystander reading their own mail sees nothing of Ann's, though Mailpit's search ignores case.
    expect(await mailsTo(lower)).toEqual([]);
    await mailer.send({ to: lower, ...refusedMail({ publicUrl, reason: 'ambiguous' }) });
    const toLower = await waitForMail({ to: lower, after: before, timeoutMs: 15_000 });
    sent.push(toLower.id);
    expect((await mailsTo(lower)).map((m) => m.id)).toEqual([toLower.id]);
    expect((await mailsTo(upper)).map((m) => m.id)).toEqual([toUpper.id]);
    expect(sameMailbox(upper, `Ann@${domain.toUpperCase()}`)).toBe(true);
    expect(sameMailbox(upper, lower)).toBe(false);
  });

  test('when the recipient is a list or has a display name, then nothing is sent and the error is permanent', async () => {
    for (const to of [`a@${domain}, b@${domain}`, `Ann <ann@${domain}>`, 'not-an-address']) {
      const err = await mailer.send({ to, subject: 's', text: 't', html: '<p>t</p>' }).catch((e: unknown) => e);
      expect(isMailError(err)).toBe(true);
      expect((err as MailError).transient).toBe(false);
      expect((err as MailError).message).not.toContain(domain);
    }
    expect(await mailsTo(`a@${domain}`)).toEqual([]);
  });

  test('when a template is given a link elsewhere, then it refuses to render', () => {
    expect(() => verificationMail({ publicUrl, link: 'https://evil.example/privacy/confirm?token=x', expiresAt, kind: 'deletion', channel: 'web' })).toThrow(/must start with publicUrl/);
  });
});

describe('when sending fails', () => {
  test('when nothing listens on the SMTP port, then the MailError is transient (unavailable)', async () => {
    const closed = createMailer({ smtpUrl: `smtp://127.0.0.1:${await freePort()}`, from: config.mail.from });
    try {
      const err = await closed.send({ to: `down@${domain}`, ...noAccountMail({ publicUrl }) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MailError);
      expect(err).toMatchObject({ type: 'unavailable', transient: true });
    } finally {
      closed.close();
    }
  });

  test('when the server answers 4xx the error is transient, 5xx permanent; neither message holds the address', async () => {
    const port = await freePort();
    // A real SMTP server (nodemailer's smtp-server) that defers one recipient and refuses another.
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, cb) {
        const err = Object.assign(new Error(`mailbox ${address.address} busy`), { responseCode: address.address.startsWith('later') ? 451 : 550 });
        cb(err);
      },
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const smtp = createMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: config.mail.from });
    try {
      const deferred = await smtp.send({ to: `later@${domain}`, ...noAccountMail({ publicUrl }) }).catch((e: unknown) => e);
      expect(deferred).toMatchObject({ type: 'deferred', transient: true, responseCode: 451 });
      const refused = await smtp.send({ to: `never@${domain}`, ...noAccountMail({ publicUrl }) }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ type: 'rejected', transient: false, responseCode: 550 });
      for (const e of [deferred, refused]) expect((e as Error).message).not.toMatch(/@|later|never/);
    } finally {
      smtp.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
