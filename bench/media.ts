/**
 * Media deletion benchmark: Lethe's deletion of everything under an account prefix against a
 * bare Blob Batch loop (list a page, delete it in batches of 256 with N batches in flight; no
 * heartbeats, no classification, no bookkeeping) at its best N, found by a sweep over 1-16 in
 * flight, on the same Azurite in the same run: the ratio says what Lethe's orchestration costs
 * over the cheapest way to make the same requests. `--per-blob` adds the older baselines (a
 * sequential one-delete-per-blob loop and the same with 16 in flight). Also the full deletion
 * workflow for the account (real dev server, PostgreSQL, sandboxes) to count its history
 * events, which must not grow with the number of blobs.
 *
 *   node --import tsx bench/media.ts [--sizes 10000,100000] [--skip-baselines-above N] [--azurite sql|memory]
 *        [--sweep-size 2000] [--per-blob] [--skip-workflow]
 */
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Client, Connection } from '@temporalio/client';
import { freeStackPorts, startStack } from '../dev/stack/embedded';
import { Supervisor } from '../dev/stack/supervisor';
import { azuriteSpec, ensureContainers } from '../dev/stack/azurite';
import { ensureDatabase } from '../dev/stack/postgres';
import { pool } from './support';
import { azuriteConnectionString, requireKeyRing } from '../config';
import { freePort } from '../dev/stack/net';
import { loadConfig, temporalConnectionOptions } from '../config';
import { buildDeps } from '../worker/deps';
import { createWorker } from '../worker/worker';
import { getDataConverter } from '../encryption';
import { createMediaActivities } from '../activities/deletion/media';
import { createIntake } from '../client/intake';
import { rng, seedAccount } from '../dev/seed/fixtures';
import type { BlobStore } from '../stores/blobs';
import type { Receipt } from '../contract';

const BODY = Buffer.alloc(256, 7);

/** Blobs under one account prefix, 80% in `media` and 20% in `exports`, like real accounts. */
async function upload(blobs: BlobStore, accountId: string, n: number): Promise<number> {
  const t = Date.now();
  const names = Array.from({ length: n }, (_, i) => ({ c: i % 5 === 4 ? 'exports' : 'media', name: `accounts/${accountId}/cameras/c/${String(i).padStart(8, '0')}.jpg` }));
  await pool(names, 64, (b) => blobs.container(b.c).getBlockBlobClient(b.name).upload(BODY, BODY.length));
  return Date.now() - t;
}

async function listAll(blobs: BlobStore, accountId: string): Promise<{ c: string; name: string }[]> {
  const out: { c: string; name: string }[] = [];
  for (const c of blobs.containers) {
    for await (const b of blobs.container(c).listBlobsFlat({ prefix: `accounts/${accountId}/` })) out.push({ c, name: b.name });
  }
  return out;
}

async function perBlobLoop(blobs: BlobStore, accountId: string, concurrency: number): Promise<number> {
  const t = Date.now();
  const all = await listAll(blobs, accountId);
  await pool(all, concurrency, (b) => blobs.container(b.c).getBlobClient(b.name).deleteIfExists({ deleteSnapshots: 'include' }));
  return Date.now() - t;
}

/** The bare Blob Batch loop: each listing page deleted in batches of 256, `inFlight` batches at a time. */
async function bareBatchLoop(blobs: BlobStore, accountId: string, inFlight: number): Promise<number> {
  const t = Date.now();
  for (const c of blobs.containers) {
    const container = blobs.container(c);
    const batchClient = container.getBlobBatchClient();
    for await (const page of container.listBlobsFlat({ prefix: `accounts/${accountId}/` }).byPage({ maxPageSize: 5000 })) {
      const names = page.segment.blobItems.map((b) => b.name);
      const chunks: string[][] = [];
      for (let i = 0; i < names.length; i += 256) chunks.push(names.slice(i, i + 256));
      await pool(chunks, inFlight, async (chunk) => {
        const res = await batchClient.deleteBlobs(chunk.map((n) => container.getBlobClient(n)));
        if (res.subResponsesFailedCount > 0) throw new Error(`bare batch: ${res.subResponsesFailedCount} sub-requests failed`);
      });
    }
  }
  return Date.now() - t;
}

async function count(blobs: BlobStore, accountId: string): Promise<number> {
  return (await listAll(blobs, accountId)).length;
}

function rate(n: number, ms: number): number {
  return Math.round(n / (ms / 1000));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string' },
      'skip-baselines-above': { type: 'string' },
      azurite: { type: 'string' },
      'sweep-size': { type: 'string' },
      'per-blob': { type: 'boolean' },
      'skip-workflow': { type: 'boolean' },
    },
  });
  const sizes = (values.sizes ?? '10000,100000').split(',').map(Number);
  const sweepSize = Number(values['sweep-size'] ?? 2000);
  const baselineCap = Number(values['skip-baselines-above'] ?? Infinity);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-bench-'));
  fs.chmodSync(stateDir, 0o755);
  const ports = await freeStackPorts();
  const stack = await startStack({
    stateDir,
    ports,
    durable: false,
    headless: true,
    withWorker: false,
    withApi: false,
    env: {},
    log: () => undefined,
    sandboxRateLimits: { auth0PerSecond: 10_000, recurlyPerMinute: 1_000_000 },
  });
  // Azurite's default metadata store (LokiJS) scans the whole container on every delete, so
  // its cost grows with the container and swamps what we measure; its SQL metadata store
  // (here on the stack's PostgreSQL) keeps per-blob cost flat. `--azurite memory` shows the former.
  const sup = new Supervisor(path.join(stateDir, 'bench-logs'), () => undefined);
  let blobConn = stack.env.AZURE_STORAGE_CONNECTION_STRING;
  if (values.azurite !== 'memory') {
    const pgPort = ports.postgres;
    await ensureDatabase(pgPort, 'azurite');
    const azPort = await freePort();
    const spec = azuriteSpec({ port: azPort, location: path.join(stateDir, 'azurite-sql') });
    spec.env = { ...process.env, AZURITE_DB: `postgres://lethe:lethe@127.0.0.1:${pgPort}/azurite` };
    await sup.start(spec);
    blobConn = azuriteConnectionString(azPort);
    await ensureContainers(blobConn, ['media', 'exports']);
  }
  const config = loadConfig({ ...process.env, ...stack.env, AZURE_STORAGE_CONNECTION_STRING: blobConn, LETHE_TASK_QUEUE: `bench-${randomUUID()}` });
  const deps = buildDeps(config);
  const { worker, connection: nc } = await createWorker(config, deps);
  const running = worker.run();
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: getDataConverter(requireKeyRing(config)) });
  const deletions = createIntake({ config, db: deps.db, temporal: client });
  const media = createMediaActivities({ blobs: deps.blobs, pageSize: config.blob.pageSize, concurrency: config.blob.batchConcurrency });
  const rows: string[] = [];
  const sweepRows: string[] = [];
  try {
    // The bare loop's best concurrency, from a sweep on accounts of `sweepSize` blobs.
    let best = { inFlight: 0, rate: 0 };
    for (const inFlight of [1, 2, 4, 8, 16]) {
      const a = randomUUID();
      await upload(deps.blobs, a, sweepSize);
      const ms = await bareBatchLoop(deps.blobs, a, inFlight);
      if ((await count(deps.blobs, a)) !== 0) throw new Error('bare batch loop left blobs');
      const r = rate(sweepSize, ms);
      sweepRows.push(`| ${inFlight} | ${r} |`);
      process.stderr.write(`sweep: bare Blob Batch loop, ${inFlight} in flight: ${r}/s at ${sweepSize} blobs\n`);
      if (r > best.rate) best = { inFlight, rate: r };
    }
    for (const n of sizes) {
      let seqMs: number | undefined;
      let c16Ms: number | undefined;
      let bareMs: number | undefined;
      if (n <= baselineCap) {
        const a = randomUUID();
        await upload(deps.blobs, a, n);
        bareMs = await bareBatchLoop(deps.blobs, a, best.inFlight);
        if ((await count(deps.blobs, a)) !== 0) throw new Error('bare batch loop left blobs');
        process.stderr.write(`n=${n}: bare Blob Batch loop (${best.inFlight} in flight) ${rate(n, bareMs)}/s\n`);
      }
      if (n <= baselineCap && values['per-blob']) {
        const a = randomUUID();
        const up = await upload(deps.blobs, a, n);
        seqMs = await perBlobLoop(deps.blobs, a, 1);
        if ((await count(deps.blobs, a)) !== 0) throw new Error('sequential baseline left blobs');
        const b = randomUUID();
        await upload(deps.blobs, b, n);
        c16Ms = await perBlobLoop(deps.blobs, b, 16);
        if ((await count(deps.blobs, b)) !== 0) throw new Error('concurrent baseline left blobs');
        process.stderr.write(`n=${n}: upload ${rate(n, up)}/s, sequential ${rate(n, seqMs)}/s, concurrency-16 ${rate(n, c16Ms)}/s\n`);
      }
      // Lethe's activity, as the worker runs it (heartbeats included).
      const c = randomUUID();
      await upload(deps.blobs, c, n);
      const t = Date.now();
      const res = (await new MockActivityEnvironment().run(media.deleteMediaBlobs, c)) as Awaited<ReturnType<typeof media.deleteMediaBlobs>>;
      const letheMs = Date.now() - t;
      if ((await count(deps.blobs, c)) !== 0 || res.blobsDeleted !== n) throw new Error(`Lethe left blobs or miscounted: ${res.blobsDeleted}/${n}`);
      process.stderr.write(`n=${n}: Lethe ${rate(n, letheMs)}/s (${res.listCalls} list calls, ${res.batchCalls} batches)\n`);
      const vsBare = bareMs ? `${(bareMs / letheMs).toFixed(2)}×` : 'n/a';
      if (values['skip-workflow']) {
        rows.push(
          `| ${n.toLocaleString('en')} | ${bareMs ? `${rate(n, bareMs)} (${best.inFlight} in flight)` : 'n/a'} | ${rate(n, letheMs)} | **${vsBare}** | ${seqMs ? rate(n, seqMs) : 'n/a'} | ${c16Ms ? rate(n, c16Ms) : 'n/a'} | ${(letheMs / 1000).toFixed(1)} s | not run | |`,
        );
        continue;
      }

      // The whole workflow for an account holding n blobs: history events must not grow with n.
      const acct = await seedAccount({ ...deps, recurlySandboxUrl: config.recurly.baseUrl }, { media: 0, orphanBlobs: 0, snapshots: 0 }, rng(n));
      await upload(deps.blobs, acct.id, n);
      const started = await deletions.start({ accountId: acct.id, channel: 'api' });
      const handle = client.workflow.getHandle(started.workflowId);
      const receipt: Receipt = await handle.result();
      const history = await handle.fetchHistory();
      const events = history.events?.length ?? 0;
      const bytes = Buffer.byteLength(JSON.stringify(history));
      rows.push(
        `| ${n.toLocaleString('en')} | ${bareMs ? `${rate(n, bareMs)} (${best.inFlight} in flight)` : 'n/a'} | ${rate(n, letheMs)} | **${vsBare}** | ${seqMs ? rate(n, seqMs) : 'n/a'} | ${c16Ms ? rate(n, c16Ms) : 'n/a'} | ` +
          `${(letheMs / 1000).toFixed(1)} s | ${events} events, ${(bytes / 1024).toFixed(0)} KiB | ${receipt.counts.media?.blobsDeleted} |`,
      );
    }
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await nc.close();
    await deps.close();
    await sup.stopAll();
    await stack.stop();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
  const table = [
    `Bare Blob Batch loop, concurrency sweep at ${sweepSize.toLocaleString('en')} blobs (batches of 256 in flight, blobs/s):`,
    '',
    '| in flight | blobs/s |',
    '|---|---|',
    ...sweepRows,
    '',
    `| blobs | bare Blob Batch loop, best (blobs/s) | Lethe (blobs/s) | Lethe vs bare loop (target ≥ 0.9×) | per-blob sequential | per-blob 16 in flight | Lethe time | workflow history | blobs in receipt |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  process.stdout.write(
    `\n${table}\n\nAzurite metadata: ${values.azurite === 'memory' ? 'in-memory (LokiJS)' : 'SQL (PostgreSQL)'}; machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${new Date().toISOString()}\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  process.exit(1);
});
