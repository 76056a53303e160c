/**
 * (Here in mail/, not activities/, so the API (a client) sends through the same path: a held
 * request is answered from the intake, which starts no workflow.)
 *
 * One mail to a person, and its line in lethe.outbound_mail (kind, request, outcome: never the
 * address). A transient failure (the mail server away, a 4xx) is thrown for the activity's
 * retry; a permanent one (a 5xx: no such mailbox) is recorded and returned, since sending it
 * again cannot help.
 */
import type { Knex } from 'knex';
import { isMailError, type Mailer } from './transport';

export interface OutgoingMail {
  kind: string;
  ref: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** The template's (`Auto-Submitted: auto-replied` for an answer to a person's mail). */
  headers?: Record<string, string>;
}

export async function deliver(deps: { db: Knex; mailer: Mailer }, m: OutgoingMail, opts: { lastAttempt?: boolean } = {}): Promise<'sent' | 'failed'> {
  try {
    await deps.mailer.send({ to: m.to, subject: m.subject, text: m.text, html: m.html, ...(m.headers ? { headers: m.headers } : {}) });
  } catch (err) {
    const transient = !isMailError(err) || err.transient;
    const reason = (err as Error).message.slice(0, 300);
    if (transient && !opts.lastAttempt) {
      await record(deps.db, m, 'retrying', reason);
      throw err;
    }
    await record(deps.db, m, 'failed', reason);
    return 'failed';
  }
  await record(deps.db, m, 'sent', null);
  return 'sent';
}

/** One row per mail and outcome so far: its attempts counted, its last error kept (no address in it). */
async function record(db: Knex, m: OutgoingMail, status: 'sent' | 'failed' | 'retrying', error: string | null): Promise<void> {
  const last = await db('lethe.outbound_mail').where({ kind: m.kind, ref: m.ref, status: 'retrying' }).orderBy('id', 'desc').first('id');
  const scrubbed = error ? error.split(m.to).join('<recipient>') : null;
  if (last) await db('lethe.outbound_mail').where({ id: last.id }).increment('attempts', 1).update({ status, last_error: scrubbed });
  else await db('lethe.outbound_mail').insert({ kind: m.kind, ref: m.ref, status, attempts: 1, last_error: scrubbed });
}
