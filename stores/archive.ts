/**
 * Access archives (CONTRACT §8, docs/access.md): ZIP files written straight into a block blob of
 * Lethe's own private container, and the read-only link (a SAS) that lets the person download
 * one. The one module that knows how an archive is laid out on the wire and in Azure.
 *
 * Why a ZIP writer of its own and not a library (yazl, archiver): the archive holds media that
 * are already compressed (JPEG, MP4), so entries are only *stored*; a stored ZIP is a header, the
 * bytes and a CRC per entry plus a central directory (PKWARE APPNOTE 6.3.10, §4.3 and §4.4;
 * ZIP64 §4.3.14-4.3.16 and §4.5.3), about 150 lines with Node's own `zlib.crc32`. It writes to an
 * async sink that applies back-pressure, so memory stays bounded whatever the archive's size,
 * and it adds no dependency to the worker's image.
 *
 * The blob side (learn.microsoft.com/rest/api/storageservices): Put Block and Put Block List
 * (a block blob is staged in blocks of up to 4,000 MiB, at most 50,000 blocks, and exists only
 * once its block list is committed: an attempt that dies leaves nothing readable), a service
 * SAS signed with the account key (Create a service SAS) or, under Microsoft Entra ID, a user
 * delegation SAS (Create a user delegation SAS: the key lives at most 7 days).
 */
import { crc32 } from 'node:zlib';
import { BlobSASPermissions, ContainerClient, generateBlobSASQueryParameters, SASProtocol, type BlockBlobClient } from '@azure/storage-blob';
import type { BlobStore } from './blobs';
import { BlobStoreError } from './blobs';

const MAX32 = 0xffffffff;
const FLAGS = 0x0808; // bit 3: sizes and CRC follow the data (data descriptor); bit 11: UTF-8 names

/** Where the bytes of a ZIP go: `write` resolves when the sink can take more (back-pressure). */
export interface ByteSink {
  write(chunk: Buffer): Promise<void>;
}

/**
 * A source that yielded another length than was listed for it (a file re-uploaded or still being
 * written while the archive was made). The entry's header is already out, so the ZIP being
 * written is spoilt: the caller starts the part again, with a fresh listing if it keeps happening.
 */
export class EntrySizeError extends Error {
  constructor(
    readonly entry: number,
    readonly listed: number,
    readonly read: number,
  ) {
    super(`archive entry ${entry}: read ${read} bytes where ${listed} were listed (changed while exporting)`);
    this.name = 'EntrySizeError';
  }
}

/** MS-DOS time and date of a file's modification, as ZIP keeps them (UTC, 2-second steps). */
function dosTime(d: Date): { time: number; date: number } {
  const year = Math.max(1980, d.getUTCFullYear());
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | Math.floor(d.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

interface Entry {
  name: Buffer;
  crc: number;
  size: number;
  offset: number;
  time: number;
  date: number;
}

/**
 * A stored (uncompressed) ZIP, written entry by entry to a sink. ZIP64 fields appear only where a
 * size, an offset or the entry count needs them, so small archives are plain ZIP 2.0.
 */
export class ZipWriter {
  private offset = 0;
  private readonly entries: Entry[] = [];

  constructor(private readonly sink: ByteSink) {}

  /** Bytes written so far (the archive's size once finished). */
  get bytes(): number {
    return this.offset;
  }

  private async out(b: Buffer): Promise<void> {
    this.offset += b.length;
    await this.sink.write(b);
  }

  /**
   * Adds one file. `size` is what the source will yield (known beforehand from the blob listing):
   * it decides whether the entry needs ZIP64; a source that yields another length is refused.
   */
  async add(name: string, source: Buffer | AsyncIterable<Buffer | Uint8Array>, opts: { size: number; modified?: Date }): Promise<void> {
    const nameBytes = Buffer.from(name, 'utf8');
    const { time, date } = dosTime(opts.modified ?? new Date());
    const zip64 = opts.size >= MAX32;
    const offset = this.offset;
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(zip64 ? 45 : 20, 4);
    header.writeUInt16LE(FLAGS, 6);
    header.writeUInt16LE(0, 8); // stored
    header.writeUInt16LE(time, 10);
    header.writeUInt16LE(date, 12);
    // CRC and sizes are in the data descriptor (bit 3); ZIP64 marks them 0xFFFFFFFF here.
    header.writeUInt32LE(0, 14);
    header.writeUInt32LE(zip64 ? MAX32 : 0, 18);
    header.writeUInt32LE(zip64 ? MAX32 : 0, 22);
    header.writeUInt16LE(nameBytes.length, 26);
    const extra = zip64 ? zip64Extra([0, 0]) : Buffer.alloc(0);
    header.writeUInt16LE(extra.length, 28);
    await this.out(Buffer.concat([header, nameBytes, extra]));

    let crc = 0;
    let size = 0;
    if (Buffer.isBuffer(source)) {
      crc = crc32(source);
      size = source.length;
      await this.out(source);
    } else {
      for await (const chunk of source) {
        const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
        crc = crc32(b, crc);
        size += b.length;
        await this.out(b);
      }
    }
    if (size !== opts.size) throw new EntrySizeError(this.entries.length + 1, opts.size, size);
    const descriptor = Buffer.alloc(zip64 ? 24 : 16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc >>> 0, 4);
    if (zip64) {
      descriptor.writeBigUInt64LE(BigInt(size), 8);
      descriptor.writeBigUInt64LE(BigInt(size), 16);
    } else {
      descriptor.writeUInt32LE(size, 8);
      descriptor.writeUInt32LE(size, 12);
    }
    await this.out(descriptor);
    this.entries.push({ name: nameBytes, crc: crc >>> 0, size, offset, time, date });
  }

  /** The central directory and its end records. Nothing may be added after. */
  async finish(): Promise<number> {
    const start = this.offset;
    for (const e of this.entries) {
      const big = [e.size >= MAX32 ? e.size : undefined, e.size >= MAX32 ? e.size : undefined, e.offset >= MAX32 ? e.offset : undefined].filter((v): v is number => v !== undefined);
      const extra = big.length ? zip64Extra(big) : Buffer.alloc(0);
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE(45, 4); // made by: 4.5, MS-DOS attributes
      h.writeUInt16LE(big.length ? 45 : 20, 6);
      h.writeUInt16LE(FLAGS, 8);
      h.writeUInt16LE(0, 10);
      h.writeUInt16LE(e.time, 12);
      h.writeUInt16LE(e.date, 14);
      h.writeUInt32LE(e.crc, 16);
      h.writeUInt32LE(e.size >= MAX32 ? MAX32 : e.size, 20);
      h.writeUInt32LE(e.size >= MAX32 ? MAX32 : e.size, 24);
      h.writeUInt16LE(e.name.length, 28);
      h.writeUInt16LE(extra.length, 30);
      // comment length, disk, internal and external attributes: 0
      h.writeUInt32LE(e.offset >= MAX32 ? MAX32 : e.offset, 42);
      await this.out(Buffer.concat([h, e.name, extra]));
    }
    const cdSize = this.offset - start;
    const needs64 = this.entries.length > 0xffff || start >= MAX32 || cdSize >= MAX32;
    if (needs64) {
      const at = this.offset;
      const rec = Buffer.alloc(56);
      rec.writeUInt32LE(0x06064b50, 0);
      rec.writeBigUInt64LE(44n, 4);
      rec.writeUInt16LE(45, 12);
      rec.writeUInt16LE(45, 14);
      rec.writeBigUInt64LE(BigInt(this.entries.length), 24);
      rec.writeBigUInt64LE(BigInt(this.entries.length), 32);
      rec.writeBigUInt64LE(BigInt(cdSize), 40);
      rec.writeBigUInt64LE(BigInt(start), 48);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0);
      loc.writeBigUInt64LE(BigInt(at), 8);
      loc.writeUInt32LE(1, 16);
      await this.out(Buffer.concat([rec, loc]));
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(needs64 ? 0xffff : this.entries.length, 8);
    end.writeUInt16LE(needs64 ? 0xffff : this.entries.length, 10);
    end.writeUInt32LE(needs64 ? MAX32 : cdSize, 12);
    end.writeUInt32LE(needs64 ? MAX32 : start, 16);
    await this.out(end);
    return this.offset;
  }
}

/** The ZIP64 extended information extra field (header 0x0001) with the given 8-byte values. */
function zip64Extra(values: number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return b;
}

/** Default block: 8 MiB, so a 2 GiB part is 256 blocks (Azure allows 50,000 of up to 4,000 MiB). */
export const DEFAULT_BLOCK_BYTES = 8 * 1024 * 1024;

/**
 * A block blob written as a stream: bytes are gathered into blocks of `blockBytes`, each staged
 * (Put Block) with at most `inFlight` uploads at once; `write` waits while that many are in the
 * air, which is the back-pressure that bounds memory (about (inFlight + 1) × blockBytes).
 * `commit` stages the last block and commits the list (Put Block List): the blob appears whole,
 * or not at all.
 */
export class BlockBlobSink implements ByteSink {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly ids: string[] = [];
  private readonly uploads = new Set<Promise<void>>();
  private failure: unknown;

  constructor(
    private readonly blob: BlockBlobClient,
    private readonly opts: { blockBytes?: number; inFlight?: number; abortSignal?: AbortSignal } = {},
  ) {}

  async write(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const size = this.opts.blockBytes ?? DEFAULT_BLOCK_BYTES;
    while (this.pendingBytes >= size) {
      const all = Buffer.concat(this.pending);
      this.pending = [all.subarray(size)];
      this.pendingBytes = all.length - size;
      await this.stage(all.subarray(0, size));
    }
  }

  private async stage(block: Buffer): Promise<void> {
    while (this.uploads.size >= (this.opts.inFlight ?? 2)) await Promise.race(this.uploads);
    if (this.failure) throw this.failure;
    // Same-length ids (Put Block: "all block IDs must be the same length").
    const id = Buffer.from(String(this.ids.length).padStart(8, '0')).toString('base64');
    this.ids.push(id);
    const p: Promise<void> = this.blob
      .stageBlock(id, block, block.length, { abortSignal: this.opts.abortSignal })
      .then(
        () => undefined,
        (err: unknown) => {
          this.failure ??= err;
        },
      )
      .finally(() => this.uploads.delete(p));
    this.uploads.add(p);
  }

  async commit(contentType = 'application/zip'): Promise<void> {
    if (this.pendingBytes > 0) await this.stage(Buffer.concat(this.pending));
    this.pending = [];
    this.pendingBytes = 0;
    await Promise.all(this.uploads);
    if (this.failure) throw this.failure;
    await this.blob.commitBlockList(this.ids, { blobHTTPHeaders: { blobContentType: contentType }, abortSignal: this.opts.abortSignal });
  }
}

/** One blob under an account's prefix, as the export lists it. */
export interface ListedBlob {
  container: string;
  name: string;
  bytes: number;
  contentType?: string;
  lastModified?: string;
}

/**
 * The account's current blobs under `prefix` in `container`: live base blobs only (no snapshot,
 * no previous version, nothing soft-deleted: the person's files as they see them today).
 */
export async function listCurrentBlobs(blobs: BlobStore, container: string, prefix: string): Promise<ListedBlob[]> {
  const out: ListedBlob[] = [];
  try {
    for await (const item of blobs.container(container).listBlobsFlat({ prefix })) {
      if (item.deleted || item.snapshot) continue;
      out.push({
        container,
        name: item.name,
        bytes: Number(item.properties.contentLength ?? 0),
        ...(item.properties.contentType ? { contentType: item.properties.contentType } : {}),
        ...(item.properties.lastModified ? { lastModified: item.properties.lastModified.toISOString() } : {}),
      });
    }
  } catch (err) {
    throw asStoreError(err, `list ${container}`);
  }
  return out;
}

/** A blob's bytes, whole (for small blobs read ahead) or as a stream (for large ones). */
export async function readBlob(blobs: BlobStore, container: string, name: string, abortSignal?: AbortSignal): Promise<Buffer> {
  try {
    return await blobs.container(container).getBlobClient(name).downloadToBuffer(0, undefined, { abortSignal });
  } catch (err) {
    throw asStoreError(err, `read ${container}`);
  }
}

export async function streamBlob(blobs: BlobStore, container: string, name: string, abortSignal?: AbortSignal): Promise<AsyncIterable<Buffer>> {
  try {
    const res = await blobs.container(container).getBlobClient(name).download(0, undefined, { abortSignal });
    if (!res.readableStreamBody) throw new BlobStoreError('unavailable', `read ${container}: no body`);
    return res.readableStreamBody as AsyncIterable<Buffer>;
  } catch (err) {
    throw asStoreError(err, `read ${container}`);
  }
}

function asStoreError(err: unknown, what: string): BlobStoreError {
  if (err instanceof BlobStoreError) return err;
  const status = (err as { statusCode?: number }).statusCode;
  if (status === 401 || status === 403) return new BlobStoreError('unauthorized', `${what}: access denied (${status})`, status);
  return new BlobStoreError('unavailable', `${what}: ${status ? `HTTP ${status}` : ((err as Error)?.message ?? 'failed')}`, status);
}

/** Lethe's own archive container: private (no public access level), created on first use. */
export function createArchiveStore(blobs: BlobStore, containerName: string) {
  const container: ContainerClient = blobs.service.getContainerClient(containerName);
  let ensured: Promise<unknown> | undefined;
  const ensure = async () => {
    // No `access` option: the container allows no anonymous reads; only a SAS opens a part.
    // Asked first, created only when missing: a credential that may write blobs but not create
    // containers still works once the container exists.
    ensured ??= (async () => {
      if (!(await container.exists())) await container.createIfNotExists();
    })().catch((err: unknown) => {
      ensured = undefined;
      throw asStoreError(err, `create ${containerName}`);
    });
    await ensured;
  };

  return {
    containerName,
    async ensure(): Promise<void> {
      await ensure();
    },
    blockBlob(name: string): BlockBlobClient {
      return container.getBlockBlobClient(name);
    },
    async put(name: string, data: Buffer, contentType: string): Promise<void> {
      await ensure();
      try {
        await container.getBlockBlobClient(name).uploadData(data, { blobHTTPHeaders: { blobContentType: contentType } });
      } catch (err) {
        throw asStoreError(err, `write ${containerName}`);
      }
    },
    async get(name: string): Promise<Buffer | null> {
      try {
        return await container.getBlobClient(name).downloadToBuffer();
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return null;
        throw asStoreError(err, `read ${containerName}`);
      }
    },
    /** Names under `prefix` (the parts and staged files of one request). */
    async list(prefix: string): Promise<{ name: string; bytes: number }[]> {
      const out: { name: string; bytes: number }[] = [];
      try {
        for await (const item of container.listBlobsFlat({ prefix })) out.push({ name: item.name, bytes: Number(item.properties.contentLength ?? 0) });
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return out; // no container yet: nothing there
        throw asStoreError(err, `list ${containerName}`);
      }
      return out;
    },
    /**
     * Deletes every blob under `prefix`, answers how many: through the blob store's own
     * `deletePrefix` (stores/blobs.ts), which lists with snapshots, versions and soft-deleted
     * items and deletes each copy (previous versions by id, soft-deleted ones for good where the
     * account allows it), so an archive leaves no version behind on an account with versioning.
     * The container is created first if missing: a fresh deployment's first expiry or
     * cancellation finds nothing rather than failing on ContainerNotFound. Already gone is success.
     */
    async deletePrefix(prefix: string): Promise<number> {
      await ensure();
      let r;
      try {
        r = await blobs.deletePrefix(containerName, prefix, {});
      } catch (err) {
        throw asStoreError(err, `delete ${containerName}`);
      }
      // Lethe's own container holds no legal hold or policy of the company's: one there is a person's to look at.
      if (r.held.blobs > 0) throw new BlobStoreError('held', `delete ${containerName}: ${r.held.blobs} archive blob(s) kept by a hold, an immutability policy or a lease`, undefined, r.held);
      return r.deleted;
    },
    /**
     * A read-only link to one blob, valid until `expiresOn`: a service SAS signed with the account
     * key, or a user delegation SAS under Microsoft Entra ID. HTTPS only, except on the emulator.
     */
    async readLink(name: string, expiresOn: Date): Promise<string> {
      const blob = container.getBlobClient(name);
      const startsOn = new Date(Date.now() - 5 * 60_000); // clock skew between us and Azure
      const protocol = blobs.emulator ? SASProtocol.HttpsAndHttp : SASProtocol.Https;
      const permissions = BlobSASPermissions.parse('r');
      try {
        if (blobs.auth === 'shared-key') return await blob.generateSasUrl({ permissions, startsOn, expiresOn, protocol });
        if (blobs.auth === 'entra') {
          const key = await blobs.service.getUserDelegationKey(startsOn, expiresOn);
          const sas = generateBlobSASQueryParameters({ containerName, blobName: name, permissions, startsOn, expiresOn, protocol }, key, blobs.service.accountName).toString();
          return `${blob.url}?${sas}`;
        }
      } catch (err) {
        throw asStoreError(err, `link ${containerName}`);
      }
      throw new BlobStoreError('unauthorized', 'a SAS connection string cannot sign links: use the account key or Microsoft Entra ID for the archive container', 403);
    },
  };
}

export type ArchiveStore = ReturnType<typeof createArchiveStore>;
