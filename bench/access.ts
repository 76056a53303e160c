/**
 * Access export benchmark (issue 35): Lethe's export of one account's media (the media step's
 * listing, then the archive step streaming every blob into a ZIP in block blobs of Lethe's
 * container) against a bare download-and-upload loop over the same blobs in the same run (the same
 * listing and downloads, `--concurrency` read ahead, the bytes staged in 8 MiB blocks into one
 * block blob and committed; no ZIP, no CRC, no heartbeats, no staging of the other stores). The ratio says what Lethe's archive costs
 * over the cheapest way to move the same bytes; the target is at least 0.9x. Each side runs
 * `--rounds` times, alternating, and the best of each is compared. Memory is this process's (the
 * activities run in it, as in the worker): resident set sampled every 50 ms during each run,
 * peak minus the level before it, and the peak itself.
 *
 *   node --import tsx bench/access.ts [--media 10000] [--kib 32] [--concurrency 8] [--rounds 2]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes, randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { freeStackPorts, startStack } from '../dev/stack/embedded';
import { loadConfig } from '../config';
import { buildDeps } from '../worker/deps';
import { createAccessActivities } from '../activities/access';
import { createArchiveStore } from '../stores/archive';
import { pool } from './support';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { media: { type: 'string' }, kib: { type: 'string' }, concurrency: { type: 'string' }, rounds: { type: 'string' } } });
  const count = Number(values.media ?? 10_000);
  const kib = Number(values.kib ?? 32);
  const concurrency = Number(values.concurrency ?? 8);
  const rounds = Number(values.rounds ?? 2);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-bench-access-'));
  fs.chmodSync(stateDir, 0o755);
  const ports = await freeStackPorts();
  const stack = await startStack({ stateDir, ports, durable: false, headless: true, withWorker: false, withApi: false, env: {}, log: () => undefined });
  const config = loadConfig({ ...process.env, ...stack.env, LETHE_TASK_QUEUE: `bench-${randomUUID()}` });
  const deps = buildDeps(config);
  const out: string[] = [];
  const say = (l: string) => {
    out.push(l);
    process.stderr.write(`${l}\n`);
  };
  try {
    // One account with `count` media, 80% in `media`, 20% in `exports`, as real accounts.
    const accountId = randomUUID();
    await deps.db('accounts').insert({ id: accountId, email: `bench.${accountId}@example.test`, created_at: new Date() });
    const body = randomBytes(kib * 1024);
    const blobs = Array.from({ length: count }, (_, i) => ({ container: i % 5 === 4 ? 'exports' : 'media', name: `accounts/${accountId}/cameras/c/2026/01/01/${String(i).padStart(8, '0')}.jpg` }));
    const t = Date.now();
    await pool(blobs, 64, (b) => deps.blobs.container(b.container).getBlockBlobClient(b.name).upload(body, body.length));
    say(`seeded ${count} media of ${kib} KiB (${Math.round((count * kib) / 1024)} MiB) in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    const access = createAccessActivities({ ...deps, publicUrl: config.mail.publicUrl, access: config.access });
    const archive = createArchiveStore(deps.blobs, config.access!.container);
    await archive.ensure();
    const env = new MockActivityEnvironment();

    /** Runs `fn`, sampling this process's resident set: seconds, and peak RSS over the level before (MiB). */
    async function measured(fn: () => Promise<unknown>): Promise<{ s: number; rssPeak: number; rssGrowth: number }> {
      global.gc?.();
      const before = process.memoryUsage().rss;
      let peak = before;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
      const start = Date.now();
      try {
        await fn();
      } finally {
        clearInterval(timer);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      return { s: (Date.now() - start) / 1000, rssPeak: Math.round(peak / 2 ** 20), rssGrowth: Math.round((peak - before) / 2 ** 20) };
    }

    const lethe = async () => {
      const requestId = randomUUID();
      const req = { requestId, accountId };
      for (const g of [access.gatherDatabase, access.gatherAuth0, access.gatherRecurly]) await env.run(g, req);
      // Timed: the media step's listing and the archive, as the workflow runs them.
      const m = await measured(async () => {
        await env.run(access.gatherMedia, req);
        await env.run(access.buildArchive, { ...req, partBytes: config.access!.partBytes });
      });
      await archive.deletePrefix(`access/${requestId}/`);
      return m;
    };
    // The bare loop: the same listing, the same downloads (`--concurrency` ahead, in order), the
    // bytes gathered into 8 MiB blocks staged two at a time into one block blob, one commit: what
    // moving these bytes into one archive blob costs at the least, with nothing of Lethe's.
    const bare = async () => {
      const target = archive.blockBlob(`bench/${randomUUID()}.bin`);
      const m = await measured(async () => {
        const listed: { container: string; name: string }[] = [];
        for (const c of deps.blobs.containers) for await (const b of deps.blobs.container(c).listBlobsFlat({ prefix: `accounts/${accountId}/` })) listed.push({ container: c, name: b.name });
        const ids: string[] = [];
        const inFlight = new Set<Promise<unknown>>();
        let pending: Buffer[] = [];
        let size = 0;
        const stage = async (block: Buffer) => {
          while (inFlight.size >= 2) await Promise.race(inFlight);
          const id = Buffer.from(String(ids.length).padStart(8, '0')).toString('base64');
          ids.push(id);
          const p = target.stageBlock(id, block, block.length).finally(() => inFlight.delete(p));
          inFlight.add(p);
        };
        const reads = new Map<number, Promise<Buffer>>();
        for (let i = 0; i < listed.length; i++) {
          for (let j = i; j < Math.min(listed.length, i + concurrency); j++) {
            if (!reads.has(j)) reads.set(j, deps.blobs.container(listed[j].container).getBlobClient(listed[j].name).downloadToBuffer());
          }
          const data = await reads.get(i)!;
          reads.delete(i);
          pending.push(data);
          size += data.length;
          if (size >= 8 * 2 ** 20) {
            await stage(Buffer.concat(pending));
            pending = [];
            size = 0;
          }
        }
        if (size) await stage(Buffer.concat(pending));
        await Promise.all(inFlight);
        await target.commitBlockList(ids);
      });
      await target.deleteIfExists();
      return m;
    };

    const results: { lethe: Awaited<ReturnType<typeof lethe>>[]; bare: Awaited<ReturnType<typeof bare>>[] } = { lethe: [], bare: [] };
    for (let r = 0; r < rounds; r++) {
      const b = await bare();
      results.bare.push(b);
      say(`round ${r + 1} bare loop:   ${b.s.toFixed(1)} s, ${((count * kib) / 1024 / b.s).toFixed(1)} MiB/s, RSS peak ${b.rssPeak} MiB (+${b.rssGrowth})`);
      const l = await lethe();
      results.lethe.push(l);
      say(`round ${r + 1} Lethe export: ${l.s.toFixed(1)} s, ${((count * kib) / 1024 / l.s).toFixed(1)} MiB/s, RSS peak ${l.rssPeak} MiB (+${l.rssGrowth})`);
    }
    const best = (xs: { s: number }[]) => Math.min(...xs.map((x) => x.s));
    const ratio = best(results.bare) / best(results.lethe);
    say(
      `best: Lethe ${best(results.lethe).toFixed(1)} s vs bare ${best(results.bare).toFixed(1)} s: ${ratio.toFixed(2)}x the bare loop's throughput (target >= 0.9); Lethe's RSS peak ${Math.max(...results.lethe.map((x) => x.rssPeak))} MiB, growth at most ${Math.max(...results.lethe.map((x) => x.rssGrowth))} MiB`,
    );
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await deps.close();
    await stack.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
