import type { Sharp } from "sharp";
import { crc32 } from "../core/crc32.js";
import { type Problem, problem } from "../core/errors.js";

import { type ImageType, reencodeReasons } from "../spec/images.js";
import { BmpError, type DecodedBmp, decodeBmp } from "./bmp.js";
import { dateOnlyExif, heifExif, sanitizeExif, withExifSegment } from "./exif.js";
import { nativeBinding } from "./heicDecoder.js";
import type { HeicDecoder } from "./heicTypes.js";
import { heifColour, heifPixels } from "./heifProfile.js";
import { trailerNote, withoutTrailer } from "./imageEnds.js";
import { corrupt, damagedData, ImageProblem, unsupportedVariant } from "./imageProblems.js";
import type { ImageSettings } from "./imageSettings.js";
import { checkPixels, hasLocation, readPackable, shapeOf, tooLarge } from "./integrity.js";
import { loadSharp } from "./onFirstUse.js";
import { checkConverted } from "./outputCheck.js";
import { PIXELS_PER_CORE } from "./pixelBudget.js";
import { damaged, optimisedJpeg, type Thumbnail, thumbnailFrom, thumbnailWanted } from "./pixels.js";
import { nclxProfile, toSrgb, withProfile } from "./profiles.js";
import { tiffHeaderSize } from "./rawTiff.js";
import { sourceExif } from "./sourceExif.js";
import { type FileBytes, tiffLayout } from "./tiffFile.js";

export interface NormalizedImage {
  ext: "jpg" | "png";
  /** the bytes to pack; the source's own bytes when it was copied as is */
  data: Buffer;
  crc32: number;
  /** what was done, for the report: undefined = copied byte for byte */
  conversion?: string;
  /** copied as is but for this many bytes after the image's end */
  trimmed?: number;
  /** a converted photo's thumbnail, with the photo checks' measures, made while its JPEG was written (from
   * the coefficients: convert/pixels.ts' optimisedJpeg); its size and orientation are the picture's as
   * encoded, before its EXIF was added */
  thumb?: Thumbnail;
  /** its conversion decoded every pixel of the source, failing at the decoder's first warning: the pixel
   * check (convert/pixels.ts) would decode it again to say the same */
  pixelsChecked?: true;
  warnings: Problem[];
}

export interface NormalizeInput {
  /** the photo's path in the staging folder, for messages */
  source: string;
  /** and on disk */
  file: string;
  type: ImageType;
  /** the file's bytes; a TIFF's may be its open file instead, read where needed (FileBytes) */
  bytes: Buffer | FileBytes;
  captureDate?: string | undefined;
}

/** §7: JPEG/PNG copied as is after integrity checks; everything else becomes a sRGB JPEG. */
export async function normalizeImage(
  input: NormalizeInput,
  settings: ImageSettings,
  heic: HeicDecoder,
): Promise<NormalizedImage | { problem: Problem }> {
  try {
    return await normalize(input, settings, heic);
  } catch (err) {
    if (err instanceof ImageProblem) return { problem: err.problem };
    const message = (err as Error)?.message ?? String(err);
    return { problem: corrupt(input.source, message) };
  }
}

async function normalize(input: NormalizeInput, settings: ImageSettings, heic: HeicDecoder): Promise<NormalizedImage> {
  const { source, type } = input;
  if (!Buffer.isBuffer(input.bytes)) {
    if (type !== "tiff") throw new Error(`${source}: a ${type} is converted from its bytes, not from its open file`);
    return convertDecodable(input, input.bytes, settings);
  }
  const bytes = input.bytes;
  if (type === "jpeg" || type === "png") {
    const whole = bytes;
    const image = withoutTrailer(type, whole);
    const meta = await readPackable(source, type, image, settings.maxPixels);
    const reasons = reencodeReasons(shapeOf(image.length, meta), settings);
    const located = settings.stripGps && (await hasLocation(image));
    if (reasons.length === 0 && !located) {
      const trimmed = whole.length - image.length;
      return {
        ext: type === "jpeg" ? "jpg" : "png",
        data: image,
        crc32: crc32(image),
        ...(trimmed ? { conversion: trailerNote(trimmed, type), trimmed } : {}),
        warnings: [],
      };
    }
    if (reasons.length === 0 && type === "png") {
      // Only the location has to go: re-encode losslessly, without metadata.
      const data = await (await loadSharp())(image, { limitInputPixels: false }).png().toBuffer();
      return { ext: "png", data, crc32: crc32(data), conversion: "png re-encoded without location data", warnings: [] };
    }
    if (located) reasons.push("location data removed");
    const exif = carried(sourceExif(image, meta.exif), settings, input.captureDate);
    // A JPEG's pixels are checked apart, mending the header quirks libjpeg warns about (convert/pixels.ts); a
    // PNG's conversion is its check: it decodes every pixel, failing at libpng's first warning as the check
    // would, rather than the PNG being decoded twice (a 12 MP one: ~0.3 s of CPU each time)
    const checks = type === "png" && settings.verify === "pixels";
    const out = await budgeted(settings, meta.width * meta.height, () =>
      checked(
        source,
        checks,
        encodeJpeg(
          source,
          () => sharpFrom(image, settings, checks ? "warning" : "error"),
          settings,
          exif,
          meta.width * meta.height,
        ),
      ),
    );
    return {
      ...result(out, `${type} re-encoded as jpeg: ${reasons.join(", ")}`, []),
      ...(checks ? { pixelsChecked: true } : {}),
    };
  }

  if (type !== "heic" && type !== "bmp") return convertDecodable(input, bytes, settings);
  const warnings: Problem[] = [];
  if (type === "heic") {
    // (its EXIF orientation must not be applied: the decoder has applied irot/imir, which say the same)
    const heifPlan = carried(heifExif(bytes), settings, input.captureDate);
    const colour = heifColour(bytes);
    const icc = colour.icc ?? (colour.nclx && (await nclxProfile(source, colour.nclx, warnings)));
    return budgeted(settings, heifPixels(bytes), async () => {
      const converted = await convertWhole(input, bytes, settings, heic, icc);
      if (converted)
        return result({ ...converted, data: withExif(converted.data, heifPlan) }, "heic converted to jpeg", warnings);
      const reply = await heic.decode(bytes, settings.maxPixels, input.file, icc ? tiffHeaderSize(4, icc) : 0);
      if (!reply.ok) {
        if (reply.code === "E_IMAGE_TOO_LARGE") throw tooLarge(source, reply.message, settings);
        throw new ImageProblem(corrupt(source, reply.message));
      }
      if (reply.afterCrash) {
        warnings.push(
          problem(
            "W_HEIC_DECODER_CRASHED",
            `${source}: the native HEIC decoder crashed on this photo in an earlier run; it was decoded with the wasm decoder instead`,
            "the photo is packed; please report it (with the file) so that the native decoder can be fixed",
            source,
          ),
        );
      }
      const out = await decoded(
        source,
        encodeJpeg(source, withProfile(reply, icc), settings, heifPlan, reply.width * reply.height),
      );
      return result(out, "heic converted to jpeg", warnings);
    });
  }
  const pipeline = bmpPipeline(source, bytes, settings, warnings);
  const out = await decoded(source, encodeJpeg(source, pipeline, settings, { date: input.captureDate }));
  return result(out, `${type} converted to jpeg`, warnings);
}

/**
 * What libvips decodes (TIFF, WebP, AVIF, GIF, ...): checked, converted within the pixel budget, and the
 * result checked against its source. A TIFF may come as its open file (FileBytes): libvips then reads it
 * from its path, and its directories are read where they are, so that a large scan is never held whole.
 */
async function convertDecodable(
  input: NormalizeInput,
  bytes: Buffer | FileBytes,
  settings: ImageSettings,
): Promise<NormalizedImage> {
  const { source, type } = input;
  const warnings: Problem[] = [];
  const layout = type === "tiff" ? tiffLayout(bytes) : undefined;
  if (layout?.cameraRaw)
    throw new ImageProblem(
      unsupportedVariant(
        source,
        "a camera raw file (DNG, or a TIFF-based raw such as ARW, NEF or CR2)",
        "export it as a JPEG from the camera or a raw converter, then stage that file",
      ),
    );
  if (layout?.oldJpeg === "none")
    throw new ImageProblem(
      unsupportedVariant(source, "an old-style JPEG TIFF (compression 6) without a whole JPEG stream inside"),
    );
  // (an old-style JPEG TIFF holds a whole JPEG: decoded as one, libvips would give a blank page or fail)
  const cut = type === "gif" && Buffer.isBuffer(bytes) ? await gifCutShort(source, bytes, settings) : undefined;
  if (cut) warnings.push(cut.warning);
  const decodable = layout?.oldJpeg ?? cut?.mended ?? (Buffer.isBuffer(bytes) ? bytes : input.file);
  const pipeline = () => sharpFrom(decodable, settings);
  const meta = await (await pipeline()).metadata();
  const plan = carried(sourceExif(bytes, meta.exif), settings, input.captureDate);
  checkPixels(source, meta.width, meta.height, settings);
  if ((meta.pages ?? 1) > 1) {
    warnings.push(
      problem(
        "W_FIRST_PAGE_ONLY",
        `${source}: has ${meta.pages} pages or frames; only the first was packed`,
        "split it into separate photos if the other pages matter",
        source,
      ),
    );
  }
  return budgeted(settings, meta.width * meta.height * (type === "avif" ? AVIF_WEIGHT : 1), async () => {
    const out = await decoded(
      source,
      encodeJpeg(source, pipeline, settings, plan, meta.width * meta.height),
      typeof decodable === "string" ? decodable : undefined,
    );
    const checked = await checkConverted(
      {
        source,
        bytes: typeof decodable === "string" ? bytes.length : decodable.length,
        width: meta.width,
        height: meta.height,
        orientation: meta.orientation,
        pages: meta.pages,
        // (none, or PackBits: libvips' PackBits stores a one-colour page in as many bytes as a photo)
        uncompressed: layout?.compression === 1 || layout?.compression === 32773,
      },
      out.data,
      settings.maxDimension !== undefined || out.note !== undefined,
    );
    if (checked.problem) throw new ImageProblem(checked.problem);
    return result(out, `${type} converted to jpeg`, [...warnings, ...checked.warnings]);
  });
}

/**
 * An AVIF counts twice its pixels in the budget: libvips decodes it through libheif and libaom, which hold
 * some 19 bytes a pixel while decoding (a 12 MP photo: 230 MB), twice what a WebP or TIFF conversion takes.
 * Two at once made the peak of a mixed set; one at a time costs little time (the decode is ~0.5 s of CPU).
 */
const AVIF_WEIGHT = 2;

/** A conversion of a picture of `pixels` (0: not known), within the run's budget of pixels converted at once. */
function budgeted<T>(settings: ImageSettings, pixels: number, work: () => Promise<T>): Promise<T> {
  return settings.budget ? settings.budget.run(pixels || PIXELS_PER_CORE, work) : work();
}

/**
 * A conversion whose header was read: a decoder failure from here on (and every decoder warning, which
 * sharpFrom makes an error) is damaged picture data, told in the decoder's words. libvips names a file it
 * read by its path where it names bytes "source": the words are the same either way, and name no path.
 */
async function decoded<T>(source: string, conversion: Promise<T>, file?: string): Promise<T> {
  try {
    return await conversion;
  } catch (err) {
    if (err instanceof ImageProblem) throw err;
    const words = ((err as Error)?.message ?? String(err)).trim().split("\n")[0]!;
    throw new ImageProblem(
      damagedData(source, file && words.startsWith(`${file}: `) ? `source: ${words.slice(file.length + 2)}` : words),
    );
  }
}

/** A PNG's conversion that is its pixel check too: a decoder failure is damaged data, worded as checkPixels words it. */
async function checked<T>(source: string, checks: boolean, conversion: Promise<T>): Promise<T> {
  if (!checks) return conversion;
  try {
    return await conversion;
  } catch (err) {
    if (err instanceof ImageProblem) throw err;
    throw new ImageProblem(damaged(source));
  }
}

/**
 * The decoder's whole conversion (native: decode, colours and encode in one call, the decoded picture
 * never copied; wasm: colours converted on its worker, libvips encodes), where it applies: colours it can
 * convert (none to convert, or a matrix/TRC profile), no resizing asked, and a JPEG that fits the size
 * ceiling. Else undefined, and the photo goes the general way (a JPEG over the ceiling is decoded again
 * there: rare, and it needs the pixels for its smaller attempts).
 */
async function convertWhole(
  input: NormalizeInput,
  bytes: Buffer,
  settings: ImageSettings,
  heic: HeicDecoder,
  icc: Buffer | undefined,
): Promise<Encoded | undefined> {
  if (!heic.convert || settings.maxDimension) return undefined;
  // (null: nothing to convert; undefined: a profile the tables cannot express)
  const colour = icc ? await toSrgb(icc) : null;
  if (colour === undefined) return undefined;
  const file = input.file;
  const reply = await heic.convert(bytes, settings.maxPixels, settings.quality, file, colour ?? undefined, thumbnailWanted());
  if (!reply) return undefined;
  if (!reply.ok) {
    if (reply.code === "E_IMAGE_TOO_LARGE") throw tooLarge(input.source, reply.message, settings);
    throw new ImageProblem(corrupt(input.source, reply.message));
  }
  if (reply.jpeg.length > settings.maxImageSize) return undefined;
  // (the thumbnail from the decoded picture, in sRGB: the output's own scaled decode would show the same)
  return { data: reply.jpeg, ...(reply.thumbnail?.measures ? { thumb: thumbnailFrom(reply.thumbnail) } : {}) };
}

function withExif(jpeg: Buffer, exif: ExifPlan): Buffer {
  if ("tiff" in exif) return withExifSegment(jpeg, exif.tiff);
  return "date" in exif && exif.date ? withExifSegment(jpeg, dateOnlyExif(exif.date)) : jpeg;
}

function result(out: Encoded, conversion: string, warnings: Problem[]): NormalizedImage {
  return {
    ext: "jpg",
    data: out.data,
    crc32: crc32(out.data),
    conversion: out.note ? `${conversion}; ${out.note}` : conversion,
    ...(out.thumb ? { thumb: out.thumb } : {}),
    warnings,
  };
}

/** A decoder's warning is damage by default: libtiff, libjpeg in a TIFF, giflib warn where they paint over data. */
async function sharpFrom(
  bytes: Buffer | string,
  settings: ImageSettings,
  failOn: "warning" | "error" = "warning",
): Promise<Sharp> {
  return (await loadSharp())(bytes, { limitInputPixels: settings.maxPixels, failOn });
}

/**
 * What EXIF a converted photo carries: the source's TIFF block prepared for it (sanitizeExif: orientation
 * reset, location removed if asked); or, when the source has none that can be carried, one holding only
 * the capture date (if known).
 */
type ExifPlan = { tiff: Buffer } | { date: string | undefined };

/** The source's EXIF block prepared for the converted photo, or the date alone when it cannot be used. */
function carried(tiff: Buffer | undefined, settings: ImageSettings, captureDate: string | undefined): ExifPlan {
  const clean = tiff && sanitizeExif(tiff, { stripGps: settings.stripGps });
  return clean ? { tiff: clean } : { date: captureDate };
}

/**
 * Above this many pixels a JPEG is written with the standard Huffman tables rather than tables made for
 * it: optimising them takes two passes over the whole picture's coefficients, held in memory (a 29 MP
 * scan: 160 MB more, the peak of a mixed set). The pixels are the same either way; the file is some 5-10 %
 * larger.
 */
const OPTIMISE_CODING_PIXELS = 16_000_000;

/**
 * A JPEG of `area` pixels from libvips, with Huffman tables made for it up to OPTIMISE_CODING_PIXELS. libjpeg
 * optimises them at encoding time by holding every coefficient of the picture while libvips holds the
 * decoded picture too (a 12 MP WebP: 161 MB at the peak, 65 MB of it for the tables). With the native
 * binding the encoder streams with the standard tables and the binding re-writes the file losslessly,
 * once the decoded picture is gone (96 MB at the peak): the same bytes as libjpeg's optimised encoding.
 * (Over 16 MP the binding could do the same, holding a 29 MP scan's 87 MB of coefficients alone: files
 * 16 % smaller, but 0.4 s more of CPU for each attempt at the size ceiling; not done.)
 */
async function jpegOf(s: Sharp, quality: number, area: number): Promise<{ jpeg: Buffer; thumb?: Thumbnail }> {
  const optimise = area <= OPTIMISE_CODING_PIXELS;
  const lossless = optimise ? nativeBinding()?.optimise : undefined;
  const jpeg = await s.jpeg({ quality, optimiseCoding: optimise && !lossless }).toBuffer();
  return lossless ? optimisedJpeg(lossless, jpeg) : { jpeg };
}

/** A converted photo's JPEG, what was done to fit the size ceiling, and its thumbnail when it came with the encoding. */
interface Encoded {
  data: Buffer;
  note?: string;
  thumb?: Thumbnail;
}

/**
 * Orientation applied, sRGB, alpha on white; then re-encoded smaller, and if need be downscaled, until it
 * fits the size ceiling, with the EXIF that `exif` says.
 * `pipeline` makes a fresh sharp pipeline over the decoded image each time it is called (sharp's clone()
 * would copy the whole input: 36 MB for a 12 MP photo decoded to raw pixels).
 */
async function encodeJpeg(
  source: string,
  pipeline: () => Promise<Sharp>,
  settings: ImageSettings,
  exif: ExifPlan,
  /** the decoded picture's (0: not known) */
  pixels = 0,
): Promise<Encoded> {
  const prepared = async () => {
    const p = (await pipeline()).autoOrient().flatten({ background: "#ffffff" }).toColourspace("srgb");
    return settings.maxDimension
      ? p.resize(settings.maxDimension, settings.maxDimension, { fit: "inside", withoutEnlargement: true })
      : p;
  };
  const withMeta = (s: Sharp) => ("date" in exif && exif.date ? s.withExif({ IFD2: { DateTimeOriginal: exif.date } }) : s);
  const encode = async (s: Sharp, quality: number, area: number) => {
    const { jpeg, thumb } = await jpegOf(withMeta(s), quality, area);
    return { data: "tiff" in exif ? withExifSegment(jpeg, exif.tiff) : jpeg, ...(thumb ? { thumb } : {}) };
  };
  const first = await encode(
    await prepared(),
    settings.quality,
    settings.maxDimension ? Math.min(pixels, settings.maxDimension ** 2) : pixels,
  );
  if (first.data.length <= settings.maxImageSize) return first;

  // Each smaller attempt decodes the source again rather than keeping its pixels: a 29 MP TIFF's are 87 MB,
  // held while the next photo converts beside it (the peak memory of a mixed set, bench "mixed").
  const info = await (await loadSharp())(first.data).metadata();
  let [width, quality, size] = [info.width, Math.min(settings.quality, 80), first.data.length];
  for (let attempt = 0; attempt < 12; attempt++) {
    if (attempt > 0) width = Math.max(1, Math.floor(width * Math.min(0.9, Math.sqrt(settings.maxImageSize / size) * 0.95)));
    const out = await encode((await prepared()).resize({ width }), quality, (width * width * info.height) / info.width);
    size = out.data.length;
    if (size <= settings.maxImageSize) {
      const scaled = width < info.width ? `, downscaled to ${width} px wide` : "";
      return { ...out, note: `quality ${quality}${scaled} to fit ${settings.maxImageSize} bytes` };
    }
  }
  throw new ImageProblem(corrupt(source, `could not be made smaller than ${settings.maxImageSize} bytes`));
}

/**
 * A GIF whose data ends early: when only the end of its picture's data is missing (the block terminator
 * and trailer), the picture is whole, and it is decoded mended, with a warning; when picture data is
 * missing, it is damaged. Undefined for a GIF that does not end early (a later frame cut short is no
 * matter: only the first is packed).
 */
async function gifCutShort(
  source: string,
  bytes: Buffer,
  settings: ImageSettings,
): Promise<{ mended: Buffer; warning: Problem } | undefined> {
  // (the header read already walks the frames, and fails on the first one cut short; the mended file is decoded whole)
  const endsEarly = async (gif: Buffer, decode: boolean) => {
    const image = await sharpFrom(gif, settings);
    return (decode ? image.stats() : image.metadata()).then(
      () => false,
      (err: Error) => /Unexpected end of GIF/i.test(err.message),
    );
  };
  if (!(await endsEarly(bytes, false))) return undefined;
  const mended = Buffer.concat([bytes, Buffer.from([0x00, 0x3b])]);
  if (await endsEarly(mended, true)) throw new ImageProblem(damagedData(source, "the GIF ends before its picture is complete"));
  const warning = problem(
    "W_IMAGE_ENDS_EARLY",
    `${source}: the GIF's data ends early (after its picture, without its end markers); the picture is whole and was packed`,
    "nothing to do unless it looks wrong on the review page; copy the file again if it was cut in transfer",
    source,
  );
  return { mended, warning };
}

/** A BMP's pixels (convert/bmp.ts); what it leaves undefined on purpose is packed white, with a warning. */
function bmpPipeline(source: string, bytes: Buffer, settings: ImageSettings, warnings: Problem[]): () => Promise<Sharp> {
  let decoded: DecodedBmp;
  try {
    decoded = decodeBmp(bytes, (width, height) => checkPixels(source, width, height, settings));
  } catch (err) {
    if (!(err instanceof BmpError)) throw err;
    if (err.kind === "damaged") throw new ImageProblem(damagedData(source, err.message));
    if (err.kind === "unsupported") throw new ImageProblem(unsupportedVariant(source, err.message));
    throw new ImageProblem(corrupt(source, err.message));
  }
  const { width, height, channels, data, embedded, undefinedPixels } = decoded;
  if (embedded) return () => sharpFrom(embedded, settings);
  if (undefinedPixels > 0) {
    warnings.push(
      problem(
        "W_IMAGE_PIXELS_UNDEFINED",
        `${source}: the file leaves ${undefinedPixels} of its ${width * height} pixels undefined (skipped by its RLE codes); they were packed white`,
        "check the photo on the review page; re-export it from its source if parts are missing",
        source,
      ),
    );
  }
  return async () => (await loadSharp())(data, { raw: { width, height, channels } });
}
