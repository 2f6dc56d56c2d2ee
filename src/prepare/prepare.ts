// Photo and work-order preparation: read, check, convert, spool; what the archive writer needs.
import { type FileHandle, mkdir, open, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { crc32 } from "node:zlib";
import type pLimit from "p-limit";
import type { ZipEntrySource } from "../archive/write.js";
import { entryOverhead } from "../archive/zip.js";
import type { CheckedPhoto, PhotoCheckSettings } from "../checks/checks.js";
import type { NewPicture } from "../checks/pictureStore.js";
import type { HeicDecoder } from "../convert/heicTypes.js";
import { endsWithEoi, jpegScanStart, withoutTrailer } from "../convert/imageEnds.js";
import type { ImageSettings } from "../convert/imageSettings.js";
import { checkAsIs } from "../convert/integrity.js";
import { normalizeImage } from "../convert/normalize.js";
import { checkPixels, cleanNativeDecode, type PixelVerdict, shapeOf, type Thumbnail, thumbnailOf } from "../convert/pixels.js";
import { FileBytes } from "../convert/tiffFile.js";
import { ioError, isGone, type Problem, WopackError } from "../core/errors.js";
import type { Logger, PackedEntry, Progress, RefusedReport } from "../core/types.js";
import type { PlannedPhoto, PlannedWorkOrder, RefusedWorkOrder } from "../plan/plan.js";
import { entryName, reencodeReasons } from "../spec/images.js";
import { codeUnitOrder } from "../spec/names.js";
import { internalProblem, refusedReport, unreadable } from "../spec/problems.js";
import type { HeldBytes } from "./heldBytes.js";
import { type PhotoFacts, photoFacts, pictureWanted } from "./photoFacts.js";

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
      for (const o of outcomes) if ("normalized" in o) o.normalized.held?.release();
      const problems = outcomes.flatMap((o) => ("problem" in o ? [o.problem] : []));
      return problems.length ? [refusedReport(wo, problems)] : [];
    }),
  );
  return checked.flat();
}

/** What preparing photos needs: image settings and the shared limits; nothing of archives or moves. */
export interface PrepareContext {
  images: ImageSettings;
  /** leave out a metadata.json that would be {} (the config's metadata.omitWhenEmpty) */
  omitEmptyMetadata: boolean;
  /** keep each photo's thumbnail in the spool, for the archive's review page */
  thumbs: boolean;
  /** small photos read once, whole, and written into the archive from memory, within this bound */
  heldPhotos?: HeldBytes | undefined;
  /** thumbnails kept in memory until the review page, within this bound (past it, spooled to disk) */
  heldThumbs?: HeldBytes | undefined;
  /** the photo checks (SPEC §15): what to measure of each photo; absent, nothing is */
  checks?: PhotoCheckSettings | undefined;
  heic: HeicDecoder;
  photoLimit: ReturnType<typeof pLimit>;
  /** JPEGs checked to be copied as they are, at once (default: photoLimit); one that must be converted after
   * all then takes a photoLimit slot */
  checkLimit?: ReturnType<typeof pLimit> | undefined;
  progress: Progress;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  log: Logger;
}

type PhotoOutcome =
  | { photo: PlannedPhoto; problem: Problem }
  /** the file was moved or removed since it was planned: its work order is not settled */
  | { photo: PlannedPhoto; vanished: string }
  | {
      photo: PlannedPhoto;
      normalized: {
        ext: "jpg" | "png";
        file: string;
        size: number;
        /** unknown for a file copied as is: the archive writer computes it */
        crc32?: number;
        /** a small photo copied as is, as it was read for its checks (the image alone, `crc32` its CRC: the
         * writer says what followed it, as for a copy); `release` gives its bytes back to ctx.heldPhotos */
        held?: { data: Buffer; release: () => void };
        conversion?: string;
        /** copied as is but for this many bytes after the image's end */
        trimmed?: number;
        warnings: Problem[];
        unchangedSince?: { size: number; mtimeMs: number };
        jpegScanFrom?: number;
        /** the thumbnail, in memory or as its file in the spool */
        thumb?: Buffer | string;
        shape?: Pick<PackedEntry, "width" | "height" | "orientation">;
        facts: PhotoFacts;
      };
    };

const HEAD_BYTES = 256 * 1024;

const TAIL_BYTES = 64 * 1024;

/** A photo at most this large is read whole, once: its checks and its archive entry take the same bytes. */
const READ_WHOLE_MAX = 1024 * 1024;

interface Ends {
  head: Buffer;
  tail: Buffer;
  size: number;
  mtimeMs: number;
  /** the whole file, when it is small and `held` had room for it */
  whole?: { bytes: Buffer; release: () => void };
}

/**
 * The first and last bytes of a file, and its size and mtime at that moment; a small file is read whole
 * (one read, its bytes counted in `held`).
 */
async function readEnds(file: string, held: HeldBytes | undefined): Promise<Ends> {
  const fh = await open(file, "r");
  try {
    const { size, mtimeMs } = await fh.stat();
    const release = size <= READ_WHOLE_MAX ? held?.take(size) : undefined;
    if (release) {
      const bytes = Buffer.allocUnsafe(size);
      const { bytesRead } = await fh.read(bytes, 0, size, 0).catch((err) => {
        release();
        throw err;
      });
      const read = bytes.subarray(0, bytesRead);
      if (bytesRead < size) release();
      const ends = {
        head: read.subarray(0, HEAD_BYTES),
        tail: read.subarray(Math.max(0, bytesRead - TAIL_BYTES)),
        size,
        mtimeMs,
      };
      return bytesRead < size ? ends : { ...ends, whole: { bytes, release } };
    }
    const head = Buffer.allocUnsafe(Math.min(size, HEAD_BYTES));
    const tail = Buffer.allocUnsafe(Math.min(size, TAIL_BYTES));
    const [h, t] = await Promise.all([fh.read(head, 0, head.length, 0), fh.read(tail, 0, tail.length, size - tail.length)]);
    // a file cut short since its stat reads short: what was read is all there is
    return { head: head.subarray(0, h.bytesRead), tail: tail.subarray(0, t.bytesRead), size, mtimeMs };
  } finally {
    await fh.close();
  }
}

/**
 * Reads, checks and converts one photo; a converted one is spooled to a file (not kept in memory). A JPEG
 * or PNG that can be packed as is is judged from its first and last bytes (and its pixels, decoded small):
 * the archive writer copies it (computing its CRC on the way), or writes the bytes read when the photo is
 * small, and fails if the file changed since.
 */
async function normalizePhoto(photo: PlannedPhoto, ctx: PrepareContext, spool: string | null): Promise<PhotoOutcome> {
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

/** One more photo read and judged, for the progress line. */
function photoDone(ctx: PrepareContext, photo: PlannedPhoto, bytes: number): void {
  ctx.progress.photosDone++;
  ctx.progress.lastPhoto = photo.source;
  ctx.progress.bytesDone += bytes;
  ctx.onProgress?.(ctx.progress);
}

const vanished = (photo: PlannedPhoto): PhotoOutcome => ({
  photo,
  vanished: `${photo.source} was moved or removed while it was packed`,
});

/** A JPEG or PNG packed as it is, or what is known once it must take the full path (its bytes, when read whole). */
async function copyAsIs(
  photo: PlannedPhoto,
  type: "jpeg" | "png",
  ctx: PrepareContext,
  spool: string | null,
): Promise<PhotoOutcome | { read?: Buffer | undefined }> {
  ctx.signal?.throwIfAborted();
  const ends = await readEnds(photo.abs, ctx.heldPhotos).catch(() => undefined);
  const judged = ends && (await judgeAsIs(photo, type, ends, ctx));
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
          ? { held: { data: image, release: ends.whole.release }, crc32: crc32(image) }
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

async function normalizeFully(
  photo: PlannedPhoto,
  ctx: PrepareContext,
  spool: string | null,
  read: Buffer | undefined,
): Promise<PhotoOutcome> {
  ctx.signal?.throwIfAborted();
  // (a TIFF is not read whole: a scan is 40-130 MB, which would stay in memory until V8 collects it, long
  // after its conversion; libvips reads it from its path, its directories are read where they are)
  let bytes: Buffer | FileHandle;
  try {
    bytes = read ?? (photo.type === "tiff" ? await open(photo.abs, "r") : await readFile(photo.abs));
  } catch (err) {
    if (isGone(err)) {
      return vanished(photo);
    }
    return { photo, problem: unreadable(photo.source, (err as Error).message) };
  }
  let n: Awaited<ReturnType<typeof normalizeImage>>;
  let size: number;
  try {
    const input = Buffer.isBuffer(bytes) ? bytes : new FileBytes(bytes.fd, (await bytes.stat()).size);
    size = input.length;
    n = await normalizeImage(
      { source: photo.source, file: photo.abs, type: photo.type, bytes: input, captureDate: photo.captureDate },
      ctx.images,
      ctx.heic,
    );
  } finally {
    if (!Buffer.isBuffer(bytes)) await bytes.close();
  }
  if ("problem" in n && !Buffer.isBuffer(bytes) && (await stat(photo.abs).catch(isGone)) === true) {
    return vanished(photo);
  }
  photoDone(ctx, photo, size);
  if ("problem" in n) return { photo, problem: n.problem };
  // (after the structure checks, whose problems say more: a missing end marker is "truncated")
  const pixels =
    (photo.type === "jpeg" || photo.type === "png") && ctx.images.verify === "pixels" && Buffer.isBuffer(bytes)
      ? await checkPixels(photo.source, bytes, pictureWanted(ctx.checks))
      : undefined;
  if (pixels && "problem" in pixels) return { photo, problem: pixels.problem };
  let file = photo.abs;
  if (n.conversion !== undefined && spool) {
    file = path.join(spool, `${photo.taskGroup}-${photo.n}.${n.ext}`);
    try {
      await writeFile(file, n.data);
    } catch (err) {
      throw ioError(err, `cannot write a converted image to ${spool}`);
    }
  }
  const { data, warnings, ...rest } = n;
  // (a converted photo's thumbnail, and the picture the checks measure, from its output in memory: the
  // decoded frame is libvips' or libheif's, gone by now; a scaled decode of a JPEG costs a few ms)
  const wanted = ctx.images.verify === "pixels" ? pictureWanted(ctx.checks) : undefined;
  const measured = (t: Pick<Thumbnail, "measures" | "gray"> | undefined) => !!(t?.measures || t?.gray);
  const thumb =
    n.conversion === undefined
      ? pixels?.thumb
      : (spool && ctx.thumbs) || (wanted && !measured(pixels?.thumb))
        ? await thumbnailOf(data, wanted)
        : await shapeOf(data);
  const picture = measured(pixels?.thumb) ? pixels?.thumb : thumb;
  return {
    photo,
    normalized: {
      ...rest,
      warnings: [...(pixels?.warnings ?? []), ...warnings],
      file,
      size: data.length,
      ...(await keepThumb(thumb, photo, ctx, spool)),
      facts: await photoFacts(
        ctx.checks,
        wanted ? picture : undefined,
        data,
        Buffer.isBuffer(bytes) ? bytes : photo.abs,
        photo.type,
      ),
    },
  };
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
): Promise<{ verdict: "copy" | "full" | Problem; pixels?: PixelVerdict }> {
  const { images } = ctx;
  const decodeFirst =
    type === "jpeg" &&
    images.verify === "pixels" &&
    !images.stripGps &&
    images.maxDimension === undefined &&
    reencodeReasons({ bytes: ends.size, width: 0, height: 0, cmyk: false }, images).length === 0 &&
    endsWithEoi(ends.tail) &&
    jpegScanStart(ends.head) !== undefined;
  const clean = decodeFirst
    ? await cleanNativeDecode(
        photo.source,
        ends.whole?.bytes ?? { file: photo.abs, head: ends.head },
        images.maxPixels,
        pictureWanted(ctx.checks),
      )
    : undefined;
  const verdict = await checkAsIs(photo.source, type, ends, images, clean?.thumb);
  return clean ? { verdict, pixels: clean } : { verdict };
}

/** Writes a photo's thumbnail into the spool, when the review page wants it; its size goes to the report. */
async function keepThumb(
  /** a thumbnail, or only the picture's shape (no review page wanted) */
  thumb: (Omit<Thumbnail, "jpeg"> & { jpeg?: Buffer }) | undefined,
  photo: PlannedPhoto,
  ctx: PrepareContext,
  spool: string | null,
) {
  if (!thumb) return {};
  const { jpeg, gray: _gray, measures: _measures, ...shape } = thumb;
  if (!jpeg || !spool || !ctx.thumbs) return { shape };
  // (in memory while the run's bound allows: given back once the review page is written, or the work order dropped)
  if (ctx.heldThumbs?.tryTake(jpeg.length)) return { thumb: jpeg, shape };
  const file = path.join(spool, `${photo.taskGroup}-${photo.n}.thumb.jpg`);
  try {
    await writeFile(file, jpeg);
  } catch (err) {
    throw ioError(err, `cannot write a thumbnail to ${spool}`);
  }
  return { thumb: file, shape };
}

/**
 * Gives back what a prepared work order holds in memory (its thumbnails, and its photos' bytes the archive
 * writer has not taken): once its review page is written, or when it is not packed after all.
 */
export function letGo(prepared: Prepared, ctx: Pick<PrepareContext, "heldThumbs">): void {
  for (const e of prepared.entries) e.release?.();
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

/**
 * An error met while preparing one photo or work order: run-level failures (disk full, interruption) go
 * up; anything else is a bug confined to `path`, which becomes its problem (the stack in --verbose).
 */
function bug(err: unknown, path: string, ctx: PrepareContext): Problem {
  if (err instanceof WopackError || ctx.signal?.aborted) throw err;
  ctx.log.debug(`${path}: ${(err as Error)?.stack ?? String(err)}`);
  return internalProblem(path, err);
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
  const spool = spoolRoot && path.join(spoolRoot, wo.id);
  if (spool)
    await mkdir(spool, { recursive: true }).catch((err) => {
      throw ioError(err, `cannot write to ${spoolRoot}`);
    });
  const outcomes = await Promise.all(wo.photos.map((photo) => normalizePhoto(photo, ctx, spool)));
  const gone = outcomes.find((o) => "vanished" in o);
  const problems = outcomes.flatMap((o) => ("problem" in o ? [o.problem] : []));
  if (gone || problems.length) {
    for (const o of outcomes) {
      if (!("normalized" in o)) continue;
      o.normalized.held?.release();
      if (Buffer.isBuffer(o.normalized.thumb)) ctx.heldThumbs?.give(o.normalized.thumb.length);
    }
  }
  if (gone) return { id: wo.id, reason: `${gone.vanished}; it is packed once it settles` };
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
      ...(n.held ? { data: n.held.data, release: n.held.release } : {}),
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
  if (wo.parameters) {
    try {
      json("parameters.json", await readFile(wo.parameters.abs));
    } catch (err) {
      return refusal(wo, [unreadable(wo.parameters.source, (err as Error).message)]);
    }
  }
  entries.sort((a, b) => codeUnitOrder(a.name, b.name));
  // what the work order adds to an archive, headers included, so that --max-archive-size is a real bound
  const bytes = entries.reduce((n, e) => n + e.size + entryOverhead(e.name), 0);
  // (in processing order: a duplicate names the photo processed first)
  photos.sort((a, b) => a.n - b.n);
  return { wo, entries, report, warnings, bytes, thumbs, photos: photos.map(({ n: _n, ...p }) => p) };
}
