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
import { ApplicationFailure } from '@temporalio/common';
import { BlockBlobSink, EntrySizeError, readBlob, streamBlob, ZipWriter, type ArchiveStore } from '../../stores/archive';
import { BlobStoreError } from '../../stores/blobs';
import { FailureType } from '../../contract';
import { classified } from '../failures';
import type { StagedMedia } from './gather';
import { ACCESS_STORES, ARCHIVE_SCHEMA_VERSION, archivePrefix, partName, stagedName, stagingPrefix, type ArchiveResult } from './types';
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

/** Tries of one archive write that meet a media file of another size than listed, before a person is asked. */
export const SIZE_MISMATCH_TRIES = 3;

/** The order parts are written in: part 1, which holds the documents, last, once every file was read. */
export const writeOrder = (parts: number): number[] => [...Array.from({ length: parts - 1 }, (_, i) => i + 2), 1];

export const createArchiveActivities = (deps: ArchiveDeps) => ({
  /**
   * Writes the archive from what the four stores staged, then drops the staged files. A retry
   * skips the parts an earlier attempt committed (its heartbeat says how many, and which files
   * were found gone).
   *
   * A media file deleted after it was listed (404) is left out and named in data.json's and
   * index.html's notes; so part 1, whose documents say so, is written last. A file whose size
   * differs from its listing is tried again a few times (the part is started over), then the
   * write stops as Precondition, saying what to do: the workflow lists the media again before
   * its next try.
   */
  async buildArchive(req: { requestId: string; accountId: string; partBytes: number }): Promise<ArchiveResult> {
    return classified(
      'archive',
      async () => {
        const ctx = Context.current();
        const earlier = ctx.info.heartbeatDetails as { partsDone?: number; gone?: number[] } | undefined;
        const done = earlier?.partsDone ?? 0;
        const gone = new Set<number>(earlier?.gone ?? []);
        const staged = {} as Staged;
        for (const s of ACCESS_STORES) {
          const b = await deps.archive.get(stagedName(req.requestId, s));
          if (!b) throw new Error(`the ${s} step's staged data is missing`);
          (staged as unknown as Record<string, unknown>)[s] = JSON.parse(b.toString('utf8'));
        }
        const files = staged.media.files;
        const generatedAt = new Date();
        const documents = (partOf: number[], parts: number, without: Set<number>) => {
          const left = [...without].sort((a, b) => a - b).map((i) => `${files[i].path}: deleted while this copy was being made, so it is not included`);
          const notes = [...(staged.media.notes ?? []), ...left];
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
                files: files
                  .map((f, i) => ({ f, i }))
                  .filter(({ i }) => !without.has(i))
                  .map(({ f, i }) => ({
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
                ...(notes.length ? { notes } : {}),
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
          new Set(),
        ).reduce((n, d) => n + d.data.length, 0);
        const partOf = planParts(files, req.partBytes, estimate);
        const parts = Math.max(1, partOf.length ? partOf[partOf.length - 1] : 1);
        const order = writeOrder(parts);

        let progress = { partsDone: done, part: 0, file: 0, gone: [...gone] };
        const timer = setInterval(() => ctx.heartbeat(progress), HEARTBEAT_EVERY_MS);
        let bytes = 0;
        try {
          for (const [k, part] of order.entries()) {
            const name = partName(req.requestId, part, parts);
            if (k < done) {
              bytes += (await deps.archive.list(name)).find((b) => b.name === name)?.bytes ?? 0;
              continue;
            }
            await deps.archive.ensure();
            const sink = new BlockBlobSink(deps.archive.blockBlob(name), { blockBytes: deps.blockBytes, abortSignal: ctx.cancellationSignal });
            const zip = new ZipWriter(sink);
            const readme = `Your data, part ${part} of ${parts}.${parts > 1 ? ' data.json, the tables and index.html are in part 1; each part opens on its own.' : ''}\r\n`;
            await zip.add('README.txt', Buffer.from(readme), { size: Buffer.byteLength(readme), modified: generatedAt });
            const mine = files.map((f, i) => ({ f, i })).filter(({ i }) => partOf[i] === part);
            try {
              await writeMedia(
                deps,
                zip,
                mine,
                ctx.cancellationSignal,
                (i) => (progress = { ...progress, part, file: i }),
                (i) => {
                  gone.add(i);
                  progress = { ...progress, gone: [...gone] };
                },
              );
            } catch (err) {
              if (!(err instanceof EntrySizeError)) throw err;
              const f = mine.find(({ i }) => i === err.entry)?.f;
              const what = `media file ${f?.container ?? ''}/${f?.name ?? '?'} read ${err.read} bytes where ${err.listed} were listed`;
              if (ctx.info.attempt < SIZE_MISMATCH_TRIES) throw ApplicationFailure.create({ type: FailureType.Unavailable, message: `${what} (changed while exporting); the part is written again` });
              throw ApplicationFailure.create({
                type: FailureType.Precondition,
                message: `${what}, ${ctx.info.attempt} times: something is still writing it. The next try lists the media again (on the stores' cadence, or at once with lethe access retry ${req.requestId}); if it keeps changing, find what writes under the account's folder`,
              });
            }
            if (part === 1) for (const d of documents(partOf, parts, gone)) await zip.add(d.name, d.data, { size: d.data.length, modified: generatedAt });
            bytes += await zip.finish();
            await sink.commit();
            progress = { ...progress, partsDone: k + 1, part, file: 0 };
            ctx.heartbeat(progress);
          }
        } finally {
          clearInterval(timer);
        }
        await deps.archive.deletePrefix(stagingPrefix(req.requestId));
        await deps
          .db('lethe.access_requests')
          .where({ request_id: req.requestId })
          .update({ archive_prefix: archivePrefix(req.requestId), archive_parts: parts, archive_bytes: bytes });
        return { parts, bytes, mediaFiles: files.length - gone.size, ...(gone.size ? { mediaGone: gone.size } : {}) };
      },
      { budgetMs: deps.attemptBudgetMs },
    );
  },
});

/**
 * Writes `files` in order: small ones read a few ahead, large ones streamed at their turn. A file
 * that answers 404 was deleted since it was listed: `onGone` hears its index and nothing of it
 * is written (the read fails before its entry begins).
 */
async function writeMedia(deps: ArchiveDeps, zip: ZipWriter, files: { f: StagedMedia; i: number }[], signal: AbortSignal, at: (i: number) => void, onGone: (i: number) => void): Promise<void> {
  const ahead = deps.readAhead ?? READ_AHEAD;
  const reads = new Map<number, Promise<Buffer>>();
  let next = 0;
  const fill = (from: number) => {
    for (; next < files.length && next < from + ahead; next++) {
      const { f } = files[next];
      if (f.bytes <= READ_AHEAD_MAX_BYTES) {
        const p = readBlob(deps.blobs, f.container, f.name, signal);
        p.catch(() => undefined); // awaited at its turn
        reads.set(next, p);
      }
    }
  };
  for (let k = 0; k < files.length; k++) {
    fill(k);
    const { f, i } = files[k];
    at(i);
    const modified = new Date(f.capturedAt ?? f.lastModified ?? Date.now());
    const read = reads.get(k);
    reads.delete(k);
    let source: Buffer | AsyncIterable<Buffer>;
    try {
      source = read ? await read : await streamBlob(deps.blobs, f.container, f.name, signal);
    } catch (err) {
      if (err instanceof BlobStoreError && err.status === 404) {
        onGone(i);
        continue;
      }
      throw err;
    }
    try {
      await zip.add(f.path, source, { size: f.bytes, modified });
    } catch (err) {
      // Which file, by its index in the listing (the writer counts its own entries).
      if (err instanceof EntrySizeError) throw new EntrySizeError(i, err.listed, err.read);
      throw err;
    }
  }
}
