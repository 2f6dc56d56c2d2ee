import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { deflateRawSync } from "node:zlib";
import { crc32 } from "../core/crc32.js";
import { isGone } from "../core/errors.js";
import type { DataRange } from "./readBack.js";

/**
 * Told, once bytes are written, that those before `upTo` are final; `ranges`: the entries' data among them (the
 * deflated ones flagged).
 */
export type SettledListener = (upTo: number, ranges: DataRange[]) => void;

/** What the central directory needs of each entry: about a hundred bytes, however many entries. */
interface Written {
  name: Buffer;
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
  size: number;
  offset: number;
}

const MAX16 = 0xffff;
const MAX32 = 0xffffffff;
const UTF8 = 0x0800;
// Every entry gets 1980-01-01 00:00 (the DOS epoch), so the same input always gives the same bytes.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const FILE_MODE = 0o100644;
const COPY_CHUNK = 1024 * 1024;
const EOI = Buffer.from([0xff, 0xd9]);
/**
 * Entries written from memory are gathered up to this many bytes (or GATHER_PARTS buffers) into one write
 * call: each call is a hand-over to the thread pool, which cost the main thread 20-60 us apiece.
 */
const GATHER_BYTES = 1024 * 1024;
const GATHER_PARTS = 256;
/** Start flushing to disk every this many bytes, so that the final fsync has little left to wait for. */
const SYNC_EVERY = 64 * 1024 * 1024;

/**
 * A file copied as is was not what it was when it was checked (another size or modification time), or is
 * not there any more (moved or removed): its work order's problem, not the archive's.
 */
export class SourceChangedError extends Error {
  constructor(
    /** the entry's name in the archive, `<work order>/<name>` */
    readonly entry: string,
    readonly file: string,
    readonly vanished = false,
  ) {
    super(`${file}: ${vanished ? "moved or removed" : "changed"} while it was being packed`);
  }
}

/** Throws a SourceChangedError when a source checked at `since` has another size or modification time `now`. */
export function assertUnchanged(name: string, file: string, since: FileTimes, now: FileTimes): void {
  if (now.size !== since.size || now.mtimeMs !== since.mtimeMs) throw new SourceChangedError(name, file);
}

/** A file's size and modification time, as a source was checked and as it is now. */
export interface FileTimes {
  size: number;
  mtimeMs: number;
}

/** A checked source that is not there any more: its SourceChangedError; any other error as it is. */
export function sourceError(err: unknown, name: string, file: string): unknown {
  return isGone(err) ? new SourceChangedError(name, file, true) : err;
}

/**
 * Deflated at level 9 with a window just big enough for `data`: the same bytes as zlib's default window
 * (no match reaches further back than the data is long, 262 bytes of lookahead kept), without allocating and
 * clearing the 32 KB window's state for each work order's small JSON (~0.7 ms each for a process's first hundreds).
 */
export function deflateEntry(data: Buffer): Buffer {
  const windowBits = Math.min(15, Math.max(9, Math.ceil(Math.log2(data.length + 262))));
  return deflateRawSync(data, { level: 9, windowBits });
}

/** Bytes an entry adds besides its data, at most: local and central headers with their ZIP64 extras. */
export function entryOverhead(name: string): number {
  return 30 + 20 + 46 + 28 + 2 * Buffer.byteLength(name, "utf8");
}

/** Bytes the end of an archive takes, at most: the ZIP64 end record and locator, and the classic end. */
export const END_OVERHEAD = 56 + 20 + 22;

/**
 * A minimal streaming ZIP writer for what wopack packs: stored images whose CRC-32 and size are already
 * known (computed natively while they were checked), and small deflated JSON files. Because sizes and
 * CRCs are known up front, every local header is final (no data descriptors), and ZIP64 records are
 * written exactly where sizes, offsets or the entry count need them (APPNOTE 6.3.10, sections 4.3-4.5).
 * It replaces archiver, whose pure-JS CRC and ~10 KB of memory per entry made big nights slow and large.
 */
export class ZipWriter {
  private readonly entries: Written[] = [];
  /** where the archive ends so far, gathered bytes included */
  private offset = 0;
  /** written from memory, not yet handed to the file (they end at `offset`) */
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  /** the stored entries among the gathered bytes, told to `onSettled` once written */
  private gatheredRanges: DataRange[] = [];
  private gatheredDone: (() => void)[] = [];
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  private syncFailure: unknown;
  /** an entry was cut short after more of it was written */
  private rewound = false;
  /** reused by every copy (they run one at a time): fresh megabytes per photo cost page faults */
  private readonly buffers = [Buffer.allocUnsafe(COPY_CHUNK), Buffer.allocUnsafe(COPY_CHUNK)];

  private constructor(
    private readonly fh: FileHandle,
    private readonly signal?: AbortSignal,
    private readonly onSettled?: SettledListener,
  ) {}

  /**
   * Creates the file (never replacing one). An abort stops the writing at the next chunk. `startOffset`:
   * where the archive begins in the file (0; tests start past 4 GiB to check ZIP64 offsets on a sparse file).
   */
  static async create(file: string, signal?: AbortSignal, onSettled?: SettledListener, startOffset = 0): Promise<ZipWriter> {
    const writer = new ZipWriter(await open(file, "wx"), signal, onSettled);
    writer.offset = startOffset;
    return writer;
  }

  /**
   * A stored entry copied from a file of the given size. Without a known CRC-32 it is computed while
   * copying and written into the local header afterwards (the writer writes at positions, so it can go
   * back). With `unchangedSince`, a file whose size or mtime moved since it was checked fails the archive.
   */
  async addFile(
    name: string,
    file: string,
    size: number,
    knownCrc?: number,
    unchangedSince?: FileTimes,
    jpegScanFrom?: number,
  ): Promise<{ crc32: number; size: number }> {
    const header = this.begin(name, 0, knownCrc ?? 0, size, size);
    const entry = this.entries[this.entries.length - 1]!;
    await this.write(header);
    // (a file without `unchangedSince` is wopack's own, a converted photo in the spool: its loss is an I/O error)
    const src = await open(file, "r").catch((err) => {
      throw unchangedSince ? sourceError(err, name, file) : err;
    });
    try {
      // (a JPEG is only cut where its sizes sit in the local header itself: below 4 GiB, no ZIP64 extra)
      const scanFrom = size < MAX32 ? jpegScanFrom : undefined;
      const copied = await this.copy(src, name, file, size, scanFrom);
      if (unchangedSince) assertUnchanged(name, file, unchangedSince, await src.stat());
      const patch = Buffer.alloc(12);
      if (copied.size < size) {
        // what followed the image is not in the entry: its header says so
        entry.size = entry.compressedSize = copied.size;
        patch.writeUInt32LE(copied.crc, 0);
        patch.writeUInt32LE(copied.size, 4);
        patch.writeUInt32LE(copied.size, 8);
        entry.crc32 = copied.crc;
        await this.fh.write(patch, 0, 12, entry.offset + 14);
      } else if (knownCrc === undefined) {
        entry.crc32 = copied.crc;
        patch.writeUInt32LE(copied.crc, 0);
        await this.fh.write(patch, 0, 4, entry.offset + 14);
      } else if (copied.crc !== entry.crc32) {
        // (a converted photo's spool file is not what was written to it: the archive must not claim it is)
        throw new Error(`${file}: its bytes no longer have the CRC-32 computed when it was written (${name})`);
      }
      this.onSettled?.(this.offset, [{ name, start: this.offset - copied.size, end: this.offset, crc32: entry.crc32 }]);
      return { crc32: entry.crc32, size: copied.size };
    } finally {
      await src.close();
    }
  }

  /**
   * An entry from memory: stored as is, or deflated. Its bytes may be written later, with the next entries:
   * `written` is called once they are in the file (and `data` may be reused).
   */
  async addBuffer(name: string, data: Buffer, crc32: number, store: boolean, written?: () => void): Promise<void> {
    const body = store ? data : deflateEntry(data);
    const header = this.begin(name, store ? 0 : 8, crc32, body.length, data.length);
    // (gathered, not copied: the photos held in memory go to one writev)
    this.gather(header, body);
    const range = { name, start: this.offset - body.length, end: this.offset, crc32: crc32 >>> 0 };
    this.gatheredRanges.push(store ? range : { ...range, deflated: true });
    if (written) this.gatheredDone.push(written);
    if (this.gatheredBytes >= GATHER_BYTES || this.gathered.length >= GATHER_PARTS) await this.write();
  }

  /** Writes the central directory and the end records, flushes the file to disk and closes it. */
  async finish(): Promise<number> {
    const cdStart = this.offset;
    // (in writes of up to COPY_CHUNK bytes: one write call per entry cost more than the headers themselves)
    let headers: Buffer[] = [];
    let pending = 0;
    for (const e of this.entries) {
      const h = centralHeader(e);
      headers.push(h);
      pending += h.length;
      if (pending < COPY_CHUNK) continue;
      await this.write(Buffer.concat(headers));
      [headers, pending] = [[], 0];
    }
    if (headers.length) await this.write(Buffer.concat(headers));
    const cdSize = this.offset - cdStart;
    const count = this.entries.length;
    if (count >= MAX16 || cdStart >= MAX32 || cdSize >= MAX32) {
      const zip64End = this.offset;
      const record = Buffer.alloc(56);
      record.writeUInt32LE(0x06064b50, 0);
      record.writeBigUInt64LE(44n, 4);
      record.writeUInt16LE((3 << 8) | 45, 12);
      record.writeUInt16LE(45, 14);
      record.writeBigUInt64LE(BigInt(count), 24);
      record.writeBigUInt64LE(BigInt(count), 32);
      record.writeBigUInt64LE(BigInt(cdSize), 40);
      record.writeBigUInt64LE(BigInt(cdStart), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(0x07064b50, 0);
      locator.writeBigUInt64LE(BigInt(zip64End), 8);
      locator.writeUInt32LE(1, 16);
      await this.write(Buffer.concat([record, locator]));
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(Math.min(count, MAX16), 8);
    end.writeUInt16LE(Math.min(count, MAX16), 10);
    end.writeUInt32LE(Math.min(cdSize, MAX32), 12);
    end.writeUInt32LE(Math.min(cdStart, MAX32), 16);
    await this.write(end);
    // an entry cut short may have left bytes past what is now the end
    if (this.rewound) await this.fh.truncate(this.offset);
    await this.syncing;
    if (this.syncFailure) throw this.syncFailure;
    await this.fh.sync();
    await this.fh.close();
    return this.offset;
  }

  /** Gives up: closes the file (the caller removes it). */
  async abort(): Promise<void> {
    await this.syncing;
    await this.fh.close().catch(() => undefined);
  }

  private begin(name: string, method: 0 | 8, crc32: number, compressedSize: number, size: number): Buffer {
    const entry: Written = {
      name: Buffer.from(name, "utf8"),
      method,
      crc32: crc32 >>> 0,
      compressedSize,
      size,
      offset: this.offset,
    };
    this.entries.push(entry);
    const zip64 = size >= MAX32 || compressedSize >= MAX32;
    const extra = zip64 ? zip64Extra([size, compressedSize]) : Buffer.alloc(0);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(UTF8, 6);
    h.writeUInt16LE(method, 8);
    h.writeUInt16LE(DOS_TIME, 10);
    h.writeUInt16LE(DOS_DATE, 12);
    h.writeUInt32LE(entry.crc32, 14);
    h.writeUInt32LE(zip64 ? MAX32 : compressedSize, 18);
    h.writeUInt32LE(zip64 ? MAX32 : size, 22);
    h.writeUInt16LE(entry.name.length, 26);
    h.writeUInt16LE(extra.length, 28);
    return Buffer.concat([h, entry.name, extra]);
  }

  /**
   * Copies `size` bytes, reading the next chunk while the last one is written; returns their CRC-32. With
   * `scanFrom` (a JPEG's first scan), the copy ends at the image's real end when anything but zero
   * padding follows it (a payload appended to the photo): scan data cannot hold FF D9, so the first one
   * from there is the end. The bytes are searched as they pass: no second read of the file.
   */
  private async copy(
    src: FileHandle,
    name: string,
    file: string,
    size: number,
    scanFrom?: number,
  ): Promise<{ crc: number; size: number }> {
    let buffers = this.buffers;
    let done = 0;
    let crc = 0;
    const start = this.offset;
    let imageEnd = -1;
    let crcAtEnd = 0;
    let lastByte = -1;
    let reading = src.read(buffers[0]!, 0, Math.min(COPY_CHUNK, size), 0);
    while (done < size) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) throw new SourceChangedError(name, file);
      const chunk = buffers[0]!.subarray(0, bytesRead);
      const pos = done;
      if (scanFrom !== undefined) {
        if (imageEnd < 0) {
          const across = lastByte === 0xff && chunk[0] === 0xd9 && pos - 1 >= scanFrom;
          const at = across ? -1 : chunk.indexOf(EOI, Math.max(0, scanFrom - pos));
          if (across || at >= 0) {
            imageEnd = across ? pos + 1 : pos + at + 2;
            // (only needed if the entry is cut there: not for the usual photo, whose EOI is its last bytes)
            if (imageEnd < size) crcAtEnd = crc32(chunk.subarray(0, imageEnd - pos), crc);
          }
        }
        lastByte = chunk[chunk.length - 1]!;
        if (imageEnd >= 0 && chunk.subarray(Math.max(0, imageEnd - pos)).some((b) => b !== 0)) {
          if (imageEnd > pos) await this.write(chunk.subarray(0, imageEnd - pos));
          this.offset = start + imageEnd; // (zero padding written past the end is written over, or cut at finish)
          this.rewound = true;
          return { crc: crcAtEnd >>> 0, size: imageEnd };
        }
      }
      crc = crc32(chunk, crc);
      done += bytesRead;
      buffers = [buffers[1]!, buffers[0]!];
      if (done < size) reading = src.read(buffers[0]!, 0, Math.min(COPY_CHUNK, size - done), done);
      await this.write(chunk);
    }
    return { crc: crc >>> 0, size };
  }

  private gather(...data: Buffer[]): void {
    for (const d of data) {
      if (d.length === 0) continue;
      this.gathered.push(d);
      this.gatheredBytes += d.length;
      this.offset += d.length;
    }
  }

  /** Writes what was gathered and then `data`, in one call when the file takes it all. */
  private async write(...data: Buffer[]): Promise<void> {
    this.signal?.throwIfAborted();
    if (this.syncFailure) throw this.syncFailure;
    this.gather(...data);
    let parts = this.gathered;
    const length = this.gatheredBytes;
    const [ranges, done] = [this.gatheredRanges, this.gatheredDone];
    [this.gathered, this.gatheredBytes, this.gatheredRanges, this.gatheredDone] = [[], 0, [], []];
    let at = this.offset - length;
    while (parts.length) {
      const [first] = parts as [Buffer];
      const { bytesWritten } =
        parts.length === 1 ? await this.fh.write(first, 0, first.length, at) : await this.fh.writev(parts, at);
      at += bytesWritten;
      parts = after(parts, bytesWritten);
    }
    if (ranges.length) this.onSettled?.(at, ranges);
    for (const f of done) f();
    this.unsynced += length;
    if (this.unsynced >= SYNC_EVERY && !this.syncing) {
      // in the background: the disk takes the first part while the rest is being written
      this.unsynced = 0;
      this.syncing = this.fh
        .datasync()
        .catch((err) => {
          this.syncFailure = err;
        })
        .finally(() => {
          this.syncing = undefined;
        });
    }
  }
}

/** What is left of `parts` once their first `n` bytes are written. */
function after(parts: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < parts.length && n >= parts[i]!.length) n -= parts[i++]!.length;
  return i < parts.length ? [parts[i]!.subarray(n), ...parts.slice(i + 1)] : [];
}

function zip64Extra(values: number[]): Buffer {
  const extra = Buffer.alloc(4 + 8 * values.length);
  extra.writeUInt16LE(0x0001, 0);
  extra.writeUInt16LE(8 * values.length, 2);
  for (const [i, v] of values.entries()) extra.writeBigUInt64LE(BigInt(v), 4 + 8 * i);
  return extra;
}

function centralHeader(e: Written): Buffer {
  // ZIP64 extra: only the fields that overflow, in this order (APPNOTE 4.5.3)
  const big = [
    e.size >= MAX32 ? e.size : -1,
    e.compressedSize >= MAX32 ? e.compressedSize : -1,
    e.offset >= MAX32 ? e.offset : -1,
  ];
  const values = big.filter((v) => v >= 0);
  const extra = values.length ? zip64Extra(values) : Buffer.alloc(0);
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE((3 << 8) | (values.length ? 45 : 20), 4); // made by: Unix
  h.writeUInt16LE(values.length ? 45 : 20, 6);
  h.writeUInt16LE(UTF8, 8);
  h.writeUInt16LE(e.method, 10);
  h.writeUInt16LE(DOS_TIME, 12);
  h.writeUInt16LE(DOS_DATE, 14);
  h.writeUInt32LE(e.crc32, 16);
  h.writeUInt32LE(Math.min(e.compressedSize, MAX32), 20);
  h.writeUInt32LE(Math.min(e.size, MAX32), 24);
  h.writeUInt16LE(e.name.length, 28);
  h.writeUInt16LE(extra.length, 30);
  h.writeUInt32LE((FILE_MODE << 16) >>> 0, 38);
  h.writeUInt32LE(Math.min(e.offset, MAX32), 42);
  return Buffer.concat([h, e.name, extra]);
}
