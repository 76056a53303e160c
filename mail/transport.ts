/**
 * Outbound mail: the one module that speaks SMTP (nodemailer) to `SMTP_URL`. Callers hand it a
 * rendered message (mail/templates.ts) and one recipient; they learn from a MailError whether
 * trying again later can help (`transient`) or not, and retry only the former.
 *
 * Every message is marked as sent by a program (RFC 3834 `Auto-Submitted`), so vacation
 * responders and other robots that honour it do not answer, and two robots cannot loop.
 */
import nodemailer from 'nodemailer';
import type { Config } from '../config';

export interface OutboundMail {
  /** One address, bare (`ann@example.com`): a list or a display name is refused. */
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Extra headers; `Auto-Submitted` may be `auto-generated` (the default) or `auto-replied`. */
  headers?: Record<string, string>;
}

export interface Mailer {
  /** Resolves once the SMTP server accepted the message; rejects with a MailError. */
  send(msg: OutboundMail): Promise<{ messageId: string }>;
  close(): void;
}

export type MailErrorType =
  /** The server could not be reached, or the connection broke, or timed out. */
  | 'unavailable'
  /** A 4xx reply: the server asks us to try again later (greylisting, a full queue, 421). */
  | 'deferred'
  /** A 5xx reply: the server refused the message, the recipient or our credentials for good. */
  | 'rejected'
  /** Not sent: the message or the recipient is not something we can send (our fault). */
  | 'invalid';

/**
 * Why a message was not sent. The message holds the failing step, the SMTP reply code and
 * nodemailer's error code only: never an address, and never the server's reply text, which
 * often echoes the recipient (`550 5.1.1 <ann@example.com>: user unknown`).
 */
export class MailError extends Error {
  readonly type: MailErrorType;
  /** Whether the same message can go through later: retry these, and only these. */
  readonly transient: boolean;
  /** The SMTP reply code, when the server answered. */
  readonly responseCode?: number;
  /** nodemailer's error code (`ECONNECTION`, `ESOCKET`, `EENVELOPE`, `EAUTH`, ...). */
  readonly code?: string;

  constructor(type: MailErrorType, detail: { responseCode?: number; code?: string; command?: string }) {
    super(describe(type, detail));
    this.name = 'MailError';
    this.type = type;
    this.transient = type === 'unavailable' || type === 'deferred';
    this.responseCode = detail.responseCode;
    this.code = detail.code;
  }
}

function describe(type: MailErrorType, d: { responseCode?: number; code?: string; command?: string }): string {
  const parts = [d.command ? `at ${d.command}` : undefined, d.responseCode !== undefined ? `SMTP ${d.responseCode}` : undefined, d.code].filter(Boolean);
  return `mail not sent: ${type}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/** Shape check that survives two copies of this module (bundles, jest module registries). */
export function isMailError(err: unknown): err is MailError {
  return err instanceof MailError || (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'MailError' && typeof (err as { transient?: unknown }).transient === 'boolean');
}

/** Connection-level failures: nothing was refused, the server was not there or went away. */
const NETWORK_CODES = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

/** nodemailer's error as a MailError: 4xx and connection failures are transient, 5xx permanent. */
export function classifyMailError(err: unknown): MailError {
  if (isMailError(err)) return err;
  const e = (err ?? {}) as { code?: unknown; responseCode?: unknown; command?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  // Only the verb: a command's argument is an address (`RCPT TO:<ann@example.com>`).
  const command = typeof e.command === 'string' ? e.command.split(/[\s:]/)[0].toUpperCase() || undefined : undefined;
  const detail = { responseCode, code, command };
  if (responseCode !== undefined && responseCode >= 400 && responseCode < 500) return new MailError('deferred', detail);
  // 503 (bad sequence of commands) is the session's state, not a verdict on the message:
  // nodemailer's isPermanentResponseCode makes the same exception.
  if (responseCode === 503) return new MailError('deferred', detail);
  if (responseCode !== undefined && responseCode >= 500) return new MailError('rejected', detail);
  if (code && NETWORK_CODES.has(code)) return new MailError('unavailable', detail);
  // EAUTH without a reply code, ETLS (a certificate or TLS setting), ECONFIG, EENVELOPE: a
  // person must change something; retrying the same thing gets the same answer.
  if (code === 'EAUTH' || code === 'ENOAUTH' || code === 'ETLS' || code === 'EREQUIRETLS' || code === 'ECONFIG') return new MailError('rejected', detail);
  if (code === 'EENVELOPE' || code === 'EMESSAGE') return new MailError('invalid', detail);
  // Anything else failed before a verdict (a stream or protocol hiccup): another try may pass.
  return new MailError('unavailable', detail);
}

/** A bare addr-spec: one `@`, no spaces, no list separators, no display name. */
const BARE_ADDRESS = /^[^\s@<>,;"()[\]\\]+@[^\s@<>,;"()[\]\\]+\.[^\s@<>,;"()[\]\\]+$/;

const AUTO_SUBMITTED = new Set(['auto-generated', 'auto-replied']);

export function createMailer(config: Pick<Config['mail'], 'smtpUrl' | 'from'>): Mailer {
  const transport = nodemailer.createTransport(
    {
      url: config.smtpUrl,
      // nodemailer's defaults (2 min to connect, 10 min of silence) outlast an activity's attempt;
      // a server that does not answer in these is down for our purposes, and the caller retries.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
      // What the stack logs already says; nodemailer's own logger would print addresses.
      logger: false,
      debug: false,
    },
    { from: config.from },
  );
  return {
    async send(msg) {
      if (!BARE_ADDRESS.test(msg.to)) throw new MailError('invalid', { code: 'EADDRESS' });
      const headers: Record<string, string> = { 'Auto-Submitted': 'auto-generated', ...msg.headers };
      if (!AUTO_SUBMITTED.has(headers['Auto-Submitted'])) throw new MailError('invalid', { code: 'EHEADER' });
      // Microsoft Exchange's own switch for its out-of-office and delivery receipts, which predate RFC 3834.
      headers['X-Auto-Response-Suppress'] ??= 'All';
      try {
        const info = await transport.sendMail({ to: msg.to, subject: msg.subject, text: msg.text, html: msg.html, headers });
        return { messageId: info.messageId };
      } catch (err) {
        throw classifyMailError(err);
      }
    },
    close() {
      transport.close();
    },
  };
}
