// The copy path: a JPEG or PNG judged from its ends (and its pixels, decoded small) and packed byte for byte,
// from its file or from the bytes read for its checks.

import { endsWithEoi, jpegScanStart, withoutTrailer } from "../convert/imageEnds.js";
import { checkAsIs } from "../convert/integrity.js";
import { checkPixels, cleanNativeDecode, type DecodedRead, type PixelVerdict, readDecoding } from "../convert/pixels.js";
import { crc32 } from "../core/crc32.js";
import type { Problem } from "../core/errors.js";
import type { PlannedPhoto } from "../plan/plan.js";
import { reencodeReasons } from "../spec/images.js";
import { photoFacts, pictureWanted } from "./photoFacts.js";
import { type PhotoOutcome, type PrepareContext, photoDone } from "./prepareContext.js";
import { type Ends, readEnds, readEndsDecoding } from "./readEnds.js";
import { keepThumb } from "./thumbs.js";

/** A JPEG or PNG packed as it is, or what is known once it must take the full path (its bytes, when read whole). */
export async function copyAsIs(
  photo: PlannedPhoto,
  type: "jpeg" | "png",
  ctx: PrepareContext,
  spool: string | null,
): Promise<PhotoOutcome | { read?: Buffer | undefined }> {
  ctx.signal?.throwIfAborted();
  const read = await readPhoto(photo, type, ctx).catch(() => undefined);
  const ends = read?.ends;
  const judged = ends && (await judgeAsIs(photo, type, ends, ctx, read.decoded));
  if (ends && judged && judged.verdict !== "full") {
    photoDone(ctx, photo, ends.size);
    const pixels =
      judged.verdict !== "copy" || ctx.images.verify !== "pixels"
        ? undefined
        : (judged.pixels ??
          (await checkPixels(
            photo.source,
            ends.whole?.bytes ?? { file: photo.abs, head: ends.head },
            pictureWanted(ctx.checks),
          )));
    const problem = judged.verdict !== "copy" ? judged.verdict : pixels && "problem" in pixels ? pixels.problem : undefined;
    if (problem) {
      ends.whole?.release();
      return { photo, problem };
    }
    const checked = pixels as Exclude<PixelVerdict, { problem: Problem }> | undefined;
    const ext = photo.type === "jpeg" ? "jpg" : "png";
    const unchangedSince = { size: ends.size, mtimeMs: ends.mtimeMs };
    const scanFrom = photo.type === "jpeg" ? jpegScanStart(ends.head) : undefined;
    // (a photo held in memory is cut at its real end here, by the rule the writer follows for a file)
    const image = ends.whole && (photo.type === "jpeg" ? withoutTrailer("jpeg", ends.whole.bytes) : ends.whole.bytes);
    return {
      photo,
      normalized: {
        ext,
        file: photo.abs,
        size: ends.size,
        warnings: checked?.warnings ?? [],
        unchangedSince,
        ...(image && ends.whole
          ? // (given back once written, or the work order dropped: then nothing refers to these bytes)
            { held: { data: image, recycle: ends.whole.recycle }, crc32: crc32(image) }
          : scanFrom === undefined
            ? {}
            : { jpegScanFrom: scanFrom }),
        ...(await keepThumb(checked?.thumb, photo, ctx, spool)),
        facts: await photoFacts(ctx.checks, checked?.thumb, photo.abs, ends.head, photo.type),
      },
    };
  }
  // (the full path takes the bytes already read, if the whole file was)
  ends?.whole?.release();
  return { read: ends?.whole?.bytes };
}

/** A photo's ends, read with its decode in one call when judgeAsIs would decode it first. */
async function readPhoto(
  photo: PlannedPhoto,
  type: "jpeg" | "png",
  ctx: PrepareContext,
): Promise<{ ends: Ends; decoded?: DecodedRead["decoded"] }> {
  const read =
    type === "jpeg" && decodesFirst(ctx.images, photo.size) && readDecoding(ctx.images.maxPixels, pictureWanted(ctx.checks));
  const decoded = read ? await readEndsDecoding(photo.abs, ctx.heldPhotos, photo.size, read) : undefined;
  return decoded ?? { ends: await readEnds(photo.abs, ctx.heldPhotos) };
}

/** Whether a JPEG of this size is decoded before checkAsIs, by the settings (its ends have their say too). */
function decodesFirst(images: PrepareContext["images"], size: number): boolean {
  return (
    images.verify === "pixels" &&
    !images.stripGps &&
    images.maxDimension === undefined &&
    reencodeReasons({ bytes: size, width: 0, height: 0, cmyk: false }, images).length === 0
  );
}

/**
 * checkAsIs's verdict. A JPEG whose pixels are checked, that is not to be re-encoded whatever its size in
 * pixels, is decoded first: when the native binding decodes it cleanly, the size libjpeg read from its
 * header stands for libvips' header read, and the decode is its pixel check. Any other outcome (damage,
 * CMYK, no binding, above the pixel limit) is judged as before: checkAsIs, then checkPixels.
 */
async function judgeAsIs(
  photo: PlannedPhoto,
  type: "jpeg" | "png",
  ends: Ends,
  ctx: PrepareContext,
  decoded: DecodedRead["decoded"],
): Promise<{ verdict: "copy" | "full" | Problem; pixels?: PixelVerdict }> {
  const { images } = ctx;
  const decodeFirst =
    type === "jpeg" && decodesFirst(images, ends.size) && endsWithEoi(ends.tail) && jpegScanStart(ends.head) !== undefined;
  const clean = decodeFirst
    ? await cleanNativeDecode(
        photo.source,
        ends.whole?.bytes ?? { file: photo.abs, head: ends.head },
        images.maxPixels,
        pictureWanted(ctx.checks),
        decoded,
      )
    : undefined;
  const verdict = await checkAsIs(photo.source, type, ends, images, clean?.thumb);
  return clean ? { verdict, pixels: clean } : { verdict };
}
