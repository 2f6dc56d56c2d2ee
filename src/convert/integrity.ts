// The checks a JPEG or PNG passes to be packed as is (SPEC §7): its end marker, a readable header, the
// pixel limit, and whether it must take the full path (re-encoding, stripping location data).
import { type Problem, problem } from "../core/errors.js";
import { type ImageShape, reencodeReasons } from "../spec/images.js";
import { endsWithEoi, endsWithIend, jpegScanStart, pngEnd, withoutTrailer } from "./imageEnds.js";
import { corrupt, ImageProblem, tooLargeProblem } from "./imageProblems.js";
import type { ImageSettings } from "./imageSettings.js";
import { loadExifr, loadSharp } from "./onFirstUse.js";

/** The checks a JPEG or PNG passes to be packed as is: its end marker, a readable header, the pixel limit. */
export function shapeOf(bytes: number, meta: { width: number; height: number; space?: string | undefined }): ImageShape {
  return { bytes, width: meta.width, height: meta.height, cmyk: meta.space === "cmyk" };
}

export async function readPackable(source: string, type: "jpeg" | "png", bytes: Buffer, maxPixels: number) {
  checkIntegrity(source, type, bytes);
  const sharp = await loadSharp();
  const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  checkPixels(source, meta.width, meta.height, { maxPixels });
  return meta;
}

/**
 * The fast path for a JPEG or PNG: judged from the file's first and last bytes only. "copy": pack it as
 * is; "full": it needs the full path (too big, CMYK, location data to strip, or a header past the head);
 * or the problem that refuses it.
 */
export async function checkAsIs(
  source: string,
  type: "jpeg" | "png",
  ends: { head: Buffer; tail: Buffer; size: number },
  settings: ImageSettings,
  /** the size libjpeg read from the header while it decoded the photo cleanly (an 8-bit RGB or grey JPEG):
   * libvips is not asked to read the header again */
  decoded?: { width: number; height: number },
): Promise<"copy" | "full" | Problem> {
  try {
    // A JPEG that does not end with its EOI may carry a trailer (a motion photo's video): the full path cuts
    // it off at the image's real end. One that does may too (an appended payload ending in FF D9): the
    // archive writer finds the real end while it copies, from the first scan (jpegScanStart).
    if (type === "jpeg" && (!endsWithEoi(ends.tail) || jpegScanStart(ends.head) === undefined)) return "full";
    // (so may a PNG: data after its IEND chunk is cut off there, by the same rule; an appended payload that
    // ends in an IEND of its own is seen when the image's own IEND lies in the head)
    if (type === "png" && (!endsWithIend(ends.tail) || (pngEnd(ends.head) ?? ends.size) < ends.size)) return "full";
    checkIntegrity(source, type, ends.tail);
    const meta =
      decoded ??
      (await (
        await loadSharp()
      )(ends.head, { limitInputPixels: false })
        .metadata()
        .catch(() => undefined));
    if (!meta) return "full";
    checkPixels(source, meta.width, meta.height, settings);
    if (reencodeReasons(shapeOf(ends.size, meta), settings).length) return "full";
    // (a PNG may hold its EXIF and text after the picture data, past the head: the full path reads it all)
    if (settings.stripGps && ((type === "png" && ends.head.length < ends.size) || (await hasLocation(ends.head)))) return "full";
    return "copy";
  } catch (err) {
    if (err instanceof ImageProblem) return err.problem;
    throw err;
  }
}

/** readPackable's verdict as a problem, for `validate`: undefined when the image would be accepted. */
export async function checkPackableImage(
  source: string,
  type: "jpeg" | "png",
  bytes: Buffer,
  maxPixels: number,
): Promise<Problem | undefined> {
  try {
    const trailer = bytes.length - withoutTrailer(type, bytes).length;
    if (trailer > 0) {
      return problem(
        "E_IMAGE_TRAILING_DATA",
        type === "jpeg"
          ? `${source}: ${trailer} bytes follow the JPEG's end-of-image marker (a motion photo's video or another trailer)`
          : `${source}: ${trailer} bytes follow the PNG's IEND chunk`,
        "pack the photo with wopack pack, which keeps the image and drops what follows it",
        source,
      );
    }
    await readPackable(source, type, bytes, maxPixels);
    return undefined;
  } catch (err) {
    return err instanceof ImageProblem ? err.problem : corrupt(source, (err as Error)?.message ?? String(err));
  }
}

export function checkIntegrity(source: string, type: "jpeg" | "png", bytes: Buffer): void {
  if (type === "jpeg") {
    if (!endsWithEoi(bytes)) {
      throw new ImageProblem(
        problem(
          "E_IMAGE_TRUNCATED",
          `${source}: the JPEG does not end with its end-of-image marker; it is truncated or damaged`,
          "copy the photo again from the device; the transfer was probably cut short",
          source,
        ),
      );
    }
  } else if (!endsWithIend(bytes)) {
    throw new ImageProblem(
      problem(
        "E_IMAGE_TRUNCATED",
        `${source}: the PNG has no IEND chunk at its end; it is truncated or damaged`,
        "copy the image again; the transfer was probably cut short",
        source,
      ),
    );
  }
}

export function checkPixels(
  source: string,
  width: number | undefined,
  height: number | undefined,
  settings: Pick<ImageSettings, "maxPixels">,
): void {
  if (!width || !height) throw new ImageProblem(corrupt(source, "no image dimensions in its header"));
  if (width * height > settings.maxPixels) throw tooLarge(source, `${width}x${height} pixels`, settings);
}

export function tooLarge(source: string, dims: string, settings: Pick<ImageSettings, "maxPixels">): ImageProblem {
  return new ImageProblem(tooLargeProblem(source, dims, settings.maxPixels));
}

/** One object for every call: exifr caches parsed options by object, for ever (see scan/scan.ts). */
const XMP_ONLY = { xmp: true, tiff: false, mergeOutput: true };

const GPS_ONLY = { exif: false, gps: true, interop: false, ifd1: false, xmp: false, translateValues: false };

/**
 * Location data in the EXIF GPS block, in XMP (exif:GPSLatitude, as editors and some phones write it), or
 * in a PNG's text (ImageMagick's "exif:GPSLatitude"): any GPS tag but the block's version and pointer (a
 * latitude alone, an altitude, a destination, an area's name are all a place; a block holding only its
 * version, as cameras without a fix write, is not).
 */
export async function hasLocation(bytes: Buffer): Promise<boolean> {
  const located = (tags: Record<string, unknown> | undefined) =>
    tags !== undefined && Object.keys(tags).some((k) => /(?:^|:)GPS(?!VersionID$|Info$)/.test(k));
  const exifr = await loadExifr();
  if (located(await exifr.parse(bytes, GPS_ONLY).catch(() => undefined))) return true;
  return located(await exifr.parse(bytes, XMP_ONLY).catch(() => undefined));
}
