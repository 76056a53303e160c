/** The privacy page and the confirmation pages (CONTRACT §6), rendered from their facts. */
import { esc, page } from './layout';

const utc = (iso: string): string => new Date(iso).toUTCString().replace(' GMT', ' UTC');
const hours = (ms: number): string => `${Math.round(ms / 3_600_000)} hours`;

export function privacyForm(opts: { csrf: string; email?: string; error?: string; linkTtlMs: number; deadlineHours: number }): string {
  return page({
    title: 'Delete your account and data',
    body: `
<p>Ask us here to delete your account and everything we keep about you: your images and videos, your login, your billing record and every detail of your account. Nothing is kept in any other form.</p>
<ol>
<li>Enter the email address your account uses.</li>
<li>We send a link to that address. Opening it and pressing <strong>Confirm</strong> proves the request is yours; nothing is deleted before.</li>
<li>We delete everything within ${esc(opts.deadlineHours)} hours of your confirmation (until then we cannot know the request is yours), and mail you when it is done.</li>
</ol>
<form method="post" action="/privacy" novalidate>
<input type="hidden" name="csrf" value="${esc(opts.csrf)}">
${opts.error ? `<p class="error" id="email-error" role="alert">${esc(opts.error)}</p>` : ''}
<label for="email">Your account's email address</label>
<input id="email" name="email" type="email" autocomplete="email" required value="${esc(opts.email ?? '')}"${opts.error ? ' aria-invalid="true" aria-describedby="email-error email-hint"' : ' aria-describedby="email-hint"'}>
<p class="hint" id="email-hint">The link works for ${esc(hours(opts.linkTtlMs))}. If no account uses this address, no mail is sent.</p>
<fieldset>
<legend>What do you want?</legend>
<label class="choice"><input type="radio" name="type" value="deletion" checked> Delete my account and data</label>
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

export function confirmForm(opts: { token: string; csrf: string; expiresAt: string; deadlineHours: number }): string {
  return page({
    title: 'Confirm the deletion of your account',
    body: `
<p>Pressing <strong>Confirm</strong> deletes your account and all your data: images and videos, login, billing record and account details. This cannot be undone.</p>
<p>We finish within ${esc(opts.deadlineHours)} hours and mail you when it is done. This link works until ${esc(utc(opts.expiresAt))}.</p>
<form method="post" action="/privacy/confirm">
<input type="hidden" name="token" value="${esc(opts.token)}">
<input type="hidden" name="csrf" value="${esc(opts.csrf)}">
<button type="submit" class="danger">Confirm: delete my account</button>
</form>
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

export function linkProblem(opts: { title: string; message: string; requestId?: string }): string {
  return page({
    title: opts.title,
    body: `
<p class="error" role="alert">${esc(opts.message)}</p>
${opts.requestId ? `<p>The request this link confirmed has the reference <code class="ref">${esc(opts.requestId)}</code>.</p>` : ''}
<p><a href="/privacy">Go to the privacy page</a> to ask again.</p>`,
  });
}
