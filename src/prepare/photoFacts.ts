// What the photo checks (SPEC §15) need of one photo, taken where prepare already holds it: the measures of
// the small upright decode the pixel check made (taken by the native decoder on its thread, or here from
// libvips' greyscale picture), the SHA-256 of the bytes packed where it is needed, the EXIF GPS position
// when the distance check is on. Nothing is decoded again.
import type { PhotoCheckSettings } from "../checks/checks.js";
import { type MeasuredPicture, measurePicture } from "../checks/measures.js";
import { sha256Of } from "../commit/files.js";
import { heifExif } from "../convert/exif.js";
import { loadExifr } from "../convert/onFirstUse.js";
import type { PictureWanted, Thumbnail } from "../convert/pixels.js";
import type { ImageType } from "../spec/images.js";

export interface PhotoFacts {
  measures?: MeasuredPicture;
  sha256?: string;
  gps?: { latitude: number; longitude: number };
}

/** The checks that measure pixels: when all are off, nothing is measured. */
export function pixelChecksOn(checks: PhotoCheckSettings | undefined): boolean {
  return !!checks && (["reuse", "duplicate", "blur", "exposure"] as const).some((c) => checks[c].action !== "off");
}

/** What the pixel check's decode is to give the checks: the picture's measures, or nothing. */
export function pictureWanted(checks: PhotoCheckSettings | undefined): PictureWanted {
  return pixelChecksOn(checks) ? "measures" : undefined;
}

/**
 * The facts of one photo. `packed`: the bytes packed (a converted photo's, in memory) or the file copied
 * as is. Its SHA-256 is computed from memory for a converted photo; a copied one is read again only when its
 * picture is flat (its hash says nothing, only its bytes can tell a copy), which is rare: the same bytes
 * give the same decode, hence the same hash, so hashing every copied file would buy nothing but its cost.
 */
export async function photoFacts(
  checks: PhotoCheckSettings | undefined,
  /** the small decode's measures, or its greyscale picture to measure (libvips' decode) */
  picture: Pick<Thumbnail, "measures" | "gray"> | undefined,
  packed: Buffer | string,
  /** the source's bytes that hold its EXIF (a copied JPEG's head; a converted photo's whole file), or its path */
  exifBytes: Buffer | string,
  type: ImageType,
): Promise<PhotoFacts> {
  if (!checks) return {};
  const facts: PhotoFacts = {};
  const gray = picture?.gray;
  const measures = picture?.measures ?? (gray && measurePicture(gray.data, gray.width, gray.height));
  if (measures && pixelChecksOn(checks)) {
    facts.measures = measures;
    const sameBytesMatter = checks.reuse.action !== "off" || checks.duplicate.action !== "off";
    if (sameBytesMatter && (Buffer.isBuffer(packed) || facts.measures.flat)) facts.sha256 = await sha256Of(packed);
  }
  if (checks.distance.action !== "off") {
    const gps = await gpsOf(exifBytes, type);
    if (gps) facts.gps = gps;
  }
  return facts;
}

/** The photo's EXIF GPS position in decimal degrees (a HEIC's from its Exif item), when it has a valid one. */
async function gpsOf(bytes: Buffer | string, type: ImageType): Promise<{ latitude: number; longitude: number } | undefined> {
  const source = type === "heic" && Buffer.isBuffer(bytes) ? heifExif(bytes) : bytes;
  if (!source) return undefined;
  const gps = await (await loadExifr()).gps(source).catch(() => undefined);
  const { latitude, longitude } = gps ?? {};
  return Number.isFinite(latitude) && Number.isFinite(longitude) && Math.abs(latitude!) <= 90 && Math.abs(longitude!) <= 180
    ? { latitude: latitude!, longitude: longitude! }
    : undefined;
}
