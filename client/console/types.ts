/**
 * The one-request pages of the other two types (issue 35 item 6): an access request
 * (`/console/access/{id}`) and a correction (`/console/corrections/{id}`), from Lethe's own
 * tables (migrations 014, 015), no Temporal call. Each shows the request's clock as the list
 * does (client/request-list.ts: the same statement answers the deadline and overdue).
 *
 * What they never show, as the deletion's page never shows an address: an access archive's
 * links (mailed to the account's address on file only; the table keeps none), and a
 * correction's values (sealed in `changes_sealed` until the request ends, then erased): its
 * fields are shown by name. Neither sealed column is selected here.
 */
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Knex } from 'knex';
import { isUuid } from '../../contract';
import { OperatorActionError } from '../operator';
import { createRequestList, type RequestListItem, type RequestType } from '../request-list';
import { html, type Html, when } from './html';
import { chip, layout, leftCell } from './pages';
import type { ConsoleSession } from './sessions';

export interface TypePagesDeps {
  route: (method: 'GET' | 'POST', url: string, handler: RouteOptions['handler']) => void;
  db: Knex;
  deadlineHours: number;
  dueSoonMs: number;
  sessionOf: (req: FastifyRequest) => ConsoleSession;
  sendPage: (reply: FastifyReply, text: string, status?: number) => unknown;
}

/** The columns of lethe.access_requests a page shows (no link is kept there). */
const ACCESS_COLUMNS = ['request_id', 'archive_parts', 'archive_bytes', 'archive_expires_at', 'archive_deleted_at', 'counts'] as const;
/** The columns of lethe.correction_requests a page shows: names and states, never `changes_sealed` or `subject_sealed`. */
const CORRECTION_COLUMNS = ['request_id', 'fields', 'email_status', 'email_expires_at', 'email_confirmed_at', 'reason', 'receipt'] as const;

export function registerTypePages(deps: TypePagesDeps): void {
  const { route, db, dueSoonMs } = deps;
  const list = createRequestList({ db, deadlineHours: deps.deadlineHours });

  /** The request as the list shows it (status, clock), or a 404 page. */
  async function itemOf(req: FastifyRequest, type: RequestType): Promise<RequestListItem> {
    const id = (req.params as { id: string }).id;
    const [item] = isUuid(id) ? (await list.list({ type, requestIds: [id], limit: 1 })).items : [];
    if (!item) throw new OperatorActionError('not_found', 'requestId', `no ${type} request has this id`);
    return item;
  }

  /** The summary every type's page starts with: status, the clock, channel, account. */
  const summary = (item: RequestListItem, stopped: boolean, extra: Html): Html =>
    html`<dl class="kv">
      <dt>Type</dt>
      <dd>${item.type}</dd>
      <dt>Status</dt>
      <dd>${chip(item.status)}${item.overdue ? chip('failed', 'overdue') : ''}</dd>
      <dt>Channel</dt>
      <dd>${item.channel}</dd>
      <dt>Account</dt>
      <dd class="mono">${item.accountId}</dd>
      <dt>Received</dt>
      <dd>${when(item.receivedAt)}</dd>
      <dt>Deadline</dt>
      <dd id="deadline">${when(item.deadlineAt)} · ${leftCell(new Date(item.deadlineAt), stopped, dueSoonMs)}</dd>
      ${
        item.completedAt
          ? html`<dt>Completed</dt>
              <dd>${when(item.completedAt)}${item.overdue ? ' (after the deadline)' : ' (on time)'}</dd>`
          : ''
      }
      ${extra}
    </dl>`;

  route('GET', '/console/access/:id', async (req, reply) => {
    const item = await itemOf(req, 'access');
    const row = await db('lethe.access_requests')
      .where({ request_id: item.requestId })
      .first(...ACCESS_COLUMNS);
    const counts = (typeof row?.counts === 'string' ? JSON.parse(row.counts) : (row?.counts ?? {})) as Record<string, Record<string, number>>;
    const stopped = ['ready', 'expired', 'cancelled'].includes(item.status);
    const archive = row?.archive_parts
      ? html`<dt>Archive</dt>
          <dd id="archive">
            ${Number(row.archive_parts)} part(s), ${bytesText(Number(row.archive_bytes))}; the links expire
            ${when(row.archive_expires_at)}${row.archive_deleted_at ? html`; <strong>deleted</strong> ${when(row.archive_deleted_at)}` : ''}
          </dd>`
      : html`<dt>Archive</dt>
          <dd id="archive" class="muted">not written yet</dd>`;
    const body = html` <h1>Access request <span class="mono">${item.requestId}</span></h1>
      <section class="card" aria-label="Summary">
        ${summary(item, stopped, archive)}
        <p class="muted">The download links went to the account's address on file only; Lethe never shows or keeps them here.</p>
      </section>
      <section class="card" aria-label="Gathered">
        <h2>What was gathered</h2>
        ${
          Object.keys(counts).length
            ? html`<div class="table-wrap">
                <table class="responsive" id="gathered">
                  <thead>
                    <tr>
                      <th>Store</th>
                      <th>Counts</th>
                    </tr>
                  </thead>
                  <tbody>
                    ${Object.entries(counts).map(
                      ([store, c]) =>
                        html`<tr>
                          <td data-label="Store">${store}</td>
                          <td data-label="Counts">
                            ${Object.entries(c ?? {})
                              .map(([k, v]) => `${k}: ${Number(v)}`)
                              .join(', ')}
                          </td>
                        </tr>`,
                    )}
                  </tbody>
                </table>
              </div>`
            : html`<p class="muted">Nothing yet: the counts are written when the archive is ready.</p>`
        }
      </section>
      <p><a class="button secondary" href="/console?type=access">Back to the access requests</a></p>`;
    return deps.sendPage(reply, layout({ title: `Access request ${item.requestId}`, nav: 'requests', session: deps.sessionOf(req), body, dueSoonMs }));
  });

  route('GET', '/console/corrections/:id', async (req, reply) => {
    const item = await itemOf(req, 'correction');
    const row = await db('lethe.correction_requests')
      .where({ request_id: item.requestId })
      .first(...CORRECTION_COLUMNS);
    const fields = (typeof row?.fields === 'string' ? JSON.parse(row.fields) : (row?.fields ?? [])) as string[];
    const receipt = (typeof row?.receipt === 'string' ? JSON.parse(row.receipt) : row?.receipt) as
      { stores?: { store: string; applied: string[]; outcome: string }[]; notApplied?: { field: string; reason: string }[] } | null | undefined;
    const stopped = ['completed', 'refused'].includes(item.status);
    const extra = html`<dt>Fields</dt>
      <dd id="fields">${fields.join(', ')} <span class="muted">(names only: the new values are sealed until the request ends, then erased)</span></dd>
      ${
        row?.email_status
          ? html`<dt>New address</dt>
              <dd id="email-status">
                ${chip(row.email_status)}${row.email_status === 'awaiting_confirmation' && row.email_expires_at ? html` the person's link works until ${when(row.email_expires_at)}` : ''}${
                  row.email_confirmed_at ? html` confirmed ${when(row.email_confirmed_at)}` : ''
                }
              </dd>`
          : ''
      }
      ${
        // A refusal's reason is Lethe's own sentence (held, being deleted, an address another account holds, by id);
        // a failure's may quote a vendor, so it is left to the API's view.
        item.status === 'refused' && row?.reason
          ? html`<dt>Refused</dt>
              <dd>${row.reason}</dd>`
          : ''
      }`;
    const body = html` <h1>Correction <span class="mono">${item.requestId}</span></h1>
      <section class="card" aria-label="Summary">${summary(item, stopped, extra)}</section>
      <section class="card" aria-label="Receipt">
        <h2>Receipt</h2>
        ${
          receipt?.stores?.length
            ? html`<div class="table-wrap">
                  <table class="responsive" id="correction-receipt">
                    <thead>
                      <tr>
                        <th>Store</th>
                        <th>Outcome</th>
                        <th>Fields applied and read back</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${receipt.stores.map(
                        (s) =>
                          html`<tr>
                            <td data-label="Store">${s.store}</td>
                            <td data-label="Outcome">${chip(s.outcome === 'applied' ? 'verified' : 'skipped', s.outcome.replace(/_/g, ' '))}</td>
                            <td data-label="Fields">${s.applied.join(', ') || '—'}</td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>
                </div>
                ${
                  receipt.notApplied?.length
                    ? html`<ul>
                        ${receipt.notApplied.map((n) => html`<li><strong>${n.field}</strong> not applied: ${n.reason}</li>`)}
                      </ul>`
                    : ''
                }`
            : html`<p class="muted">Written when the request ends.</p>`
        }
      </section>
      <p><a class="button secondary" href="/console?type=correction">Back to the corrections</a></p>`;
    return deps.sendPage(reply, layout({ title: `Correction ${item.requestId}`, nav: 'requests', session: deps.sessionOf(req), body, dueSoonMs }));
  });
}

function bytesText(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 * 1024) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
