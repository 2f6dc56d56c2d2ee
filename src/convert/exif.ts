// A photo's EXIF block carried into the JPEG it is converted to: read from a HEIF container ourselves
// (libheif-based writers lay it out in ways exifr rejects), orientation reset, location removed on request.
import { findBox, readBox } from "./heifProfile.js";

/** Where the Exif item of a HEIF file lies: in the file (offset, length), or inside the meta box (idat). */
export type HeifExifPlace = { offset: number; length: number } | { data: Buffer };

/**
 * Finds the Exif item of a HEIF/HEIC file from a buffer that holds its meta box (the file's head): the
 * item of type "Exif" (iinf), located by iloc (construction method 0: the file; 1: the meta box's idat).
 */
export function heifExifPlace(head: Buffer): HeifExifPlace | undefined {
  const meta = findBox(head, 0, head.length, "meta");
  if (!meta) return undefined;
  const inMeta = (type: string) => findBox(head, meta.body + 4, meta.end, type);
  const iinf = inMeta("iinf");
  const iloc = inMeta("iloc");
  if (!iinf || !iloc) return undefined;
  const id = exifItemId(head, iinf.body, iinf.end);
  if (id === undefined) return undefined;
  const idat = inMeta("idat");
  return locate(head, iloc.body, iloc.end, id, idat?.body);
}

function exifItemId(buf: Buffer, body: number, end: number): number | undefined {
  const version = buf[body]!;
  let at = body + 4 + (version === 0 ? 2 : 4);
  while (at + 8 <= end) {
    const infe = readBox(buf, at, end);
    if (!infe) return undefined;
    if (infe.type === "infe" && infe.end - infe.body >= 12) {
      const v = buf[infe.body]!;
      if (v >= 2) {
        const idSize = v === 2 ? 2 : 4;
        const id = idSize === 2 ? buf.readUInt16BE(infe.body + 4) : buf.readUInt32BE(infe.body + 4);
        const typeAt = infe.body + 4 + idSize + 2;
        if (typeAt + 4 <= infe.end && buf.toString("latin1", typeAt, typeAt + 4) === "Exif") return id;
      }
    }
    at = infe.end;
  }
  return undefined;
}

function locate(buf: Buffer, body: number, end: number, wanted: number, idatBody: number | undefined): HeifExifPlace | undefined {
  const version = buf[body]!;
  let at = body + 4;
  const uint = (size: number): number => {
    if (at + size > end) throw new RangeError("iloc");
    const v =
      size === 0 ? 0 : size === 2 ? buf.readUInt16BE(at) : size === 4 ? buf.readUInt32BE(at) : Number(buf.readBigUInt64BE(at));
    at += size;
    return v;
  };
  try {
    const sizes = uint(2);
    const [offsetSize, lengthSize, baseSize] = [sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15];
    const indexSize = version === 1 || version === 2 ? sizes & 15 : 0;
    const count = uint(version < 2 ? 2 : 4);
    for (let i = 0; i < count; i++) {
      const id = uint(version < 2 ? 2 : 4);
      const method = version === 1 || version === 2 ? uint(2) & 15 : 0;
      uint(2); // data reference index
      const base = uint(baseSize);
      const extents = uint(2);
      const parts: { offset: number; length: number }[] = [];
      for (let e = 0; e < extents; e++) {
        uint(indexSize);
        parts.push({ offset: base + uint(offsetSize), length: uint(lengthSize) });
      }
      if (id !== wanted) continue;
      // (an Exif item is one extent in practice; several would need joining, and none we know of does that)
      const [part] = parts;
      if (!part || parts.length !== 1) return undefined;
      if (method === 0) return part;
      if (method === 1 && idatBody !== undefined)
        return { data: buf.subarray(idatBody + part.offset, idatBody + part.offset + part.length) };
      return undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** The TIFF block (from its "II*\0"/"MM\0*" header) in an Exif item's payload: offset field, then data. */
export function exifTiffOfItem(payload: Buffer): Buffer | undefined {
  if (payload.length < 12) return undefined;
  const start = 4 + payload.readUInt32BE(0);
  const tiff = payload.subarray(start);
  return isTiff(tiff) ? tiff : undefined;
}

/** A TIFF block from a HEIF file held whole. */
export function heifExif(file: Buffer): Buffer | undefined {
  const place = heifExifPlace(file);
  if (!place) return undefined;
  const payload = "data" in place ? place.data : file.subarray(place.offset, place.offset + place.length);
  return exifTiffOfItem(payload);
}

function isTiff(b: Buffer): boolean {
  return b.length >= 8 && (b.toString("latin1", 0, 4) === "II*\0" || b.toString("latin1", 0, 4) === "MM\0*");
}

const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4 };
const ORIENTATION = 0x0112;
const GPS_IFD = 0x8825;

/**
 * A copy of an EXIF TIFF block fit for a converted photo: Orientation set to 1 (the pixels are turned
 * already), and with `stripGps` the GPS directory zeroed out and unlinked (its bytes are not left behind).
 * Undefined when the block is malformed: then it is not carried at all.
 */
export function sanitizeExif(source: Buffer, options: { stripGps: boolean }): Buffer | undefined {
  if (!isTiff(source)) return undefined;
  const tiff = Buffer.from(source);
  const le = tiff[0] === 0x49;
  const u16 = (at: number) => (le ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const u32 = (at: number) => (le ? tiff.readUInt32LE(at) : tiff.readUInt32BE(at));
  const set16 = (at: number, v: number) => (le ? tiff.writeUInt16LE(v, at) : tiff.writeUInt16BE(v, at));
  const inside = (at: number, length: number) => at >= 8 && at + length <= tiff.length;
  const ifd0 = u32(4);
  if (!inside(ifd0, 2)) return undefined;
  const count = u16(ifd0);
  if (!inside(ifd0 + 2, count * 12 + 4)) return undefined;
  let gpsEntry: number | undefined;
  for (let i = 0; i < count; i++) {
    const entry = ifd0 + 2 + i * 12;
    const tag = u16(entry);
    if (tag === ORIENTATION && u16(entry + 2) === 3) set16(entry + 8, 1);
    if (tag === GPS_IFD) gpsEntry = entry;
  }
  if (options.stripGps && gpsEntry !== undefined) {
    const gps = u32(gpsEntry + 8);
    if (inside(gps, 2)) {
      const n = u16(gps);
      if (!inside(gps + 2, n * 12 + 4)) return undefined;
      for (let i = 0; i < n; i++) {
        const entry = gps + 2 + i * 12;
        const bytes = (TYPE_SIZES[u16(entry + 2)] ?? 1) * u32(entry + 4);
        if (bytes > 4 && inside(u32(entry + 8), bytes)) tiff.fill(0, u32(entry + 8), u32(entry + 8) + bytes);
      }
      tiff.fill(0, gps, gps + 2 + n * 12 + 4);
    }
    // unlink it: the entries after it move up one place, the count drops, the next-IFD offset follows
    const end = ifd0 + 2 + count * 12 + 4;
    tiff.copy(tiff, gpsEntry, gpsEntry + 12, end);
    tiff.fill(0, end - 12, end);
    set16(ifd0, count - 1);
  }
  return tiff;
}

/** The JPEG with an APP1 Exif segment holding `tiff`, after SOI (and JFIF's APP0); unchanged if it cannot fit. */
export function withExifSegment(jpeg: Buffer, tiff: Buffer): Buffer {
  const length = 2 + 6 + tiff.length;
  if (length > 0xffff || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return jpeg;
  let at = 2;
  if (jpeg[2] === 0xff && jpeg[3] === 0xe0) at = 4 + jpeg.readUInt16BE(4);
  const header = Buffer.alloc(10);
  header.writeUInt16BE(0xffe1, 0);
  header.writeUInt16BE(length, 2);
  header.write("Exif\0\0", 4, "latin1");
  return Buffer.concat([jpeg.subarray(0, at), header, tiff, jpeg.subarray(at)]);
}

/** libvips hands out EXIF with or without the "Exif\0\0" header of a JPEG APP1 segment; this is without. */
export function tiffBlock(exif: Buffer | undefined): Buffer | undefined {
  return exif?.subarray(0, 6).toString("latin1") === "Exif\0\0" ? exif.subarray(6) : exif;
}

/**
 * A TIFF block holding only DateTimeOriginal ("2024:03:04 05:06:07"), for a converted photo whose own EXIF
 * cannot be carried: IFD0 points to an Exif IFD with the one tag.
 */
export function dateOnlyExif(date: string): Buffer {
  const tiff = Buffer.alloc(8 + 18 + 18 + 20);
  tiff.write("II*\0", 0, "latin1");
  tiff.writeUInt32LE(8, 4);
  const entry = (at: number, tag: number, type: number, count: number, value: number) => {
    tiff.writeUInt16LE(1, at); // one entry, then no next IFD
    tiff.writeUInt16LE(tag, at + 2);
    tiff.writeUInt16LE(type, at + 4);
    tiff.writeUInt32LE(count, at + 6);
    tiff.writeUInt32LE(value, at + 10);
  };
  entry(8, 0x8769, 4, 1, 26); // ExifIFD
  entry(26, 0x9003, 2, 20, 44); // DateTimeOriginal, ASCII with its NUL
  tiff.write(date.slice(0, 19), 44, "latin1");
  return tiff;
}
