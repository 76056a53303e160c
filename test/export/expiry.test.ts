/**
 * The archive's life on the real stack, with short settings: parts of half a MiB
 * (LETHE_ACCESS_PART_MB) and links that live 20 seconds (LETHE_ACCESS_LINK_TTL). Each part is a
 * ZIP of its own; together they hold every media file once. The links work before the expiry and
 * fail after it, and the workflow's timer has deleted the archive by then.
 */
import { randomBytes } from 'node:crypto';
import { startWorld, type TestWorld } from '../support/stack';
import { startApi, type TestApi } from '../support/api';
import { rngFor, seedDepsOf } from '../support/world-seed';
import { waitForMail } from '../support/mailpit';
import { until, sleep } from '../support/until';
import { seedAccount, type SeedDeps } from '../../dev/seed/fixtures';
import { readZip, type ZipEntry } from './zip';

const PART = 0.5 * 1024 * 1024;

describe('an access archive in parts, and its expiry', () => {
  let world: TestWorld;
  let api: TestApi;
  let seed: SeedDeps;
  const rand = rngFor(__filename);

  beforeAll(async () => {
    world = await startWorld({ env: { LETHE_ACCESS_PART_MB: '0.5', LETHE_ACCESS_LINK_TTL: '20s' } });
    seed = seedDepsOf(world);
    api = await startApi(world);
  }, 120_000);
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  test('when the media outgrow a part, then each part opens on its own and together they hold every file; the links fail after the expiry and the archive is gone', async () => {
    const a = await seedAccount(seed, { media: 6, auth0: 'none', subscriptions: null }, rand);
    // Larger uploads: 300 KiB ones share parts as they fit, a 700 KiB one (over the part size) gets a part to itself.
    const big: Record<string, Buffer> = {};
    for (const [i, kib] of [300, 300, 700, 300].entries()) {
      const name = `accounts/${a.id}/uploads/big-${i}.mp4`;
      big[name] = randomBytes(kib * 1024);
      await seed.blobs.container('exports').getBlockBlobClient(name).uploadData(big[name]);
    }
    const filed = await api.request('POST', '/v1/access-requests', { body: { accountId: a.id, channel: 'api' } });
    expect(filed.status).toBe(202);
    const requestId = filed.body.requestId as string;
    const ready = await until(
      'the access request to be ready',
      async () => {
        const r = await api.request('GET', `/v1/access-requests/${requestId}`);
        return r.body.status === 'ready' ? r.body : undefined;
      },
      120_000,
    );
    const parts = ready.archive.parts as number;
    expect(parts).toBeGreaterThanOrEqual(3);

    const mail = await waitForMail({ to: a.email, subject: /copy of your data/i, timeoutMs: 60_000 });
    const links = [...mail.text.matchAll(/https?:\/\/\S+sig=\S+/g)].map((m) => m[0]);
    expect(links).toHaveLength(parts);
    const archives: Map<string, ZipEntry>[] = [];
    let total = 0;
    for (const link of links) {
      const res = await fetch(link);
      expect(res.status).toBe(200);
      const zip = Buffer.from(await res.arrayBuffer());
      total += zip.length;
      archives.push(readZip(zip));
    }
    expect(total).toBe(ready.archive.bytes);
    expect(archives[0].has('data.json')).toBe(true);
    for (const z of archives.slice(1)) expect(z.has('data.json')).toBe(false);
    const data = JSON.parse(archives[0].get('data.json')!.data.toString('utf8'));
    const files = data.stores.media.files as { path: string; part: number; blobName: string; bytes: number }[];
    expect(files).toHaveLength(a.blobs + 4);
    // Each file in the part data.json names, once; a part over the size holds one file alone.
    for (const f of files) {
      const holders = archives.map((z, i) => (z.has(f.path) ? i + 1 : 0)).filter(Boolean);
      expect([f.path, holders]).toEqual([f.path, [f.part]]);
      if (big[f.blobName]) expect(archives[f.part - 1].get(f.path)!.data.equals(big[f.blobName])).toBe(true);
    }
    for (let p = 2; p <= parts; p++) {
      const media = files.filter((f) => f.part === p);
      const bytes = media.reduce((n, f) => n + f.bytes, 0);
      expect(bytes <= PART || media.length === 1).toBe(true);
    }

    // After the expiry: the links fail, and the workflow's timer deleted every part.
    await sleep(Math.max(0, Date.parse(ready.archive.expiresAt) - Date.now()) + 1_000);
    const expired = await until(
      'the access request to expire',
      async () => {
        const r = await api.request('GET', `/v1/access-requests/${requestId}`);
        return r.body.status === 'expired' ? r.body : undefined;
      },
      60_000,
    );
    expect(expired.archive.deletedAt).toBeDefined();
    for (const link of links) expect([403, 404]).toContain((await fetch(link)).status);
    const left = [];
    for await (const b of seed.blobs.service.getContainerClient(world.config.access!.container).listBlobsFlat({ prefix: `access/${requestId}/` })) left.push(b.name);
    expect(left).toEqual([]);
  }, 300_000);
});
