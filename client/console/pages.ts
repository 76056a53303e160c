/** The console's page frame and the pieces every page shares (buckets, chips, forms). */
import { html, Html, timeLeft, when } from './html';
import type { ConsoleSession } from './sessions';

export const NAV = [
  { href: '/console', label: 'Requests', key: 'requests' },
  { href: '/console/overview', label: 'Overview', key: 'overview' },
  { href: '/console/report', label: 'Compliance report', key: 'report' },
] as const;

export function layout(opts: { title: string; nav?: string; session?: ConsoleSession; body: Html; flash?: { text: string; error?: boolean }; dueSoonMs?: number; scripts?: string[] }): string {
  const { session } = opts;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${opts.title} · Lethe privacy console</title>
        <link rel="stylesheet" href="/console/assets/console.css" />
        ${(opts.scripts ?? []).includes('uplot') ? html`<link rel="stylesheet" href="/console/assets/uPlot.min.css" />` : ''}
      </head>
      <body data-due-soon-ms="${opts.dueSoonMs ?? 0}">
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <span class="brand">Lethe · privacy console</span>
          ${
            session
              ? html`<nav aria-label="Console">${NAV.map((n) => html`<a href="${n.href}" ${opts.nav === n.key ? html` aria-current="page"` : ''}>${n.label}</a>`)}</nav>
                  <div class="who">
                    <span>Signed in as <strong>${session.tokenName}</strong> (${session.role})</span>
                    <form method="post" action="/console/sign-out">${csrfField(session)}<button class="secondary" type="submit">Sign out</button></form>
                  </div>`
              : ''
          }
        </header>
        <main id="main">${opts.flash ? html`<p class="flash${opts.flash.error ? ' error' : ''}" role="${opts.flash.error ? 'alert' : 'status'}">${opts.flash.text}</p>` : ''} ${opts.body}</main>
        ${(opts.scripts ?? []).includes('uplot') ? html`<script src="/console/assets/uPlot.iife.min.js"></script>` : ''}
        <script src="/console/assets/console.js"></script>
      </body>
    </html>`.text;
}

export const csrfField = (s: ConsoleSession): Html => html`<input type="hidden" name="_csrf" value="${s.csrf}" />`;

export const chip = (status: string, label?: string): Html => html`<span class="chip ${status}">${label ?? status.replace(/_/g, ' ')}</span>`;

/** Time left to a deadline: rendered now, kept live by the script (`data-deadline`). */
export function leftCell(deadline: Date | null, finished: boolean, dueSoonMs: number): Html {
  if (!deadline) return html`<span class="muted">—</span>`;
  if (finished) return html`<span class="muted">done</span>`;
  const ms = deadline.getTime() - Date.now();
  const cls = ms < 0 ? 'overdue' : ms < dueSoonMs ? 'soon' : '';
  return html`<time class="left ${cls}" datetime="${deadline.toISOString()}" data-deadline="${deadline.toISOString()}" title="deadline ${when(deadline)}">${timeLeft(ms)}</time>`;
}
