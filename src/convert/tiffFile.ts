// Reading a TIFF or BigTIFF file's directories (tags), for what libvips does not hand out: its EXIF
// directories, and an old-style JPEG TIFF's JPEG stream. From the file's bytes in memory, or from the open
// file itself where it is asked (FileBytes: a 29 MP scan is 40-130 MB that need not be read whole).
import { readSync } from "node:fs";

/** What reading the directories needs of a file's bytes: a Buffer has it all. */
export interface TiffBytes {
  readonly length: number;
  readUInt8(at: number): number;
  readUInt16LE(at: number): number;
  readUInt16BE(at: number): number;
  readUInt32LE(at: number): number;
  readUInt32BE(at: number): number;
  readBigUInt64LE(at: number): bigint;
  readBigUInt64BE(at: number): bigint;
  /** a copy, or a view of the file's bytes in memory */
  subarray(start: number, end: number): Buffer;
  toString(encoding: "latin1", start: number, end: number): string;
}

const PAGE = 64 * 1024;
const PAGES_KEPT = 16;

/**
 * An open file's bytes, read in 64 KB pages where they are asked for (a few pages of a TIFF's directories
 * and values), with a Buffer's RangeError past the end. The file is read by its descriptor: the caller
 * opened it, keeps it open while this is used, and closes it.
 */
export class FileBytes implements TiffBytes {
  private readonly pages = new Map<number, Buffer>();

  constructor(
    private readonly fd: number,
    readonly length: number,
  ) {}

  subarray(start: number, end: number): Buffer {
    const [from, to] = [Math.max(0, start), Math.min(this.length, end)];
    if (to <= from) return Buffer.alloc(0);
    if (Math.floor(from / PAGE) === Math.floor((to - 1) / PAGE)) {
      const at = Math.floor(from / PAGE);
      return Buffer.from(this.page(at).subarray(from - at * PAGE, to - at * PAGE));
    }
    const out = Buffer.allocUnsafe(to - from);
    const read = readSync(this.fd, out, 0, out.length, from);
    if (read !== out.length) throw new RangeError(`the file ends at ${from + read}, not ${to} (it changed)`);
    return out;
  }

  private page(at: number): Buffer {
    let page = this.pages.get(at);
    if (!page) {
      const size = Math.min(PAGE, this.length - at * PAGE);
      page = Buffer.allocUnsafe(size);
      const read = readSync(this.fd, page, 0, size, at * PAGE);
      if (read !== size) throw new RangeError(`the file ends at ${at * PAGE + read}, not ${this.length} (it changed)`);
      if (this.pages.size >= PAGES_KEPT) this.pages.delete(this.pages.keys().next().value!);
      this.pages.set(at, page);
    }
    return page;
  }

  /** `n` bytes at `at`, as a Buffer's own reads would find them (RangeError past the end). */
  private bytes(at: number, n: number): Buffer {
    if (!Number.isInteger(at) || at < 0 || at + n > this.length)
      throw new RangeError(`offset ${at} is out of range (the file has ${this.length} bytes)`);
    return this.subarray(at, at + n);
  }

  readUInt8 = (at: number) => this.bytes(at, 1).readUInt8(0);
  readUInt16LE = (at: number) => this.bytes(at, 2).readUInt16LE(0);
  readUInt16BE = (at: number) => this.bytes(at, 2).readUInt16BE(0);
  readUInt32LE = (at: number) => this.bytes(at, 4).readUInt32LE(0);
  readUInt32BE = (at: number) => this.bytes(at, 4).readUInt32BE(0);
  readBigUInt64LE = (at: number) => this.bytes(at, 8).readBigUInt64LE(0);
  readBigUInt64BE = (at: number) => this.bytes(at, 8).readBigUInt64BE(0);
  toString = (encoding: "latin1", start: number, end: number) => this.subarray(start, end).toString(encoding);
}

export interface TiffEntry {
  tag: number;
  type: number;
  count: number;
  /** the value's bytes, in the file's byte order */
  value: Buffer;
  /** a sub-directory's entries (Exif, GPS) */
  sub?: TiffEntry[];
}

const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 };
const MAX_VALUE = 1 << 20;

/** A reader of the file's directories; throws RangeError when the file is malformed. */
export function tiffReader(file: TiffBytes) {
  const le = file.length > 0 && file.readUInt8(0) === 0x49;
  const u16 = (at: number) => (le ? file.readUInt16LE(at) : file.readUInt16BE(at));
  const u32 = (at: number) => (le ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const u64 = (at: number) => Number(le ? file.readBigUInt64LE(at) : file.readBigUInt64BE(at));
  const big = u16(2) === 43;
  if (big && (u16(4) !== 8 || u16(6) !== 0)) throw new RangeError("BigTIFF header");
  const [countSize, entrySize, offsetSize] = big ? [8, 20, 8] : [2, 12, 4];
  const offset = (at: number) => (big ? u64(at) : u32(at));
  /** a directory's entries that `keep` wants, with the sub-directories `subs` names read too (one level) */
  const ifd = (
    at: number,
    keep: (tag: number) => boolean,
    subs?: { subIfds: Set<number>; skipInSub: Set<number> },
  ): TiffEntry[] => {
    if (at < 8 || at >= file.length) throw new RangeError("IFD offset");
    const n = big ? u64(at) : u16(at);
    if (n > 1000) throw new RangeError("IFD count");
    const entries: TiffEntry[] = [];
    for (let i = 0; i < n; i++) {
      const e = at + countSize + i * entrySize;
      const tag = u16(e);
      const type = u16(e + 2);
      const count = big ? u64(e + 4) : u32(e + 4);
      if (!keep(tag)) continue;
      const size = TYPE_SIZES[type];
      const valueAt = e + 4 + offsetSize;
      if (subs?.subIfds.has(tag)) {
        if (count !== 1 || (type !== 4 && type !== 13 && type !== 16 && type !== 18)) continue;
        const sub = ifd(type === 16 || type === 18 ? u64(valueAt) : u32(valueAt), (t) => !subs.skipInSub.has(t));
        entries.push({ tag, type: 4, count: 1, value: Buffer.alloc(4), sub });
        continue;
      }
      if (!size || count > MAX_VALUE) continue; // (BigTIFF's 8-byte integers are not read)
      const bytes = size * count;
      const from = bytes <= offsetSize ? valueAt : offset(valueAt);
      if (from + bytes > file.length) continue;
      entries.push({ tag, type, count, value: Buffer.from(file.subarray(from, from + bytes)) });
    }
    return entries;
  };
  return { le, big, first: offset(big ? 8 : 4), ifd };
}

/** A number-valued entry's first value (SHORT or LONG), in the file's byte order. */
export function entryNumber(entry: TiffEntry | undefined, le: boolean): number | undefined {
  if (!entry || entry.count < 1) return undefined;
  if (entry.type === 3) return le ? entry.value.readUInt16LE(0) : entry.value.readUInt16BE(0);
  if (entry.type === 4) return le ? entry.value.readUInt32LE(0) : entry.value.readUInt32BE(0);
  return undefined;
}

const COMPRESSION = 259;
const PHOTOMETRIC = 262;
const SUB_IFDS = 330;
const DNG_VERSION = 50706;
const JPEG_INTERCHANGE = 513;
const JPEG_INTERCHANGE_LENGTH = 514;

/**
 * How a TIFF's first page stores its pixels: its compression (1: none, 6: old-style JPEG, TIFF 6.0's JPEG
 * that libtiff decodes only in part, ...) and, for old-style JPEG, the whole JPEG stream it holds
 * (JPEGInterchangeFormat) or "none". Undefined when the file's first directory cannot be read.
 */
export function tiffLayout(
  file: TiffBytes,
): { compression: number | undefined; oldJpeg?: Buffer | "none"; cameraRaw?: true } | undefined {
  try {
    const reader = tiffReader(file);
    const wanted = new Set([COMPRESSION, PHOTOMETRIC, SUB_IFDS, DNG_VERSION, JPEG_INTERCHANGE, JPEG_INTERCHANGE_LENGTH]);
    const entries = reader.ifd(reader.first, (tag) => wanted.has(tag));
    const get = (tag: number) =>
      entryNumber(
        entries.find((e) => e.tag === tag),
        reader.le,
      );
    const compression = get(COMPRESSION);
    // A camera raw (DNG; Sony ARW, Nikon NEF, Canon CR2 and other TIFF-based raws): its first page is only
    // a preview, the photo is sensor data (colour filter array) in a sub-directory or a later page.
    const photometric = get(PHOTOMETRIC);
    const raw =
      entries.some((e) => e.tag === DNG_VERSION || e.tag === SUB_IFDS) ||
      photometric === 32803 ||
      photometric === 34892 ||
      file.toString("latin1", 8, 10) === "CR";
    if (raw) return { compression, cameraRaw: true };
    if (compression !== 6) return { compression };
    const [at, length] = [get(JPEG_INTERCHANGE), get(JPEG_INTERCHANGE_LENGTH)];
    const jpeg = at && length && at + length <= file.length ? file.subarray(at, at + length) : undefined;
    return { compression, oldJpeg: jpeg && jpeg[0] === 0xff && jpeg[1] === 0xd8 ? jpeg : "none" };
  } catch {
    return undefined;
  }
}
