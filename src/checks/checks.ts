// SPEC §15: what the photo checks make of one work order's photos. Pure: the measures taken in prepare, the
// work order's metadata and the index of pictures packed before in, findings and refusals out. The codes
// and words are here once: a check set to "warn" gives W_PHOTO_*, one set to "refuse" E_PHOTO_*, same text.
import type { Config } from "../config/schema.js";
import { type Problem, problem } from "../core/errors.js";
import type { PhotoFinding } from "../core/types.js";
import { isDark, isOverexposed } from "../spec/photoChecks.js";
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
  /** entry -> what was found on it ("warn" checks only); each is also a warning (photoWarning) */
  findings: Map<string, PhotoFinding[]>;
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
  /** the archives of this run's work orders committed so far (the index holds PENDING_ARCHIVE for them) */
  committed?: ReadonlyMap<string, string>;
}

/** Judges one work order's photos by every check that is not off. */
export function judgeWorkOrder(wo: CheckedWorkOrder, ctx: JudgeContext): Judgement {
  const { checks } = ctx;
  const j: Judgement = { findings: new Map(), problems: [], counts: {} };
  const found = (name: PhotoCheckName, photo: CheckedPhoto, f: PhotoFinding) => {
    const action = checks[name].action;
    tally(j.counts, name, action === "refuse" ? "refused" : "warned");
    if (action === "refuse") {
      j.problems.push(problem(`E_${f.code}`, f.message, HINTS[f.code]!, photo.source));
      return;
    }
    j.findings.set(photo.entry, [...(j.findings.get(photo.entry) ?? []), { ...f, code: `W_${f.code}` }]);
  };
  const on = (name: PhotoCheckName) => checks[name].action !== "off";
  const passed = (name: PhotoCheckName) => tally(j.counts, name, "passed");

  for (const [i, photo] of wo.photos.entries()) {
    const m = photo.measures;
    if (on("duplicate") && (m || photo.sha256)) {
      const twin = duplicateOf(photo, wo.photos.slice(0, i), checks.duplicate.maxDistance);
      if (twin) {
        const earlier = { workOrder: wo.id, entry: twin.photo.entry, archive: PENDING_ARCHIVE, ...twin.how };
        const message = duplicateMessage(photo, twin.photo, wo.id, earlier);
        found("duplicate", photo, { code: "PHOTO_DUPLICATE", message, earlier });
      } else passed("duplicate");
    }
    if (on("reuse") && m) {
      const match = reuseOf(photo, m, wo.id, ctx.index, checks.reuse.maxDistance);
      if (match) {
        const { workOrder, entry, archive } = match.picture;
        const known = archive === PENDING_ARCHIVE ? (ctx.committed?.get(workOrder) ?? archive) : archive;
        const earlier = { workOrder, entry, archive: known, distance: match.distance, exact: match.exact };
        found("reuse", photo, { code: "PHOTO_REUSED", message: reuseMessage(photo, wo.id, earlier), earlier });
      } else passed("reuse");
    }
    let badlyExposed = false;
    if (on("exposure") && m) {
      const { dark, bright } = m.exposure;
      if (isDark(m.exposure, checks.exposure)) {
        badlyExposed = true;
        const highlight = "highlight" in m.exposure ? `; its brightest 1 % at luma ${m.exposure.highlight} or below` : "";
        const message = `${photo.source}: too dark to be judged (${percent(dark)} of its pixels nearly black${highlight}) (work order ${wo.id})`;
        found("exposure", photo, { code: "PHOTO_DARK", message });
      } else if (isOverexposed(m.exposure, checks.exposure)) {
        badlyExposed = true;
        const message = `${photo.source}: overexposed, too white to be judged (${percent(bright)} of its pixels nearly white) (work order ${wo.id})`;
        found("exposure", photo, { code: "PHOTO_OVEREXPOSED", message });
      } else passed("exposure");
    }
    // (a nearly black or white picture has no detail either: told once, as what it is)
    if (on("blur") && m && !badlyExposed) {
      if (m.sharpness < checks.blur.minSharpness) {
        const message = `${photo.source}: blurred, too little detail to be judged (sharpness ${m.sharpness.toFixed(3)}, below ${checks.blur.minSharpness}) (work order ${wo.id})`;
        found("blur", photo, { code: "PHOTO_BLURRY", message });
      } else passed("blur");
    }
    if (on("age") && photo.captured) {
      const taken = exifTime(photo.captured);
      const reference = referenceDate(wo, checks.age.dateField, ctx.now);
      if (taken !== undefined) {
        const age = reference.at.getTime() - taken;
        if (age > checks.age.maxAge) {
          const message = `${photo.source}: captured ${photo.captured}, ${days(age)} before ${reference.what}; more than the ${days(checks.age.maxAge)} allowed (work order ${wo.id})`;
          found("age", photo, { code: "PHOTO_OLD", message });
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
          found("distance", photo, { code: "PHOTO_FAR", message });
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

/**
 * The words of a reuse finding. `sameArchive`: the earlier work order goes into the same archive as this one
 * (its name is given when the archive is committed).
 */
export function reuseMessage(
  photo: Pick<CheckedPhoto, "source">,
  workOrder: string,
  earlier: NonNullable<PhotoFinding["earlier"]>,
  sameArchive = false,
): string {
  const where = sameArchive
    ? "in this archive"
    : earlier.archive === PENDING_ARCHIVE
      ? "earlier in this run"
      : `in archive ${earlier.archive}`;
  return `${photo.source}: the same picture ${how(earlier)} was packed before for work order ${earlier.workOrder}, as ${earlier.entry} ${where}; now in work order ${workOrder}`;
}

export function duplicateMessage(
  photo: Pick<CheckedPhoto, "source">,
  twin: Pick<CheckedPhoto, "source" | "entry">,
  workOrder: string,
  earlier: NonNullable<PhotoFinding["earlier"]>,
): string {
  return `${photo.source}: the same picture ${how(earlier)} as ${twin.source} (entry ${twin.entry}): twice in work order ${workOrder}`;
}

function how(earlier: { exact: boolean; distance: number }): string {
  return earlier.exact ? "(the same file)" : `(hashes ${earlier.distance} bit${earlier.distance === 1 ? "" : "s"} apart)`;
}

/** What to do about each finding, by its code without the W_/E_ prefix. */
const HINTS: Record<string, string> = {
  PHOTO_REUSED:
    'check that the photo was taken on this job; if it was (a re-visit, a resubmission), set images.checks.reuse.action to "off" or lower its maxDistance',
  PHOTO_DUPLICATE: "remove one of the two from the work order, or retake the missing photo",
  PHOTO_BLURRY:
    "retake the photo; if the platform reads such photos well, lower images.checks.blur.minSharpness (docs/photo-checks.md)",
  PHOTO_DARK: "retake the photo with more light",
  PHOTO_OVEREXPOSED: "retake the photo with less light (no flash glare, not against the sun)",
  PHOTO_OLD: "check that the photo belongs to this job (and the camera's clock); or raise images.checks.age.maxAge",
  PHOTO_FAR:
    "check that the photo was taken at this site (and the site's coordinates in the metadata); or raise images.checks.distance.maxDistance",
};

/** A finding as one of the run's warnings (the same code and words, and what to do). */
export function photoWarning(finding: PhotoFinding, source: string): Problem {
  return problem(finding.code, finding.message, HINTS[finding.code.slice(2)] ?? "see docs/photo-checks.md", source);
}

function tally(counts: CheckCounts, name: PhotoCheckName, outcome: CheckOutcome): void {
  const c = counts[name] ?? {};
  c[outcome] = (c[outcome] ?? 0) + 1;
  counts[name] = c;
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
function siteOf(wo: CheckedWorkOrder, latField: string, lonField: string): { latitude: number; longitude: number } | undefined {
  const num = (v: MetadataValue | undefined) =>
    typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : Number.NaN;
  const latitude = num(wo.metadata[latField]);
  const longitude = num(wo.metadata[lonField]);
  if (!(Math.abs(latitude) <= 90 && Math.abs(longitude) <= 180)) return undefined;
  return { latitude, longitude };
}

const EARTH_RADIUS_M = 6_371_008.8;

/** The great-circle distance between two positions, in metres. */
export function haversineMetres(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
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
