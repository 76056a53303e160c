/**
 * The mail catcher as the embedded stack runs it (dev/stack/mailpit.ts under the supervisor):
 * loopback only, its API v1 answering, and self-healing like the rest of the stack: killed, it
 * is started again, and the mail it had caught is still there (its database is in the state dir).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from '../../dev/stack/net';
import { Supervisor } from '../../dev/stack/supervisor';
import { ensureMailpit, mailpitSpec } from '../../dev/stack/mailpit';
import { createMailer } from '../../mail/transport';
import { noAccountMail } from '../../mail/templates';

let dir: string;
let sup: Supervisor;
const lines: string[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-mailpit-'));
  ensureMailpit();
  sup = new Supervisor(path.join(dir, 'logs'), (l) => lines.push(l));
});

afterAll(async () => {
  await sup.stopAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Listing {
  total: number;
  messages: { ID: string; Subject: string; To: { Address: string }[] }[];
}

test('when Mailpit is killed, then the supervisor starts it again and the mail it caught is still listed', async () => {
  const smtpPort = await freePort();
  const httpPort = await freePort();
  const api = `http://127.0.0.1:${httpPort}`;
  const svc = await sup.start(mailpitSpec({ smtpPort, httpPort, dir: path.join(dir, 'mailpit') }));
  const mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${smtpPort}`, from: 'Lethe privacy team <privacy@lethe.test>' });
  try {
    await mailer.send({ to: 'before@crash.test', ...noAccountMail({ publicUrl: 'http://127.0.0.1:8080' }) });
    const before = (await (await fetch(`${api}/api/v1/messages`)).json()) as Listing;
    expect(before.messages.map((m) => m.To[0].Address)).toEqual(['before@crash.test']);

    const oldPid = svc.pid!;
    process.kill(oldPid, 'SIGKILL');
    await waitFor('mailpit to be restarted', async () => svc.restarts > 0 && svc.pid !== undefined && svc.pid !== oldPid, { timeoutMs: 60_000, intervalMs: 250 });
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^mailpit killed by SIGKILL \\(pid ${oldPid}, unexpected\\).*the mail it had caught is kept`)));

    // The restarted catcher takes mail again and still lists what came before the crash.
    await waitFor('mailpit to take mail again', async () => (await mailer.send({ to: 'after@crash.test', subject: 'after', text: 'after', html: '<p>after</p>' })).messageId.length > 0, {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    const after = (await (await fetch(`${api}/api/v1/messages`)).json()) as Listing;
    expect(after.messages.map((m) => m.To[0].Address).sort()).toEqual(['after@crash.test', 'before@crash.test']);
  } finally {
    mailer.close();
  }
});

test('when Mailpit runs, then it listens on the loopback address only', async () => {
  const smtpPort = await freePort();
  const httpPort = await freePort();
  const spec = mailpitSpec({ smtpPort, httpPort, dir: path.join(dir, 'mailpit-2') });
  expect(spec.args).toEqual(expect.arrayContaining(['--smtp', `127.0.0.1:${smtpPort}`, '--listen', `127.0.0.1:${httpPort}`]));
  await sup.start({ ...spec, name: 'mailpit-2' });
  const addrs = fs
    .readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[3] === '0A')
    .map((f) => f[1]);
  // Listening sockets of this catcher: 0100007F is 127.0.0.1 in /proc/net/tcp's byte order.
  for (const p of [smtpPort, httpPort]) {
    const hex = p.toString(16).toUpperCase().padStart(4, '0');
    expect(addrs.filter((a) => a.endsWith(`:${hex}`))).toEqual([`0100007F:${hex}`]);
  }
});
