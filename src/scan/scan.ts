import type { Stats } from "node:fs";
import { lstat, open, opendir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { exifTiffOfItem, heifExifPlace, tiffBlock } from "../convert/exif.js";
import { nativeBinding } from "../convert/heicDecoder.js";
import { loadExifr, loadSharp } from "../convert/onFirstUse.js";
import { SNIFF_BYTES, sniffImageType } from "../convert/sniff.js";
import { tiffExifSource } from "../convert/sourceExif.js";
import { ioError, isGone } from "../core/errors.js";
import { parseJsonText, readRegularFile } from "../core/text.js";
import { isIgnoredName } from "../spec/ignore.js";
import { type ImageType, pngDimensions } from "../spec/images.js";

export type EntryKind =
  | "file"
  /** a symlink whose target lies outside the staging folder: never followed */
  | "symlink-outside"
  /** a symlink to a folder: never followed (it would pack the same photos twice or loop) */
  | "symlink-dir"
  /** a FIFO, socket or device */
  | "special"
  /** a folder that cannot be listed (no permission); its rel ends in "/" */
  | "unreadable-dir";

export interface ScannedEntry {
  /** Path relative to the staging folder, with "/" separators. */
  rel: string;
  /** Absolute path to read. */
  abs: string;
  kind: EntryKind;
  size: number;
  mtimeMs: number;
  /**
   * When the inode last changed, by the kernel's clock (utimes cannot set it). A camera or SD card with a
   * wrong clock gives files a modification time in the future; this is when they really arrived.
   */
  ctimeMs?: number;
  /** for "unreadable-dir": why it cannot be listed */
  error?: string;
}

export interface StagingScan {
  root: string;
  /** Top-level folders (candidate work orders), with their own mtime. */
  folders: { rel: string; mtimeMs: number; ctimeMs?: number }[];
  entries: ScannedEntry[];
}

/** What the planner needs to know of a file's content, read cheaply (head bytes, EXIF, small JSON). */
export interface FileFacts {
  type: ImageType | null;
  /** EXIF DateTimeOriginal as written ("2024:03:04 05:06:07"), when the file has one. */
  captureDate?: string;
  /** a PNG's width and height, from its header */
  pixels?: { width: number; height: number };
  /** For *.json: the parsed value, or the parse error. */
  json?: { value: unknown } | { error: string };
  /** The file could not be read at all. */
  readError?: string;
  /** It vanished between listing and reading (moved or renamed meanwhile): watch waits, pack refuses (plan.ts). */
  vanished?: true;
}

/** How many of a folder's entries are stat'ed ahead of the one being looked at. */
const STATS_AHEAD = 32;

/**
 * Lists the staging folder. Hidden and junk folders are not descended into; the planner decides the rest.
 * `onEntry` is told of each entry as it is listed (pack reads files' facts meanwhile).
 */
export async function scanStaging(root: string, onEntry?: (entry: ScannedEntry) => void): Promise<StagingScan> {
  const absRoot = path.resolve(root);
  let realRoot: string;
  try {
    realRoot = await realpath(absRoot);
    if (!(await stat(realRoot)).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
  } catch (err) {
    throw ioError(err, `cannot read the staging folder ${absRoot}`);
  }
  const scan: StagingScan = { root: absRoot, folders: [], entries: [] };

  /**
   * A busy hot folder changes while it is listed: an entry that vanished between listing and lstat is
   * skipped (the next scan sees what replaced it), and a folder that cannot be listed becomes an entry of
   * its own, so that it refuses its work order instead of the whole run.
   */
  async function walk(dirAbs: string, dirRel: string, depth: number): Promise<void> {
    const names: string[] = [];
    try {
      const dir = await opendir(dirAbs);
      for await (const d of dir) names.push(d.name);
    } catch (err) {
      if (depth === 0) throw err;
      if (isGone(err)) return;
      scan.entries.push({ rel: `${dirRel}/`, abs: dirAbs, kind: "unreadable-dir", size: 0, mtimeMs: 0, error: errorText(err) });
      return;
    }
    names.sort();
    // (a folder's entries are stat'ed many at once, in order: one at a time, a hot folder of small photos
    // waited on each round trip in turn)
    const stats: Promise<Stats | undefined>[] = [];
    const statAhead = (i: number) => {
      const abs = path.join(dirAbs, names[i]!);
      stats[i] = lstat(abs).catch((err) => {
        if (isGone(err)) return undefined;
        throw err;
      });
      stats[i]!.catch(() => undefined); // awaited in order below
    };
    for (let i = 0; i < Math.min(names.length, STATS_AHEAD); i++) statAhead(i);
    for (let i = 0; i < names.length; i++) {
      if (i + STATS_AHEAD < names.length) statAhead(i + STATS_AHEAD);
      const name = names[i]!;
      const abs = path.join(dirAbs, name);
      const rel = dirRel ? `${dirRel}/${name}` : name;
      const st = await stats[i];
      delete stats[i];
      if (!st) continue;
      if (st.isDirectory()) {
        if (isIgnoredName(name)) continue;
        if (depth === 0) scan.folders.push({ rel, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
        await walk(abs, rel, depth + 1);
      } else {
        const entry = st.isSymbolicLink()
          ? await describeLink(abs, rel, realRoot)
          : {
              rel,
              abs,
              kind: st.isFile() ? ("file" as const) : ("special" as const),
              size: st.size,
              mtimeMs: st.mtimeMs,
              ctimeMs: st.ctimeMs,
            };
        scan.entries.push(entry);
        onEntry?.(entry);
      }
    }
  }

  try {
    await walk(absRoot, "", 0);
  } catch (err) {
    throw ioError(err, `cannot list the staging folder ${absRoot}`);
  }
  return scan;
}

async function describeLink(abs: string, rel: string, realRoot: string): Promise<ScannedEntry> {
  let target: string;
  try {
    target = await realpath(abs);
  } catch {
    return { rel, abs, kind: "symlink-outside", size: 0, mtimeMs: 0 };
  }
  if (target !== realRoot && !target.startsWith(realRoot + path.sep)) {
    return { rel, abs, kind: "symlink-outside", size: 0, mtimeMs: 0 };
  }
  const st = await stat(target).catch(() => undefined);
  if (!st) return { rel, abs, kind: "symlink-outside", size: 0, mtimeMs: 0 };
  if (st.isDirectory()) return { rel, abs, kind: "symlink-dir", size: 0, mtimeMs: st.mtimeMs };
  const kind = st.isFile() ? "file" : "special";
  return { rel, abs: target, kind, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

const MAX_JSON_BYTES = 1_000_000;

/** Reads what the planner needs of one file: magic bytes, capture date, or a small JSON document. */
export async function readFileFacts(entry: ScannedEntry): Promise<FileFacts> {
  try {
    if (entry.rel.toLowerCase().endsWith(".json")) {
      if (entry.size > MAX_JSON_BYTES) return { type: null, json: { error: `larger than ${MAX_JSON_BYTES} bytes` } };
      return { type: null, json: parseJsonText(await readRegularFile(entry.abs)) };
    }
    const buffer = spareHeads.pop() ?? Buffer.allocUnsafe(HEAD_BYTES);
    try {
      const head = await readHead(entry.abs, buffer);
      const type = sniffImageType(head.bytes.subarray(0, SNIFF_BYTES));
      const captureDate = type ? await readCaptureDate(entry.abs, type, head) : undefined;
      const pixels = type === "png" ? pngDimensions(head.bytes) : undefined;
      return { type, ...(captureDate ? { captureDate } : {}), ...(pixels ? { pixels } : {}) };
    } finally {
      if (spareHeads.length < SPARE_HEADS) spareHeads.push(buffer);
    }
  } catch (err) {
    return isGone(err) ? { type: null, readError: errorText(err), vanished: true } : { type: null, readError: errorText(err) };
  }
}

/** The bytes exifr's file reader takes first (its first chunk), read once for the type and the capture date. */
const HEAD_BYTES = 256 * 1024;

interface Head {
  bytes: Buffer;
  /** the whole file was read */
  whole: boolean;
}

/**
 * Buffers of HEAD_BYTES given back once a file's facts are read, for the next files (each file read into a
 * buffer of its own made 90 MB of garbage a thousand small photos, there for the GC to find).
 */
const spareHeads: Buffer[] = [];
const SPARE_HEADS = 8;

/**
 * A file's first bytes, into `buffer` (HEAD_BYTES long): all of a small one (one read), the first 256 KB of
 * another, whatever size it was listed with (it may have changed since). Through the native binding when
 * there is one: one job on its thread, where open, read and close on libuv's pool were three hand-overs a
 * file, each costing the main thread more than the read; a file it cannot read is read again here, for
 * the error's code.
 */
async function readHead(file: string, buffer: Buffer): Promise<Head> {
  const got = await nativeBinding()
    ?.readHead?.(file, buffer)
    .catch(() => undefined);
  if (got) return { bytes: buffer.subarray(0, got.bytesRead), whole: got.bytesRead < HEAD_BYTES };
  const fh = await open(file, "r");
  try {
    const { bytesRead } = await fh.read(buffer, 0, HEAD_BYTES, 0);
    // (a file read to its end reads short)
    return { bytes: buffer.subarray(0, bytesRead), whole: bytesRead < HEAD_BYTES };
  } finally {
    await fh.close();
  }
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, "")}` : String((e as Error)?.message ?? e);
}

// One options object for every call: exifr caches its parsed options in a Map keyed by the object, for
// ever, so a fresh literal per photo leaked ~12 KB each (120 MB over 10,000 photos).
// exifr's chunked file reader misses a JPEG's EXIF when other segments (XMP, ICC, comments) come first
// and push it past the first chunk; a first chunk of 256 KB covers real headers.
const CAPTURE_DATE = { pick: ["DateTimeOriginal"], reviveValues: false, firstChunkSize: 256 * 1024 };

/**
 * exifr reads JPEG, AVIF and PNG itself; for WebP, libvips reads the header's EXIF block; for HEIC
 * we find the Exif item ourselves (exifr rejects the layout libheif-based writers use) and hand exifr
 * the TIFF block; for TIFF, its directories' block (exifr would read a scan up to its directory, whole).
 */
async function readCaptureDate(file: string, type: ImageType, head: Head): Promise<string | undefined> {
  try {
    if (type !== "webp" && type !== "heic" && type !== "tiff") {
      // (exifr reads the file's first 256 KB first: those bytes are in hand. A date found in them is the one
      // it finds in the file, which starts with them; only a large file whose head has none is read again)
      const inHead = await captureDateOf(head.bytes);
      return inHead !== undefined || head.whole ? inHead : await captureDateOf(file);
    }
    const source =
      type === "webp"
        ? tiffBlock((await (await loadSharp())(file).metadata()).exif)
        : type === "heic"
          ? ((await readHeifExif(file, head.bytes)) ?? file)
          : await tiffExifSource(file);
    return source ? await captureDateOf(source) : undefined;
  } catch {
    return undefined;
  }
}

async function captureDateOf(source: string | Buffer): Promise<string | undefined> {
  try {
    const tags = await (await loadExifr()).parse(source, CAPTURE_DATE);
    const value: unknown = tags?.DateTimeOriginal;
    return typeof value === "string" ? plausibleExifDate(value) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An EXIF date ("2024:03:04 05:06:07") that names a real moment, or undefined: cameras without a clock
 * write "0000:00:00 00:00:00" (or blanks), which is no date at all.
 */
export function plausibleExifDate(value: string): string | undefined {
  const m = /^(\d{4}):(\d\d):(\d\d) (\d\d):(\d\d):(\d\d)/.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, sec] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const valid = y >= 1900 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 60;
  return valid ? m[0] : undefined;
}

/**
 * The EXIF TIFF block of a HEIF file, read from its meta box (in the file's first 256 KB, `head`) and the
 * one extent that holds the item.
 */
async function readHeifExif(file: string, head: Buffer): Promise<Buffer | undefined> {
  const place = heifExifPlace(head);
  if (!place) return undefined;
  if ("data" in place) return exifTiffOfItem(place.data);
  if (place.length > 1 << 20) return undefined;
  const fh = await open(file, "r");
  try {
    const payload = Buffer.alloc(place.length);
    const got = await fh.read(payload, 0, place.length, place.offset);
    return exifTiffOfItem(payload.subarray(0, got.bytesRead));
  } finally {
    await fh.close();
  }
}
