// Every JPEG and PNG decoded once, small: damaged pixel data refuses the photo, and what was decoded is
// kept as its thumbnail for the review page.
import { readFile } from "node:fs/promises";
import sharp from "sharp";
import { type Problem, problem } from "../core/errors.js";

/** The thumbnail's longest edge, in pixels: sharp on a review page at 2x, small as a data URI (~10 KB). */
export const THUMB_EDGE = 256;

const THUMB_QUALITY = 60;

export interface Thumbnail {
  /** a small sRGB JPEG, turned upright as a viewer shows it (EXIF orientation applied) */
  jpeg: Buffer;
  /** the photo's own size in pixels, as stored (before the orientation is applied) */
  width: number;
  height: number;
  /** EXIF orientation 1-8, when the photo has one */
  orientation?: number;
}

export type PixelVerdict = { thumb: Thumbnail; warnings: Problem[] } | { problem: Problem };

/**
 * Decodes the photo at thumbnail size (a JPEG through libjpeg's DCT scaling, so an eighth of its pixels;
 * a PNG in full) and fails at the decoder's first warning: any is damaged data. libvips' warnings go to
 * a queue and an error buffer that every decode in the process shares, so which photo a message is about
 * cannot be told; the few harmless header quirks libjpeg warns about are therefore mended in a copy first
 * (decoderReadyJpeg), and the photo is packed as it is with a warning.
 */
export async function checkPixels(source: string, input: Buffer | { file: string; head: Buffer }): Promise<PixelVerdict> {
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
  try {
    return { thumb: await thumbnail(bytes, "warning"), warnings };
  } catch {
    return { problem: damaged(source) };
  }
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
export function thumbnailOf(input: string | Buffer): Promise<Thumbnail> {
  return thumbnail(input, "none");
}

/** An image's size and orientation from its header (a converted photo when no thumbnail is wanted). */
export async function shapeOf(input: string | Buffer): Promise<Omit<Thumbnail, "jpeg">> {
  const meta = await sharp(input, { limitInputPixels: false }).metadata();
  return { width: meta.width, height: meta.height, ...(meta.orientation === undefined ? {} : { orientation: meta.orientation }) };
}

async function thumbnail(input: string | Buffer, failOn: "warning" | "none"): Promise<Thumbnail> {
  const image = sharp(input, { failOn, limitInputPixels: false, sequentialRead: true });
  const meta = await image.metadata();
  const jpeg = await image
    .rotate()
    .resize({ width: THUMB_EDGE, height: THUMB_EDGE, fit: "inside", withoutEnlargement: true })
    .jpeg({ quality: THUMB_QUALITY })
    .toBuffer();
  return {
    jpeg,
    width: meta.width,
    height: meta.height,
    ...(meta.orientation === undefined ? {} : { orientation: meta.orientation }),
  };
}

function damaged(source: string): Problem {
  // (the decoder's own words may be another photo's: libvips' error buffer is shared by every decode)
  return problem(
    "E_IMAGE_DAMAGED",
    `${source}: its picture data is damaged (the decoder stopped on corrupt data); part of the photo would show grey or smeared`,
    "replace it with an intact copy of the photo (from the phone or camera), or remove it from the work order",
    source,
  );
}
