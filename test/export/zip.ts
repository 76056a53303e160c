/**
 * A ZIP reader for the tests, written from PKWARE's APPNOTE apart from the product's writer
 * (stores/archive.ts) so a mistake there is not mirrored here: end of central directory (with
 * the ZIP64 locator and record), the central directory, each local header, stored entries only,
 * every CRC checked. And, where the machine has it, Info-ZIP's `unzip -t` as a second opinion.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';

export interface ZipEntry {
  name: string;
  data: Buffer;
  modified: Date;
}

export function readZip(zip: Buffer): Map<string, ZipEntry> {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a ZIP: no end of central directory');
  let count = zip.readUInt16LE(eocd + 10);
  let cdSize = zip.readUInt32LE(eocd + 12);
  let cdOffset = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (zip.readUInt32LE(loc) !== 0x07064b50) throw new Error('ZIP64 values without a ZIP64 locator');
    const rec = Number(zip.readBigUInt64LE(loc + 8));
    if (zip.readUInt32LE(rec) !== 0x06064b50) throw new Error('ZIP64 locator does not point at a ZIP64 record');
    count = Number(zip.readBigUInt64LE(rec + 32));
    cdSize = Number(zip.readBigUInt64LE(rec + 40));
    cdOffset = Number(zip.readBigUInt64LE(rec + 48));
  }
  const out = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== 0x02014b50) throw new Error(`central directory entry ${n} has a bad signature`);
    const method = zip.readUInt16LE(p + 10);
    const time = zip.readUInt16LE(p + 12);
    const date = zip.readUInt16LE(p + 14);
    const crc = zip.readUInt32LE(p + 16);
    let size = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    let offset = zip.readUInt32LE(p + 42);
    const name = zip.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    const extra = zip.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen);
    // ZIP64 extra: the 8-byte values of those fields that are 0xFFFFFFFF, in order.
    for (let e = 0; e + 4 <= extra.length;) {
      const id = extra.readUInt16LE(e);
      const len = extra.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) {
          size = Number(extra.readBigUInt64LE(q));
          q += 16; // uncompressed, then compressed (stored: equal)
        }
        if (offset === 0xffffffff) offset = Number(extra.readBigUInt64LE(q));
      }
      e += 4 + len;
    }
    if (method !== 0) throw new Error(`${name}: method ${method}, expected stored`);
    if (zip.readUInt32LE(offset) !== 0x04034b50) throw new Error(`${name}: bad local header signature`);
    const start = offset + 30 + zip.readUInt16LE(offset + 26) + zip.readUInt16LE(offset + 28);
    const data = zip.subarray(start, start + size);
    if (crc32(data) >>> 0 !== crc) throw new Error(`${name}: CRC mismatch`);
    if (out.has(name)) throw new Error(`${name}: twice in one archive`);
    const modified = new Date(Date.UTC(1980 + (date >> 9), ((date >> 5) & 15) - 1, date & 31, time >> 11, (time >> 5) & 63, (time & 31) * 2));
    out.set(name, { name, data, modified });
    p += 46 + nameLen + extraLen + commentLen;
  }
  if (p !== cdOffset + cdSize) throw new Error('central directory size does not match its entries');
  return out;
}

/** Info-ZIP's own test of the archive, when `unzip` is installed; undefined when it is not. */
export function unzipTest(zip: Buffer): string | undefined {
  try {
    execFileSync('unzip', ['-v'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lethe-zip-')), 'archive.zip');
  fs.writeFileSync(file, zip);
  try {
    return execFileSync('unzip', ['-tq', file], { encoding: 'utf8' });
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}
