// SPEC §15: what the photo checks make of one work order's photos. Pure: the measures taken in prepare, the
// work order's metadata and the index of pictures packed before in, findings and refusals out. The codes
// and words are here once: a check set to "warn" gives W_PHOTO_*, one set to "refuse" E_PHOTO_*, same text.
import type { Config } from "../config/schema.js";
import { type Problem, problem } from "../core/errors.js";
import type { PhotoFinding } from "../core/types.js";
import type { MetadataValue } from "../spec/values.js";
import { hashDistance, type MeasuredPicture } from "./measures.js";
import type { IndexedPicture, PictureIndex, PictureMatch } from "./pictures.js";

export type PhotoCheckSettings = Config["images"]["checks"];
export type PhotoCheckName = keyof PhotoCheckSettings;

/** What prepare learnt of one photo that the checks judge. */
export interface CheckedPhoto {
  /** its entry in the archive, `<work order>/<name>` */
  entry: string;
  /** its staging-relative source */
  source: string;
  /** from its small upright decode; absent when it was not decoded (images.verify: structure) */
  measures?: MeasuredPicture | undefined;
  /** SHA-256 (hex) of the bytes packed */
  sha256?: string | undefined;
  /** EXIF DateTimeOriginal as written ("2024:03:04 05:06:07") */
  captured?: string | undefined;
  /** EXIF GPS, decimal degrees */
  gps?: { latitude: number; longitude: number } | undefined;
}

export interface CheckedWorkOrder {
  id: string;
  metadata: Record<string, MetadataValue>;
  /** the photos in processing order (their entries' order) */
  photos: CheckedPhoto[];
}

/** What the checks found in one work order. */
export interface Judgement {
  /** entry -> what was found on it ("warn" checks only) */
  findings: Map<string, PhotoFinding[]>;
  /** the warnings, one per finding (W_PHOTO_*), in photo order */
  warnings: Problem[];
  /** the "refuse" checks' problems (E_PHOTO_*): non-empty refuses the work order */
  problems: Problem[];
  /** per check that ran, how many photos it passed, warned of or refused (for /metrics) */
  counts: CheckCounts;
}

export type CheckOutcome = "passed" | "warned" | "refused";
export type CheckCounts = Partial<Record<PhotoCheckName, Partial<Record<CheckOutcome, number>>>>;

/** What a finding's earlier picture is when it was packed in this run and its archive is not committed yet. */
export const PENDING_ARCHIVE = "";

export interface JudgeContext {
  checks: PhotoCheckSettings;
  /** the pictures packed before (committed, and earlier work orders of this run) */
  index: PictureIndex;
  /** the packing time: what a photo's age is measured against when no date field says otherwise */
  now: Date;
}

/** Judges one work order's photos by every check that is not off. */
export function judgeWorkOrder(wo: CheckedWorkOrder, ctx: JudgeContext): Judgement {
  const { checks } = ctx;
  const j: Judgement = { findings: new Map(), warnings: [], problems: [], counts: {} };
  const found = (name: PhotoCheckName, photo: CheckedPhoto, f: Omit<PhotoFinding, "code"> & { code: string }, hint: string) => {
    const action = checks[name].action;
    tally(j.counts, name, action === "refuse" ? "refused" : "warned");
    if (action === "refuse") {
      j.problems.push(problem(`E_${f.code}`, f.message, hint, photo.source));
      return;
    }
    const finding: PhotoFinding = { ...f, code: `W_${f.code}` };
    j.findings.set(photo.entry, [...(j.findings.get(photo.entry) ?? []), finding]);
    j.warnings.push(problem(finding.code, f.message, hint, photo.source));
  };
  const on = (name: PhotoCheckName) => checks[name].action !== "off";
  const passed = (name: PhotoCheckName) => tally(j.counts, name, "passed");

  for (const [i, photo] of wo.photos.entries()) {
    const m = photo.measures;
    if (on("duplicate") && (m || photo.sha256)) {
      const twin = duplicateOf(photo, wo.photos.slice(0, i), checks.duplicate.maxDistance);
      if (twin) {
        const earlier = { workOrder: wo.id, entry: twin.photo.entry, archive: PENDING_ARCHIVE, ...twin.how };
        found("duplicate", photo, { code: "PHOTO_DUPLICATE", message: duplicateMessage(photo, wo.id, earlier), earlier }, DUPLICATE_HINT);
      } else passed("duplicate");
    }
    if (on("reuse") && m) {
      const match = reuseOf(photo, m, wo.id, ctx.index, checks.reuse.maxDistance);
      if (match) {
        const earlier = { ...pick(match.picture), distance: match.distance, exact: match.exact };
        found("reuse", photo, { code: "PHOTO_REUSED", message: reuseMessage(photo, wo.id, earlier), earlier }, REUSE_HINT);
      } else passed("reuse");
    }
    let badlyExposed = false;
    if (on("exposure") && m) {
      const { dark, bright } = m.exposure;
      if (dark >= checks.exposure.darkFraction) {
        badlyExposed = true;
        const message = `${photo.source}: nearly black (${percent(dark)} of its pixels); the platform cannot judge it (work order ${wo.id})`;
        found("exposure", photo, { code: "PHOTO_DARK", message }, EXPOSURE_HINT);
      } else if (bright >= checks.exposure.brightFraction) {
        badlyExposed = true;
        const message = `${photo.source}: nearly white, overexposed (${percent(bright)} of its pixels); the platform cannot judge it (work order ${wo.id})`;
        found("exposure", photo, { code: "PHOTO_OVEREXPOSED", message }, EXPOSURE_HINT);
      } else passed("exposure");
    }
    // (a nearly black or white picture has no detail either: told once, as what it is)
    if (on("blur") && m && !badlyExposed) {
      if (m.sharpness < checks.blur.minSharpness) {
        const message = `${photo.source}: blurred, too little detail to be judged (sharpness ${m.sharpness.toFixed(3)}, below ${checks.blur.minSharpness}) (work order ${wo.id})`;
        found("blur", photo, { code: "PHOTO_BLURRY", message }, BLUR_HINT);
      } else passed("blur");
    }
    if (on("age") && photo.captured) {
      const taken = exifTime(photo.captured);
      const reference = referenceDate(wo, checks.age.dateField, ctx.now);
      if (taken !== undefined) {
          const age = reference.at.getTime() - taken;
        if (age > checks.age.maxAge) {
          const message = `${photo.source}: captured ${photo.captured}, ${days(age)} before ${reference.what}; more than the ${days(checks.age.maxAge)} allowed (work order ${wo.id})`;
          found("age", photo, { code: "PHOTO_OLD", message }, AGE_HINT);
        } else passed("age");
      }
    }
    if (on("distance") && photo.gps) {
      const site = siteOf(wo, checks.distance.latitudeField, checks.distance.longitudeField);
      if (site) {
          const metres = haversineMetres(photo.gps, site);
        if (metres > checks.distance.maxDistance) {
          const { latitudeField: lat, longitudeField: lon } = checks.distance;
          const message = `${photo.source}: taken ${distanceText(metres)} from the site (metadata ${lat}, ${lon}: ${site.latitude}, ${site.longitude}); more than the ${distanceText(checks.distance.maxDistance)} allowed (work order ${wo.id})`;
          found("distance", photo, { code: "PHOTO_FAR", message }, DISTANCE_HINT);
        } else passed("distance");
      }
    }
  }
  return j;
}

/** The pictures of a work order for the index, as packed into `archive` (PENDING_ARCHIVE until it is committed). */
export function indexedPictures(wo: CheckedWorkOrder, archive: string, out: string): IndexedPicture[] {
  return wo.photos.flatMap((p) =>
    p.measures
      ? [{ hash: p.measures.hash, ...(p.sha256 ? { sha256: p.sha256 } : {}), workOrder: wo.id, entry: p.entry, archive, out }]
      : [],
  );
}

/** The words of a reuse finding; again once its earlier picture's archive is known. */
export function reuseMessage(photo: Pick<CheckedPhoto, "source">, workOrder: string, earlier: NonNullable<PhotoFinding["earlier"]>): string {
  const where = earlier.archive === PENDING_ARCHIVE ? "earlier in this run" : `in archive ${earlier.archive}`;
  const how = earlier.exact ? "the same file" : `the same picture (hash ${earlier.distance} bits apart)`;
  return `${photo.source}: ${how} was already packed for work order ${earlier.workOrder} as ${earlier.entry} ${where}; packed again for work order ${workOrder}`;
}

export function duplicateMessage(photo: Pick<CheckedPhoto, "source">, workOrder: string, earlier: NonNullable<PhotoFinding["earlier"]>): string {
  const how = earlier.exact ? "the same file" : `the same picture (hash ${earlier.distance} bits apart)`;
  return `${photo.source}: ${how} as ${earlier.entry}, twice in work order ${workOrder}`;
}

const REUSE_HINT =
  "check that the photo was taken on this job; if it was (a re-visit, a resubmission), set images.checks.reuse.action to \"off\" or raise its maxDistance";
const DUPLICATE_HINT = "remove one of the two from the work order, or retake the missing photo";
const BLUR_HINT =
  "retake the photo; if the platform reads such photos well, lower images.checks.blur.minSharpness (docs/photo-checks.md)";
const EXPOSURE_HINT = "retake the photo with light (or without the flash glare)";
const AGE_HINT = "check that the photo belongs to this job (and the camera's clock); or raise images.checks.age.maxAge";
const DISTANCE_HINT =
  "check that the photo was taken at this site (and the site's coordinates in the metadata); or raise images.checks.distance.maxDistance";

function tally(counts: CheckCounts, name: PhotoCheckName, outcome: CheckOutcome): void {
  const c = (counts[name] ??= {});
  c[outcome] = (c[outcome] ?? 0) + 1;
}

function pick(p: IndexedPicture): { workOrder: string; entry: string; archive: string } {
  return { workOrder: p.workOrder, entry: p.entry, archive: p.archive };
}

/** The first earlier photo of the same work order that is the same picture: the same bytes, or a close hash. */
function duplicateOf(
  photo: CheckedPhoto,
  earlier: readonly CheckedPhoto[],
  maxDistance: number,
): { photo: CheckedPhoto; how: { distance: number; exact: boolean } } | undefined {
  for (const e of earlier) {
    if (photo.sha256 && e.sha256 === photo.sha256) return { photo: e, how: { distance: 0, exact: true } };
  }
  // (a flat picture's hash is noise: only its bytes can say it is the same)
  const m = photo.measures;
  if (!m || m.flat) return undefined;
  let best: { photo: CheckedPhoto; how: { distance: number; exact: boolean } } | undefined;
  for (const e of earlier) {
    if (!e.measures || e.measures.flat) continue;
    const d = hashDistance(m.hash, e.measures.hash);
    if (d <= maxDistance && (!best || d < best.how.distance)) best = { photo: e, how: { distance: d, exact: false } };
  }
  return best;
}

/** An earlier picture of another work order: the same bytes always; a close hash unless the picture is flat. */
function reuseOf(
  photo: CheckedPhoto,
  m: MeasuredPicture,
  workOrder: string,
  index: PictureIndex,
  maxDistance: number,
): PictureMatch | undefined {
  const match = index.find(m.hash, photo.sha256, m.flat ? 0 : maxDistance, workOrder);
  return match && (match.exact || !m.flat) ? match : undefined;
}

/** "2024:03:04 05:06:07" (a camera's local time, no zone: read as UTC) -> ms since the epoch. */
export function exifTime(text: string): number | undefined {
  const m = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(text.trim());
  if (!m) return undefined;
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  return Number.isNaN(t) || +m[1]! < 1900 ? undefined : t;
}

/** The date a photo's age is measured against: the work order's date field when it holds a date, else now. */
function referenceDate(wo: CheckedWorkOrder, field: string | undefined, now: Date): { at: Date; what: string } {
  const value = field === undefined ? undefined : wo.metadata[field];
  if (typeof value === "string") {
    const t = exifTime(value) ?? Date.parse(value);
    if (!Number.isNaN(t)) return { at: new Date(t), what: `the work order's ${field} (${value})` };
  }
  return { at: now, what: `the packing time (${now.toISOString().slice(0, 16).replace("T", " ")} UTC)` };
}

/** The site's position from two metadata fields (numbers, or text holding one), when both hold a valid one. */
function siteOf(
  wo: CheckedWorkOrder,
  latField: string,
  lonField: string,
): { latitude: number; longitude: number } | undefined {
  const num = (v: MetadataValue | undefined) =>
    typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
  const latitude = num(wo.metadata[latField]);
  const longitude = num(wo.metadata[lonField]);
  if (!(Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180)) return undefined;
  return { latitude, longitude };
}

const EARTH_RADIUS_M = 6_371_008.8;

/** The great-circle distance between two positions, in metres. */
export function haversineMetres(
  a: { latitude: number; longitude: number },
  b: { latitude: number; longitude: number },
): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

function distanceText(metres: number): string {
  return metres >= 1000 ? `${(metres / 1000).toFixed(metres >= 10_000 ? 0 : 1)} km` : `${Math.round(metres)} m`;
}

function days(ms: number): string {
  const d = ms / 86_400_000;
  return d >= 1 ? `${Math.floor(d)} day${Math.floor(d) === 1 ? "" : "s"}` : `${Math.round(ms / 3_600_000)} h`;
}

function percent(f: number): string {
  return `${Math.round(f * 100)} %`;
}
