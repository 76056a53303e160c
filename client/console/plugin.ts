/**
 * The privacy console (issue 33): server-rendered pages at /console for the privacy officer and
 * the support lead, served by the API process.
 *
 * Every console route lives inside this one encapsulated plugin, whose preHandler demands a live
 * session (and, on anything but GET, the session's CSRF token) before any handler runs; a route
 * is exempt only by saying `consoleOpen` (the sign-in form and the static assets). To the API's
 * bearer-token hook the routes are `public` (they carry a cookie, not a token), which `route()`
 * sets, so a console route cannot be added open by forgetting either. The form body parser is
 * registered here only: the JSON API still answers 415 to a form.
 *
 * Sessions: an operator or admin token is exchanged once for a session cookie (sessions.ts);
 * requester tokens are refused. Every action is in the audit trail under the token's name.
 */
import fs from 'node:fs';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import formbody from '@fastify/formbody';
import type { Knex } from 'knex';
import type { Config } from '../../config';
import { requireKeyRing } from '../../config';
import { getFieldCipher } from '../../encryption';
import type { FieldCipher } from '../../encryption/fields';
import { deletionWorkflowId, FINISHED_STATUSES, isUuid, STORES, type DeletionStatus, type Store } from '../../contract';
import { csvCell } from '../../contract/csv';
import { emailCandidates, emailLookupKey, loadSubject } from '../../stores/subjects';
import { verificationContext } from '../../stores/verifications';
import type { AuditTrail } from '../audit';
import type { OperatorActions } from '../operator';
import { OperatorActionError, type RetryOutcome } from '../operator';
import type { RequestReader, DeletionView } from '../requests';
import { credentialsOf, hasRole, type Caller } from '../api/auth';
import { CONSOLE_CSS, CONSOLE_JS } from './assets';
import { BUCKETS, bucketOf, PERIODS, type Bucket, type BucketContext } from './buckets';
import { createConsoleData, STORE_NAMES, STORE_STATES, type ListQuery, type ReportRow, type RequestRowView } from './data';
import { REQUEST_TYPES, type RequestType } from '../request-list';
import { registerTypePages } from './types';
import { html, Html, jsonScript, timeLeft, when } from './html';
import { chip, csrfField, layout, leftCell } from './pages';
import { cookieValue, createSessionStore, csrfMatches, SESSION_COOKIE, type ConsoleSession } from './sessions';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A console route served without a session (the sign-in form, the static assets). */
    consoleOpen?: boolean;
  }
  interface FastifyRequest {
    consoleSession?: ConsoleSession;
  }
}

export interface ConsoleDeps {
  config: Config;
  db: Knex;
  /** The API's token authority (client/api/auth.ts): the same tokens, hashed the same way. */
  identify: (authorization: string | undefined) => Caller | undefined;
  requests: RequestReader;
  operator: OperatorActions;
  audit: AuditTrail;
  /** Defaults to the cipher over the configured keys (email search and reveal). */
  fields?: FieldCipher;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const UPLOT_DIR = require.resolve('uplot/dist/uPlot.iife.min.js').replace(/uPlot\.iife\.min\.js$/, '');
const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

/** The console as a Fastify plugin: `app.register(createConsole(deps))`. */
export function createConsole(deps: ConsoleDeps) {
  const { config, db } = deps;
  const settings = config.console ?? { dueSoonHours: 24, sessionHours: 8, secureCookie: 'auto' as const };
  const dueSoonMs = settings.dueSoonHours * HOUR;
  const sessions = createSessionStore({ db, sessionHours: settings.sessionHours });
  const data = createConsoleData({ db, deadlineHours: config.deletion.deadlineHours });
  const configured = new Map(credentialsOf(config.api).map((c) => [c.name, c.role]));
  let fields = deps.fields;
  const cipher = (): FieldCipher => (fields ??= getFieldCipher(() => requireKeyRing(config)));

  return async function consolePlugin(app: FastifyInstance): Promise<void> {
    await app.register(formbody, { bodyLimit: 16 * 1024 });

    // The one gate: every route in this scope passes it unless it says `consoleOpen`.
    app.addHook('preHandler', async (req, reply) => {
      void reply.headers(SECURITY_HEADERS);
      // A form posted from another site is refused before anything else, the sign-in form too
      // (SameSite keeps the cookie from being sent, not a cross-site sign-in from being set).
      if (req.method === 'POST' && !sameOrigin(req)) {
        return reply.code(403).type('text/html').send(errorPage(403, 'This form was sent from another site.'));
      }
      if (req.routeOptions.config?.consoleOpen) return;
      const found = await sessions.find(cookieValue(req.headers.cookie, SESSION_COOKIE));
      // A token taken out of LETHE_API_TOKENS (or lowered below operator) ends its sessions too.
      const role = found && configured.get(found.tokenName);
      const session = found && role && hasRole({ role }, 'operator') ? found : undefined;
      if (!session) {
        if (req.method === 'GET') return reply.code(303).header('location', '/console/sign-in').send();
        return reply.code(401).type('text/html').send(errorPage(401, 'Your console session has ended or is missing. Sign in again.'));
      }
      if (req.method !== 'GET' && req.method !== 'HEAD' && !csrfMatches(session, (req.body as { _csrf?: unknown } | undefined)?._csrf)) {
        return reply
          .code(403)
          .type('text/html')
          .send(errorPage(403, 'This form is not one this session was given (missing or wrong CSRF token). Reload the page and try again.', session));
      }
      req.consoleSession = session;
    });

    app.setErrorHandler((err: FastifyError, req, reply) => {
      const e: unknown = err;
      if (e instanceof OperatorActionError) {
        const status = e.code === 'not_found' ? 404 : e.code === 'conflict' ? 409 : 400;
        return reply
          .code(status)
          .type('text/html')
          .send(errorPage(status, e.message, req.consoleSession));
      }
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status >= 500) req.log.error({ method: req.method, route: req.routeOptions.url, status, error: err.name }, 'console error');
      return reply
        .code(status)
        .type('text/html')
        .send(errorPage(status, status >= 500 ? 'Something failed on the server; see the API logs.' : err.message, req.consoleSession));
    });

    /** Registers a console route: public to the bearer-token hook, hidden from the OpenAPI document. */
    const route = (method: 'GET' | 'POST', url: string, handler: RouteOptions['handler'], open = false): void => {
      app.route({ method, url, config: { public: true, ...(open ? { consoleOpen: true } : {}) }, schema: { hide: true } as RouteOptions['schema'], handler });
    };
    const sessionOf = (req: FastifyRequest): ConsoleSession => req.consoleSession!;
    const sendPage = (reply: FastifyReply, text: string, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(text);
    const actor = (req: FastifyRequest): string => sessionOf(req).tokenName;

    // Static assets: the console's own, and uPlot from its package (no CDN).
    const uplotJs = fs.readFileSync(`${UPLOT_DIR}uPlot.iife.min.js`, 'utf8');
    const uplotCss = fs.readFileSync(`${UPLOT_DIR}uPlot.min.css`, 'utf8');
    const asset = (name: string, type: string, body: string) =>
      route('GET', `/console/assets/${name}`, async (_req, reply) => reply.type(type).header('cache-control', 'public, max-age=3600').send(body), true);
    asset('console.css', 'text/css; charset=utf-8', CONSOLE_CSS);
    asset('console.js', 'text/javascript; charset=utf-8', CONSOLE_JS);
    asset('uPlot.iife.min.js', 'text/javascript; charset=utf-8', uplotJs);
    asset('uPlot.min.css', 'text/css; charset=utf-8', uplotCss);

    // ---- Sign-in and sign-out ----
    route('GET', '/console/sign-in', async (_req, reply) => sendPage(reply, signInPage()), true);
    route(
      'POST',
      '/console/sign-in',
      async (req, reply) => {
        const token = String((req.body as { token?: unknown } | undefined)?.token ?? '').trim();
        const caller = deps.identify(`Bearer ${token}`);
        if (!caller) return sendPage(reply, signInPage('That token is not valid.'), 401);
        if (!hasRole(caller, 'operator')) {
          return sendPage(reply, signInPage(`The token "${caller.name}" has the ${caller.role} role; the console needs an operator or admin token.`), 403);
        }
        // hasRole above: an operator or admin (never `inbound`).
        const { id, expiresAt } = await sessions.create({ name: caller.name, role: caller.role as 'operator' | 'admin' });
        const secure = settings.secureCookie === 'always' || req.protocol === 'https';
        reply.header(
          'set-cookie',
          `${SESSION_COOKIE}=${id}; Path=/console; HttpOnly; SameSite=Strict; Expires=${expiresAt.toUTCString()}; Max-Age=${Math.floor((expiresAt.getTime() - Date.now()) / 1000)}${secure ? '; Secure' : ''}`,
        );
        await deps.audit.record({ actor: caller.name, via: 'api', action: 'console.signed_in', details: { status: caller.role } });
        return reply.code(303).header('location', '/console').send();
      },
      true,
    );
    route('POST', '/console/sign-out', async (req, reply) => {
      await sessions.revoke(sessionOf(req).key);
      await deps.audit.record({ actor: actor(req), via: 'api', action: 'console.signed_out' });
      reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0`);
      return reply.code(303).header('location', '/console/sign-in').send();
    });

    // ---- Requests ----
    const bucketContext = (periodDays: number): BucketContext => ({ dueSoonSecs: settings.dueSoonHours * 3600, periodStart: new Date(Date.now() - periodDays * DAY) });

    async function requestsPage(req: FastifyRequest, reply: FastifyReply, search?: { label: string; accountIds: string[]; verificationIds?: string[] }) {
      const q = req.query as Record<string, string | undefined>;
      const period = PERIODS.includes(Number(q.period) as (typeof PERIODS)[number]) ? Number(q.period) : 30;
      const ctx = bucketContext(period);
      const bucket = bucketOf(q.bucket);
      const idQuery = q.q && isUuid(q.q) ? q.q.toLowerCase() : undefined;
      // "Blocked at Recurly": a store and its state (blocked unless another is chosen), from lethe.deletion_store_states.
      const storeName = (STORE_NAMES as readonly string[]).includes(q.store ?? '') ? q.store! : undefined;
      const storeState = (STORE_STATES as readonly string[]).includes(q.store_state ?? '') ? q.store_state! : 'blocked';
      const storeFilter = storeName ? { name: storeName, state: storeState } : undefined;
      // The type filter (every type by default). Buckets and the store filter are the deletions':
      // choosing one lists deletions (the buckets' table); an access or correction type drops them.
      const type = (REQUEST_TYPES as readonly string[]).includes(q.type ?? '') ? (q.type as RequestType) : undefined;
      const deletionsOnly = type === undefined || type === 'deletion' ? Boolean((!search && !idQuery && bucket) || storeFilter) : false;
      const overdueOnly = q.overdue === 'true';
      const list: ListQuery = {
        ...(search ? { accountIds: search.accountIds } : idQuery ? { ids: [idQuery], accountIds: [idQuery] } : {}),
        ...(!search && !idQuery && bucket ? { bucket } : {}),
        ...(q.channel ? { channel: q.channel } : {}),
        ...(storeFilter ? { store: storeFilter } : {}),
        ...(dateOf(q.from) ? { from: dateOf(q.from) } : {}),
        ...(dateOf(q.to) ? { to: new Date(dateOf(q.to)!.getTime() + DAY) } : {}),
        ...(q.cursor ? { cursor: q.cursor } : {}),
      };
      const rows = deletionsOnly ? data.list(list, ctx) : data.listTypes({ ...list, bucket: undefined, store: undefined, ...(type ? { types: [type] } : {}), overdue: overdueOnly });
      const [counts, page, channels] = await Promise.all([data.counts(ctx, q.channel || undefined), rows, data.channels()]);
      // Public requests found by the address (not yet requests of their own, or never confirmed).
      const pending = search?.verificationIds?.length ? (await data.list({ bucket: VERIFICATIONS, ids: search.verificationIds }, ctx)).rows : [];
      const session = sessionOf(req);
      const keep = (extra: Record<string, string | undefined>) => {
        const p = new URLSearchParams();
        for (const [k, v] of Object.entries({
          type,
          overdue: overdueOnly ? 'true' : undefined,
          bucket: q.bucket,
          channel: q.channel,
          store: storeName,
          store_state: storeName ? storeState : undefined,
          from: q.from,
          to: q.to,
          period: q.period,
          q: idQuery,
          ...extra,
        }))
          if (v) p.set(k, v);
        const s = p.toString();
        return `/console${s ? `?${s}` : ''}`;
      };
      const flash = q.done ? { text: doneText(q.done) } : undefined;
      const body = html` <h1>Requests</h1>
        <section aria-label="Buckets" class="buckets">
          ${BUCKETS.map(
            (b) =>
              html`<a class="bucket ${b.key}" href="${keep({ bucket: b.key, cursor: undefined })}" ${bucket?.key === b.key ? html` aria-current="true"` : ''} data-bucket="${b.key}">
                <span class="n">${counts[b.key] ?? 0}</span>${b.label}<br /><span class="hint">${b.key === 'completed' ? `in the last ${period} d` : b.hint}</span></a
              >`,
          )}
        </section>
        <div class="card">
          <form class="filters" method="get" action="/console" aria-label="Filter requests">
            ${idQuery ? html`<input type="hidden" name="q" value="${idQuery}" />` : ''}
            <label
              >Bucket
              <select name="bucket">
                <option value="">all requests</option>
                ${BUCKETS.map((b) => html`<option value="${b.key}" ${bucket?.key === b.key ? html` selected` : ''}>${b.label}</option>`)}
              </select></label
            >
            <label
              >Type
              <select name="type">
                <option value="">every type</option>
                ${REQUEST_TYPES.map((t) => html`<option value="${t}" ${type === t ? html` selected` : ''}>${t}</option>`)}
              </select></label
            >
            <label
              >Channel
              <select name="channel">
                <option value="">any</option>
                ${channels.map((c) => html`<option${q.channel === c ? html` selected` : ''}>${c}</option>`)}
              </select></label
            >
            <label
              >Clock
              <select name="overdue">
                <option value="">any</option>
                <option value="true" ${overdueOnly ? html` selected` : ''}>overdue</option>
              </select></label
            >
            <label
              >Store
              <select name="store">
                <option value="">any</option>
                ${STORE_NAMES.map((n) => html`<option value="${n}" ${storeName === n ? html` selected` : ''}>${n}</option>`)}
              </select></label
            >
            <label
              >Store state
              <select name="store_state">
                ${STORE_STATES.map((st) => html`<option value="${st}" ${storeState === st ? html` selected` : ''}>${st}</option>`)}
              </select></label
            >
            <label>Received from <input type="date" name="from" value="${q.from ?? ''}" /></label>
            <label>to <input type="date" name="to" value="${q.to ?? ''}" /></label>
            <label
              >Completed period
              <select name="period">
                ${PERIODS.map((p) => html`<option value="${p}" ${p === period ? html` selected` : ''}>${p} d</option>`)}
              </select></label
            >
            <button type="submit">Apply</button> <a class="button secondary" href="/console">Clear</a>
          </form>
          <form class="filters spaced" method="post" action="/console/find" aria-label="Find a request">
            ${csrfField(session)}
            <label>Find by request id, account id or email <input name="q" size="40" required autocomplete="off" /></label>
            <button type="submit">Find</button>
          </form>
        </div>
        ${search ? html`<p class="muted">Requests for ${search.label}: ${page.rows.length}.</p>` : idQuery ? html`<p class="muted">Requests matching ${idQuery}.</p>` : ''}
        ${requestsTable(page.rows, dueSoonMs)}
        ${
          pending.length
            ? html`<h2>Public requests from this address</h2>
                ${requestsTable(pending, dueSoonMs, 'public-requests')}`
            : ''
        }
        <nav class="pager" aria-label="Pages">
          ${q.cursor ? html`<a class="button secondary" href="${keep({ cursor: undefined })}">First page</a>` : ''}${page.nextCursor ? html`<a class="button secondary" rel="next" href="${keep({ cursor: page.nextCursor })}">Next page</a>` : ''}
        </nav>
        <div class="card">
          <h2>Retry blocked requests</h2>
          <form class="filters" method="post" action="/console/bulk-retry/preview">
            ${csrfField(session)}
            <label
              >Status
              <select name="status">
                <option value="blocked">blocked</option>
                <option value="failed">failed</option>
              </select></label
            >
            <label
              >Channel
              <select name="channel">
                <option value="">any</option>
                ${channels.map((c) => html`<option>${c}</option>`)}
              </select></label
            >
            <button type="submit">Preview</button>
          </form>
          <p class="muted">Shows which requests would be retried before anything is done.</p>
        </div>`;
      return sendPage(reply, layout({ title: 'Requests', nav: 'requests', session, body, dueSoonMs, flash }));
    }

    route('GET', '/console', requestsPage);
    route('GET', '/console/requests', async (req, reply) => requestsPage(req, reply));
    route('POST', '/console/find', async (req, reply) => {
      const text = String((req.body as { q?: unknown }).q ?? '').trim();
      if (isUuid(text))
        return reply
          .code(303)
          .header('location', `/console?q=${encodeURIComponent(text.toLowerCase())}`)
          .send();
      if (/^[^\s@]+@[^\s@]+$/.test(text)) {
        // Through the keyed hash, as the intake resolves an email (stores/subjects.ts), then only
        // the accounts whose address is this one as spelt: `Bob@x` and `bob@x` can be two people
        // (CONTRACT §2). A completed deletion's address is gone (only a case-blind hash stays):
        // find it by its request or account id. The address goes in no URL, log or table.
        const found = await emailCandidates({ db, fields: cipher() }, text, config.deletion.twinGuardDays);
        const live: string[] = found.live.length ? await db('accounts').whereIn('id', found.live).where('email', text).pluck('id') : [];
        const captured: string[] = [];
        for (const accountId of found.captured) if ((await loadSubject({ db, fields: cipher() }, accountId))?.email === text) captured.push(accountId);
        const accountIds = [...new Set([...live, ...captured])];
        // Public requests typed with this address: by the keyed hash, then opened and compared as spelt.
        const typed: { verification_id: string; email_sealed: string | null }[] = await db('lethe.verifications')
          .whereIn('email_hash', cipher().lookupHashes(emailLookupKey(text)))
          .whereNotNull('email_sealed')
          .select('verification_id', 'email_sealed')
          .limit(50);
        const verificationIds = typed.filter((v) => cipher().open(v.email_sealed!, verificationContext(v.verification_id)) === text).map((v) => v.verification_id);
        return requestsPage(req, reply, { label: 'the email given', accountIds, verificationIds });
      }
      return sendPage(reply, errorPage(400, 'Give a request id, an account id (both UUIDs) or an email address.', sessionOf(req)), 400);
    });

    // ---- Bulk retry, previewed first ----
    const bulkFilter = (req: FastifyRequest) => {
      const b = req.body as { status?: string; channel?: string };
      const status = b.status === 'failed' ? ('failed' as const) : ('blocked' as const);
      return { status, ...(b.channel ? { channel: String(b.channel) } : {}) };
    };
    route('POST', '/console/bulk-retry/preview', async (req, reply) => {
      const filter = bulkFilter(req);
      const preview = await deps.operator.retryMatching(filter, { dryRun: true, by: actor(req) });
      const session = sessionOf(req);
      const body = html` <h1>Retry ${filter.status} requests: preview</h1>
        <p>${preview.matched} ${filter.status} request(s)${filter.channel ? ` from ${filter.channel}` : ''} would be retried now. Nothing has been done yet.</p>
        ${
          preview.matched
            ? html`<div class="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th>Request</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${preview.requestIds.map(
                        (id) =>
                          html`<tr>
                            <td class="mono">
                              <label class="inline"><input type="checkbox" name="ids" value="${id}" checked form="bulk-confirm" /> <a href="/console/requests/${id}">${id}</a></label>
                            </td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>
                </div>
                <form method="post" action="/console/bulk-retry" id="bulk-confirm" class="spaced">
                  ${csrfField(session)}<input type="hidden" name="status" value="${filter.status}" /><input type="hidden" name="channel" value="${filter.channel ?? ''}" />
                  <button type="submit">Retry the ticked requests</button> <a class="button secondary" href="/console">Cancel</a>
                </form>`
            : html`<p><a href="/console">Back to the requests</a></p>`
        }`;
      return sendPage(reply, layout({ title: 'Bulk retry preview', nav: 'requests', session, body }));
    });
    route('POST', '/console/bulk-retry', async (req, reply) => {
      const filter = bulkFilter(req);
      // Only the requests ticked in the preview that still match now (one may have finished since).
      const ticked = new Set([(req.body as { ids?: string | string[] }).ids ?? []].flat().map((x) => String(x).toLowerCase()));
      const matching = await deps.operator.retryMatching(filter, { dryRun: true, by: actor(req) });
      const result: { matched: number; retried: RetryOutcome[]; errors: { requestId: string; message: string }[] } = { matched: 0, retried: [], errors: [] };
      for (const id of matching.requestIds.filter((x) => ticked.has(x))) {
        result.matched++;
        try {
          const r = await deps.operator.retry(id, actor(req));
          result.retried.push(r);
          await deps.audit.record({ actor: actor(req), via: 'api', action: 'deletion_request.retried', requestId: r.requestId, details: { actionId: r.actionId, outcome: r.outcome } });
        } catch (err) {
          result.errors.push({ requestId: id, message: err instanceof OperatorActionError ? err.message : 'the retry failed; see the API logs' });
        }
      }
      await deps.audit.record({
        actor: actor(req),
        via: 'api',
        action: 'deletion_requests.bulk_retried',
        details: { status: filter.status, ...(filter.channel ? { channel: filter.channel } : {}), matched: result.matched, retried: result.retried?.length ?? 0 },
      });
      const body = html` <h1>Retried</h1>
        <p>${result.retried?.length ?? 0} of ${result.matched} request(s) retried.</p>
        ${
          result.errors?.length
            ? html`<h2>Not retried</h2>
                <ul>
                  ${result.errors.map((e) => html`<li><a class="mono" href="/console/requests/${e.requestId}">${e.requestId}</a>: ${e.message}</li>`)}
                </ul>`
            : ''
        }
        <p><a href="/console">Back to the requests</a></p>`;
      return sendPage(reply, layout({ title: 'Bulk retry', nav: 'requests', session: sessionOf(req), body }));
    });

    // ---- One request ----
    /** `live`: the run's own progress (the vendor's words, attempts), as the one-request page shows it; else Lethe's tables. */
    async function requestView(req: FastifyRequest, live = false): Promise<DeletionView> {
      const id = (req.params as { id: string }).id;
      const view = isUuid(id) ? await deps.requests.get(id, { live }) : null;
      if (!view) throw new OperatorActionError('not_found', 'requestId', 'no deletion request has this id');
      return view;
    }

    async function requestPage(req: FastifyRequest, reply: FastifyReply, revealed?: string | null) {
      const view = await requestView(req, true);
      const session = sessionOf(req);
      const [actions, verification, row] = await Promise.all([
        deps.operator.actionsOf(view.requestId),
        db('lethe.verifications').where({ request_id: view.requestId }).first('confirmed_at', 'first_contact_at', 'channel'),
        db('lethe.deletion_requests').where({ request_id: view.requestId }).first('first_contact_at', 'requested_by', 'verification'),
      ]);
      const finished = FINISHED_STATUSES.includes(view.status) || view.status === 'completed';
      const blockedStores = (view.stores ?? []).filter((s) => s.status === 'blocked').map((s) => s.store);
      for (const b of view.blocked ?? []) if ((STORES as readonly string[]).includes(b.store) && !blockedStores.includes(b.store as Store)) blockedStores.push(b.store as Store);
      const events: { at: string; text: Html; tone?: 'ok' | 'bad' }[] = [];
      const firstContact = verification?.first_contact_at ?? row?.first_contact_at;
      if (firstContact) events.push({ at: new Date(firstContact).toISOString(), text: html`First contact (${verification?.channel ?? view.channel})` });
      events.push({ at: view.receivedAt, text: html`Received through ${view.channels.join(', ')}; deadline ${when(view.deadlineAt)}` });
      if (verification?.confirmed_at) events.push({ at: new Date(verification.confirmed_at).toISOString(), text: html`Confirmed by the person` });
      for (const s of view.stores ?? []) {
        if (s.failingSince) {
          events.push({
            at: s.failingSince,
            tone: 'bad',
            text: html`<strong>${s.store}</strong> refusing (${s.attempts} attempt(s))${s.status === 'blocked' ? ', blocked' : ''}:
              ${s.reason ?? 'no reason given'}${s.action ? html`<br /><em>What to do:</em> ${s.action}` : ''}`,
          });
        }
      }
      for (const b of view.blocked ?? []) {
        if (!(view.stores ?? []).some((s) => s.store === b.store && s.failingSince)) {
          events.push({ at: b.since, tone: 'bad', text: html`<strong>${b.store}</strong> blocked: ${b.reason}<br /><em>What to do:</em> ${b.action}` });
        }
      }
      for (const a of actions) {
        events.push({ at: a.at, text: html`${a.by} ${a.action === 'resolve' ? html`resolved <strong>${a.store ?? ''}</strong> outside Lethe: “${a.justification ?? ''}”` : 'asked for a retry'}` });
      }
      if (view.completedAt)
        events.push({
          at: view.completedAt,
          tone: view.status === 'completed' ? 'ok' : undefined,
          text: html`${view.status === 'completed' ? 'Completed, receipt written' : `Ended: ${view.status}`}${view.overdue ? ' (after the deadline)' : ''}`,
        });
      events.sort((a, b) => a.at.localeCompare(b.at));
      const uiHost = (req.hostname || '127.0.0.1').replace(/:\d+$/, '');
      const temporalUrl = `http://${uiHost}:${config.temporal.uiPort}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(deletionWorkflowId(view.accountId))}`;
      const q = req.query as { done?: string };
      const body = html` <h1>Request <span class="mono">${view.requestId}</span></h1>
        <div class="grid2">
          <section class="card" aria-label="Summary">
            <dl class="kv">
              <dt>Status</dt>
              <dd>${chip(view.status)}${view.overdue ? chip('failed', 'overdue') : ''}</dd>
              <dt>Channel</dt>
              <dd>${view.channels.join(', ')}</dd>
              <dt>Account</dt>
              <dd class="mono">${view.accountId}</dd>
              <dt>Received</dt>
              <dd>${when(view.receivedAt)}</dd>
              <dt>Deadline</dt>
              <dd>${when(view.deadlineAt)} · ${leftCell(new Date(view.deadlineAt), finished, dueSoonMs)}</dd>
              ${
                view.completedAt
                  ? html`<dt>Completed</dt>
                      <dd>${when(view.completedAt)}</dd>`
                  : ''
              }
              ${
                row?.verification
                  ? html`<dt>Verified by</dt>
                      <dd>${row.verification}</dd>`
                  : ''
              }
              <dt>Email</dt>
              <dd>
                ${
                  revealed
                    ? html`<span id="revealed-email">${revealed}</span> <span class="muted">(revealed to you; recorded in the audit trail)</span>`
                    : revealed === null
                      ? html`<span class="muted">not held any more</span>`
                      : finished
                        ? html`<span class="muted">hidden (the request has ended)</span>`
                        : html`<form method="post" action="/console/requests/${view.requestId}/reveal" class="inline">
                            ${csrfField(session)}<span class="muted">hidden</span> <button class="secondary" type="submit">Reveal email</button>
                          </form>`
                }
              </dd>
              <dt>Stores</dt>
              <dd>
                ${(view.stores ?? []).length ? (view.stores ?? []).map((s) => chip(s.status, `${s.store}: ${s.status}`)) : html`<span class="muted">${view.receipt ? 'see the receipt' : 'not known yet'}</span>`}
              </dd>
            </dl>
            <p>
              <a href="${temporalUrl}" rel="noopener">Open the run in the Temporal Web UI</a
              >${view.receipt ? html` · <a href="/console/requests/${view.requestId}/receipt">Receipt</a> · <a href="/console/requests/${view.requestId}/receipt.json" download>Receipt (JSON)</a>` : ''}
            </p>
          </section>
          <section class="card" aria-label="Actions">
            <h2>Actions</h2>
            ${
              finished && view.status !== 'failed'
                ? html`<p class="muted">The request has ended (${view.status}); there is nothing to act on.</p>`
                : html`<form method="post" action="/console/requests/${view.requestId}/retry">
                    ${csrfField(session)}
                    <p>Try the ${view.status === 'failed' ? 'request again from what Lethe captured' : 'blocked and failing stores now'}.</p>
                    <button type="submit">Retry now</button>
                  </form>`
            }
            ${
              blockedStores.length
                ? html`<form method="post" action="/console/requests/${view.requestId}/resolve" class="spaced">
                    ${csrfField(session)}
                    <h3>Resolve a blocked store outside Lethe</h3>
                    <label
                      >Store
                      <select name="store">
                        ${blockedStores.map((s) => html`<option>${s}</option>`)}
                      </select></label
                    >
                    <label class="spaced"
                      >Justification (required: what was done, by whom, where it is recorded) <textarea name="justification" required minlength="10" maxlength="2000"></textarea>
                    </label>
                    <p class="muted">The receipt will say the store was resolved outside Lethe, never that Lethe verified it.</p>
                    <button class="danger" type="submit">Resolve</button>
                  </form>`
                : ''
            }
          </section>
        </div>
        <section class="card" aria-label="Timeline">
          <h2>Timeline</h2>
          <ol class="timeline">
            ${events.map((e) => html`<li class="${e.tone ?? ''}"><time datetime="${e.at}">${when(e.at)}</time>${e.text}</li>`)}
          </ol>
          ${view.stalled ? html`<p class="flash error">${view.stalled.reason}</p>` : ''} ${view.reason ? html`<p class="muted">${view.reason}</p>` : ''}
        </section>
        <section class="card" aria-label="Steps">
          <h2>Steps</h2>
          <div class="table-wrap">
            <table class="responsive">
              <thead>
                <tr>
                  <th>Step</th>
                  <th>Status</th>
                  <th>Detail</th>
                </tr>
              </thead>
              <tbody>
                ${view.steps.map(
                  (s) =>
                    html`<tr>
                      <td data-label="Step">${s.name}</td>
                      <td data-label="Status">${chip(s.status)}${s.attempts ? html` <span class="muted">attempt ${s.attempts}</span>` : ''}</td>
                      <td data-label="Detail">${s.detail ?? ''}</td>
                    </tr>`,
                )}
              </tbody>
            </table>
          </div>
        </section>`;
      return sendPage(reply, layout({ title: `Request ${view.requestId}`, nav: 'requests', session, body, dueSoonMs, flash: q.done ? { text: doneText(q.done) } : undefined }));
    }

    route('GET', '/console/requests/:id', async (req, reply) => requestPage(req, reply));
    // The one-request pages of access requests and corrections (client/console/types.ts).
    registerTypePages({ route, db, deadlineHours: config.deletion.deadlineHours, dueSoonMs, sessionOf, sendPage });
    route('POST', '/console/requests/:id/retry', async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const r = await deps.operator.retry(id, actor(req));
      await deps.audit.record({ actor: actor(req), via: 'api', action: 'deletion_request.retried', requestId: r.requestId, details: { actionId: r.actionId, outcome: r.outcome } });
      return reply.code(303).header('location', `/console/requests/${r.requestId}?done=retried`).send();
    });
    route('POST', '/console/requests/:id/resolve', async (req, reply) => {
      const id = (req.params as { id: string }).id;
      const b = req.body as { store?: string; justification?: string };
      const r = await deps.operator.resolve(id, String(b.store ?? '') as Store, String(b.justification ?? ''), actor(req));
      // The justification is free text: it stays in the operator trail, which actionId names.
      await deps.audit.record({ actor: actor(req), via: 'api', action: 'deletion_request.resolved', requestId: r.requestId, details: { actionId: r.actionId, store: b.store as Store } });
      return reply.code(303).header('location', `/console/requests/${r.requestId}?done=resolved`).send();
    });
    route('POST', '/console/requests/:id/reveal', async (req, reply) => {
      const view = await requestView(req);
      if (FINISHED_STATUSES.includes(view.status as DeletionStatus)) {
        throw new OperatorActionError('conflict', undefined, `the request is ${view.status}: an email is revealed only while its deletion is in progress`);
      }
      const subject = await loadSubject({ db, fields: cipher() }, view.accountId);
      // Recorded before it is shown, with ids only: who saw which request's address, not the address.
      await deps.audit.record({
        actor: actor(req),
        via: 'api',
        action: 'deletion_subject.email_revealed',
        requestId: view.requestId,
        accountId: view.accountId,
        details: { outcome: subject?.email ? 'revealed' : 'none' },
      });
      return requestPage(req, reply, subject?.email ?? null);
    });
    route('GET', '/console/requests/:id/receipt', async (req, reply) => {
      const view = await requestView(req);
      if (!view.receipt) throw new OperatorActionError('not_found', 'requestId', 'this request has no receipt yet');
      const r = view.receipt;
      const body = html` <h1>Receipt for request <span class="mono">${r.requestId}</span></h1>
        <section class="card">
          <dl class="kv">
            <dt>Account</dt>
            <dd class="mono">${r.accountId}</dd>
            <dt>Channels</dt>
            <dd>${r.channels.join(', ')}</dd>
            <dt>Received</dt>
            <dd>${when(r.receivedAt)}</dd>
            <dt>Deadline</dt>
            <dd>${when(r.deadlineAt)}</dd>
            <dt>Completed</dt>
            <dd>${when(r.completedAt)}${r.overdue ? ' (after the deadline)' : ' (on time)'}</dd>
            <dt>Passes</dt>
            <dd>${r.passes}</dd>
            <dt>Verified</dt>
            <dd>${r.verification.clean ? 'every store read back empty' : 'data remained'} (checked ${when(r.verification.checkedAt)})</dd>
          </dl>
        </section>
        <section class="card">
          <h2>Per store</h2>
          <div class="table-wrap">
            <table class="responsive">
              <thead>
                <tr>
                  <th>Store</th>
                  <th>What was done</th>
                  <th>Read back</th>
                </tr>
              </thead>
              <tbody>
                ${STORES.map((s) => {
                  const own = r.stores?.[s];
                  const v = own?.verification;
                  const state = own
                    ? own.outcome === 'verified'
                      ? chip('verified', 'verified empty')
                      : chip('resolved', 'resolved outside Lethe')
                    : r.verification.clean
                      ? chip('verified', 'verified empty')
                      : chip('blocked', 'data remained');
                  return html`<tr>
                    <td data-label="Store">${s}</td>
                    <td data-label="Done">${countsText(r.counts as Record<string, unknown>, s)}</td>
                    <td data-label="Read back">
                      ${state}
                      ${v ? when(v.checkedAt) : ''}${v?.pending?.length ? html`<br /><span class="muted">pending: ${v.pending.map((p) => `${p.what}${p.until ? ` until ${when(p.until)}` : ''}`).join('; ')}</span>` : ''}
                    </td>
                  </tr>`;
                })}
              </tbody>
            </table>
          </div>
        </section>
        <p>
          <a class="button" href="/console/requests/${r.requestId}/receipt.json" download>Download the receipt (JSON)</a>
          <a class="button secondary" href="/console/requests/${r.requestId}">Back to the request</a>
        </p>`;
      return sendPage(reply, layout({ title: 'Receipt', nav: 'requests', session: sessionOf(req), body }));
    });
    route('GET', '/console/requests/:id/receipt.json', async (req, reply) => {
      const view = await requestView(req);
      if (!view.receipt) throw new OperatorActionError('not_found', 'requestId', 'this request has no receipt yet');
      return reply
        .type('application/json; charset=utf-8')
        .header('content-disposition', `attachment; filename="receipt-${view.requestId}.json"`)
        .send(JSON.stringify(view.receipt, null, 2));
    });

    // ---- Overview ----
    route('GET', '/console/overview', async (req, reply) => {
      const o = await data.overview({ inactivityMonths: config.sweep.inactivityMonths });
      const days: string[] = [];
      for (let i = o.days - 1; i >= 0; i--) days.push(new Date(Date.now() - i * DAY).toISOString().slice(0, 10));
      const channels = [...new Set(o.perDay.map((r) => r.channel))].sort();
      const perDay = (c: string) => days.map((d) => o.perDay.find((r) => r.day === d && r.channel === c)?.n ?? 0);
      const t = (d: string) => Date.parse(`${d}T00:00:00Z`) / 1000;
      const blockedStores = STORE_NAMES.filter((st) => o.blockedPerDay.some((r) => r.store === st));
      const blockedOn = (st: string) => days.map((d) => o.blockedPerDay.find((r) => r.day === d && r.store === st)?.n ?? 0);
      const deadlineH = config.deletion.deadlineHours;
      const charts = {
        'chart-per-day': { x: days.map(t), yLabel: 'requests', series: channels.map((c) => ({ label: c, values: perDay(c) })) },
        'chart-time': {
          x: o.perWeek.map((w) => t(w.week)),
          yLabel: 'hours',
          series: [
            { label: 'median h', values: o.perWeek.map((w) => round1(w.medianH)) },
            { label: '95th percentile h', values: o.perWeek.map((w) => round1(w.p95H)) },
            { label: `${deadlineH} h deadline`, values: o.perWeek.map(() => deadlineH), color: '#b3261e', dash: [6, 4] },
          ],
        },
        'chart-blocked': { x: days.map(t), yLabel: 'blocked requests', series: blockedStores.map((st) => ({ label: st, values: blockedOn(st) })) },
        'chart-sweeps': {
          x: o.sweeps.map((s) => Math.floor(s.startedAt.getTime() / 1000)),
          yLabel: 'accounts',
          series: [
            { label: 'scanned', values: o.sweeps.map((s) => s.scanned) },
            { label: 'eligible', values: o.sweeps.map((s) => s.eligible) },
            { label: 'deletions started', values: o.sweeps.map((s) => s.started) },
          ],
        },
      };
      const counts = await data.counts(bucketContext(30));
      const body = html` <h1>Overview</h1>
        <section class="buckets" aria-label="Now">
          <div class="bucket blocked"><span class="n">${counts.blocked ?? 0}</span>Blocked now</div>
          <div class="bucket past_due"><span class="n">${counts.past_due ?? 0}</span>Past due now</div>
          <div class="bucket">
            <span class="n" id="reaching">${o.reaching ?? '—'}</span>Accounts reaching ${config.sweep.inactivityMonths} months inactive in the next 30 days<br /><span class="hint"
              >before the sweep's subscription check</span
            >
          </div>
        </section>
        <div class="grid2">
          <section class="card">
            <h2>Requests per day by channel (last ${o.days} days)</h2>
            <div class="chart" id="chart-per-day" role="img" aria-label="Requests per day by channel">${noScript(o.perDay.length)}</div>
            <details>
              <summary>Numbers</summary>
              ${seriesTable(
                ['day', ...channels],
                days.map((d, i) => [d, ...channels.map((c) => perDay(c)[i])]),
              )}
            </details>
          </section>
          <section class="card">
            <h2>Time to complete against the ${deadlineH} h line (per week)</h2>
            <div class="chart" id="chart-time" role="img" aria-label="Median and 95th percentile hours to complete per week">${noScript(o.perWeek.length)}</div>
            <details>
              <summary>Numbers</summary>
              ${seriesTable(
                ['week', 'completed', 'median h', 'p95 h'],
                o.perWeek.map((w) => [w.week, w.n, round1(w.medianH), round1(w.p95H)]),
              )}
            </details>
          </section>
          <section class="card">
            <h2>Sweep runs</h2>
            <div class="chart" id="chart-sweeps" role="img" aria-label="Sweep runs: scanned, eligible, started">${noScript(o.sweeps.length)}</div>
            <details>
              <summary>Numbers</summary>
              ${seriesTable(
                ['started', 'sweep', 'dry run', 'scanned', 'eligible', 'started deletions'],
                o.sweeps.map((s) => [when(s.startedAt), s.sweepId, s.dryRun ? 'yes' : 'no', s.scanned, s.eligible, s.started]),
              )}
            </details>
          </section>
          <section class="card">
            <h2>Blocked requests by store (last ${o.days} days)</h2>
            <div class="chart" id="chart-blocked" role="img" aria-label="Requests blocked by each store per day">${noScript(o.blockedPerDay.length)}</div>
            <details>
              <summary>Numbers</summary>
              ${seriesTable(
                ['day', ...blockedStores],
                days.map((d, i) => [d, ...blockedStores.map((st) => blockedOn(st)[i])]),
              )}
            </details>
          </section>
        </div>
        ${jsonScript('chart-data', charts)}`;
      return sendPage(reply, layout({ title: 'Overview', nav: 'overview', session: sessionOf(req), body, scripts: ['uplot'] }));
    });

    // ---- Compliance report ----
    const reportPeriod = (req: FastifyRequest): { from: Date; to: Date; fromText: string; toText: string } => {
      const q = req.query as { from?: string; to?: string };
      const now = new Date();
      const from = dateOf(q.from) ?? new Date(Date.UTC(now.getUTCFullYear(), 0, 1));
      const toDay = dateOf(q.to) ?? new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
      return { from, to: new Date(toDay.getTime() + DAY), fromText: from.toISOString().slice(0, 10), toText: toDay.toISOString().slice(0, 10) };
    };
    route('GET', '/console/report', async (req, reply) => {
      const p = reportPeriod(req);
      const { rows, total } = await data.report(p.from, p.to);
      const body = html` <h1>Compliance report</h1>
        <form class="filters card" method="get" action="/console/report" aria-label="Report period">
          <label>From <input type="date" name="from" value="${p.fromText}" required /></label>
          <label>To (inclusive) <input type="date" name="to" value="${p.toText}" required /></label>
          <button type="submit">Show</button>
          <a class="button secondary" href="/console/report.csv?from=${p.fromText}&amp;to=${p.toText}" download>Download CSV</a>
        </form>
        <p>
          Requests from ${p.fromText} to ${p.toText} (UTC). Days to complete count from receipt of the request to its receipt of deletion. Denied: no account, ambiguous, locked or waiting for an
          operator; expired: never confirmed by the person.
        </p>
        <div class="table-wrap">
          <table class="responsive" id="report">
            <thead>
              <tr>
                ${REPORT_COLUMNS.map((c) => html`<th class="${c.num ? 'num' : ''}">${c.label}</th>`)}
              </tr>
            </thead>
            <tbody>
              ${[...rows, total].map((r) => html`<tr${r === total ? html` class="total"` : ''}>${REPORT_COLUMNS.map((c) => html`<td data-label="${c.label}" class="${c.num ? 'num' : ''}">${c.value(r)}</td>`)}</tr>`)}
            </tbody>
          </table>
        </div>
        <p class="muted">Request records are kept ${24} months, then pruned (records of the request only; the person's data was deleted when the request completed).</p>`;
      return sendPage(reply, layout({ title: 'Compliance report', nav: 'report', session: sessionOf(req), body }));
    });
    route('GET', '/console/report.csv', async (req, reply) => {
      const p = reportPeriod(req);
      const { rows, total } = await data.report(p.from, p.to);
      const lines = [REPORT_COLUMNS.map((c) => c.label), ...[...rows, total].map((r) => REPORT_COLUMNS.map((c) => String(c.value(r))))];
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="lethe-report-${p.fromText}-${p.toText}.csv"`)
        .send(lines.map((l) => l.map(csvCell).join(',')).join('\r\n') + '\r\n');
    });

    // Request records past 24 months go, hourly (an indexed delete; nothing of the person's).
    const pruneTimer = setInterval(() => void data.pruneRequestRecords().catch(() => undefined), HOUR);
    pruneTimer.unref();
    app.addHook('onClose', async () => clearInterval(pruneTimer));
  };
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

/** The browser's `Origin` (or, without it, `Referer`) names this host; a client that sends neither (curl, the bench) passes. */
function sameOrigin(req: FastifyRequest): boolean {
  const from = req.headers.origin ?? req.headers.referer;
  if (!from) return true;
  try {
    return new URL(from).host === req.headers.host;
  } catch {
    return false;
  }
}

function dateOf(text: string | undefined): Date | undefined {
  if (!text || !/^\d{4}-\d\d-\d\d$/.test(text)) return undefined;
  const d = new Date(`${text}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function doneText(done: string): string {
  return done === 'retried' ? 'Retry requested.' : done === 'resolved' ? 'Store recorded as resolved outside Lethe.' : 'Done.';
}

function signInPage(error?: string): string {
  const body = html` <div class="signin card">
    <h1>Sign in</h1>
    <p>Paste an operator or admin API token. It is exchanged once for a session of this browser and is not kept.</p>
    ${error ? html`<p class="flash error" role="alert">${error}</p>` : ''}
    <form method="post" action="/console/sign-in">
      <label>API token <input type="password" name="token" required autocomplete="off" autofocus /></label>
      <p><button type="submit">Sign in</button></p>
    </form>
  </div>`;
  return layout({ title: 'Sign in', body });
}

function errorPage(status: number, message: string, session?: ConsoleSession): string {
  const body = html`<h1>${status === 401 ? 'Sign in needed' : status === 403 ? 'Refused' : status === 404 ? 'Not found' : status === 409 ? 'Not possible now' : 'Error'}</h1>
    <p class="flash error" role="alert">${message}</p>
    <p>${session ? html`<a href="/console">Back to the requests</a>` : html`<a href="/console/sign-in">Sign in</a>`}</p>`;
  return layout({ title: 'Error', session, body });
}

/** Every public request (a search names which). */
const VERIFICATIONS: Bucket = { key: 'public', label: 'Public requests', hint: '', source: 'verifications', where: () => ['true', []] };

/** Where a request's own page is, by its type. */
const pageOf = (r: RequestRowView): string => (r.type === 'access' ? `/console/access/${r.ref}` : r.type === 'correction' ? `/console/corrections/${r.ref}` : `/console/requests/${r.ref}`);

/** The request's clock has stopped: done (a deletion completed or skipped, an archive ready, a correction ended), or waiting for the person. */
function clockStopped(r: RequestRowView): boolean {
  if (r.type === 'access') return ['ready', 'expired', 'cancelled'].includes(r.status);
  if (r.type === 'correction') return ['completed', 'refused'].includes(r.status);
  return ['completed', 'skipped'].includes(r.status);
}

function requestsTable(rows: RequestRowView[], dueSoonMs: number, id = 'requests'): Html {
  if (!rows.length) return html`<p class="card muted">No requests match.</p>`;
  return html`<div class="table-wrap">
    <table class="responsive" id="${id}">
      <thead>
        <tr>
          <th>Reference</th>
          <th>Type</th>
          <th>Channel</th>
          <th>Received</th>
          <th>Time left</th>
          <th>Status</th>
          <th>Stores</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map((r) => {
          const finished = r.kind === 'request' && clockStopped(r);
          const waiting = r.type === 'correction' && r.status === 'awaiting_confirmation';
          return html`<tr data-ref="${r.ref}" data-type="${r.type}">
            <td data-label="Reference" class="mono">${r.kind === 'request' ? html`<a href="${pageOf(r)}">${r.ref}</a>` : html`${r.ref} <span class="muted">(verification)</span>`}</td>
            <td data-label="Type">${r.type}</td>
            <td data-label="Channel">${r.channel}</td>
            <td data-label="Received">${when(r.receivedAt)}</td>
            <td data-label="Time left">${waiting ? html`<span class="muted">waiting for the person</span>` : leftCell(r.deadlineAt, finished, dueSoonMs)}</td>
            <td data-label="Status">${chip(r.status)}${r.overdue && finished ? chip('failed', 'finished late') : ''}</td>
            <td data-label="Stores" class="stores">${r.stores.length ? r.stores.map((x) => chip(x.state, `${x.store}: ${x.state}`)) : html`<span class="muted">—</span>`}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}

const noScript = (n: number): Html => html`<p class="muted">${n ? 'The chart needs JavaScript; the numbers are below.' : 'No data yet.'}</p>`;

function seriesTable(head: string[], rows: (string | number)[][]): Html {
  return html`<div class="table-wrap">
    <table>
      <thead>
        <tr>
          ${head.map((h) => html`<th>${h}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) =>
            html`<tr>
              ${r.map((c) => html`<td class="${typeof c === 'number' ? 'num' : ''}">${c}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function countsText(counts: Record<string, unknown>, store: Store): string {
  const c = counts[store];
  if (!c || typeof c !== 'object') return '—';
  return Object.entries(c as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');
}

const REPORT_COLUMNS: { label: string; num?: boolean; value: (r: ReportRow) => string | number }[] = [
  { label: 'Type', value: (r) => r.type },
  { label: 'Channel', value: (r) => r.channel },
  { label: 'Received', num: true, value: (r) => r.received },
  { label: 'Completed', num: true, value: (r) => r.completed },
  { label: 'Skipped (active again)', num: true, value: (r) => r.skipped },
  { label: 'Denied', num: true, value: (r) => r.denied },
  { label: 'Expired', num: true, value: (r) => r.expired },
  { label: 'Withdrawn', num: true, value: (r) => r.withdrawn },
  { label: 'Median days to complete', num: true, value: (r) => (r.medianDays === null ? '' : r.medianDays.toFixed(2)) },
  { label: 'Mean days to complete', num: true, value: (r) => (r.meanDays === null ? '' : r.meanDays.toFixed(2)) },
];

export { timeLeft };
