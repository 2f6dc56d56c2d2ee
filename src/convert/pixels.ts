// Every JPEG and PNG decoded once, small: damaged pixel data refuses the photo, and what was decoded is
// kept as its thumbnail for the review page.
import { readFile } from "node:fs/promises";
import { type Problem, problem } from "../core/errors.js";
import { nativeBinding } from "./heicDecoder.js";
import type { NativeThumbnail, PictureNumbers } from "./heicTypes.js";
import { damagedData } from "./imageProblems.js";
import { loadSharp } from "./onFirstUse.js";

/** The thumbnail's longest edge, in pixels: sharp on a review page at 2x, small as a data URI (~10 KB). */
export const THUMB_EDGE = 256;

const THUMB_QUALITY = 60;

/** Above this, a JPEG is left to libvips (the native decoder would hold 1/64 of it, ~50 MB, at once). */
const NATIVE_MAX_PIXELS = 1e9;

export interface Thumbnail {
  /** a small JPEG, turned upright as a viewer shows it (EXIF orientation applied): sRGB, or (the native
   * decoder's) carrying the photo's wide-gamut ICC profile */
  jpeg: Buffer;
  /** the photo's own size in pixels, as stored (before the orientation is applied) */
  width: number;
  height: number;
  /** EXIF orientation 1-8, when the photo has one */
  orientation?: number;
  /** the thumbnail's upright picture in greyscale (BT.601 luma of its RGB), what the photo checks measure:
   * given when a picture was asked for and the measures did not come with the decode (libvips) */
  gray?: GrayRaster;
  /** the photo checks' measures of that picture, taken by the native decoder on its thread, when asked for */
  measures?: PictureNumbers;
}

export type { PictureNumbers };

/**
 * What a decode gives besides the thumbnail for the photo checks: the greyscale picture, or its measures
 * (native/measures.c, on the decoder's thread: only the numbers come back; libvips' decode gives the
 * picture instead, measured in JavaScript by checks/measures.ts). Nothing when the checks are off.
 */
export type PictureWanted = "gray" | "measures" | undefined;

const PICTURE_CODE = { gray: 1, measures: 2 } as const;

/** An upright greyscale picture, one byte a pixel, row by row. */
export interface GrayRaster {
  data: Uint8Array;
  width: number;
  height: number;
}

export type PixelVerdict = { thumb: Thumbnail; warnings: Problem[] } | { problem: Problem };

/**
 * Decodes the photo at thumbnail size (a JPEG through libjpeg's DCT scaling; a PNG in full) and fails at
 * the decoder's first warning: any is damaged data. The few harmless header quirks libjpeg warns about
 * are mended in a copy first (decoderReadyJpeg), and the photo is packed as it is with a warning.
 * A JPEG goes to the native binding's libjpeg-turbo when it was built (one decode on its own threads, its
 * warnings this photo's own: the problem quotes them); else, and for PNG, to libvips, whose warnings go to
 * an error buffer every decode in the process shares, so the problem cannot say what the decoder said.
 * `WOPACK_PIXEL_DECODER=sharp` forces libvips for JPEG too (tests, diagnosis).
 */
export async function checkPixels(
  source: string,
  input: Buffer | { file: string; head: Buffer },
  picture?: PictureWanted,
): Promise<PixelVerdict> {
  const { bytes, head, warnings } = await mended(source, input);
  try {
    const binding = isJpeg(head) ? jpegDecoder() : undefined;
    // (a path: the binding reads the file on its own thread)
    const decoded = binding && (await nativeThumbnail(binding, bytes, picture));
    if (decoded && "thumb" in decoded && !decoded.said.length) return { thumb: decoded.thumb, warnings };
    if (decoded) return { problem: damaged(source, decoded.said) };
    return { thumb: await thumbnail(bytes, "warning", picture), warnings };
  } catch {
    return { problem: damaged(source) };
  }
}

/**
 * checkPixels for a JPEG the native binding decodes cleanly, within `maxPixels`: its thumbnail (whose width,
 * height and orientation are read from the header by libjpeg) and the header-quirk warnings. Undefined in
 * every other case (no binding, damaged, CMYK, not 8-bit, above `maxPixels`), which the caller judges the
 * usual way (checkAsIs, then checkPixels): nothing is decoded by libvips here.
 */
export async function cleanNativeDecode(
  source: string,
  input: Buffer | { file: string; head: Buffer },
  maxPixels: number,
  picture?: PictureWanted,
  /** the decode readDecoding() made of these bytes, when `input` is what it read */
  already?: DecodedRead["decoded"],
): Promise<{ thumb: Thumbnail; warnings: Problem[] } | undefined> {
  const head = Buffer.isBuffer(input) ? input : input.head;
  const binding = isJpeg(head) ? jpegDecoder() : undefined;
  if (!binding) return undefined;
  const { bytes, warnings } = await mended(source, input);
  // (a JPEG mended is decoded again, from the mended copy)
  const decoded =
    already && bytes === input
      ? already.result
      : await nativeThumbnail(binding, bytes, picture, Math.min(maxPixels, NATIVE_MAX_PIXELS)).catch(() => undefined);
  return decoded && "thumb" in decoded && !decoded.said.length ? { thumb: decoded.thumb, warnings } : undefined;
}

/** What readDecoding() read of a file, and its decode when it read the whole of a JPEG. */
export interface DecodedRead {
  size: number;
  mtimeMs: number;
  bytesRead: number;
  decoded?: { result: NativeDecoded };
}

/**
 * A file read whole into `into` (when it fits, see bytesRead) and, as a JPEG, decoded small as
 * cleanNativeDecode(…, maxPixels, picture) decodes it, in one call into the binding: one job on its thread
 * instead of open, stat, read and close on libuv's pool, then the decode. Undefined when the binding has
 * no such call (built before it) or is not to decode JPEGs (WOPACK_PIXEL_DECODER=sharp).
 */
export function readDecoding(
  maxPixels: number,
  picture: PictureWanted,
): ((file: string, into: Buffer) => Promise<DecodedRead>) | undefined {
  const read = jpegDecoder()?.readThumbnail;
  if (!read) return undefined;
  const max = Math.min(maxPixels, NATIVE_MAX_PIXELS);
  const code = picture ? PICTURE_CODE[picture] : 0;
  return async (file, into) => {
    const got = await read(file, into, THUMB_EDGE, THUMB_QUALITY, max, code);
    const { size, mtimeMs, bytesRead } = got;
    if (!got.thumbnail && !got.error) return { size, mtimeMs, bytesRead };
    let result: NativeDecoded;
    try {
      result = got.thumbnail ? decodedFrom(got.thumbnail, picture) : failedDecode(got.error);
    } catch {
      result = undefined;
    }
    return { size, mtimeMs, bytesRead, decoded: { result } };
  };
}

/** The bytes a decoder is given (a JPEG's benign header quirks mended in a copy), and the warning that says so. */
async function mended(
  source: string,
  input: Buffer | { file: string; head: Buffer },
): Promise<{ bytes: string | Buffer; head: Buffer; warnings: Problem[] }> {
  let bytes: string | Buffer = Buffer.isBuffer(input) ? input : input.file;
  const head = Buffer.isBuffer(input) ? input : input.head;
  const warnings: Problem[] = [];
  if (isJpeg(head) && decoderReadyJpeg(head).notes.length) {
    const whole = Buffer.isBuffer(bytes) ? bytes : await readFile(bytes);
    const ready = decoderReadyJpeg(whole);
    bytes = ready.jpeg;
    warnings.push(
      problem(
        "W_IMAGE_HEADER_QUIRK",
        `${source}: ${ready.notes.join("; ")}; decoders pass over this, and the photo was packed as it is`,
        "nothing to do unless the photo looks wrong on the review page",
        source,
      ),
    );
  }
  return { bytes, head, warnings };
}

type Binding = NonNullable<ReturnType<typeof nativeBinding>>;

function jpegDecoder(): Binding | undefined {
  const binding = process.env.WOPACK_PIXEL_DECODER === "sharp" ? undefined : nativeBinding();
  // (a binding built before it had thumbnail(), not rebuilt since: libvips, not every JPEG refused)
  return typeof binding?.thumbnail === "function" ? binding : undefined;
}

/**
 * A JPEG's thumbnail and what libjpeg-turbo said decoding it (nothing: intact), or undefined when the
 * binding leaves it to libvips (CMYK, YCCK, not 8-bit, huge).
 */
async function nativeThumbnail(
  binding: Binding,
  jpeg: Buffer | string,
  picture: PictureWanted,
  maxPixels = NATIVE_MAX_PIXELS,
): Promise<NativeDecoded> {
  try {
    return decodedFrom(
      await binding.thumbnail(jpeg, THUMB_EDGE, THUMB_QUALITY, maxPixels, picture ? PICTURE_CODE[picture] : 0),
      picture,
    );
  } catch (err) {
    return failedDecode(err);
  }
}

type NativeDecoded = { thumb: Thumbnail; said: string[] } | { said: string[] } | undefined;

function decodedFrom(t: NativeThumbnail, picture: PictureWanted): NativeDecoded {
  // (a binding built before it gave the greyscale picture, not rebuilt since: libvips decodes the photo
  // again rather than the photo checks silently not running; `npm ci` rebuilds it. One built before the
  // measures gives the picture, measured in JavaScript)
  if (picture && !t.gray && !t.measures && !t.warnings.length) return undefined;
  return { thumb: thumbnailFrom(t), said: t.warnings };
}

/** thumbnail()'s rejection as what libjpeg said, or undefined (left to libvips); any other error thrown */
function failedDecode(err: unknown): NativeDecoded {
  const { code, message } = err as { code?: string; message?: string };
  if (code === "E_IMAGE_CORRUPT") return { said: [message ?? code] };
  if (code === "E_UNSUPPORTED" || code === "E_IMAGE_TOO_LARGE") return undefined;
  throw err;
}

/** What a decoder that makes the thumbnail as it converts is asked for: undefined under WOPACK_PIXEL_DECODER=sharp. */
export function thumbnailWanted(): { edge: number; quality: number } | undefined {
  return jpegDecoder() ? { edge: THUMB_EDGE, quality: THUMB_QUALITY } : undefined;
}

/** The binding's thumbnail as a Thumbnail. */
export function thumbnailFrom(t: NativeThumbnail): Thumbnail {
  const thumb: Thumbnail = { jpeg: Buffer.from(t.jpeg), width: t.width, height: t.height };
  if (t.measures) thumb.measures = t.measures;
  else if (t.gray) thumb.gray = { data: new Uint8Array(t.gray), width: t.grayWidth!, height: t.grayHeight! };
  return t.orientation ? { ...thumb, orientation: t.orientation } : thumb;
}

/**
 * A JPEG the conversion just encoded, re-written with Huffman tables made for it (native/jpegopt.c), and
 * its thumbnail with the photo checks' measures, made from the coefficients that pass reads anyway: the
 * picture is not decoded again for them. No thumbnail when the binding cannot make it so (a picture under
 * 8 x THUMB_EDGE long, a binding built before, WOPACK_PIXEL_DECODER=sharp): the caller decodes the output.
 */
export async function optimisedJpeg(
  optimise: NonNullable<ReturnType<typeof nativeBinding>>["optimise"] & {},
  jpeg: Buffer,
): Promise<{ jpeg: Buffer; thumb?: Thumbnail }> {
  if (!jpegDecoder()) return { jpeg: Buffer.from(await optimise(jpeg)) };
  const done = await optimise(jpeg, THUMB_EDGE, THUMB_QUALITY, PICTURE_CODE.measures);
  if (done instanceof ArrayBuffer) return { jpeg: Buffer.from(done) };
  return { jpeg: Buffer.from(done.jpeg), ...(done.thumbnail?.measures ? { thumb: thumbnailFrom(done.thumbnail) } : {}) };
}

function isJpeg(bytes: Buffer): boolean {
  return bytes[0] === 0xff && bytes[1] === 0xd8;
}

/** Markers that may start a header segment: not a fill byte, a stuffed zero or a restart marker. */
function startsSegment(b: number | undefined): boolean {
  return b !== undefined && b >= 0xc0 && b !== 0xff && !(b >= 0xd0 && b <= 0xd7);
}

const PROGRESSIVE_SOF = new Set([0xc2, 0xc6, 0xca, 0xce]);

/**
 * A JPEG with the header quirks libjpeg warns about mended, and what was mended: bytes between header
 * segments (dropped), a JFIF version other than 1.x or 2.x (set to 1), and a sequential scan that
 * announces progressive parameters (set to the sequential ones). Unchanged (the same Buffer) when there
 * is none. Only the header up to the first scan is looked at; `jpeg` may be just the file's head.
 */
export function decoderReadyJpeg(jpeg: Buffer): { jpeg: Buffer; notes: string[] } {
  const parts: Buffer[] = [jpeg.subarray(0, 2)];
  const notes: string[] = [];
  let progressive = false;
  let at = 2;
  while (at + 4 <= jpeg.length) {
    if (jpeg[at] !== 0xff || !startsSegment(jpeg[at + 1])) {
      let next = at + 1;
      while (next + 1 < jpeg.length && !(jpeg[next] === 0xff && startsSegment(jpeg[next + 1]))) next++;
      if (jpeg[at] !== 0xff || jpeg[at + 1] !== 0xff)
        notes.push(`${next - at} stray bytes between its header segments (before marker 0x${jpeg[next + 1]?.toString(16)})`);
      at = next;
      continue;
    }
    const marker = jpeg[at + 1]!;
    const end = Math.min(jpeg.length, at + 2 + jpeg.readUInt16BE(at + 2));
    let segment = jpeg.subarray(at, end);
    if (PROGRESSIVE_SOF.has(marker)) progressive = true;
    if (marker === 0xe0 && segment.subarray(4, 9).toString("latin1") === "JFIF\0" && segment.length > 10) {
      const major = segment[9]!;
      if (major !== 1 && major !== 2) {
        segment = Buffer.from(segment);
        segment[9] = 1;
        notes.push(`its JFIF header says version ${major}, which decoders do not know`);
      }
    }
    if (marker === 0xda) {
      const n = segment[4] ?? 0;
      const params = 5 + 2 * n; // Ss, Se, Ah/Al follow the component table
      if (!progressive && segment.length >= params + 3) {
        const [ss, se, a] = [segment[params], segment[params + 1], segment[params + 2]];
        if (ss !== 0 || se !== 63 || a !== 0) {
          segment = Buffer.from(segment);
          segment.set([0, 63, 0], params);
          notes.push("its scan header carries progressive parameters in a sequential JPEG");
        }
      }
      parts.push(segment, jpeg.subarray(end));
      return notes.length ? { jpeg: Buffer.concat(parts), notes } : { jpeg, notes };
    }
    parts.push(segment);
    at = end;
  }
  return notes.length ? { jpeg: Buffer.concat([...parts, jpeg.subarray(at)]), notes } : { jpeg, notes };
}

/** A thumbnail of an image already checked (a converted photo's output): no verdict, just the picture. */
export async function thumbnailOf(input: string | Buffer, picture?: PictureWanted): Promise<Thumbnail> {
  const binding = Buffer.isBuffer(input) && isJpeg(input) ? jpegDecoder() : undefined;
  const decoded = binding && (await nativeThumbnail(binding, input as Buffer, picture).catch(() => undefined));
  return decoded && "thumb" in decoded ? decoded.thumb : thumbnail(input, "none", picture);
}

/** An image's size and orientation from its header (a converted photo when no thumbnail is wanted). */
export async function shapeOf(input: string | Buffer): Promise<Omit<Thumbnail, "jpeg">> {
  const sharp = await loadSharp();
  const meta = await sharp(input, { limitInputPixels: false }).metadata();
  return { width: meta.width, height: meta.height, ...(meta.orientation === undefined ? {} : { orientation: meta.orientation }) };
}

/**
 * libvips' thumbnail: one decode, the small upright picture encoded as JPEG and, when a picture is wanted,
 * given in greyscale alike (the photo checks measure it in JavaScript): then the small picture is made once,
 * raw, and both come from it (two pipelines from the input would decode it twice: a 12 MP PNG, ~0.2 s).
 */
async function thumbnail(input: string | Buffer, failOn: "warning" | "none", picture: PictureWanted): Promise<Thumbnail> {
  const sharp = await loadSharp();
  const image = sharp(input, { failOn, limitInputPixels: false, sequentialRead: true });
  const meta = await image.metadata();
  const small = image.rotate().resize({ width: THUMB_EDGE, height: THUMB_EDGE, fit: "inside", withoutEnlargement: true });
  const shape = {
    width: meta.width,
    height: meta.height,
    ...(meta.orientation === undefined ? {} : { orientation: meta.orientation }),
  };
  if (!picture) return { jpeg: await small.jpeg({ quality: THUMB_QUALITY }).toBuffer(), ...shape };
  const { data, info } = await small.toColourspace("srgb").raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  // (the same JPEG as encoded from the pipeline: jpegsave is handed the same pixels, alpha included)
  const raw = { width: info.width, height: info.height, channels: info.channels };
  const jpeg = await sharp(data, { raw }).jpeg({ quality: THUMB_QUALITY }).toBuffer();
  return { jpeg, ...shape, gray: lumaOf(onWhite(data, info.channels), info.width, info.height, info.channels < 3 ? 1 : 3) };
}

/**
 * A raster with alpha (grey or RGB) composed onto white, without its alpha; one without alpha as it is.
 * (libvips flattens before it resizes: a half-transparent edge can differ by a few grey levels from this)
 */
function onWhite(data: Uint8Array, channels: number): Uint8Array {
  if (channels !== 2 && channels !== 4) return data;
  const colours = channels - 1;
  const out = new Uint8Array((data.length / channels) * colours);
  for (let i = 0, o = 0; i < data.length; i += channels) {
    const a = data[i + colours]!;
    for (let c = 0; c < colours; c++) out[o++] = Math.round((data[i + c]! * a + 255 * (255 - a)) / 255);
  }
  return out;
}

/** The BT.601 luma of an RGB(A) raster, as the native thumbnail computes it (thumbnail.c). */
export function lumaOf(rgb: Uint8Array, width: number, height: number, channels: number): GrayRaster {
  const data = new Uint8Array(width * height);
  if (channels < 3) {
    for (let i = 0; i < data.length; i++) data[i] = rgb[i * channels]!;
  } else {
    for (let i = 0, p = 0; i < data.length; i++, p += channels)
      data[i] = (77 * rgb[p]! + 150 * rgb[p + 1]! + 29 * rgb[p + 2]! + 128) >> 8;
  }
  return { data, width, height };
}

/** `said`: what the decoder said about this photo (libvips' words may be another photo's: not quoted) */
export function damaged(source: string, said?: string[]): Problem {
  const what = said?.length
    ? `libjpeg: ${said[0]}${said.length > 1 ? ` (and ${said.length - 1} more)` : ""}`
    : "the decoder stopped on corrupt data";
  return damagedData(source, what);
}
