/**
 * Mail to the privacy address, from either door (the SMTP listener, or a mail provider's
 * inbound hook posting the raw message): a person's mail becomes a request for the sender's
 * account through the front door, verified like one from the privacy page (the link goes to the
 * address on file, never to the sender as such); a robot's mail is dropped, never answered.
 *
 * What the mail asks for is read from its words (`requestTypeOf`): a copy of the data (an access
 * request) when the subject, or else the first lines, ask for one and not for a deletion; a
 * deletion otherwise, as every mail to the privacy address was before a copy could be asked for.
 * Either way nothing happens until the account's mailbox confirms, and the mail and the page it
 * links to say plainly which of the two is being confirmed (docs/front-door.md).
 */
import { readInbound } from '../mail/inbound';
import type { FrontDoor, PublicRequestType } from './front-door';

export type InboundOutcome = { outcome: 'filed' } | { outcome: 'ignored'; reason: string };

/** Words that ask for a copy of one's data (GDPR Art. 15 and 20, California's right to know). */
const ASKS_FOR_A_COPY: RegExp[] = [
  /\bcop(y|ies) of (all )?(of )?(my|our|the) (personal )?(data|information|info|details|files|images|videos|photos|timelapses)\b/,
  /\baccess request\b/, // "access request", "subject access request", "data access request"
  /\bsubject access\b/,
  /\bdsars?\b/,
  /\bright (of|to|for) access\b/,
  /\bright to know\b/,
  /\b(what|which) (personal )?(data|information|info) (do )?you (have|hold|keep|store|collect|process)\b/,
  /\bart(icle|\.)?\s*(15|20)\b/,
  /\bportability\b/,
  /\b(export|download)( a copy of)? (all )?(of )?my (personal )?(data|information)\b/,
  /\baccess (to )?(all )?(of )?my (personal )?(data|information)\b/,
  /\bsend me (all )?(of )?my (personal )?(data|information)\b/,
];

/** Words that ask for a deletion (GDPR Art. 17, the right to delete). */
const ASKS_FOR_DELETION: RegExp[] = [
  /\bdelet(e|ed|es|ing|ion)\b/,
  /\beras(e|ed|ing|ure)\b/,
  /\bremov(e|al of) (all )?(of )?my\b/,
  /\bforget me\b/,
  /\bright to be forgotten\b/,
  /\b(close|cancel) (down )?my account\b/,
  /\bart(icle|\.)?\s*17\b/,
];

/** What one piece of text asks for: one of the two, or undefined when it names neither or both. */
function asks(text: string | undefined): PublicRequestType | undefined {
  if (!text) return undefined;
  const t = text.toLowerCase().replace(/\s+/g, ' ');
  const copy = ASKS_FOR_A_COPY.some((re) => re.test(t));
  const deletion = ASKS_FOR_DELETION.some((re) => re.test(t));
  return copy === deletion ? undefined : copy ? 'access' : 'deletion';
}

/**
 * The request a person's mail makes: the subject decides when it asks for one of the two, else
 * the first lines the person wrote; a mail that asks for neither clearly, or for both, is a
 * deletion request, as every such mail was before (its confirmation page still says so, and
 * nothing is deleted unless the person confirms that).
 */
export function requestTypeOf(mail: { subject?: string; opening?: string }): { type: PublicRequestType; by: 'subject' | 'opening' | 'default' } {
  const bySubject = asks(mail.subject);
  if (bySubject) return { type: bySubject, by: 'subject' };
  const byOpening = asks(mail.opening);
  if (byOpening) return { type: byOpening, by: 'opening' };
  return { type: 'deletion', by: 'default' };
}

export function createInbound(deps: { frontDoor: Pick<FrontDoor, 'file'>; log?: (msg: string, fields: Record<string, unknown>) => void }) {
  return {
    async receive(raw: Buffer | string, opts: { envelopeFrom?: string | false; via: 'smtp' | 'http' }): Promise<InboundOutcome> {
      const mail = await readInbound(raw, { envelopeFrom: opts.envelopeFrom });
      if (mail.robot || !mail.from) {
        const reason = mail.robot ?? 'no From address';
        deps.log?.('inbound mail ignored', { via: opts.via, reason });
        return { outcome: 'ignored', reason };
      }
      const { type, by } = requestTypeOf(mail);
      await deps.frontDoor.file({ email: mail.from, channel: 'email', kind: type });
      // What was asked and how it was read; never the words themselves (a person wrote them).
      deps.log?.('inbound mail filed as a request', { via: opts.via, type, readFrom: by });
      return { outcome: 'filed' };
    },
  };
}

export type Inbound = ReturnType<typeof createInbound>;
