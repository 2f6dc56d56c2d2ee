// A source photo's EXIF as one TIFF block, wherever its format keeps it: a TIFF file's own IFD0 and its
// Exif and GPS directories (libvips reads them as fields and hands out no block), a PNG's eXIf chunk or
// ImageMagick's "Raw profile type exif" text chunk, the EXIF that libvips reads from WebP, AVIF, JPEG.
import { open } from "node:fs/promises";
import { inflateSync } from "node:zlib";
import { tiffBlock } from "./exif.js";
import { type TiffEntry as Entry, FileBytes, type TiffBytes, tiffReader } from "./tiffFile.js";

/** The TIFF block of the source's EXIF, when it has one that can be carried into a JPEG. */
export function sourceExif(bytes: Buffer | TiffBytes, exifFromDecoder: Buffer | undefined): Buffer | undefined {
  if (isTiffFile(bytes)) return exifOfTiffFile(bytes);
  const block = tiffBlock(exifFromDecoder);
  if (block || !Buffer.isBuffer(bytes)) return block;
  return bytes.subarray(0, 8).toString("latin1") === "\x89PNG\r\n\x1a\n" ? pngTextExif(bytes) : undefined;
}

function isTiffFile(b: TiffBytes): boolean {
  const magic = b.subarray(0, 4).toString("latin1");
  return magic === "II*\0" || magic === "MM\0*" || magic === "II+\0" || magic === "MM\0+";
}

// IFD0 tags that describe the photo (the rest of a TIFF's IFD0 describes its pixel layout).
const IFD0_KEEP = new Set([
  0x010e, // ImageDescription
  0x010f, // Make
  0x0110, // Model
  0x0112, // Orientation
  0x011a, // XResolution
  0x011b, // YResolution
  0x0128, // ResolutionUnit
  0x0131, // Software
  0x0132, // DateTime
  0x013b, // Artist
  0x8298, // Copyright
]);
const EXIF_IFD = 0x8769;
const GPS_IFD = 0x8825;
const INTEROP_IFD = 0xa005;
const MAKER_NOTE = 0x927c;
/** what fits an APP1 segment: 65535 - its length field (2) - "Exif\0\0" (6) */
const MAX_BLOCK = 65527;

/**
 * A classic-TIFF EXIF block rebuilt from a TIFF or BigTIFF file's first directory: its descriptive tags,
 * and its Exif and GPS directories whole (a maker note dropped if the block would not fit a JPEG).
 * Undefined when the file has none of these or is malformed.
 */
export function exifOfTiffFile(file: TiffBytes): Buffer | undefined {
  try {
    const reader = tiffReader(file);
    const ifd0 = reader.ifd(reader.first, (tag) => IFD0_KEEP.has(tag) || tag === EXIF_IFD || tag === GPS_IFD, {
      subIfds: new Set([EXIF_IFD, GPS_IFD]),
      skipInSub: new Set([INTEROP_IFD]),
    });
    if (!ifd0.some((e) => e.tag !== 0x0112 && e.tag !== 0x011a && e.tag !== 0x011b && e.tag !== 0x0128)) return undefined;
    const block = writeTiff(reader.le, ifd0);
    if (block.length <= MAX_BLOCK) return block;
    const lean = ifd0.map((e) => (e.sub ? { ...e, sub: e.sub.filter((s) => s.tag !== MAKER_NOTE) } : e));
    const smaller = writeTiff(reader.le, lean);
    return smaller.length <= MAX_BLOCK ? smaller : undefined;
  } catch {
    return undefined;
  }
}

const DATE_TIME_ORIGINAL = 0x9003;

/**
 * What exifr should read a TIFF file's EXIF from (the capture date, scan/scan.ts): the block of its
 * directories read where they are, for exifr reads a TIFF from its start up to its directory, which
 * libtiff writes after the pixels (a 29 MP scan: 82 MB read, then dead in memory until V8 collects it).
 * Undefined when the file has no EXIF directory and no date in its first one; the file itself, as
 * before, where the block could say less (a BigTIFF, EXIF too large for a block, a file not read).
 */
export async function tiffExifSource(file: string): Promise<Buffer | string | undefined> {
  const fh = await open(file, "r");
  try {
    const view = new FileBytes(fh.fd, (await fh.stat()).size);
    const reader = tiffReader(view);
    if (reader.big) return file;
    const block = exifOfTiffFile(view);
    if (block) return block;
    return reader.ifd(reader.first, (tag) => tag === EXIF_IFD || tag === DATE_TIME_ORIGINAL).length ? file : undefined;
  } catch {
    return file;
  } finally {
    await fh.close();
  }
}

/** A little classic TIFF holding these directories, IFD0 first, each followed by the values it points to. */
function writeTiff(le: boolean, ifd0: Entry[]): Buffer {
  const chunks: Buffer[] = [];
  let size = 8;
  const u16 = (v: number) => {
    const b = Buffer.alloc(2);
    le ? b.writeUInt16LE(v) : b.writeUInt16BE(v);
    return b;
  };
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    le ? b.writeUInt32LE(v) : b.writeUInt32BE(v);
    return b;
  };
  const push = (b: Buffer) => {
    chunks.push(b);
    size += b.length;
  };
  const header = Buffer.from(le ? "II*\0\x08\0\0\0" : "MM\0*\0\0\0\x08", "latin1");
  const writeIfd = (entries: Entry[]): void => {
    const sorted = [...entries].sort((a, b) => a.tag - b.tag);
    const table = Buffer.alloc(2 + sorted.length * 12 + 4);
    u16(sorted.length).copy(table, 0);
    push(table);
    const subs: { slot: number; sub: Entry[] }[] = [];
    sorted.forEach((e, i) => {
      const at = 2 + i * 12;
      u16(e.tag).copy(table, at);
      u16(e.type).copy(table, at + 2);
      u32(e.count).copy(table, at + 4);
      if (e.sub) subs.push({ slot: at + 8, sub: e.sub });
      else if (e.value.length <= 4) e.value.copy(table, at + 8);
      else {
        u32(size).copy(table, at + 8);
        push(e.value);
        if (e.value.length & 1) push(Buffer.alloc(1));
      }
    });
    for (const { slot, sub } of subs) {
      u32(size).copy(table, slot);
      writeIfd(sub);
    }
  };
  writeIfd(ifd0);
  return Buffer.concat([header, ...chunks]);
}

/**
 * The EXIF of a PNG's text chunk as ImageMagick and exiftool's older versions write it: keyword "Raw
 * profile type exif" (or "APP1"), a tEXt, zTXt or iTXt whose text is "\n<name>\n<length>\n<hex>".
 */
export function pngTextExif(png: Buffer): Buffer | undefined {
  let at = 8;
  while (at + 12 <= png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const body = png.subarray(at + 8, Math.min(png.length, at + 8 + length));
    if (type === "IEND") return undefined;
    if (type === "tEXt" || type === "zTXt" || type === "iTXt") {
      const text = rawProfileText(type, body);
      if (text !== undefined) {
        const hex = text.split("\n").slice(3).join("").replace(/\s+/g, "");
        const data = Buffer.from(hex, "hex");
        const tiff = data.subarray(0, 6).toString("latin1") === "Exif\0\0" ? data.subarray(6) : data;
        const magic = tiff.subarray(0, 4).toString("latin1");
        if (magic === "II*\0" || magic === "MM\0*") return tiff;
      }
    }
    at += 12 + length;
  }
  return undefined;
}

function rawProfileText(type: string, body: Buffer): string | undefined {
  const nul = body.indexOf(0);
  if (nul < 0) return undefined;
  const keyword = body.toString("latin1", 0, nul);
  if (keyword !== "Raw profile type exif" && keyword !== "Raw profile type APP1") return undefined;
  try {
    if (type === "tEXt") return body.toString("latin1", nul + 1);
    if (type === "zTXt") return inflateSync(body.subarray(nul + 2)).toString("latin1");
    // iTXt: keyword NUL, compression flag, method, language NUL, translated keyword NUL, text
    const compressed = body[nul + 1] === 1;
    let rest = body.subarray(nul + 3);
    rest = rest.subarray(rest.indexOf(0) + 1);
    rest = rest.subarray(rest.indexOf(0) + 1);
    return (compressed ? inflateSync(rest) : rest).toString("latin1");
  } catch {
    return undefined;
  }
}
