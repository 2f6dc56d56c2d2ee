// Writing a review page: streamed to a temporary file, then renamed beside its archive.

import { type FileHandle, open, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type yauzl from "yauzl";
import { BoundedZip, entryTooBig, MAX_JSON_ENTRY, MAX_WHOLE_ENTRY, openZipListing, wrappingFolder } from "../archive/readZip.js";
import { sha256Of } from "../commit/files.js";
import { REPORT_SUFFIX } from "../commit/recovery.js";
import { type Config, configSchema } from "../config/schema.js";
import { checkPackableImage } from "../convert/integrity.js";
import { type Thumbnail, thumbnailOf } from "../convert/pixels.js";
import { sniffImageType } from "../convert/sniff.js";
import type { Problem } from "../core/errors.js";
import { parseJsonText } from "../core/text.js";
import type { ArchiveReport, RefusedReport } from "../core/types.js";
import { parseEntryName } from "../spec/images.js";
import { codeUnitOrder } from "../spec/names.js";
import { earlierSource } from "./earlier.js";
import type { EarlierSource } from "./findings.js";
import { type Review, type ReviewPhoto, renderReview, type ThumbSource } from "./render.js";

/**
 * the page's bytes gathered before each write: a few writes a page, not one a photo card. Each chunk is encoded
 * as it comes (gathering the text into one string instead measured ~0.1 s slower on a page of 1,000 flagged cards)
 * and written as it is, several to a writev (not copied into one buffer first)
 */
const WRITE_AT = 1 << 20;
const WRITE_PARTS = 256;

/** Writes the page to `tmpFolder`, then renames it to `file` (a reader never sees half a page). */
export async function writeReview(
  file: string,
  review: Review,
  thumbOf: ThumbSource,
  tmpFolder: string,
  earlierOf?: EarlierSource,
): Promise<void> {
  const tmp = path.join(tmpFolder, `${process.pid}.${path.basename(file)}.partial`);
  const out = await open(tmp, "w");
  try {
    let gathered: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of renderReview(review, thumbOf, earlierOf)) {
      const data = Buffer.from(chunk);
      gathered.push(data);
      bytes += data.length;
      if (bytes < WRITE_AT && gathered.length < WRITE_PARTS) continue;
      await writeAll(out, gathered, bytes);
      gathered = [];
      bytes = 0;
    }
    await writeAll(out, gathered, bytes);
    await out.close();
    await rename(tmp, file);
  } catch (err) {
    await out.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

/** `buffers` (`bytes` in all) written where the file is, in one writev unless it wrote less. */
async function writeAll(out: FileHandle, buffers: Buffer[], bytes: number): Promise<void> {
  const { bytesWritten } = await out.writev(buffers);
  if (bytesWritten < bytes) await out.writeFile(Buffer.concat(buffers, bytes).subarray(bytesWritten));
}

/** What a review page needs of the run that packed the archive. */
export interface PackedBatch {
  report: ArchiveReport;
  /** each work order's metadata.json, as packed (undefined: left out) */
  metadata: Map<string, Record<string, unknown> | undefined>;
  /** entry name -> thumbnail (in memory, or its file in the spool), for the photos that have one */
  thumbs: Map<string, Buffer | string>;
  /** the run's refused work orders, with the photos their problems name (thumbnails made from staging) */
  refused: RefusedReport[];
  staging: string;
  config: Config;
  generator: string;
  noThumbs?: string | undefined;
}

/**
 * The review of an archive just packed: thumbnails from the spool, facts from the report; a re-used photo's
 * earlier picture from the earlier archive in the outbox.
 */
export function reviewOfBatch(b: PackedBatch): { review: Review; thumbOf: ThumbSource; earlierOf: EarlierSource } {
  const review: Review = {
    archive: b.report.archive,
    sha256: b.report.sha256,
    bytes: b.report.bytes,
    createdAt: b.report.createdAt,
    workOrders: b.report.workOrders.map((wo) => ({
      id: wo.id,
      metadata: b.metadata.get(wo.id),
      photos: wo.entries,
      warnings: wo.warnings,
    })),
    refused: b.refused.map((r) => ({ id: r.id, problems: r.problems, photos: involvedPhotos(r.problems) })),
    warnings: b.report.warnings,
    fields: requiredFields(b.config),
    noThumbs: b.noThumbs,
    generator: b.generator,
  };
  const thumbOf: ThumbSource = async (photo, workOrder) => {
    const refused = review.refused.some((r) => r.id === workOrder);
    if (refused) return thumbOrNothing(() => thumbnailOf(path.join(b.staging, photo.entry)));
    const jpeg = await thumbBytes(b.thumbs.get(photo.entry));
    return jpeg && { jpeg };
  };
  const earlierOf = earlierSource({
    out: path.dirname(b.report.path),
    archive: b.report.archive,
    sameArchive: (entry) => thumbBytes(b.thumbs.get(entry)),
    maxImageSize: b.config.images.maxImageSize,
    maxPixels: b.config.images.maxPixels,
  });
  return { review, thumbOf, earlierOf };
}

async function thumbBytes(thumb: Buffer | string | undefined): Promise<Buffer | undefined> {
  return typeof thumb === "string" ? readFile(thumb).catch(() => undefined) : thumb;
}

const IMAGE_NAME = /\.(jpe?g|png|hei[cf]|avif|webp|tiff?|gif|bmp|jxl)$/i;

/** The photos a refused work order's problems name (its images; a problem about a folder names none). */
function involvedPhotos(problems: readonly Problem[]): ReviewPhoto[] {
  const paths = [...new Set(problems.flatMap((p) => (p.path && IMAGE_NAME.test(p.path) ? [p.path] : [])))];
  return paths.sort(codeUnitOrder).map((p) => ({ entry: p, source: p, conversion: null }));
}

async function thumbOrNothing(make: () => Promise<Thumbnail>): Promise<Thumbnail | undefined> {
  try {
    return await make();
  } catch {
    return undefined;
  }
}

function requiredFields(config: Config | undefined): Review["fields"] {
  const fields: Review["fields"] = {};
  for (const [name, f] of Object.entries(config?.metadata.fields ?? {})) fields[name] = { required: f.required === true };
  return fields;
}

/**
 * The review of any archive, from the zip alone (its report beside it, when there is one, adds sources,
 * conversions and refusals): every photo decoded from the zip for its thumbnail, one at a time. Read within
 * validate's limits (someone else's zip included): entries streamed with declared and real sizes and CRCs
 * checked; a photo declared above the image-size limit, or whose header is above the pixel limit, gets its
 * problem on the page instead of a thumbnail, and is never held whole or decoded.
 */
export async function reviewOfArchive(
  file: string,
  config: Config | undefined,
  generator: string,
): Promise<{ review: Review; thumbOf: ThumbSource; earlierOf: EarlierSource; close: () => void }> {
  const { zip, entries, listError } = await openZipListing(file);
  if (listError) {
    zip.close();
    throw listError;
  }
  // (validate's bounds: what is read is the zip's work, not what its headers claim)
  const bounded = new BoundedZip(file, zip, entries);
  const { maxImageSize, maxPixels } = (config ?? configSchema.parse({})).images;
  const imageLimit = Math.min(maxImageSize, MAX_WHOLE_ENTRY);
  const report = await readFile(file + REPORT_SUFFIX, "utf8").then(
    (text) => reportShape(JSON.parse(text)),
    () => undefined,
  );
  const byEntry = new Map(report?.workOrders.flatMap((wo) => wo.entries.map((e) => [e.entry, e] as const)) ?? []);
  const workOrders = new Map<string, Review["workOrders"][number]>();
  const images = new Map<string, yauzl.Entry>();
  // the work orders are the archive's top folders, whatever wrapping folder the archive has
  const top = wrappingFolder(entries.filter((e) => !e.fileName.endsWith("/")).map((e) => e.fileName));
  for (const e of entries) {
    const rel = top ? e.fileName.slice(top.length + 1) : e.fileName;
    const slash = rel.indexOf("/");
    if (slash <= 0 || rel.endsWith("/")) continue;
    const id = rel.slice(0, slash);
    const name = rel.slice(slash + 1);
    let wo = workOrders.get(id);
    if (!wo) {
      const reported = report?.workOrders.find((w) => w.id === id);
      wo = { id, photos: [], warnings: [...(reported?.warnings ?? [])] };
      workOrders.set(id, wo);
    }
    if (name === "metadata.json") {
      const checked =
        e.uncompressedSize > MAX_JSON_ENTRY ? { problem: entryTooBig(e, "json", MAX_JSON_ENTRY) } : await bounded.read(e, true);
      if ("problem" in checked) {
        wo.warnings.push(checked.problem);
        wo.metadata = { "(metadata.json)": `not read: ${checked.problem.code}` };
        continue;
      }
      const parsed = parseJsonText(checked.read.data ?? Buffer.alloc(0));
      wo.metadata = "value" in parsed && isObject(parsed.value) ? parsed.value : { "(metadata.json)": "not a JSON object" };
    } else if (parseEntryName(name) && !name.includes("/")) {
      const entry = `${id}/${name}`;
      images.set(entry, e);
      wo.photos.push(byEntry.get(entry) ?? { entry, bytes: e.uncompressedSize, conversion: report ? undefined : null });
    }
  }
  const { size } = await stat(file);
  const review: Review = {
    archive: path.basename(file),
    sha256: report?.sha256 ?? (await sha256Of(file)),
    bytes: size,
    createdAt: report?.createdAt,
    workOrders: [...workOrders.values()].sort((a, b) => codeUnitOrder(a.id, b.id)),
    refused: (report?.refused ?? []).map((r) => ({ id: r.id, problems: r.problems, photos: [] })),
    warnings: report?.warnings ?? [],
    fields: requiredFields(config),
    fromZipOnly: !report,
    generator,
  };
  const thumbOf: ThumbSource = async (photo) => {
    const e = images.get(photo.entry);
    if (!e) return undefined;
    // judged by its declared size before a byte is read (yauzl stops a stream at the declared size)
    // (a photo its report lists at this size was packed under that run's own --max-image-size: up to
    // the most ever held whole, so that remaking our own pages never depends on today's config)
    const limit = photo.bytes === e.uncompressedSize && byEntry.has(photo.entry) ? MAX_WHOLE_ENTRY : imageLimit;
    if (e.uncompressedSize > limit) return { problem: entryTooBig(e, "image", limit) };
    const checked = await bounded.read(e, true);
    if ("problem" in checked) return checked;
    const data = checked.read.data ?? Buffer.alloc(0);
    const type = sniffImageType(data);
    if (type !== "jpeg" && type !== "png") return undefined;
    // (integrity and the pixel limit from the header, as validate does, before anything is decoded)
    const refused = await checkPackableImage(photo.entry, type, data, maxPixels);
    return refused ? { problem: refused } : thumbOrNothing(() => thumbnailOf(data));
  };
  const earlierOf = earlierSource({
    out: path.dirname(path.resolve(file)),
    archive: review.archive,
    sameArchive: async (entry, workOrder) => {
      const made = await thumbOf({ entry }, workOrder);
      return made && "jpeg" in made ? made.jpeg : undefined;
    },
    maxImageSize,
    maxPixels,
  });
  return { review, thumbOf, earlierOf, close: () => zip.close() };
}

/**
 * The report beside an archive as far as it reads as one of wopack's (someone else's may hold anything):
 * undefined when it is not an object with a list of work orders; items of the wrong shape left out.
 */
function reportShape(v: unknown): ArchiveReport | undefined {
  if (!isObject(v) || !Array.isArray(v.workOrders)) return undefined;
  const objects = (x: unknown) => (Array.isArray(x) ? x.filter(isObject) : []);
  const problems = (x: unknown) =>
    objects(x).filter((p) => typeof p.code === "string" && typeof p.message === "string") as unknown as Problem[];
  const text = (x: unknown) => (typeof x === "string" ? x : undefined);
  return {
    ...v,
    sha256: text(v.sha256),
    createdAt: text(v.createdAt),
    workOrders: objects(v.workOrders)
      .filter((wo) => typeof wo.id === "string")
      .map((wo) => ({
        ...wo,
        entries: objects(wo.entries).filter((e) => typeof e.entry === "string"),
        warnings: problems(wo.warnings),
      })),
    refused: objects(v.refused)
      .filter((r) => typeof r.id === "string")
      .map((r) => ({ id: r.id, problems: problems(r.problems) })),
    warnings: problems(v.warnings),
  } as unknown as ArchiveReport;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
