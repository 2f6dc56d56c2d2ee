// Archives out of prepared work orders: streamed, split, written and read back, then committed (commit/commit.ts).

import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { overArchiveSize, startsNewArchive } from "../archive/batching.js";
import { StreamingArchive } from "../archive/stream.js";
import { verifyZip } from "../archive/verify.js";
import { SourceChangedError } from "../archive/zip.js";
import { appendPictures } from "../checks/pictureStore.js";
import { commitArchive } from "../commit/commit.js";
import { planMoves } from "../commit/moves.js";
import { tmpDir } from "../commit/paths.js";
import { trailerNote } from "../convert/imageEnds.js";
import type { Clock } from "../core/clock.js";
import { interruptedError, ioError, problem, WopackError } from "../core/errors.js";
import type { ArchiveReport, PackedWorkOrder, PackResult } from "../core/types.js";
import { VERSION } from "../core/version.js";
import type { Plan, PlannedWorkOrder } from "../plan/plan.js";
import { letGo, type Prepared, prepareWorkOrder } from "../prepare/prepare.js";
import type { PrepareContext } from "../prepare/prepareContext.js";
import { reviewOfBatch, writeReview } from "../review/writeReview.js";
import { codeUnitOrder, reviewPath } from "../spec/names.js";
import { refusedReport, vanishedSource } from "../spec/problems.js";
import type { PhotoChecks } from "./judging.js";
import { runArchiveHook } from "./onArchive.js";
import type { PackOptions } from "./options.js";

/**
 * How many photos may be prepared ahead of the work order being written. Passthrough photos cost only a
 * file name; converted ones are spooled to disk, so this bounds the spool, not memory. It must be large
 * enough that one slow photo at the head does not leave the other cores idle.
 */
const LOOKAHEAD_PHOTOS_PER_CORE = 64;

/** A pack run's options with what the run settled: folders, the clock, and what preparing photos needs. */
export interface RunContext extends PackOptions, PrepareContext {
  staging: string;
  out: string;
  concurrency: number;
  now: Clock;
  /** told of each archive once it is committed and its hook ran (--upload queues it) */
  onCommitted?: (report: ArchiveReport) => void;
  /** the photo checks of this pass (SPEC §15), when any is on */
  photoChecks?: PhotoChecks | undefined;
}

/**
 * Prepares work orders (conversions on all cores, up to a budget of photos ahead) while the archive in
 * progress streams the finished ones, in path order; splits archives by --max-work-orders and
 * --max-archive-size (archive/batching.ts). Fills in the result's archives, packed, refused and pending.
 */
export async function runArchives(plan: Plan, result: PackResult, ctx: RunContext): Promise<void> {
  const spool = path.join(tmpDir(ctx.out), `spool.${process.pid}`);
  await mkdir(spool, { recursive: true }).catch((err) => {
    throw ioError(err, `cannot write to ${ctx.out}`);
  });
  const ahead = new Lookahead(plan.ready, (wo) => prepareWorkOrder(wo, ctx, spool), LOOKAHEAD_PHOTOS_PER_CORE * ctx.concurrency);
  const writer = new ArchiveWriter(result, ctx, spool);
  try {
    for (let i = 0; i < plan.ready.length; i++) {
      const prepared = await ahead.take(i);
      ctx.signal?.throwIfAborted();
      if ("reason" in prepared) {
        result.pending.push(prepared);
        ctx.log.warn(`${prepared.id}: ${prepared.reason}`);
      } else if ("problems" in prepared) {
        // (told once, by the run's refused event)
        result.refused.push(refusedReport(prepared, prepared.problems));
      } else {
        // judged in plan order, before it is written: later work orders are compared with it
        const refusedBy = ctx.photoChecks?.judge(prepared) ?? [];
        if (refusedBy.length) {
          letGo(prepared, ctx);
          result.refused.push(refusedReport(prepared.wo, refusedBy));
          await dropSpooled(spool, prepared);
          continue;
        }
        await writer.add(prepared);
        ctx.onProgress?.(ctx.progress);
      }
    }
    await writer.close();
  } catch (err) {
    // a run-level failure after some archives were committed: those stay, and the error says which
    // (an archive in place whose ledger record failed comes with the error: after the others)
    if (err instanceof WopackError)
      err.committed = [
        ...result.archives.map((a) => ({
          archive: a.archive,
          path: a.path,
          workOrders: a.workOrders.map((w) => w.id),
        })),
        ...err.committed,
      ];
    throw err;
  } finally {
    await writer.discard();
    await ahead.settle();
    await rm(spool, { recursive: true, force: true });
  }
  result.refused.sort((a, b) => codeUnitOrder(a.id, b.id));
}

/** Prepares work orders ahead of the one being written (always that one), up to a budget of photos. */
class Lookahead<T> {
  private readonly started: Promise<T>[] = [];
  private next = 0;
  private photosAhead = 0;

  constructor(
    private readonly wos: readonly PlannedWorkOrder[],
    private readonly prepare: (wo: PlannedWorkOrder) => Promise<T>,
    private readonly budget: number,
  ) {}

  async take(i: number): Promise<T> {
    while (this.next < this.wos.length && (this.next <= i || this.photosAhead < this.budget)) {
      this.photosAhead += this.wos[this.next]!.photos.length;
      const started = this.prepare(this.wos[this.next]!);
      started.catch(() => undefined); // awaited in order; an abort must not surface as unhandled first
      this.started[this.next++] = started;
    }
    const prepared = await this.started[i]!;
    delete this.started[i];
    this.photosAhead -= this.wos[i]!.photos.length;
    return prepared;
  }

  /** Waits for what was started and not taken (after a failure), so nothing runs on after the run. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.started.filter(Boolean));
  }
}

interface Current {
  archive: StreamingArchive;
  batch: Prepared[];
  /** the entries its work orders put in */
  entries: number;
  seq: number;
  /** performance.now() when its first work order was put in */
  openedAt: number;
}

/** Streams prepared work orders into the archive in progress, and closes it when the limits say so. */
class ArchiveWriter {
  private current: Current | undefined;
  private seq = 1;

  constructor(
    private readonly result: PackResult,
    private readonly ctx: RunContext,
    private readonly spool: string,
  ) {}

  async add(prepared: Prepared): Promise<void> {
    const { ctx } = this;
    const open = this.current && {
      workOrders: this.current.batch.length,
      bytes: this.current.archive.bytes,
      entries: this.current.entries,
    };
    if (startsNewArchive(open, { bytes: prepared.bytes, entries: prepared.entries.length }, ctx)) await this.close();
    const over = overArchiveSize(prepared.wo.id, prepared.bytes, ctx);
    if (over) prepared.warnings.push(over);
    this.current ??= this.open([], this.seq++);
    try {
      this.put(this.current, prepared);
    } catch (err) {
      if (!(err instanceof SourceChangedError)) throw writeFailure(err, ctx);
      const n = this.current.seq;
      this.current = (await this.without(this.current, err)) ?? this.open([], n);
      this.put(this.current, prepared);
    }
    // full by count: committed now, not when the next work order is ready (its upload can start at once)
    if (ctx.maxWorkOrders !== undefined && this.current.batch.length >= ctx.maxWorkOrders) await this.close();
  }

  /** Commits the archive in progress (without a work order whose photo changed meanwhile), then its hook. */
  async close(): Promise<void> {
    let report: ArchiveReport | undefined;
    let batch: Prepared[] = [];
    while (this.current && !report) {
      const closing: Current = this.current;
      this.current = undefined;
      batch = closing.batch;
      try {
        report = await commitCurrent(closing, this.result, this.ctx);
      } catch (err) {
        if (!(err instanceof SourceChangedError)) throw err;
        this.current = await this.without(closing, err);
      }
    }
    if (!report) return;
    this.ctx.photoChecks?.committedAs(batch, report.archive);
    this.result.archives.push(report);
    this.result.packed.push(...report.workOrders);
    await this.review(report, batch);
    for (const p of batch) {
      letGo(p, this.ctx);
      await dropSpooled(this.spool, p);
    }
    await this.runHook(report);
    this.ctx.onCommitted?.(report);
  }

  /**
   * The archive's review page, from the thumbnails in the spool. The archive is committed already: a page
   * that cannot be written is a warning, and `wopack review` makes it again.
   */
  private async review(report: ArchiveReport, batch: Prepared[]): Promise<void> {
    const { ctx } = this;
    if (!ctx.thumbs) return;
    const refusedIds = new Set(report.refused.map((r) => r.id));
    const { review, thumbOf, earlierOf } = reviewOfBatch({
      report,
      metadata: new Map(
        batch.map((p) => [p.wo.id, p.entries.some((e) => e.name === `${p.wo.id}/metadata.json`) ? p.wo.metadata : undefined]),
      ),
      thumbs: new Map(batch.flatMap((p) => [...p.thumbs])),
      refused: this.result.refused.filter((r) => refusedIds.has(r.id)),
      staging: ctx.staging,
      config: ctx.config,
      generator: `wopack ${VERSION}`,
      noThumbs:
        ctx.images.verify === "structure"
          ? "images.verify is structure, so photos copied as they are were not decoded"
          : undefined,
    });
    try {
      await writeReview(reviewPath(report.path), review, thumbOf, tmpDir(ctx.out), earlierOf);
      report.reviewPage = reviewPath(report.path);
    } catch (err) {
      if (ctx.signal?.aborted) throw interrupted();
      const w = problem(
        "W_REVIEW_NOT_WRITTEN",
        `the review page of ${report.archive} could not be written (${(err as Error).message}); the archive is committed`,
        `make it again with: wopack review ${report.path}`,
        report.archive,
      );
      this.result.warnings.push(w); // (told with the run's warnings)
    }
  }

  async discard(): Promise<void> {
    await this.current?.archive.discard();
  }

  private open(batch: Prepared[], seq: number): Current {
    const tmp = path.join(tmpDir(this.ctx.out), `${process.pid}.${seq}.zip.partial`);
    const opened = {
      archive: new StreamingArchive(tmp, this.ctx.signal),
      batch: [] as Prepared[],
      entries: 0,
      seq,
      openedAt: performance.now(),
    };
    for (const p of batch) this.put(opened, p);
    return opened;
  }

  private put(to: Current, prepared: Prepared): void {
    to.archive.add(prepared.entries);
    to.batch.push(prepared);
    to.entries += prepared.entries.length;
  }

  /**
   * A photo copied as is changed after it was checked (someone copied it again), or was moved or removed:
   * its work order is left pending (the next run, or watch once it settles, packs it as it is then), or,
   * gone from pack's run, refused as a vanished source (SPEC §9); the archive is written again without it,
   * rather than failing every work order in it.
   */
  private async without(from: Current, err: SourceChangedError): Promise<Current | undefined> {
    await from.archive.discard();
    const id = err.entry.slice(0, err.entry.indexOf("/"));
    const wo = from.batch.find((p) => p.wo.id === id);
    const source = wo?.report.find((r) => r.entry === err.entry)?.source;
    if (err.vanished && wo && source && !this.ctx.vanishedWaits) {
      this.result.refused.push(refusedReport(wo.wo, [vanishedSource(id, source)]));
    } else {
      this.result.pending.push({ id, reason: `${err.message}; it is packed once it settles` });
      const what = err.vanished ? "moved or removed" : "changed";
      this.ctx.log.warn(`${id}: a photo was ${what} while it was being packed (${err.file}); left for the next run`);
    }
    for (const p of from.batch) if (p.wo.id === id) letGo(p, this.ctx);
    this.ctx.photoChecks?.dropped(id);
    const rest = from.batch.filter((p) => p.wo.id !== id);
    return rest.length ? this.open(rest, from.seq) : undefined;
  }

  private async runHook(report: ArchiveReport): Promise<void> {
    const { ctx } = this;
    if (!ctx.onArchive?.length) return;
    this.result.hooks.push(await runArchiveHook(ctx.out, report.archive, ctx.onArchive, ctx));
  }
}

function writeFailure(err: unknown, ctx: RunContext): WopackError {
  if (err instanceof WopackError) return err;
  if (ctx.signal?.aborted) return interrupted();
  if ((err as NodeJS.ErrnoException).code) return ioError(err, `cannot write the archive in ${ctx.out}`);
  return new WopackError(
    "io",
    "E_ARCHIVE_VERIFY",
    `the archive failed verification: ${(err as Error).message}`,
    "the archive in progress was not committed; run again (if a source changed while packing, it is picked up then)",
    { cause: err },
  );
}

/** Ends the archive, reads it back, then commits it (commit/commit.ts); its refused and warnings are the run's. */
async function commitCurrent(
  { archive, batch, seq, openedAt }: Current,
  result: PackResult,
  ctx: RunContext,
): Promise<ArchiveReport> {
  const verified = await finishAndVerify(archive, ctx);
  const photoChecks = ctx.photoChecks?.settle(batch);
  const workOrders = await packedWorkOrders(batch, ctx);
  const pictures = batch.flatMap((p) => p.pictures ?? []);
  const committed = await commitArchive(
    { tmp: archive.tmp, ...verified, seq, openedAt },
    { workOrders, refused: result.refused, warnings: result.warnings, ...(photoChecks ? { photoChecks } : {}) },
    {
      ...ctx,
      prefix: ctx.config.archive.prefix,
      recordPictures: (name) => appendPictures(ctx.out, name, pictures, ctx.now()),
    },
  );
  result.warnings.push(...committed.warnings);
  result.moveFailures.push(...committed.moveFailures);
  return committed.report;
}

/** Ends the archive (fsync) and reads it back against what was written; the temp file goes on failure. */
async function finishAndVerify(archive: StreamingArchive, ctx: RunContext): Promise<{ sha256: string; bytes: number }> {
  try {
    const { readBack } = await archive.finish();
    return await verifyZip(
      archive.tmp,
      archive.entries.map((e) => ({ name: e.name, size: e.size, crc32: e.crc32 ?? Number.NaN })),
      readBack,
    );
  } catch (err) {
    await rm(archive.tmp, { force: true });
    throw err instanceof SourceChangedError ? err : writeFailure(err, ctx);
  }
}

/** The report's work orders: their entries (a JPEG the writer cut at its real end says so) and moves. */
async function packedWorkOrders(batch: Prepared[], ctx: RunContext): Promise<PackedWorkOrder[]> {
  const moveTo = ctx.moveTo ? path.resolve(ctx.moveTo) : undefined;
  const workOrders: PackedWorkOrder[] = [];
  for (const p of batch) {
    for (const e of p.entries) {
      const r = e.trimmed ? p.report.find((x) => x.entry === e.name) : undefined;
      if (r && e.trimmed) Object.assign(r, { bytes: e.size, handling: "trimmed", conversion: trailerNote(e.trimmed) });
    }
    const moves = moveTo ? (await planMoves(p.wo, ctx.staging, moveTo)).moves : undefined;
    workOrders.push({
      id: p.wo.id,
      fingerprint: p.wo.fingerprint,
      archive: "",
      entries: p.report,
      warnings: p.warnings,
      ...(moves ? { moves } : {}),
    });
  }
  return workOrders;
}

/** A work order's files in the spool (converted photos, thumbnails past the memory bound), if it wrote any. */
async function dropSpooled(spool: string, p: Prepared): Promise<void> {
  const dir = path.join(spool, p.wo.id);
  const wrote =
    p.entries.some((e) => e.file?.startsWith(dir + path.sep)) || [...p.thumbs.values()].some((t) => typeof t === "string");
  if (wrote) await rm(dir, { recursive: true, force: true });
}

function interrupted(): WopackError {
  return interruptedError("interrupted; the archive in progress was discarded");
}
