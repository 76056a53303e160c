/**
 * Access requests, step 5: the archive. One ZIP (or several parts), written straight into block
 * blobs of Lethe's own container (stores/archive.ts): `data.json` (everything, by store, with the
 * schema of activities/access/types.ts), one CSV per table, an `index.html` a person can open, and
 * the media files in their folder structure under `media/`.
 *
 * Streaming, not buffering: media are read from their blobs and written into the archive's
 * blocks as they come; small files (up to READ_AHEAD_MAX_BYTES) are read a few ahead while the
 * one before is written, larger ones are streamed at their turn. The worker holds at most about
 * READ_AHEAD × READ_AHEAD_MAX_BYTES plus the sink's blocks in flight, whatever the account's size.
 */
import { Context } from '@temporalio/activity';
import type { Knex } from 'knex';
import type { BlobStore } from '../../stores/blobs';
import { BlockBlobSink, readBlob, streamBlob, ZipWriter, type ArchiveStore } from '../../stores/archive';
import { classified } from '../failures';
import type { StagedMedia } from './gather';
import { ACCESS_STORES, ARCHIVE_SCHEMA_VERSION, archivePrefix, partName, stagedName, type ArchiveResult } from './types';
import { renderIndex, toCsv } from './render';

export const READ_AHEAD = 8;
export const READ_AHEAD_MAX_BYTES = 4 * 1024 * 1024;
const HEARTBEAT_EVERY_MS = 5_000;

export interface ArchiveDeps {
  db: Knex;
  blobs: BlobStore;
  archive: ArchiveStore;
  attemptBudgetMs?: number;
  /** Tests and the bench: the archive blocks' size and uploads in flight. */
  blockBytes?: number;
  readAhead?: number;
}

interface Staged {
  database: { tables: Record<string, Record<string, unknown>[]>; notes?: string[] };
  auth0: { users: Record<string, unknown>[]; notes?: string[] };
  recurly: { account: Record<string, unknown> | null; subscriptions: Record<string, unknown>[]; invoices: Record<string, unknown>[]; notes?: string[] };
  media: { files: StagedMedia[]; notes?: string[] };
}

/** Media files by part: part 1 also holds the documents; a file larger than a part gets its own. */
export function planParts(files: { bytes: number }[], partBytes: number, firstPartUsed: number): number[] {
  const partOf: number[] = [];
  let part = 1;
  let used = firstPartUsed;
  for (const f of files) {
    if (used > 0 && used + f.bytes > partBytes) {
      part++;
      used = 0;
    }
    partOf.push(part);
    used += f.bytes;
  }
  return partOf;
}

export const createArchiveActivities = (deps: ArchiveDeps) => ({
  /**
   * Writes the archive from what the four stores staged, then drops the staged files. A retry
   * skips the parts an earlier attempt committed (its heartbeat says how many).
   */
  async buildArchive(req: { requestId: string; accountId: string; partBytes: number }): Promise<ArchiveResult> {
    return classified(
      'archive',
      async () => {
        const ctx = Context.current();
        const done = (ctx.info.heartbeatDetails as { partsDone?: number } | undefined)?.partsDone ?? 0;
        const staged = {} as Staged;
        for (const s of ACCESS_STORES) {
          const b = await deps.archive.get(stagedName(req.requestId, s));
          if (!b) throw new Error(`the ${s} step's staged data is missing`);
          (staged as unknown as Record<string, unknown>)[s] = JSON.parse(b.toString('utf8'));
        }
        const files = staged.media.files;
        const generatedAt = new Date();
        const documents = (partOf: number[], parts: number) => {
          const data = {
            schemaVersion: ARCHIVE_SCHEMA_VERSION,
            requestId: req.requestId,
            accountId: req.accountId,
            generatedAt: generatedAt.toISOString(),
            parts,
            stores: {
              database: staged.database,
              auth0: staged.auth0,
              recurly: staged.recurly,
              media: {
                ...staged.media,
                files: files.map((f, i) => ({
                  path: f.path,
                  part: partOf[i],
                  container: f.container,
                  blobName: f.name,
                  bytes: f.bytes,
                  ...(f.contentType ? { contentType: f.contentType } : {}),
                  ...(f.kind ? { kind: f.kind } : {}),
                  ...(f.cameraId !== undefined ? { cameraId: f.cameraId } : {}),
                  capturedAt: f.capturedAt ?? null,
                  ...(f.lastModified ? { lastModified: f.lastModified } : {}),
                })),
              },
            },
          };
          const out: { name: string; data: Buffer }[] = [{ name: 'data.json', data: Buffer.from(JSON.stringify(data, null, 2)) }];
          for (const [table, rows] of Object.entries(staged.database.tables)) out.push({ name: `tables/${table}.csv`, data: Buffer.from(toCsv(rows)) });
          out.push({ name: 'index.html', data: Buffer.from(renderIndex(data)) });
          return out;
        };
        // The documents' size with every file in part 1 is within bytes of the final one.
        const estimate = documents(
          files.map(() => 1),
          1,
        ).reduce((n, d) => n + d.data.length, 0);
        const partOf = planParts(files, req.partBytes, estimate);
        const parts = Math.max(1, partOf.length ? partOf[partOf.length - 1] : 1);
        const docs = documents(partOf, parts);

        let progress = { partsDone: done, part: 0, file: 0 };
        const timer = setInterval(() => ctx.heartbeat(progress), HEARTBEAT_EVERY_MS);
        let bytes = 0;
        try {
          for (let part = 1; part <= parts; part++) {
            const name = partName(req.requestId, part, parts);
            if (part <= done) {
              bytes += (await deps.archive.list(name)).find((b) => b.name === name)?.bytes ?? 0;
              continue;
            }
            await deps.archive.ensure();
            const sink = new BlockBlobSink(deps.archive.blockBlob(name), { blockBytes: deps.blockBytes, abortSignal: ctx.cancellationSignal });
            const zip = new ZipWriter(sink);
            const readme = `Your data, part ${part} of ${parts}.${parts > 1 ? ' data.json, the tables and index.html are in part 1; each part opens on its own.' : ''}\r\n`;
            await zip.add('README.txt', Buffer.from(readme), { size: Buffer.byteLength(readme), modified: generatedAt });
            if (part === 1) for (const d of docs) await zip.add(d.name, d.data, { size: d.data.length, modified: generatedAt });
            const mine = files.filter((_, i) => partOf[i] === part);
            await writeMedia(deps, zip, mine, ctx.cancellationSignal, (i) => (progress = { ...progress, part, file: i }));
            bytes += await zip.finish();
            await sink.commit();
            progress = { partsDone: part, part, file: 0 };
            ctx.heartbeat(progress);
          }
        } finally {
          clearInterval(timer);
        }
        for (const s of ACCESS_STORES) await deps.archive.deletePrefix(stagedName(req.requestId, s));
        await deps
          .db('lethe.access_requests')
          .where({ request_id: req.requestId })
          .update({ archive_prefix: archivePrefix(req.requestId), archive_parts: parts, archive_bytes: bytes });
        return { parts, bytes, mediaFiles: files.length };
      },
      { budgetMs: deps.attemptBudgetMs },
    );
  },
});

/** Writes `files` in order: small ones read a few ahead, large ones streamed at their turn. */
async function writeMedia(deps: ArchiveDeps, zip: ZipWriter, files: StagedMedia[], signal: AbortSignal, at: (i: number) => void): Promise<void> {
  const ahead = deps.readAhead ?? READ_AHEAD;
  const reads = new Map<number, Promise<Buffer>>();
  let next = 0;
  const fill = (from: number) => {
    for (; next < files.length && next < from + ahead; next++) {
      const f = files[next];
      if (f.bytes <= READ_AHEAD_MAX_BYTES) {
        const p = readBlob(deps.blobs, f.container, f.name, signal);
        p.catch(() => undefined); // awaited at its turn
        reads.set(next, p);
      }
    }
  };
  for (let i = 0; i < files.length; i++) {
    fill(i);
    at(i);
    const f = files[i];
    const modified = new Date(f.capturedAt ?? f.lastModified ?? Date.now());
    const read = reads.get(i);
    reads.delete(i);
    const source = read ? await read : await streamBlob(deps.blobs, f.container, f.name, signal);
    await zip.add(f.path, source, { size: f.bytes, modified });
  }
}
