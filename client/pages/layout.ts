/**
 * The people-facing pages (the privacy page and the confirmation): plain server-rendered HTML
 * that works without JavaScript, with one stylesheet served by the API itself (no third-party
 * asset, no inline script or style, so the Content-Security-Policy can forbid both).
 */

/** Every value put into HTML goes through this. */
export const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // Nothing from elsewhere, nothing inline; forms post only here; never framed.
  'content-security-policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  // The confirmation link's token is in the URL: never sent on to anyone as a Referer.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function page(opts: { title: string; body: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(opts.title)}</title>
<link rel="stylesheet" href="/privacy/assets/style.css">
</head>
<body>
<header><p class="brand">Privacy</p></header>
<main id="main">
<h1>${esc(opts.title)}</h1>
${opts.body}
</main>
<footer><p>Questions about your data? Write to us from the address your account uses.</p></footer>
</body>
</html>`;
}

export const STYLE = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0b5cad; --bad: #a40e26; --ok: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; font: 17px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f6f8fa; }
header, main, footer { max-width: 40rem; margin: 0 auto; padding: 0 1.25rem; }
header { padding-top: 1.5rem; }
.brand { font-weight: 600; color: var(--muted); margin: 0; }
main { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 1.5rem 1.75rem; margin-top: 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
p { margin: 0 0 1rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .35rem; }
.hint { color: var(--muted); font-size: .95rem; margin: .25rem 0 0; }
input[type=email] { width: 100%; font: inherit; padding: .6rem .7rem; border: 1px solid #8c959f; border-radius: 6px; }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 1rem 0; padding: .5rem 1rem 1rem; }
legend { font-weight: 600; padding: 0 .25rem; }
.choice { display: flex; gap: .5rem; align-items: baseline; font-weight: 400; margin: .5rem 0 0; }
.choice + .hint { margin: 0 0 .5rem 1.6rem; }
button { font: inherit; font-weight: 600; margin-top: 1.25rem; padding: .65rem 1.25rem; border: 0; border-radius: 6px; background: var(--accent); color: #fff; cursor: pointer; }
button.danger { background: var(--bad); }
:focus-visible { outline: 3px solid #f2b600; outline-offset: 2px; }
.error { color: var(--bad); font-weight: 600; }
.notice { border-left: 4px solid var(--accent); padding: .5rem 1rem; background: #eef5fc; }
.done { border-left-color: var(--ok); background: #eefaf1; }
code.ref { font-size: 1.05rem; background: #f6f8fa; padding: .15rem .4rem; border-radius: 4px; word-break: break-all; }
ol li { margin-bottom: .4rem; }
footer { color: var(--muted); font-size: .9rem; padding: 1rem 1.25rem 2rem; }
`;
