/**
 * Mail to the privacy address, parsed (mailparser) and sorted: a person's request, or a robot's
 * mail that must never be answered, so two robots cannot loop (RFC 3834 §2, §5).
 *
 * The sender's address is not proof of anything (it can be forged): it only says which account
 * the verification link goes to, and that link goes to the address on file.
 */
import { simpleParser, type AddressObject } from 'mailparser';

export interface InboundMail {
  /** The author's address (`From`), bare; undefined when there is none to answer. */
  from?: string;
  /** Why it gets no answer: an auto-reply, a bounce, list mail; undefined for a person's mail. */
  robot?: string;
  /** `Message-ID`, for the log (no address in it is logged). */
  messageId?: string;
  /** `Subject`, and the first lines the person wrote (quoted lines left out): what they ask for (client/inbound.ts). */
  subject?: string;
  opening?: string;
}

/** How much of the body says what a mail asks for: its first lines, not a quoted thread below. */
const OPENING_LINES = 8;
const OPENING_CHARS = 2000;

export class InboundMailError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InboundMailError';
  }
}

/** The largest message read (RFC 5322 text plus attachments a person might add by mistake). */
export const INBOUND_LIMIT_BYTES = 1024 * 1024;

const first = (a: AddressObject | AddressObject[] | undefined): string | undefined => (Array.isArray(a) ? a[0] : a)?.value?.[0]?.address || undefined;

/**
 * Parses raw RFC 5322 text. `envelopeFrom` is the SMTP `MAIL FROM` when it came over SMTP: an
 * empty one (`<>`) is how bounces and auto-replies are sent (RFC 5321 §4.5.5, RFC 3834 §4).
 */
export async function readInbound(raw: Buffer | string, opts: { envelopeFrom?: string | false } = {}): Promise<InboundMail> {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size === 0) throw new InboundMailError('the message is empty');
  if (size > INBOUND_LIMIT_BYTES) throw new InboundMailError(`the message is ${size} bytes, over the ${INBOUND_LIMIT_BYTES} accepted`);
  const parsed = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  if (!parsed.headers || parsed.headers.size === 0) throw new InboundMailError('the message has no headers: send it as RFC 5322 text (message/rfc822)');
  const from = first(parsed.from);
  const header = (name: string): string => {
    const v = parsed.headers.get(name);
    return v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  };
  const robot = robotReason({
    autoSubmitted: header('auto-submitted'),
    precedence: header('precedence'),
    // mailparser folds List-* headers into one `list` value: read the lines as they came.
    listId: parsed.headerLines.find((l) => ['list-id', 'list-unsubscribe', 'list-post'].includes(l.key))?.line ?? '',
    returnPath: parsed.headerLines.find((l) => l.key === 'return-path')?.line.replace(/^[^:]*:/, ''),
    envelopeFrom: opts.envelopeFrom,
    contentType: header('content-type'),
    autoReplyMarkers: ['x-autoreply', 'x-autorespond', 'x-auto-response-suppress'].filter((h) => parsed.headers.has(h)),
    from,
  });
  // An HTML-only mail has no text part (skipHtmlToText): its tags are dropped, enough to read words by.
  const body =
    parsed.text ??
    (typeof parsed.html === 'string'
      ? parsed.html
          .replace(/<(style|script)[^]*?<\/\1>/gi, ' ')
          .replace(/<[^>]*>/g, '\n')
          .replace(/&nbsp;/g, ' ')
      : '');
  const opening = body
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('>'))
    .slice(0, OPENING_LINES)
    .join('\n')
    .slice(0, OPENING_CHARS);
  return {
    ...(from ? { from } : {}),
    ...(robot ? { robot } : {}),
    ...(parsed.messageId ? { messageId: parsed.messageId } : {}),
    ...(parsed.subject ? { subject: parsed.subject } : {}),
    ...(opening ? { opening } : {}),
  };
}

/** Why a mail is a robot's (never answered), from its headers; undefined for a person's. */
export function robotReason(h: {
  autoSubmitted: string;
  precedence: string;
  listId: string;
  returnPath?: string;
  envelopeFrom?: string | false;
  contentType: string;
  autoReplyMarkers: string[];
  from?: string;
}): string | undefined {
  // RFC 3834 §5: any value but "no" marks a message sent by a program.
  const auto = h.autoSubmitted.trim().toLowerCase();
  if (auto && !auto.startsWith('no')) return `Auto-Submitted: ${auto.split(';')[0]}`;
  // RFC 3834 §2: do not answer bulk, junk or list mail.
  if (/\b(bulk|junk|list|auto_reply)\b/i.test(h.precedence)) return `Precedence: ${h.precedence.trim()}`;
  if (h.listId) return 'mailing-list mail (List-Id)';
  // An empty return path (`<>`): a bounce or an auto-reply (RFC 5321 §4.5.5).
  if (h.envelopeFrom === false || h.envelopeFrom === '' || (h.returnPath !== undefined && /^\s*(<\s*>)?\s*$/.test(h.returnPath))) return 'empty return path';
  if (/multipart\/report|delivery-status/i.test(h.contentType)) return 'delivery report';
  if (h.autoReplyMarkers.length) return `auto-reply (${h.autoReplyMarkers.join(', ')})`;
  if (h.from && /^(mailer-daemon|postmaster|no-?reply)@/i.test(h.from)) return `sent from ${h.from.split('@')[0].toLowerCase()}`;
  if (!h.from) return 'no From address';
  return undefined;
}
