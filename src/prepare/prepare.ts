// One work order's photos prepared (each by the copy path or the full path) and assembled into what the
// archive writer needs: entries, report rows, thumbnails, the checks' facts.
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { ZipEntrySource } from "../archive/write.js";
import { entryOverhead } from "../archive/zip.js";
import type { CheckedPhoto } from "../checks/checks.js";
import type { NewPicture } from "../checks/pictureStore.js";
import { crc32 } from "../core/crc32.js";
import { isGone, type Problem } from "../core/errors.js";
import type { PackedEntry, RefusedReport } from "../core/types.js";
import type { PlannedPhoto, PlannedWorkOrder, RefusedWorkOrder } from "../plan/plan.js";
import { entryName } from "../spec/images.js";
import { codeUnitOrder } from "../spec/names.js";
import { refusedReport, unreadable, vanishedSource } from "../spec/problems.js";
import { copyAsIs } from "./copyAsIs.js";
import { normalizeFully } from "./normalizeFully.js";
import { bug, type PhotoOutcome, type PrepareContext, vanished } from "./prepareContext.js";

export interface Prepared {
  wo: PlannedWorkOrder;
  entries: ZipEntrySource[];
  report: PackedEntry[];
  warnings: Problem[];
  bytes: number;
  /** entry name -> its thumbnail (for the review page), where one was made: in memory, or its spool file */
  thumbs: Map<string, Buffer | string>;
  /** what the photo checks judge, one per photo in processing order (empty when no check is on) */
  photos: CheckedPhoto[];
  /** its photos as the index of packed pictures keeps them; appended when its archive is committed */
  pictures?: NewPicture[];
}

/** Reads and checks the photos of these work orders without keeping anything: the refusals it finds. */
export async function checkPhotos(
  wos: readonly { id: string; folder?: string; sources: string[]; photos: PlannedPhoto[] }[],
  ctx: PrepareContext,
): Promise<RefusedReport[]> {
  const checked = await Promise.all(
    wos.map(async (wo) => {
      const outcomes = await Promise.all(wo.photos.map((p) => normalizePhoto(p, ctx, null)));
      for (const o of outcomes) if ("normalized" in o) o.normalized.held?.recycle();
      // (a photo gone since the plan: what a real run refuses it with, goneFrom's problem)
      const problems = outcomes.flatMap((o) =>
        "problem" in o ? [o.problem] : "vanished" in o ? [vanishedSource(wo.id, o.photo.source)] : [],
      );
      return problems.length ? [refusedReport(wo, problems)] : [];
    }),
  );
  return checked.flat();
}

/**
 * Reads, checks and converts one photo; a converted one is spooled to a file (not kept in memory). A JPEG
 * or PNG that can be packed as is is judged from its first and last bytes (and its pixels, decoded small):
 * the archive writer copies it (computing its CRC on the way), or writes the bytes read when the photo is
 * small, and fails if the file changed since.
 */
async function normalizePhoto(photo: PlannedPhoto, ctx: PrepareContext, spool: string | null): Promise<PhotoOutcome> {
  const outcome = await normalizeOrProblem(photo, ctx, spool);
  // (its file read by path after its first bytes were, by a check or a decoder: a read that failed because the
  // file went says "damaged", or throws; the file's absence says what happened)
  if ("problem" in outcome && (await stat(photo.abs).catch(isGone)) === true) return vanished(photo);
  return outcome;
}

async function normalizeOrProblem(photo: PlannedPhoto, ctx: PrepareContext, spool: string | null): Promise<PhotoOutcome> {
  try {
    const type = photo.type;
    // (JPEGs many at once: their checks wait on reads and on the binding's threads, and hold a small decode; a
    // PNG's check decodes it whole, as a conversion does: one a photo slot)
    const limit = type === "jpeg" ? (ctx.checkLimit ?? ctx.photoLimit) : ctx.photoLimit;
    const asIs = type === "jpeg" || type === "png" ? await limit(() => copyAsIs(photo, type, ctx, spool)) : undefined;
    if (asIs && "photo" in asIs) return asIs;
    return await ctx.photoLimit(() => normalizeFully(photo, ctx, spool, asIs?.read));
  } catch (err) {
    return { photo, problem: bug(err, photo.source, ctx) };
  }
}

/**
 * Gives back what a prepared work order holds in memory (its thumbnails, and its photos' bytes the archive
 * writer has not taken): once its review page is written, or when it is not packed after all.
 */
export function letGo(prepared: Prepared, ctx: Pick<PrepareContext, "heldThumbs">): void {
  for (const e of prepared.entries) e.recycle?.();
  for (const t of prepared.thumbs.values()) if (Buffer.isBuffer(t)) ctx.heldThumbs?.give(t.length);
  prepared.thumbs.clear();
}

/** A work order that changed while it was prepared: left pending, packed once it settles. */
export interface Unsettled {
  id: string;
  reason: string;
}

/**
 * One work order's photos read, checked and converted, ready to write. An unexpected error (a bug) on
 * this work order refuses it alone; run-level failures (disk full, interruption) go up.
 */
export async function prepareWorkOrder(
  wo: PlannedWorkOrder,
  ctx: PrepareContext,
  /** null: nothing is written (a dry run's check: converted photos are not kept) */
  spoolRoot: string | null,
): Promise<Prepared | RefusedWorkOrder | Unsettled> {
  try {
    return await prepareUnguarded(wo, ctx, spoolRoot);
  } catch (err) {
    return refusal(wo, [bug(err, wo.folder ?? wo.id, ctx)]);
  }
}

/** A source moved or removed since the plan: watch waits for its work order to settle; pack refuses it (SPEC §9). */
function goneFrom(wo: PlannedWorkOrder, source: string, ctx: PrepareContext): RefusedWorkOrder | Unsettled {
  if (ctx.vanishedWaits)
    return { id: wo.id, reason: `${source} was moved or removed while it was packed; it is packed once it settles` };
  return refusal(wo, [vanishedSource(wo.id, source)]);
}

/** Gives back what the photos of a work order that is not packed hold in memory. */
function letGoOutcomes(outcomes: readonly PhotoOutcome[], ctx: PrepareContext): void {
  for (const o of outcomes) {
    if (!("normalized" in o)) continue;
    o.normalized.held?.recycle();
    if (Buffer.isBuffer(o.normalized.thumb)) ctx.heldThumbs?.give(o.normalized.thumb.length);
  }
}

function refusal(wo: PlannedWorkOrder, problems: Problem[]): RefusedWorkOrder {
  return {
    id: wo.id,
    ...(wo.folder ? { folder: wo.folder } : {}),
    sources: wo.sources,
    fingerprint: wo.fingerprint,
    stamps: wo.stamps,
    problems,
    photos: [],
  };
}

async function prepareUnguarded(
  wo: PlannedWorkOrder,
  ctx: PrepareContext,
  spoolRoot: string | null,
): Promise<Prepared | RefusedWorkOrder | Unsettled> {
  // (its folder in the spool is made by the first file written there: most work orders write none)
  const spool = spoolRoot && path.join(spoolRoot, wo.id);
  const outcomes = await Promise.all(wo.photos.map((photo) => normalizePhoto(photo, ctx, spool)));
  const gone = outcomes.find((o) => "vanished" in o);
  const problems = outcomes.flatMap((o) => ("problem" in o ? [o.problem] : []));
  let parameters: Buffer | undefined;
  if (wo.parameters && !gone && !problems.length) {
    try {
      parameters = await readFile(wo.parameters.abs);
    } catch (err) {
      letGoOutcomes(outcomes, ctx);
      if (isGone(err)) return goneFrom(wo, wo.parameters.source, ctx);
      return refusal(wo, [unreadable(wo.parameters.source, (err as Error).message)]);
    }
  }
  if (gone || problems.length) letGoOutcomes(outcomes, ctx);
  if (gone) return goneFrom(wo, gone.photo.source, ctx);
  if (problems.length) return refusal(wo, problems);

  const entries: ZipEntrySource[] = [];
  const report: PackedEntry[] = [];
  const photos: (CheckedPhoto & { n: number })[] = [];
  const thumbs = new Map<string, Buffer | string>();
  const warnings = [...wo.warnings];
  for (const o of outcomes) {
    if (!("normalized" in o)) continue;
    const { photo, normalized: n } = o;
    const name = entryName(wo.id, photo.taskGroup, photo.n, n.ext);
    entries.push({
      name,
      file: n.file,
      store: true,
      size: n.size,
      ...(n.held ? { data: n.held.data, recycle: n.held.recycle } : {}),
      ...(n.crc32 === undefined ? {} : { crc32: n.crc32 }),
      ...(n.unchangedSince ? { unchangedSince: n.unchangedSince } : {}),
      ...(n.jpegScanFrom === undefined ? {} : { jpegScanFrom: n.jpegScanFrom }),
    });
    report.push({
      entry: name,
      source: photo.source,
      bytes: n.size,
      format: photo.type,
      handling: n.conversion === undefined ? "copied" : n.trimmed ? "trimmed" : "converted",
      ...(n.conversion ? { conversion: n.conversion } : {}),
      ...n.shape,
      ...(photo.captureDate ? { captured: photo.captureDate } : {}),
      ...(photo.capturedFrom ? { capturedFrom: photo.capturedFrom } : {}),
      ...(photo.fileTime ? { fileTime: photo.fileTime } : {}),
    });
    if (n.thumb) thumbs.set(name, n.thumb);
    warnings.push(...n.warnings);
    if (ctx.checks) photos.push({ entry: name, source: photo.source, captured: photo.captureDate, ...n.facts, n: photo.n });
  }
  const json = (name: string, data: Buffer) =>
    entries.push({ name: `${wo.id}/${name}`, data, store: false, crc32: crc32(data), size: data.length });
  if (Object.keys(wo.metadata).length || !ctx.omitEmptyMetadata) {
    json("metadata.json", Buffer.from(JSON.stringify(wo.metadata, null, 2) + "\n"));
  }
  if (parameters) json("parameters.json", parameters);
  entries.sort((a, b) => codeUnitOrder(a.name, b.name));
  // what the work order adds to an archive, headers included, so that --max-archive-size is a real bound
  const bytes = entries.reduce((n, e) => n + e.size + entryOverhead(e.name), 0);
  // (in processing order: a duplicate names the photo processed first)
  photos.sort((a, b) => a.n - b.n);
  return { wo, entries, report, warnings, bytes, thumbs, photos: photos.map(({ n: _n, ...p }) => p) };
}
