/**
 * The SMTP listener for mail to the privacy address (LETHE_INBOUND_SMTP_PORT; 0: off), for the
 * company's mail route or a forwarding rule to point at. It accepts mail for the privacy address
 * only (550 for any other recipient, so it is never an open relay), up to INBOUND_LIMIT_BYTES,
 * and hands each message to the inbound path (client/inbound.ts). Plain SMTP on the given host:
 * put it behind the company's MX, which does TLS, spam filtering and SPF/DKIM.
 */
import { SMTPServer } from 'smtp-server';
import { INBOUND_LIMIT_BYTES, InboundMailError } from '../../mail/inbound';
import type { Inbound } from '../inbound';

export async function startInboundSmtp(opts: {
  host: string;
  port: number;
  privacyAddress: string;
  inbound: Inbound;
  onError?: (err: Error) => void;
}): Promise<{ port: number; close(): Promise<void> }> {
  const [local, domain] = opts.privacyAddress.split('@');
  const ours = (addr: string) => {
    const [l, d] = addr.split('@');
    return l === local && (d ?? '').toLowerCase() === domain.toLowerCase();
  };
  const server = new SMTPServer({
    name: 'lethe-inbound',
    banner: 'Lethe privacy requests',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: INBOUND_LIMIT_BYTES,
    logger: false,
    onRcptTo(address, _session, callback) {
      if (!ours(address.address)) return callback(Object.assign(new Error(`550 5.1.1 only ${opts.privacyAddress} is served here`), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if ((stream as unknown as { sizeExceeded?: boolean }).sizeExceeded) return callback(Object.assign(new Error('552 5.3.4 message too big'), { responseCode: 552 }));
        const mailFrom = session.envelope.mailFrom;
        opts.inbound.receive(Buffer.concat(chunks), { envelopeFrom: mailFrom ? mailFrom.address : false, via: 'smtp' }).then(
          () => callback(),
          (err: Error) => {
            opts.onError?.(err);
            // A message we cannot read is refused for good; anything else is "try again later".
            callback(
              Object.assign(new Error(err instanceof InboundMailError ? `554 5.6.0 ${err.message}` : '451 4.3.0 try again later'), { responseCode: err instanceof InboundMailError ? 554 : 451 }),
            );
          },
        );
      });
    },
  });
  server.on('error', (err) => opts.onError?.(err));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.server.address() as { port: number }).port;
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}
