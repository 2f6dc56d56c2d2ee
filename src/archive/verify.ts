import { open, stat } from "node:fs/promises";
import { inflateRawSync } from "node:zlib";
import type yauzl from "yauzl";
import { crc32 } from "../core/crc32.js";
import { bytesWithin, openForVerify } from "./blockReader.js";
import { type DataRange, type ReadBack, ReadBackCheck } from "./readBack.js";

export interface ExpectedEntry {
  name: string;
  crc32: number;
  size: number;
}

export interface VerifiedArchive {
  sha256: string;
  bytes: number;
}

const CHUNK = 4 * 1024 * 1024;

/** Entries whose local headers are read ahead of the one being judged. */
const HEADERS_AHEAD = 32;

/**
 * Re-reads a written archive with an independent reader (yauzl): the central directory parses, the
 * entries are exactly the expected ones in order, every recorded CRC-32 and size is the one we meant to
 * write, and the data of every entry matches it. Stored entries (the images) are checked in the same
 * sequential pass that hashes the file; deflated ones (small JSON) are inflated by yauzl. Throws with
 * the first mismatch.
 *
 * `readBack` is that sequential pass already done, by a reader that followed the writer (readBack.ts):
 * then yauzl must find each stored entry's data exactly where that pass checked it.
 */
export async function verifyZip(file: string, expected: readonly ExpectedEntry[], readBack?: ReadBack): Promise<VerifiedArchive> {
  const zip = await openForVerify(file, { lazyEntries: true, validateEntrySizes: true, autoClose: false }, readBack?.before);
  const stored: DataRange[] = [];
  try {
    if (zip.entryCount !== expected.length) {
      throw new Error(`${file}: holds ${zip.entryCount} entries, expected ${expected.length}`);
    }
    // (each entry's local header is a read on the thread pool: a window of them in flight, judged in order)
    const ahead: Promise<DataRange | undefined>[] = [];
    for (let index = 0; ; index++) {
      const entry = await nextEntry(zip).catch(async (err: unknown) => {
        while (ahead.length) await takeChecked(ahead, stored);
        throw err;
      });
      if (!entry) break;
      const checking = checkEntry(zip, entry, expected[index]!, readBack?.before);
      checking.catch(() => undefined); // (thrown when its turn comes)
      ahead.push(checking);
      if (ahead.length >= HEADERS_AHEAD) await takeChecked(ahead, stored);
    }
    while (ahead.length) await takeChecked(ahead, stored);
  } finally {
    zip.close();
  }
  if (!readBack) return hashAndCheck(file, stored);
  const checked = new Map(readBack.checked.map((r) => [r.name, r]));
  for (const r of stored) {
    const c = checked.get(r.name);
    if (!c || c.start !== r.start || c.end !== r.end || c.crc32 !== r.crc32) {
      throw new Error(`${r.name}: its data is not where the archive was read back (${JSON.stringify(c)})`);
    }
  }
  if (readBack.bytes !== (await stat(file)).size) throw new Error(`${file}: changed size after it was read back`);
  return { sha256: readBack.sha256, bytes: readBack.bytes };
}

/**
 * An entry as expected, its local header as its central one; a stored entry's data range, a deflated one's data
 * checked (inflated from the bytes the read-back kept, when it kept them; else read by yauzl).
 */
async function checkEntry(
  zip: yauzl.ZipFile,
  entry: yauzl.Entry,
  want: ExpectedEntry,
  kept: ReadBack["before"] = [],
): Promise<DataRange | undefined> {
  if (entry.fileName !== want.name) throw new Error(`entry "${entry.fileName}" where "${want.name}" was expected`);
  if (entry.crc32 !== want.crc32 || entry.uncompressedSize !== want.size) {
    throw new Error(
      `${want.name}: recorded CRC/size ${entry.crc32}/${entry.uncompressedSize}, expected ${want.crc32}/${want.size} (did the source change while packing?)`,
    );
  }
  const local = await zip.readLocalFileHeaderPromise(entry);
  checkLocalHeader(want.name, entry, local);
  if (entry.compressionMethod === 0) {
    const { fileDataStart } = local;
    return { name: want.name, start: fileDataStart, end: fileDataStart + entry.compressedSize, crc32: want.crc32 };
  }
  let crc = 0;
  const deflated = bytesWithin(kept, local.fileDataStart, local.fileDataStart + entry.compressedSize);
  if (deflated && entry.compressionMethod === 8) {
    crc = crc32(inflated(want.name, deflated, entry.uncompressedSize));
  } else for await (const chunk of await zip.openReadStreamPromise(entry)) crc = crc32(chunk as Buffer, crc);
  if (crc >>> 0 !== want.crc32) throw new Error(`${want.name}: data CRC ${crc >>> 0} does not match ${want.crc32}`);
  return undefined;
}

/** A deflated entry's data, which must inflate to `size` bytes. */
function inflated(name: string, deflated: Buffer, size: number): Buffer {
  let data: Buffer;
  try {
    data = inflateRawSync(deflated, { maxOutputLength: size + 1 });
  } catch (err) {
    throw new Error(`${name}: its data does not inflate (${(err as Error).message})`);
  }
  if (data.length !== size) throw new Error(`${name}: inflates to ${data.length} bytes, not ${size}`);
  return data;
}

/** The oldest entry read ahead, judged (its failure thrown now, in the archive's order). */
async function takeChecked(ahead: Promise<DataRange | undefined>[], stored: DataRange[]): Promise<void> {
  const range = await ahead.shift()!;
  if (range) stored.push(range);
}

const MAX32 = 0xffffffff;

/**
 * A streaming reader (Java's ZipInputStream, say) trusts the local header, not the central directory: both
 * must say the same CRC and sizes (the writer patches the local one after copying), with no data
 * descriptor announced. Sizes escaped as 0xFFFFFFFF are read from the ZIP64 extra field.
 */
function checkLocalHeader(name: string, central: yauzl.Entry, local: yauzl.LocalFileHeader): void {
  let [size, compressed] = [local.uncompressedSize, local.compressedSize];
  if (size === MAX32 || compressed === MAX32) {
    const extra = local.extraField;
    for (let at = 0; at + 4 <= extra.length; at += 4 + extra.readUInt16LE(at + 2)) {
      if (extra.readUInt16LE(at) !== 0x0001) continue;
      let field = at + 4;
      if (size === MAX32) [size, field] = [Number(extra.readBigUInt64LE(field)), field + 8];
      if (compressed === MAX32) compressed = Number(extra.readBigUInt64LE(field));
      break;
    }
  }
  const problems = [
    local.crc32 !== central.crc32 && `CRC ${local.crc32} (central directory: ${central.crc32})`,
    size !== central.uncompressedSize && `size ${size} (central directory: ${central.uncompressedSize})`,
    compressed !== central.compressedSize && `compressed size ${compressed} (central directory: ${central.compressedSize})`,
    (local.generalPurposeBitFlag & 0x08) !== 0 && "a data descriptor",
  ].filter(Boolean);
  if (problems.length) throw new Error(`${name}: its local header says ${problems.join(", ")}`);
}

/** The next entry of the central directory, or undefined at its end. */
function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolve, reject) => {
    const done = (entry?: yauzl.Entry) => {
      zip.off("entry", done).off("end", end).off("error", fail);
      resolve(entry);
    };
    const end = () => done();
    const fail = (err: Error) => {
      zip.off("entry", done).off("end", end);
      reject(err);
    };
    zip.once("entry", done).once("end", end).once("error", fail);
    zip.readEntry();
  });
}

/** One sequential read: SHA-256 of the whole file, and the CRC-32 of each stored entry's data. */
async function hashAndCheck(file: string, ranges: DataRange[]): Promise<VerifiedArchive> {
  const check = new ReadBackCheck();
  for (const r of ranges) check.expect(r);
  const fh = await open(file, "r");
  const buffer = Buffer.allocUnsafe(CHUNK);
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buffer, 0, CHUNK, check.bytes);
      if (bytesRead === 0) break;
      check.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  const { sha256, bytes } = check.digest(file);
  return { sha256, bytes };
}
