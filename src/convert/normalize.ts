import { crc32 } from "node:zlib";
import exifr from "exifr";
import sharp, { type Sharp } from "sharp";

// libvips caches recent operations and their pixels; each photo is seen once, so the cache only costs memory.
sharp.cache(false);

import { type Problem, problem } from "../core/errors.js";
import { type ImageShape, type ImageType, reencodeReasons } from "../spec/images.js";
import { BmpError, type DecodedBmp, decodeBmp } from "./bmp.js";
import { colourTable, matrixShaper } from "./colour.js";
import { dateOnlyExif, heifExif, sanitizeExif, withExifSegment } from "./exif.js";
import type { HeicDecoder } from "./heicTypes.js";
import { heifColour, type Nclx } from "./heifProfile.js";
import { corrupt, damagedData, tooLargeProblem, unsupportedVariant } from "./imageProblems.js";
import { checkConverted } from "./outputCheck.js";
import { sourceExif } from "./sourceExif.js";
import { tiffLayout } from "./tiffFile.js";

export interface ImageSettings {
  quality: number;
  maxImageSize: number;
  maxDimension?: number | undefined;
  maxPixels: number;
  stripGps: boolean;
  /** "pixels": JPEGs and PNGs are decoded (convert/pixels.ts); "structure": judged by their bytes only */
  verify: "pixels" | "structure";
}

export interface NormalizedImage {
  ext: "jpg" | "png";
  /** the bytes to pack; the source's own bytes when it was copied as is */
  data: Buffer;
  crc32: number;
  /** what was done, for the report: undefined = copied byte for byte */
  conversion?: string;
  /** copied as is but for this many bytes after the image's end */
  trimmed?: number;
  warnings: Problem[];
}

export interface NormalizeInput {
  /** the photo's path in the staging folder, for messages */
  source: string;
  /** and on disk */
  file: string;
  type: ImageType;
  bytes: Buffer;
  captureDate?: string | undefined;
}

class ImageProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
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
  const { source, type, bytes } = input;
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
      const data = await sharp(image, { limitInputPixels: false }).png().toBuffer();
      return { ext: "png", data, crc32: crc32(data), conversion: "png re-encoded without location data", warnings: [] };
    }
    if (located) reasons.push("location data removed");
    const exif = carried(sourceExif(image, meta.exif), settings, input.captureDate);
    // (its pixels were checked already, mending the header quirks libjpeg warns about: convert/pixels.ts)
    const out = await encodeJpeg(source, () => sharpFrom(image, settings, "error"), settings, exif);
    return result(out, `${type} re-encoded as jpeg: ${reasons.join(", ")}`, []);
  }

  const warnings: Problem[] = [];
  let pipeline: () => Sharp;
  let exif: ExifPlan;
  if (type === "heic") {
    // (its EXIF orientation must not be applied: the decoder has applied irot/imir, which say the same)
    exif = carried(heifExif(bytes), settings, input.captureDate);
    const colour = heifColour(bytes);
    const icc = colour.icc ?? (colour.nclx && (await nclxProfile(source, colour.nclx, warnings)));
    const converted = await convertWhole(input, settings, heic, icc);
    if (converted) return result({ data: withExif(converted, exif) }, "heic converted to jpeg", warnings);
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
    pipeline = withProfile(reply, icc);
  } else if (type === "bmp") {
    pipeline = bmpPipeline(source, bytes, settings, warnings);
    exif = { date: input.captureDate };
  } else {
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
    const cut = type === "gif" ? await gifCutShort(source, bytes, settings) : undefined;
    if (cut) warnings.push(cut.warning);
    const decodable = layout?.oldJpeg ?? cut?.mended ?? bytes;
    pipeline = () => sharpFrom(decodable, settings);
    const meta = await pipeline().metadata();
    exif = carried(sourceExif(bytes, meta.exif), settings, input.captureDate);
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
    const out = await decoded(source, encodeJpeg(source, pipeline, settings, exif));
    const checked = await checkConverted(
      {
        source,
        bytes: decodable.length,
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
  }
  const out = await decoded(source, encodeJpeg(source, pipeline, settings, exif));
  return result(out, `${type} converted to jpeg`, warnings);
}

/**
 * A conversion whose header was read: a decoder failure from here on (and every decoder warning, which
 * sharpFrom makes an error) is damaged picture data, told in the decoder's words.
 */
async function decoded<T>(source: string, conversion: Promise<T>): Promise<T> {
  try {
    return await conversion;
  } catch (err) {
    if (err instanceof ImageProblem) throw err;
    throw new ImageProblem(damagedData(source, ((err as Error)?.message ?? String(err)).trim().split("\n")[0]!));
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
  settings: ImageSettings,
  heic: HeicDecoder,
  icc: Buffer | undefined,
): Promise<Buffer | undefined> {
  if (!heic.convert || settings.maxDimension) return undefined;
  // (null: nothing to convert; undefined: a profile the tables cannot express)
  const colour = icc ? await toSrgb(icc) : null;
  if (colour === undefined) return undefined;
  const reply = await heic.convert(input.bytes, settings.maxPixels, settings.quality, input.file, colour ?? undefined);
  if (!reply) return undefined;
  if (!reply.ok) {
    if (reply.code === "E_IMAGE_TOO_LARGE") throw tooLarge(input.source, reply.message, settings);
    throw new ImageProblem(corrupt(input.source, reply.message));
  }
  return reply.jpeg.length <= settings.maxImageSize ? reply.jpeg : undefined;
}

function withExif(jpeg: Buffer, exif: ExifPlan): Buffer {
  if ("tiff" in exif) return withExifSegment(jpeg, exif.tiff);
  return "date" in exif && exif.date ? withExifSegment(jpeg, dateOnlyExif(exif.date)) : jpeg;
}

const colourTables = new Map<string, Promise<Float32Array | undefined>>();

/** The table that converts a profile's colours to libvips' sRGB (convert/colour.ts), if it is matrix/TRC. */
function toSrgb(icc: Buffer): Promise<Float32Array | undefined> {
  const key = icc.toString("latin1");
  let table = colourTables.get(key);
  if (!table) {
    table = builtinProfile("srgb").then((srgb) => {
      const from = matrixShaper(icc);
      const to = matrixShaper(srgb);
      return from && to ? colourTable(from, to) : undefined;
    });
    if (colourTables.size >= 16) colourTables.clear(); // (a night has one or two profiles; a bound all the same)
    colourTables.set(key, table);
  }
  return table;
}

function result(out: { data: Buffer; note?: string }, conversion: string, warnings: Problem[]): NormalizedImage {
  return {
    ext: "jpg",
    data: out.data,
    crc32: crc32(out.data),
    conversion: out.note ? `${conversion}; ${out.note}` : conversion,
    warnings,
  };
}

/** A decoder's warning is damage by default: libtiff, libjpeg in a TIFF, giflib warn where they paint over data. */
function sharpFrom(bytes: Buffer, settings: ImageSettings, failOn: "warning" | "error" = "warning"): Sharp {
  return sharp(bytes, { limitInputPixels: settings.maxPixels, failOn });
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
 * Orientation applied, sRGB, alpha on white; then re-encoded smaller, and if need be downscaled, until it
 * fits the size ceiling, with the EXIF that `exif` says.
 * `pipeline` makes a fresh sharp pipeline over the decoded image each time it is called (sharp's clone()
 * would copy the whole input: 36 MB for a 12 MP photo decoded to raw pixels).
 */
async function encodeJpeg(
  source: string,
  pipeline: () => Sharp,
  settings: ImageSettings,
  exif: ExifPlan,
): Promise<{ data: Buffer; note?: string }> {
  const prepared = () => {
    const p = pipeline().autoOrient().flatten({ background: "#ffffff" }).toColourspace("srgb");
    return settings.maxDimension
      ? p.resize(settings.maxDimension, settings.maxDimension, { fit: "inside", withoutEnlargement: true })
      : p;
  };
  const withMeta = (s: Sharp) => ("date" in exif && exif.date ? s.withExif({ IFD2: { DateTimeOriginal: exif.date } }) : s);
  const encode = async (s: Sharp, quality: number) => {
    const jpeg = await withMeta(s).jpeg({ quality }).toBuffer();
    return "tiff" in exif ? withExifSegment(jpeg, exif.tiff) : jpeg;
  };
  const first = await encode(prepared(), settings.quality);
  if (first.length <= settings.maxImageSize) return { data: first };

  // Each smaller attempt decodes the source again rather than keeping its pixels: a 29 MP TIFF's are 87 MB,
  // held while the next photo converts beside it (the peak memory of a mixed set, bench "mixed").
  const info = await sharp(first).metadata();
  let [width, quality, size] = [info.width, Math.min(settings.quality, 80), first.length];
  for (let attempt = 0; attempt < 12; attempt++) {
    if (attempt > 0) width = Math.max(1, Math.floor(width * Math.min(0.9, Math.sqrt(settings.maxImageSize / size) * 0.95)));
    const out = await encode(prepared().resize({ width }), quality);
    size = out.length;
    if (size <= settings.maxImageSize) {
      const scaled = width < info.width ? `, downscaled to ${width} px wide` : "";
      return { data: out, note: `quality ${quality}${scaled} to fit ${settings.maxImageSize} bytes` };
    }
  }
  throw new ImageProblem(corrupt(source, `could not be made smaller than ${settings.maxImageSize} bytes`));
}

/**
 * The ICC profile that nclx code points stand for, where they need converting: Display P3 primaries
 * (12) as Android phones and other writers tag wide-gamut HEICs; BT.709 (1) and unspecified (2) are
 * sRGB's. Anything else is packed unconverted, with a warning, as is HDR (PQ or HLG) without tone mapping.
 */
async function nclxProfile(source: string, nclx: Nclx, warnings: Problem[]): Promise<Buffer | undefined> {
  if (nclx.transfer === 16 || nclx.transfer === 18) {
    warnings.push(
      problem(
        "W_HDR_NOT_TONE_MAPPED",
        `${source}: an HDR picture (${nclx.transfer === 16 ? "PQ" : "HLG"}); packed as 8-bit without tone mapping, it may look flat`,
        "export it from the phone as a standard (SDR) photo if the colours matter",
        source,
      ),
    );
  }
  if (nclx.primaries === 12) return builtinProfile("p3");
  if (nclx.primaries === 1 || nclx.primaries === 2) return undefined;
  warnings.push(
    problem(
      "W_COLOUR_SPACE_UNCONVERTED",
      `${source}: its colours are in a space wopack does not convert (nclx colour primaries ${nclx.primaries}); packed as if sRGB`,
      "export it from the phone or editor as an sRGB or Display P3 photo if the colours matter",
      source,
    ),
  );
  return undefined;
}

const builtinProfiles = new Map<string, Promise<Buffer>>();

/** One of libvips' own ICC profiles (sharp's "p3", "srgb"), fetched once. */
function builtinProfile(name: "p3" | "srgb"): Promise<Buffer> {
  let profile = builtinProfiles.get(name);
  if (!profile) {
    profile = sharp({ create: { width: 1, height: 1, channels: 3, background: "#000" } })
      .withIccProfile(name)
      .png()
      .toBuffer()
      .then(async (png) => (await sharp(png).metadata()).icc!);
    builtinProfiles.set(name, profile);
  }
  return profile;
}

interface RawPixels {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
  /** bytes free in front of `data` in its buffer: where the TIFF header goes, if it fits */
  room?: number;
}

/**
 * Decoded pixels, tagged with their ICC profile when they have one, so that libvips converts them to sRGB
 * like any other tagged image. sharp takes no ICC profile for raw input: the pixels are wrapped in an
 * uncompressed TIFF that carries it (a header in front, no encoding).
 */
function withProfile(pixels: RawPixels, icc: Buffer | undefined): () => Sharp {
  const { width, height, channels, data } = pixels;
  if (!icc) return () => sharp(data, { raw: { width, height, channels } });
  const tiff = uncompressedTiff(pixels, icc);
  return () => sharp(tiff, { limitInputPixels: false });
}

/**
 * A little-endian baseline TIFF: one strip of interleaved 8-bit RGB(A) pixels, and an ICC profile. The
 * header goes in the room in front of the pixels when there is enough (the native decoder leaves it), so
 * that 36 MB of pixels are not copied once more.
 */
export function uncompressedTiff(pixels: RawPixels, icc: Buffer): Buffer {
  const { data } = pixels;
  const head = tiffHeader(pixels, icc);
  if ((pixels.room ?? 0) < head.length) return Buffer.concat([head, data], head.length + data.length);
  const tiff = Buffer.from(data.buffer, data.byteOffset - head.length, head.length + data.length);
  head.copy(tiff, 0);
  return tiff;
}

/** The bytes a TIFF header takes in front of the pixels (uncompressedTiff). */
export function tiffHeaderSize(channels: 3 | 4, icc: Buffer): number {
  const count = channels === 4 ? 12 : 11;
  return 8 + 2 + count * 12 + 4 + 2 * channels + icc.length + (icc.length & 1);
}

function tiffHeader({ width, height, channels, data }: RawPixels, icc: Buffer): Buffer {
  const SHORT = 3;
  const LONG = 4;
  const UNDEFINED = 7;
  const count = channels === 4 ? 12 : 11;
  const ifdSize = 2 + count * 12 + 4;
  const bitsAt = 8 + ifdSize;
  const iccAt = bitsAt + 2 * channels;
  const pixelsAt = tiffHeaderSize(channels, icc);
  const head = Buffer.alloc(pixelsAt);
  head.write("II*\0", 0, "latin1");
  head.writeUInt32LE(8, 4);
  head.writeUInt16LE(count, 8);
  let at = 10;
  const entry = (tag: number, type: number, n: number, value: number) => {
    head.writeUInt16LE(tag, at);
    head.writeUInt16LE(type, at + 2);
    head.writeUInt32LE(n, at + 4);
    if (type === SHORT && n === 1) head.writeUInt16LE(value, at + 8);
    else head.writeUInt32LE(value, at + 8);
    at += 12;
  };
  entry(256, LONG, 1, width);
  entry(257, LONG, 1, height);
  entry(258, SHORT, channels, bitsAt); // BitsPerSample: 8 per channel, stored after the IFD
  entry(259, SHORT, 1, 1); // no compression
  entry(262, SHORT, 1, 2); // RGB
  entry(273, LONG, 1, pixelsAt); // the one strip
  entry(277, SHORT, 1, channels);
  entry(278, LONG, 1, height); // rows per strip
  entry(279, LONG, 1, data.length);
  entry(284, SHORT, 1, 1); // interleaved
  if (channels === 4) entry(338, SHORT, 1, 2); // the 4th channel is unassociated alpha
  entry(34675, UNDEFINED, icc.length, iccAt);
  head.writeUInt32LE(0, at); // no next IFD
  for (let c = 0; c < channels; c++) head.writeUInt16LE(8, bitsAt + 2 * c);
  icc.copy(head, iccAt);
  return head;
}

/** One object for every call: exifr caches parsed options by object, for ever (see scan/scan.ts). */
const XMP_ONLY = { xmp: true, tiff: false, mergeOutput: true };

/** Location data in the EXIF GPS block, or in XMP (exif:GPSLatitude, as editors and some phones write it). */
async function hasLocation(bytes: Buffer): Promise<boolean> {
  const gps = await exifr.gps(bytes).catch(() => undefined);
  if (gps && Number.isFinite(gps.latitude)) return true;
  const xmp = await exifr.parse(bytes, XMP_ONLY).catch(() => undefined);
  return xmp !== undefined && ("GPSLatitude" in xmp || "GPSLongitude" in xmp);
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
  const endsEarly = (gif: Buffer, decode: boolean) =>
    (decode ? sharpFrom(gif, settings).stats() : sharpFrom(gif, settings).metadata()).then(
      () => false,
      (err: Error) => /Unexpected end of GIF/i.test(err.message),
    );
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
function bmpPipeline(source: string, bytes: Buffer, settings: ImageSettings, warnings: Problem[]): () => Sharp {
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
  return () => sharp(data, { raw: { width, height, channels } });
}

/** The checks a JPEG or PNG passes to be packed as is: its end marker, a readable header, the pixel limit. */
function shapeOf(bytes: number, meta: { width: number; height: number; space?: string | undefined }): ImageShape {
  return { bytes, width: meta.width, height: meta.height, cmyk: meta.space === "cmyk" };
}

async function readPackable(source: string, type: "jpeg" | "png", bytes: Buffer, maxPixels: number) {
  checkIntegrity(source, type, bytes);
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
    const meta = await sharp(ends.head, { limitInputPixels: false })
      .metadata()
      .catch(() => undefined);
    if (!meta) return "full";
    checkPixels(source, meta.width, meta.height, settings);
    if (reencodeReasons(shapeOf(ends.size, meta), settings).length) return "full";
    if (settings.stripGps && (await hasLocation(ends.head))) return "full";
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

function endsWithIend(bytes: Buffer): boolean {
  let end = bytes.length;
  while (end > 12 && bytes[end - 1] === 0x00) end--; // (padding, as after a JPEG's EOI)
  return end >= 12 && bytes.readUInt32BE(end - 12) === 0 && bytes.toString("latin1", end - 8, end - 4) === "IEND";
}

function endsWithEoi(bytes: Buffer): boolean {
  let end = bytes.length;
  while (end > 2 && bytes[end - 1] === 0x00) end--; // some writers pad after EOI
  return bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9;
}

/**
 * The image without what follows its end (one rule for every format packed as is): phones append a video
 * to a JPEG (Google and Samsung motion photos), other tools append data to a PNG after its IEND chunk.
 * Zero bytes after the end are padding, and are kept. Unchanged when nothing follows, or when no end is
 * found (then it is truncated, and the integrity check says so).
 */
export function withoutTrailer(type: "jpeg" | "png", image: Buffer): Buffer {
  const end = type === "jpeg" ? jpegEnd(image) : pngEnd(image);
  if (end === undefined) return image;
  return image.subarray(end).some((b) => b !== 0) ? image.subarray(0, end) : image;
}

/** A JPEG ends at the first EOI after its first scan (scan data cannot hold one: a 0xFF there is always stuffed). */
function jpegEnd(jpeg: Buffer): number | undefined {
  const eoi = jpeg.indexOf(EOI, walkToScan(jpeg).at);
  return eoi < 0 ? undefined : eoi + 2;
}

/** A PNG ends after its IEND chunk, found by walking its chunks. */
function pngEnd(png: Buffer): number | undefined {
  let at = 8;
  while (at + 12 <= png.length) {
    const length = png.readUInt32BE(at);
    if (length > 0x7fffffff) return undefined;
    const next = at + 12 + length;
    if (png.toString("latin1", at + 4, at + 8) === "IEND") return next <= png.length ? next : undefined;
    at = next;
  }
  return undefined;
}

const EOI = Buffer.from([0xff, 0xd9]);

/** Where a JPEG's first scan starts, when its markers lead there within `head`. */
export function jpegScanStart(head: Buffer): number | undefined {
  const { at, found } = walkToScan(head);
  return found ? at : undefined;
}

/** How a trailer is reported, wherever it is cut off. */
export function trailerNote(bytes: number, type: "jpeg" | "png" = "jpeg"): string {
  return type === "jpeg"
    ? `jpeg copied without the ${bytes} bytes after its end (a motion-photo video or another trailer)`
    : `png copied without the ${bytes} bytes after its IEND chunk`;
}

/**
 * Walks a JPEG's markers to its first scan (SOS): where it starts, or where the walk had to stop (the
 * bytes end, or no marker is where one should be). An EOI is searched for from there: the segments before
 * it (an EXIF thumbnail, say) may hold FF D9 of their own.
 */
function walkToScan(jpeg: Buffer): { at: number; found: boolean } {
  let at = 2;
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff) {
    const marker = jpeg[at + 1]!;
    if (marker === 0xda) return { at, found: true };
    if (marker === 0xff) at += 1;
    else if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) at += 2;
    else at += 2 + jpeg.readUInt16BE(at + 2);
  }
  return { at, found: false };
}

function checkIntegrity(source: string, type: "jpeg" | "png", bytes: Buffer): void {
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

function checkPixels(
  source: string,
  width: number | undefined,
  height: number | undefined,
  settings: Pick<ImageSettings, "maxPixels">,
): void {
  if (!width || !height) throw new ImageProblem(corrupt(source, "no image dimensions in its header"));
  if (width * height > settings.maxPixels) throw tooLarge(source, `${width}x${height} pixels`, settings);
}

function tooLarge(source: string, dims: string, settings: Pick<ImageSettings, "maxPixels">): ImageProblem {
  return new ImageProblem(tooLargeProblem(source, dims, settings.maxPixels));
}
