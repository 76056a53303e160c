/**
 * The privacy page and the confirmation pages (CONTRACT §6), rendered from their facts: a person
 * asks for a copy of their data or the deletion of their account, and each page after says
 * plainly which one they are confirming.
 */
import { esc, page } from './layout';
import type { PublicRequestType } from '../front-door';

const utc = (iso: string): string => new Date(iso).toUTCString().replace(' GMT', ' UTC');
const hours = (ms: number): string => `${Math.round(ms / 3_600_000)} hours`;

/** What a copy holds and what a deletion removes, said the way a person knows it (the four stores). */
const WHAT = 'your account details, your images and videos, your login and your billing record';

export function privacyForm(opts: { csrf: string; email?: string; type?: PublicRequestType; error?: string; typeError?: string; linkTtlMs: number; deadlineHours: number }): string {
  const type = opts.type ?? 'deletion';
  const checked = (t: PublicRequestType) => (type === t ? ' checked' : '');
  return page({
    title: 'Get a copy of your data, or delete your account',
    body: `
<p>Here you can ask us for a copy of everything we keep about you, or to delete your account and all of it: ${esc(WHAT)}.</p>
<ol>
<li>Enter the email address your account uses, and choose what you want.</li>
<li>We send a link to that address. Opening it and pressing <strong>Confirm</strong> proves the request is yours; nothing happens before.</li>
<li>Within ${esc(opts.deadlineHours)} hours of your confirmation we mail a download link for your copy to that address, or delete everything and mail you when it is done.</li>
</ol>
<form method="post" action="/privacy" novalidate>
<input type="hidden" name="csrf" value="${esc(opts.csrf)}">
${opts.error ? `<p class="error" id="email-error" role="alert">${esc(opts.error)}</p>` : ''}
<label for="email">Your account's email address</label>
<input id="email" name="email" type="email" autocomplete="email" required value="${esc(opts.email ?? '')}"${opts.error ? ' aria-invalid="true" aria-describedby="email-error email-hint"' : ' aria-describedby="email-hint"'}>
<p class="hint" id="email-hint">The link works for ${esc(hours(opts.linkTtlMs))}. If no account uses this address, no mail is sent.</p>
<fieldset${opts.typeError ? ' aria-describedby="type-error"' : ''}>
<legend>What do you want?</legend>
${opts.typeError ? `<p class="error" id="type-error" role="alert">${esc(opts.typeError)}</p>` : ''}
<label class="choice"><input type="radio" name="type" value="deletion" aria-describedby="deletion-hint"${checked('deletion')}> Delete my account and data</label>
<p class="hint" id="deletion-hint">Everything goes: ${esc(WHAT)}. This cannot be undone.</p>
<label class="choice"><input type="radio" name="type" value="access" aria-describedby="access-hint"${checked('access')}> Send me a copy of my data</label>
<p class="hint" id="access-hint">A download link to all of it, mailed to your account's address. Your account stays as it is.</p>
</fieldset>
<button type="submit">Send me the link</button>
</form>`,
  });
}

export function checkYourMail(opts: { linkTtlMs: number }): string {
  return page({
    title: 'Check your mailbox',
    body: `
<p class="notice">If an account uses the address you gave, we have sent it a link. Open it within ${esc(hours(opts.linkTtlMs))} and press <strong>Confirm</strong> to go ahead.</p>
<p>No mail? Check your spam folder, and make sure you used the address your account uses. Nothing happens unless you confirm.</p>`,
  });
}

export function confirmForm(opts: { token: string; csrf: string; kind: PublicRequestType; expiresAt: string; deadlineHours: number }): string {
  const form = (label: string, cls: string) => `<form method="post" action="/privacy/confirm">
<input type="hidden" name="token" value="${esc(opts.token)}">
<input type="hidden" name="csrf" value="${esc(opts.csrf)}">
<button type="submit"${cls ? ` class="${cls}"` : ''}>${esc(label)}</button>
</form>`;
  if (opts.kind === 'access') {
    return page({
      title: 'Confirm: send a copy of your data',
      body: `
<p>Pressing <strong>Confirm</strong> asks us for a copy of all the data we keep about your account: ${esc(WHAT)}.</p>
<p class="notice" id="where-it-goes"><strong>Where it goes:</strong> we mail a download link for the copy to your account's email address, the address this link was sent to. Anyone who can read that mailbox can download everything in it.</p>
<p>We send it within ${esc(opts.deadlineHours)} hours. Your account stays as it is. This link works until ${esc(utc(opts.expiresAt))}.</p>
${form('Confirm: send me a copy of my data', '')}
<p class="hint">Did not ask for this? Close this page: nothing is gathered or sent without your confirmation.</p>`,
    });
  }
  return page({
    title: 'Confirm the deletion of your account',
    body: `
<p>Pressing <strong>Confirm</strong> deletes your account and all your data: images and videos, login, billing record and account details. This cannot be undone.</p>
<p>We finish within ${esc(opts.deadlineHours)} hours and mail you when it is done. This link works until ${esc(utc(opts.expiresAt))}.</p>
${form('Confirm: delete my account', 'danger')}
<p class="hint">Did not ask for this? Close this page: nothing happens without your confirmation.</p>`,
  });
}

export function confirmed(opts: { requestId: string; deadlineAt: string; existing: boolean }): string {
  return page({
    title: 'Your deletion has started',
    body: `
<p class="notice done">${opts.existing ? 'Your account was already being deleted; your confirmation joined that request.' : 'Thank you: we are deleting your account and data now.'}</p>
<p>Your reference: <code class="ref" id="reference">${esc(opts.requestId)}</code></p>
<p>Everything will be gone by ${esc(utc(opts.deadlineAt))} at the latest. We will mail you when it is done.</p>`,
  });
}

export function copyConfirmed(opts: { requestId: string; deadlineAt: string; existing: boolean }): string {
  return page({
    title: 'We are preparing a copy of your data',
    body: `
<p class="notice done">${opts.existing ? 'We were already preparing a copy of your data; your confirmation joined that request.' : 'Thank you: we are gathering a copy of your data now.'}</p>
<p>Your reference: <code class="ref" id="reference">${esc(opts.requestId)}</code></p>
<p>By ${esc(utc(opts.deadlineAt))} at the latest we mail a download link to your account's email address. The link works for a limited time; anyone with it can download the copy, so keep that mail to yourself.</p>`,
  });
}

export function linkProblem(opts: { title: string; message: string; requestId?: string }): string {
  return page({
    title: opts.title,
    body: `
<p class="error" role="alert">${esc(opts.message)}</p>
${opts.requestId ? `<p>The request this link confirmed has the reference <code class="ref">${esc(opts.requestId)}</code>.</p>` : ''}
<p><a href="/privacy">Go to the privacy page</a> to ask again.</p>`,
  });
}
