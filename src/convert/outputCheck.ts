// A converted picture checked against its source before it is packed: a decoder that fails quietly gives
// a blank page (an old-style JPEG TIFF came out solid white) or a picture smaller than the file says.
import { type Problem, problem } from "../core/errors.js";
import { loadSharp } from "./onFirstUse.js";

/** Above this many bytes per pixel a file cannot hold a blank (one-colour) picture: any codec shrinks one to almost nothing. */
const BLANK_BYTES_PER_PIXEL = 0.25;

export interface ConvertedSource {
  source: string;
  /** the file's size in bytes */
  bytes: number;
  /** its declared size, as stored (before orientation) */
  width: number;
  height: number;
  orientation?: number | undefined;
  /** more than one page or frame: the bytes are not all the first page's */
  pages?: number | undefined;
  /** the file stores its pixels uncompressed or nearly (none, PackBits): a blank picture takes as many bytes as any */
  uncompressed?: boolean;
}

/**
 * The problem that refuses a converted JPEG whose picture is blank while its source holds far more data
 * than a blank picture needs; and the warning when it is smaller than the source declares (and no
 * resizing was asked: `resized`).
 */
export async function checkConverted(
  src: ConvertedSource,
  jpeg: Buffer,
  resized: boolean,
): Promise<{ problem?: Problem; warnings: Problem[] }> {
  const warnings: Problem[] = [];
  const sharp = await loadSharp();
  const meta = await sharp(jpeg).metadata();
  const turned = (src.orientation ?? 1) >= 5;
  const [width, height] = turned ? [src.height, src.width] : [src.width, src.height];
  if (!resized && (meta.width < width || meta.height < height)) {
    warnings.push(
      problem(
        "W_IMAGE_SMALLER_THAN_DECLARED",
        `${src.source}: its picture decoded as ${meta.width}x${meta.height} pixels, smaller than the ${width}x${height} its header declares`,
        "check the photo on the review page; replace it with an intact copy if a part is missing",
        src.source,
      ),
    );
  }
  const dense = src.bytes / (src.width * src.height) > BLANK_BYTES_PER_PIXEL;
  if (dense && !src.uncompressed && (src.pages ?? 1) === 1 && (await isBlank(jpeg))) {
    return {
      problem: problem(
        "E_IMAGE_BLANK_DECODE",
        `${src.source}: decoded as a blank one-colour picture, yet the file holds ${src.bytes} bytes of picture data; the decoder did not read it right`,
        "convert it to JPEG or PNG with the software that made it (or ImageMagick) and stage that file instead",
        src.source,
      ),
      warnings,
    };
  }
  return { warnings };
}

/** One colour all over (within JPEG's noise), judged on a small decode (libjpeg's DCT scaling). */
async function isBlank(jpeg: Buffer): Promise<boolean> {
  const sharp = await loadSharp();
  const { data, info } = await sharp(jpeg)
    .resize(64, 64, { fit: "inside", withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const c = info.channels;
  for (let ch = 0; ch < c; ch++) {
    let [min, max] = [255, 0];
    for (let i = ch; i < data.length; i += c) {
      min = Math.min(min, data[i]!);
      max = Math.max(max, data[i]!);
    }
    if (max - min > 4) return false;
  }
  return true;
}
