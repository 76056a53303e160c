/**
 * The mails Lethe sends to people: each rendered as plain text and as simple HTML from the same
 * blocks, so the two say the same thing. A person reads these, often worried: short sentences,
 * what happened, what they can do, who writes and why.
 *
 * What they never hold: a name or any personal data beyond the address they go to (which the
 * caller gives the transport, not the template); tracking pixels, remote images, fonts or
 * styles (inline styles only); a link anywhere but this Lethe's public URL. Every value is
 * HTML-escaped. Each result carries the RFC 3834 `Auto-Submitted` value that fits it, in
 * `headers`, so `mailer.send({ to, ...verificationMail(...) })` marks it right.
 */

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  /** `Auto-Submitted`: `auto-replied` answers a mail someone sent; `auto-generated` anything else. */
  headers: { 'Auto-Submitted': 'auto-generated' | 'auto-replied' };
}

/** What every template takes: the public base URL its links start with (config.mail.publicUrl). */
export interface MailContext {
  publicUrl: string;
}

export type Channel = 'web' | 'email' | 'staff';

/** The deadline the policy promises, counted from the confirmation (CONTRACT §1). */
const DEFAULT_DEADLINE_HOURS = 72;

const SIGNATURE = 'The privacy team';

/** What a deletion removes, said the way a person knows it (the four stores of CONTRACT §1). */
const WHAT_IS_DELETED = ['your account and its profile', 'your images and videos', 'your login', 'your billing record (any subscription ends)'];

type Block = { p: string } | { link: string; label: string } | { list: string[] } | { small: string };

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function base(publicUrl: string): string {
  const u = new URL(publicUrl);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('mail templates: publicUrl must be http(s)');
  return publicUrl.replace(/\/+$/, '');
}

/** A link in a mail must lead to this Lethe: a template never points anywhere else. */
function ownLink(publicUrl: string, link: string): string {
  if (!link.startsWith(`${base(publicUrl)}/`)) throw new Error('mail templates: a link must start with publicUrl');
  return link;
}

/** `Monday 7 December 2026, 20:15 UTC`: one reading everywhere, whatever the reader's locale. */
export function readableUtc(when: Date | string): string {
  const d = new Date(when);
  if (Number.isNaN(d.getTime())) throw new Error('mail templates: not a date');
  const day = d.toLocaleDateString('en-GB', { timeZone: 'UTC', weekday: 'long' });
  const month = d.toLocaleDateString('en-GB', { timeZone: 'UTC', month: 'long' });
  const hh = String(d.getUTCHours()).padStart(2, '0');
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  return `${day} ${d.getUTCDate()} ${month} ${d.getUTCFullYear()}, ${hh}:${mm} UTC`;
}

function render(ctx: MailContext, subject: string, blocks: Block[], why: string, autoSubmitted: RenderedMail['headers']['Auto-Submitted']): RenderedMail {
  const url = base(ctx.publicUrl);
  const footer = `Sent by the privacy team at ${new URL(url).host}. ${why} Questions about your data: ${url}/privacy`;
  const all: Block[] = [{ p: 'Hello,' }, ...blocks, { p: `${SIGNATURE}` }, { small: footer }];

  const text = all
    .map((b) => {
      if ('p' in b) return b.p;
      if ('link' in b) return b.link;
      if ('list' in b) return b.list.map((i) => `  - ${i}`).join('\n');
      return `--\n${b.small}`;
    })
    .join('\n\n');

  const P = 'margin:0 0 16px 0;';
  const body = all
    .map((b) => {
      if ('p' in b) return `<p style="${P}">${escapeHtml(b.p)}</p>`;
      if ('link' in b)
        return `<p style="${P}"><a href="${escapeHtml(b.link)}" style="display:inline-block;padding:10px 16px;background:#1d4ed8;color:#ffffff;text-decoration:none;border-radius:4px;">${escapeHtml(b.label)}</a></p><p style="${P}font-size:13px;color:#444444;word-break:break-all;">${escapeHtml(b.link)}</p>`;
      if ('list' in b) return `<ul style="${P}padding-left:20px;">${b.list.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>`;
      return `<p style="margin:24px 0 0 0;padding-top:12px;border-top:1px solid #dddddd;font-size:13px;color:#555555;">${escapeHtml(b.small)}</p>`;
    })
    .join('\n');
  const html = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(subject)}</title></head>`,
    '<body style="margin:0;padding:24px;background:#ffffff;color:#111111;font-family:Arial, Helvetica, sans-serif;font-size:16px;line-height:1.5;">',
    '<div style="max-width:560px;">',
    body,
    '</div>',
    '</body>',
    '</html>',
  ].join('\n');
  return { subject, text: `${text}\n`, html, headers: { 'Auto-Submitted': autoSubmitted } };
}

const HOW_ASKED: Record<Channel, string> = {
  web: 'The request was made on our privacy page.',
  email: 'The request came in a mail to our privacy address.',
  staff: 'The request was made through our support team.',
};

/** What a front-door request asks for (lethe.verifications.kind). */
export type RequestKind = 'deletion' | 'access';

/** What a copy holds, said the way a person knows it (docs/access.md: the four stores). */
const WHAT_IS_COPIED = ['your account and its profile', 'your images and videos', 'your login and its history', 'your billing record (subscriptions and invoices)'];

/**
 * A copy sounds harmless, but confirming one sends everything about the account to this
 * mailbox: the mail and the confirm page say so before anyone confirms.
 */
const COPY_GOES_HERE =
  'Please read this before you confirm: we send the copy as a download link to this email address, the one on the account. Anyone who can read this mailbox can download everything in it.';

/**
 * The link that proves the request is the account holder's: sent only to the address on file.
 * `auto-replied` when it answers a mail to the privacy address (RFC 3834 §5), else `auto-generated`.
 */
export function verificationMail(opts: MailContext & { link: string; expiresAt: Date | string; kind: RequestKind; channel: Channel; deadlineHours?: number }): RenderedMail {
  const link = ownLink(opts.publicUrl, opts.link);
  const hours = opts.deadlineHours ?? DEFAULT_DEADLINE_HOURS;
  const autoSubmitted = opts.channel === 'email' ? 'auto-replied' : 'auto-generated';
  if (opts.kind === 'access') {
    return render(
      opts,
      'Confirm your request for a copy of your data',
      [
        { p: `Someone asked us for a copy of all the data we hold about the account that uses this email address. ${HOW_ASKED[opts.channel]}` },
        { p: 'If it was you, open this link and confirm:' },
        { link, label: 'Review and confirm: send me a copy' },
        { p: COPY_GOES_HERE },
        { p: 'If it was not you, ignore this mail: nothing is gathered or sent, and your account stays as it is.' },
        { p: `The link works once, and only until ${readableUtc(opts.expiresAt)}. Opening it sends nothing: you confirm on the page it opens.` },
        { p: `Once you confirm, we mail you the download link within ${hours} hours. The copy holds:` },
        { list: WHAT_IS_COPIED },
      ],
      'You get this mail because a copy of the data of the account with this address was requested; we send it only to the address on the account, to make sure it is its holder who asks.',
      autoSubmitted,
    );
  }
  return render(
    opts,
    'Confirm the deletion of your account',
    [
      { p: `Someone asked us to delete the account that uses this email address, and everything in it. ${HOW_ASKED[opts.channel]}` },
      { p: 'If it was you, open this link and confirm:' },
      { link, label: 'Review and confirm the deletion' },
      { p: 'If it was not you, ignore this mail: nothing happens, and your account stays as it is.' },
      { p: `The link works once, and only until ${readableUtc(opts.expiresAt)}. Opening it deletes nothing: you confirm on the page it opens.` },
      { p: `Once you confirm, we delete within ${hours} hours:` },
      { list: WHAT_IS_DELETED },
      { p: `The ${hours} hours start when you confirm: until then we cannot know that the request is yours.` },
    ],
    'You get this mail because a deletion was requested for the account with this address; we send it only to the address on the account, to make sure it is its holder who asks.',
    autoSubmitted,
  );
}

/** The one reminder, sent before an unconfirmed link expires. */
export function verificationReminder(opts: MailContext & { link: string; expiresAt: Date | string; kind?: RequestKind }): RenderedMail {
  const link = ownLink(opts.publicUrl, opts.link);
  if (opts.kind === 'access') {
    return render(
      opts,
      'Reminder: confirm your request for a copy of your data',
      [
        { p: 'We have not yet heard from you about the request for a copy of the data of the account that uses this email address.' },
        { p: `If you want the copy, open this link and confirm before ${readableUtc(opts.expiresAt)}:` },
        { link, label: 'Review and confirm: send me a copy' },
        { p: COPY_GOES_HERE },
        { p: 'If you did not ask for this, or changed your mind, ignore this mail: the request lapses then, nothing is sent, and we will not remind you again.' },
      ],
      'You get this mail because a copy of the data of the account with this address was requested and has not been confirmed.',
      'auto-generated',
    );
  }
  return render(
    opts,
    'Reminder: confirm the deletion of your account',
    [
      { p: 'We have not yet heard from you about the request to delete the account that uses this email address.' },
      { p: `If you want it deleted, open this link and confirm before ${readableUtc(opts.expiresAt)}:` },
      { link, label: 'Review and confirm the deletion' },
      { p: 'If you did not ask for this, or changed your mind, ignore this mail: the request lapses then, nothing is deleted, and we will not remind you again.' },
    ],
    'You get this mail because a deletion was requested for the account with this address and has not been confirmed.',
    'auto-generated',
  );
}

/** Sent when the deletion starts: what will happen, by when, and the reference. */
export function acknowledgementMail(opts: MailContext & { requestId: string; deadlineAt: Date | string }): RenderedMail {
  return render(
    opts,
    `We are deleting your account (reference ${opts.requestId})`,
    [
      { p: 'Your request to delete your account is confirmed, and we have started. We will delete:' },
      { list: WHAT_IS_DELETED },
      { p: `All of it will be gone by ${readableUtc(opts.deadlineAt)} at the latest. We will write to you once more when it is done.` },
      { p: `Your reference is ${opts.requestId}. Please quote it if you contact us about this request.` },
    ],
    'You get this mail because you confirmed the deletion of the account with this address.',
    'auto-generated',
  );
}

/**
 * Sent when the receipt is written: what was deleted, per store, as counts (the caller's
 * `outcome` strings), and the reference. Nothing else about the person: the receipt holds none.
 */
export function completionMail(opts: MailContext & { requestId: string; completedAt: Date | string; stores: { name: string; outcome: string }[] }): RenderedMail {
  return render(
    opts,
    `Your account has been deleted (reference ${opts.requestId})`,
    [
      { p: `We finished deleting your account on ${readableUtc(opts.completedAt)}. What we deleted:` },
      { list: opts.stores.map((s) => `${s.name}: ${s.outcome}`) },
      {
        p: `We keep only a record that this deletion was done: the reference ${opts.requestId}, the times, and the counts above. After this mail we erase your address too; this is the last mail we send you about it.`,
      },
    ],
    'You get this mail because the account with this address was deleted.',
    'auto-generated',
  );
}

/** The one reply (at most once a day per sender) to a mail from an address with no account. */
export function noAccountMail(opts: MailContext): RenderedMail {
  const url = base(opts.publicUrl);
  return render(
    opts,
    'We found no account for this address',
    [
      { p: 'Thank you for writing to our privacy address. We found no account with the address your mail came from, so we have done nothing.' },
      { p: 'If your account uses another address, write to us from that address, or use our privacy page:' },
      { link: `${url}/privacy`, label: 'Open the privacy page' },
    ],
    'You get this mail because a mail from this address reached our privacy address; we answer at most once a day.',
    'auto-replied',
  );
}

/** We did not act automatically; a person takes it from here. Says nothing of what we found. */
export function refusedMail(opts: MailContext & { reason: 'ambiguous' | 'needs_operator'; channel?: Channel; kind?: RequestKind }): RenderedMail {
  const access = opts.kind === 'access';
  const why =
    opts.reason === 'ambiguous'
      ? 'We could not tell for certain which account your request is about, so we have not acted on it.'
      : 'For your protection, this request needs a check by a person before we act on it.';
  return render(
    opts,
    'Your request needs a person to look at it',
    [{ p: why }, { p: `${access ? 'Nothing has been gathered or sent' : 'Nothing has been deleted'}. Our privacy team will contact you at this address; you do not need to do anything now.` }],
    `You get this mail because ${access ? 'a copy of the data of the account with this address was requested' : 'a deletion was requested for the account with this address'}.`,
    opts.channel === 'email' ? 'auto-replied' : 'auto-generated',
  );
}

/**
 * A deletion request we cannot carry out now because the law obliges us to keep the account's
 * records (GDPR Art. 17(3)(b) and (e)); Art. 12(4) requires saying so and why. The hold's own
 * text (a matter, an authority) is staff's and never goes into a mail.
 */
export function deletionHeldMail(opts: MailContext & { requestId: string; receivedAt: Date | string }): RenderedMail {
  return render(
    opts,
    `Your deletion request is deferred under a legal obligation (reference ${opts.requestId})`,
    [
      { p: `We received your request to delete your account on ${readableUtc(opts.receivedAt)}.` },
      {
        p: 'The deletion is deferred under a legal obligation: we are required by law to keep the records of this account for now (for example for legal proceedings, an audit or an order from an authority). Nothing has been deleted.',
      },
      { p: 'Your request is kept. When the obligation ends we carry out the deletion, within 72 hours, and write to you.' },
      { p: `Your reference is ${opts.requestId}. Please quote it if you contact us about this request.` },
    ],
    'You get this mail because a deletion was requested for the account with this address.',
    'auto-generated',
  );
}

/**
 * An inactivity notice (CONTRACT §7): the account becomes eligible for deletion on `eligibleAt`
 * unless the person signs in or keeps a live subscription.
 */
export function inactivityNoticeMail(opts: MailContext & { eligibleAt: Date | string }): RenderedMail {
  return render(
    opts,
    'Your account will be deleted for inactivity unless you sign in',
    [
      {
        p: `Your account has not been used for a long time. Under our privacy policy we delete accounts that are inactive for over 24 months; yours will be deleted from ${readableUtc(opts.eligibleAt)}.`,
      },
      { p: 'Sign in or keep a live subscription to keep the account. Either one is enough; nothing else is needed.' },
      { p: 'If you no longer want the account, you need not do anything.' },
    ],
    'You get this mail because the account with this address has been inactive for a long time.',
    'auto-generated',
  );
}

/**
 * The copy a person asked for is ready (CONTRACT §8): read-only links to the archive's parts.
 * The one template whose links lead outside publicUrl: each is a SAS URL to Lethe's own archive
 * container (stores/archive.ts), read-only and expiring at `expiresAt`. It is a secret: it is
 * made inside the mailing activity and goes only into this mail, never into a log or history.
 */
export function accessReadyMail(opts: MailContext & { requestId: string; links: string[]; expiresAt: Date | string; bytes: number }): RenderedMail {
  for (const l of opts.links) {
    const u = new URL(l);
    if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.searchParams.get('sp') !== 'r' || !u.searchParams.get('sig'))
      throw new Error('mail templates: an archive link must be a read-only SAS URL');
  }
  const many = opts.links.length > 1;
  const mib = Math.max(1, Math.round(opts.bytes / (1024 * 1024)));
  return render(
    opts,
    `A copy of your data is ready (reference ${opts.requestId})`,
    [
      { p: `You asked for a copy of the data we hold about you. It is ready: ${many ? `${opts.links.length} ZIP files` : 'one ZIP file'}, about ${mib} MiB in all.` },
      ...opts.links.map((link, i) => ({ link, label: many ? `Download part ${i + 1} of ${opts.links.length}` : 'Download your data' })),
      {
        p: `The ${many ? 'links work' : 'link works'} until ${readableUtc(opts.expiresAt)}. Then we delete the copy; you can ask for a new one at any time.`,
      },
      { p: 'Inside: data.json (everything, for other programs), a CSV file per table, index.html (open it in a browser to read it), and your images and videos in their folders.' },
      { p: 'Anyone with the link can download the copy: keep this mail to yourself.' },
      { p: `Your reference is ${opts.requestId}. Please quote it if you contact us about this request.` },
    ],
    'You get this mail because a copy of the data of the account with this address was requested.',
    'auto-generated',
  );
}

/**
 * A correction request changes the account's email to this address (docs/correction.md): the
 * link proves the new address reaches the person before it is applied anywhere. Sent to the new
 * address only; says nothing of the account beyond that a change was asked for.
 */
export function correctionEmailMail(opts: MailContext & { link: string; expiresAt: Date | string }): RenderedMail {
  const link = ownLink(opts.publicUrl, opts.link);
  return render(
    opts,
    'Confirm your new email address',
    [
      { p: 'You asked our support team to change the email address of your account to this address.' },
      { p: 'To make the change, open this link and confirm:' },
      { link, label: 'Review and confirm the new address' },
      { p: `The link works once, and only until ${readableUtc(opts.expiresAt)}. Until you confirm, your account keeps its current address.` },
      { p: 'If you did not ask for this, ignore this mail: nothing changes.' },
    ],
    'You get this mail because a change of an account’s email address to this address was requested; we ask the new address itself, to make sure it is yours.',
    'auto-generated',
  );
}
