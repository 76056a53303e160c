/**
 * Access requests on the real stack (issue 35, Done-when): one account with rows in every table,
 * an Auth0 user with a linked identity, a Recurly account with a subscription and invoices, and
 * 300 media blobs is exported through the API; the archive is downloaded through the link mailed
 * to the account (Mailpit), opened with a reader of the tests' own (test/export/zip.ts), and
 * checked against the stores read through their own paths. Beside it: a case twin (same address
 * in other letter case, with support requests of its own) and an unrelated neighbour, whose data
 * must be absent. Then a deletion of the account while the archive waits removes the archive.
 */
import { randomUUID } from 'node:crypto';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { startWorld, type TestWorld } from '../support/stack';
import { startApi, type TestApi } from '../support/api';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { sandboxUrls } from '../support/stores';
import { waitForMail } from '../support/mailpit';
import { until } from '../support/until';
import { seedAccount, type SeedDeps, type SeededAccount } from '../../dev/seed/fixtures';
import { ARCHIVE_SCHEMA } from '../../activities/access/types';
import { accessWorkflowId } from '../../workflows/access';
import { readZip, unzipTest, type ZipEntry } from './zip';

const TIMEOUT = 300_000;

describe('access requests: a copy of one person’s data, and nobody else’s', () => {
  let world: TestWorld;
  let api: TestApi;
  let seed: SeedDeps;
  const rand = rngFor(__filename);
  const tag = randomUUID().replace(/-/g, '').slice(0, 10);
  let a: SeededAccount;
  let twin: SeededAccount;
  let neighbour: SeededAccount;
  const planted: Record<string, string> = {};
  const ticketTwin = `planted-ticket-twin-${tag}`;
  let archive: Map<string, ZipEntry>;
  let requestId: string;
  let links: string[];

  beforeAll(async () => {
    world = await startWorld();
    seed = seedDepsOf(world);
    api = await startApi(world);
    const urls = sandboxUrls(seed);
    a = await seedAccount(
      seed,
      {
        email: `Exp.${tag}@Example.test`,
        media: 300,
        orphanBlobs: 1,
        snapshots: 2,
        auth0: 'linked',
        subscriptions: [{ state: 'active' }],
        loginEvents: 3,
        shares: 2,
        supportRequests: 2,
        emailOnlySupportRequests: 1,
      },
      rand,
    );
    twin = await seedAccount(seed, { email: `exp.${tag}@example.test`, media: 2, auth0: 'none', subscriptions: [{ state: 'active' }], supportRequests: 1, emailOnlySupportRequests: 1 }, rand);
    neighbour = await seedAccount(seed, { media: 3, auth0: 'linked', subscriptions: [{ state: 'active' }] }, rand);
    // Tickets written before either had an account: one under each exact spelling.
    planted.ticketA = `planted-ticket-a-${tag}`;
    await seed.db('support_requests').insert([
      { account_id: null, email: a.email, subject: 'before my account', body: planted.ticketA, created_at: new Date() },
      { account_id: null, email: twin.email, subject: 'before my account', body: ticketTwin, created_at: new Date() },
    ]);
    // A second login linked into A's Auth0 user (a secondary identity).
    const secondary = await seed.auth0.createUser({ email: `exp.social.${tag}@example.test`, name: `Secondary ${tag}` });
    await seed.auth0.linkUser(a.auth0UserId!, secondary.userId);
    planted.secondaryId = secondary.userId.split('|')[1];
    // Invoices at Recurly (the sandbox's own way to hold an invoice in a state).
    for (const state of ['paid', 'paid']) {
      const res = await fetch(`${urls.recurly}/__sandbox/invoices`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ accountCode: a.recurlyAccountCode, state, total: 12.5, paid: 12.5, currency: 'EUR' }),
      });
      expect(res.status).toBe(201);
    }
    const acc = await seed.db('accounts').where({ id: a.id }).first();
    Object.assign(planted, { fullName: acc.full_name, phone: acc.phone, address: acc.address_line1, postal: acc.postal_code });
  }, TIMEOUT);
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  const everything = () =>
    [...archive.values()]
      .filter((e) => !e.name.startsWith('media/'))
      .map((e) => e.data.toString('utf8'))
      .join('\n');

  test(
    'when a copy is asked for, then the archive mailed to the address on file holds every store’s data and every media file byte for byte',
    async () => {
      // By email it is refused: a case twin holds the address in other letter case (never guessed).
      const byEmail = await api.request('POST', '/v1/access-requests', { body: { email: a.email, channel: 'support' } });
      expect([byEmail.status, byEmail.body.error]).toEqual([409, 'ambiguous_email']);
      const filed = await api.request('POST', '/v1/access-requests', { body: { accountId: a.id, channel: 'support', requestedBy: 'agent-7' } });
      expect(filed.status).toBe(202);
      expect(filed.body).toMatchObject({ accountId: a.id, existing: false });
      expect(['pending', 'running']).toContain(filed.body.status);
      requestId = filed.body.requestId;
      expect(Date.parse(filed.body.deadlineAt) - Date.parse(filed.body.receivedAt)).toBe(72 * 3_600_000);

      const ready = await until(
        'the access request to be ready',
        async () => {
          const r = await api.request('GET', `/v1/access-requests/${requestId}`);
          return r.body.status === 'ready' ? r.body : undefined;
        },
        240_000,
      );
      expect(ready.archive.parts).toBe(1);
      expect(ready.receipt.counts).toMatchObject({
        media: { files: a.blobs },
        auth0: { users: 1, identities: 2 },
        recurly: { accounts: 1, subscriptions: 1, invoices: 2 },
        database: { media: 300, support_requests: 3 },
      });
      // The API never answers a link.
      expect(JSON.stringify(ready)).not.toMatch(/sig=|https?:/);

      const mail = await waitForMail({ to: a.email, subject: /copy of your data/i, timeoutMs: 60_000 });
      links = [...mail.text.matchAll(/https?:\/\/\S+sig=\S+/g)].map((m) => m[0]);
      expect(links).toHaveLength(1);
      const res = await fetch(links[0]);
      expect(res.status).toBe(200);
      const zip = Buffer.from(await res.arrayBuffer());
      expect(zip.length).toBe(ready.archive.bytes);
      archive = readZip(zip);
      const info = unzipTest(zip);
      if (info !== undefined) expect(info).toMatch(/No errors detected/);

      // data.json against its schema.
      const data = JSON.parse(archive.get('data.json')!.data.toString('utf8'));
      const validate = addFormats(new Ajv({ strict: false, allErrors: true })).compile(ARCHIVE_SCHEMA);
      expect(validate.errors ?? (validate(data) ? [] : validate.errors)).toEqual([]);
      expect(data).toMatchObject({ schemaVersion: 1, requestId, accountId: a.id, parts: 1 });

      // Every table, with the person's rows.
      const t = data.stores.database.tables;
      expect(Object.keys(t).sort()).toEqual(['accounts', 'cameras', 'login_events', 'media', 'shares', 'subscriptions', 'support_requests']);
      const counts = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, (v as unknown[]).length]));
      const sql = async (table: string, where: Record<string, unknown>) => Number((await seed.db(table).where(where).count({ n: '*' }))[0].n);
      expect(counts).toEqual({
        accounts: 1,
        cameras: await sql('cameras', { account_id: a.id }),
        login_events: 3,
        media: 300,
        shares: 2,
        subscriptions: 1,
        // Two of the account's own, and the one written under its exact spelling (not the upper-cased one: a twin holds the address).
        support_requests: 3,
      });
      for (const table of Object.keys(t)) expect(archive.has(`tables/${table}.csv`)).toBe(true);
      expect(archive.get('tables/media.csv')!.data.toString('utf8').trim().split('\r\n')).toHaveLength(301);
      expect(archive.get('index.html')!.data.toString('utf8')).toContain('<h1>Your data</h1>');

      // Auth0: the user, its linked identity, its last login; no secrets.
      expect(data.stores.auth0.users.map((u: { user_id: string }) => u.user_id)).toEqual([a.auth0UserId]);
      const identities = data.stores.auth0.users[0].identities.map((i: { user_id: string }) => String(i.user_id));
      expect(identities).toContain(planted.secondaryId);
      expect(JSON.stringify(data.stores.auth0)).not.toMatch(/access_token|refresh_token|app_metadata/);

      // Recurly: the account, its subscription, its invoices.
      expect(data.stores.recurly.account.code).toBe(a.recurlyAccountCode);
      const subId = (await seed.db('subscriptions').where({ account_id: a.id }).first('recurly_subscription_id')).recurly_subscription_id;
      expect(data.stores.recurly.subscriptions.map((s: { id: string }) => s.id)).toEqual([subId]);
      expect(data.stores.recurly.invoices).toHaveLength(2);

      // Every planted value is somewhere in the documents.
      const text = everything();
      for (const [what, v] of Object.entries({ ...planted, email: a.email, auth0: a.auth0UserId!, recurly: a.recurlyAccountCode! })) expect([what, text.includes(String(v))]).toEqual([what, true]);

      // Media: every current blob under the account's prefix, byte for byte, in its folders.
      const files = data.stores.media.files as { path: string; container: string; blobName: string; bytes: number; capturedAt: string | null }[];
      expect(files).toHaveLength(a.blobs);
      expect(files.filter((f) => f.capturedAt === null)).toHaveLength(1); // the orphan upload
      for (const f of files) {
        expect(f.blobName.startsWith(`accounts/${a.id}/`)).toBe(true);
        expect(f.path).toBe(`media/${f.container}/${f.blobName}`);
        const original = await seed.blobs.container(f.container).getBlobClient(f.blobName).downloadToBuffer();
        const copy = archive.get(f.path);
        expect([f.path, copy?.data.equals(original)]).toEqual([f.path, true]);
      }
    },
    TIMEOUT,
  );

  test('when the archive is read for other people, then neither the case twin nor the neighbour is in it', async () => {
    expect(archive).toBeDefined();
    const text = everything();
    const other = async (s: SeededAccount) => {
      const row = await seed.db('accounts').where({ id: s.id }).first();
      return [s.id, row.full_name, row.phone, s.recurlyAccountCode, ...(s.auth0UserId ? [s.auth0UserId] : [])].filter(Boolean) as string[];
    };
    for (const v of [...(await other(twin)), ...(await other(neighbour)), ticketTwin, neighbour.email, a.email.toUpperCase()]) {
      expect([v, text.includes(v)]).toEqual([v, false]);
    }
    // The twin's address as spelt: nowhere but in A's own Auth0 profile, where Auth0 keeps a
    // database user's email lower-cased (stores/auth0.ts), which happens to be the twin's spelling.
    const data = JSON.parse(archive.get('data.json')!.data.toString('utf8'));
    const outsideAuth0 =
      JSON.stringify({ ...data.stores, auth0: undefined }) +
      [...archive.values()]
        .filter((e) => e.name.startsWith('tables/'))
        .map((e) => e.data.toString('utf8'))
        .join('');
    expect(outsideAuth0.includes(twin.email)).toBe(false);
    expect(data.stores.auth0.users.map((u: { email: string }) => u.email)).toEqual([a.email.toLowerCase()]);
    for (const name of archive.keys()) expect([name, name.includes(twin.id) || name.includes(neighbour.id)]).toEqual([name, false]);
  });

  test('when the request’s history is read, then it holds no personal data and no link', async () => {
    const history = JSON.stringify(await world.client.workflow.getHandle(accessWorkflowId(requestId)).fetchHistory());
    for (const v of [a.email, planted.fullName, planted.phone, planted.ticketA, 'sig=']) expect([v, history.includes(v)]).toEqual([v, false]);
  });

  test(
    'when the account’s deletion is filed while its archive waits, then the archive is deleted and the link no longer works',
    async () => {
      expect(links).toHaveLength(1);
      const del = await api.request('POST', '/v1/deletion-requests', { body: { accountId: a.id, channel: 'support' } });
      expect(del.status).toBe(202);
      const cancelled = await until(
        'the access request to be cancelled',
        async () => {
          const r = await api.request('GET', `/v1/access-requests/${requestId}`);
          return r.body.status === 'cancelled' ? r.body : undefined;
        },
        60_000,
      );
      expect(cancelled.archive.deletedAt).toBeDefined();
      const left = [];
      for await (const b of seed.blobs.service.getContainerClient(world.config.access!.container).listBlobsFlat({ prefix: `access/${requestId}/` })) left.push(b.name);
      expect(left).toEqual([]);
      expect((await fetch(links[0])).status).toBe(404);
    },
    TIMEOUT,
  );
});
