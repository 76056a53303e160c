/**
 * Mail to the privacy address, from either door (the SMTP listener, or a mail provider's
 * inbound hook posting the raw message): a person's mail becomes a request for the sender's
 * account through the front door, verified like one from the privacy page (the link goes to the
 * address on file, never to the sender as such); a robot's mail is dropped, never answered.
 */
import { readInbound } from '../mail/inbound';
import type { FrontDoor } from './front-door';

export type InboundOutcome = { outcome: 'filed' } | { outcome: 'ignored'; reason: string };

export function createInbound(deps: { frontDoor: Pick<FrontDoor, 'file'>; log?: (msg: string, fields: Record<string, unknown>) => void }) {
  return {
    async receive(raw: Buffer | string, opts: { envelopeFrom?: string | false; via: 'smtp' | 'http' }): Promise<InboundOutcome> {
      const mail = await readInbound(raw, { envelopeFrom: opts.envelopeFrom });
      if (mail.robot || !mail.from) {
        const reason = mail.robot ?? 'no From address';
        deps.log?.('inbound mail ignored', { via: opts.via, reason });
        return { outcome: 'ignored', reason };
      }
      await deps.frontDoor.file({ email: mail.from, channel: 'email' });
      deps.log?.('inbound mail filed as a request', { via: opts.via });
      return { outcome: 'filed' };
    },
  };
}

export type Inbound = ReturnType<typeof createInbound>;
