// Archives out of prepared work orders: streamed, split, verified, committed, sources moved.

import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { StreamingArchive } from "../archive/stream.js";
import { verifyZip } from "../archive/verify.js";
import { SourceChangedError } from "../archive/zip.js";
import { exists, publishNoClobber, syncDir, writeFileNoClobber } from "../commit/files.js";
import { runHook } from "../commit/hook.js";
import { appendLedger, type LedgerRecord } from "../commit/ledger.js";
import { leftBehindWarnings, planMoves } from "../commit/moves.js";
import { tmpDir } from "../commit/paths.js";
import { finishMoves, moveFailed, REPORT_SUFFIX } from "../commit/recovery.js";
import { trailerNote } from "../convert/normalize.js";
import type { Clock } from "../core/clock.js";
import { interruptedError, ioError, WopackError } from "../core/errors.js";
import { faultPoint } from "../core/fault.js";
import type { ArchiveReport, PackedWorkOrder, PackResult } from "../core/types.js";
import type { Plan, PlannedWorkOrder, RefusedWorkOrder } from "../plan/plan.js";
import { type PrepareContext, type Prepared, prepareWorkOrder, type Unsettled } from "../prepare/prepare.js";
import { codeUnitOrder } from "../spec/names.js";
import { refusedReport } from "../spec/problems.js";
import type { PackOptions } from "./options.js";

/**
 * How many photos may be prepared ahead of the work order being written. Passthrough photos cost only a
 * file name; converted ones are spooled to disk, so this bounds the spool, not memory. It must be large
 * enough that one slow photo at the head does not leave the other cores idle.
 */
const LOOKAHEAD_PHOTOS_PER_CORE = 64;

/** --on-archive-timeout's default: an upload of a few GB over a slow line fits. */
const DEFAULT_HOOK_TIMEOUT_MS = 30 * 60_000;

/** A pack run's options with what the run settled: folders, the clock, and what preparing photos needs. */
export interface RunContext extends PackOptions, PrepareContext {
  staging: string;
  out: string;
  concurrency: number;
  now: Clock;
}

/**
 * Prepares work orders (conversions on all cores, up to a budget of photos ahead) while the archive in
 * progress streams the finished ones, in path order; splits archives by --max-work-orders and
 * --max-archive-size (a work order larger than the limit gets an archive of its own).
 */
export async function runArchives(plan: Plan, result: PackResult, ctx: RunContext): Promise<void> {
  const spool = path.join(tmpDir(ctx.out), `spool.${process.pid}`);
  await mkdir(spool, { recursive: true }).catch((err) => {
    throw ioError(err, `cannot write to ${ctx.out}`);
  });
  const prepare = (wo: PlannedWorkOrder) => prepareWorkOrder(wo, ctx, spool);
  const budget = LOOKAHEAD_PHOTOS_PER_CORE * ctx.concurrency;
  let nextToStart = 0;
  let photosAhead = 0;

  const started: Promise<Prepared | RefusedWorkOrder | Unsettled>[] = [];
  const start = (i: number) => {
    started[i] = prepare(plan.ready[i]!);
    started[i].catch(() => undefined); // awaited in order below; an abort must not surface as unhandled first
  };
  let current: Current | undefined;
  let seq = 1;
  const open = (batch: Prepared[], n: number): Current => {
    const tmp = path.join(tmpDir(ctx.out), `${process.pid}.${n}.zip.partial`);
    const opened = { archive: new StreamingArchive(tmp, ctx.signal), batch: [] as Prepared[], seq: n };
    for (const p of batch) add(opened, p);
    return opened;
  };
  const add = (to: Current, prepared: Prepared) => {
    to.archive.add(prepared.entries);
    to.batch.push(prepared);
  };
  /**
   * A photo copied as is changed after it was checked (someone copied it again): its work order is left
   * pending (the next run, or watch once it settles, packs it as it is then) and the archive is written
   * again without it, rather than failing every work order in it.
   */
  const without = async (from: Current, err: SourceChangedError): Promise<Current | undefined> => {
    await from.archive.discard();
    const id = err.entry.slice(0, err.entry.indexOf("/"));
    result.pending.push({ id, reason: `${err.message}; it is packed once it settles` });
    ctx.log.warn(`${id}: a photo changed while it was being packed (${err.file}); left for the next run`);
    const rest = from.batch.filter((p) => p.wo.id !== id);
    return rest.length ? open(rest, from.seq) : undefined;
  };
  const close = async () => {
    let report: ArchiveReport | undefined;
    let batch: Prepared[] = [];
    while (current && !report) {
      const closing: Current = current;
      current = undefined;
      batch = closing.batch;
      try {
        report = await commitArchive(closing.archive, closing.batch, result, ctx, closing.seq);
      } catch (err) {
        if (!(err instanceof SourceChangedError)) throw err;
        current = await without(closing, err);
      }
    }
    if (!report) return;
    result.archives.push(report);
    result.packed.push(...report.workOrders);
    for (const p of batch) await rm(path.join(spool, p.wo.id), { recursive: true, force: true });
    if (ctx.onArchive?.length) {
      const run = await runHook(ctx.onArchive, report.path, {
        timeoutMs: ctx.onArchiveTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS,
        signal: ctx.signal,
        onLine: (line) => ctx.log.info(`--on-archive: ${line}`),
      });
      result.hooks.push(run);
      if (run.ok) ctx.log.info(`--on-archive ran for ${report.archive}`);
      else
        ctx.log.warn(
          `--on-archive failed for ${report.archive} (exit ${run.exitCode ?? "?"}); the archive is kept: ${run.output}`,
        );
    }
  };
  try {
    for (let i = 0; i < plan.ready.length; i++) {
      // Start work orders ahead (always the one to write next), up to the photo budget.
      while (nextToStart < plan.ready.length && (nextToStart <= i || photosAhead < budget)) {
        photosAhead += plan.ready[nextToStart]!.photos.length;
        start(nextToStart++);
      }
      const prepared = await started[i]!;
      delete started[i];
      photosAhead -= plan.ready[i]!.photos.length;
      ctx.signal?.throwIfAborted();
      if ("reason" in prepared) {
        result.pending.push(prepared);
        ctx.log.warn(`${prepared.id}: ${prepared.reason}`);
        continue;
      }
      if ("problems" in prepared) {
        result.refused.push(refusedReport(prepared, prepared.problems));
        ctx.log.warn(`${prepared.id}: refused (${prepared.problems.length} problem${prepared.problems.length > 1 ? "s" : ""})`);
        continue;
      }
      const tooMany = ctx.maxWorkOrders !== undefined && current !== undefined && current.batch.length >= ctx.maxWorkOrders;
      const tooBig =
        ctx.maxArchiveSize !== undefined && current !== undefined && current.archive.bytes + prepared.bytes > ctx.maxArchiveSize;
      if (tooMany || tooBig) await close();
      if (ctx.maxArchiveSize !== undefined && prepared.bytes > ctx.maxArchiveSize) {
        prepared.warnings.push({
          code: "W_WORK_ORDER_OVER_ARCHIVE_SIZE",
          message: `work order ${prepared.wo.id} (${prepared.bytes} bytes) is larger than --max-archive-size ${ctx.maxArchiveSize}; it gets an archive of its own`,
          hint: "a work order never spans two archives; raise the limit if the upload path allows",
        });
      }
      current ??= open([], seq++);
      try {
        add(current, prepared);
      } catch (err) {
        if (!(err instanceof SourceChangedError)) throw writeFailure(err, ctx);
        const n = current.seq;
        current = (await without(current, err)) ?? open([], n);
        add(current, prepared);
      }
      ctx.onProgress?.(ctx.progress);
    }
    await close();
  } catch (err) {
    // a run-level failure after some archives were committed: those stay, and the error says which
    if (err instanceof WopackError)
      err.committed = result.archives.map((a) => ({
        archive: a.archive,
        path: a.path,
        workOrders: a.workOrders.map((w) => w.id),
      }));
    throw err;
  } finally {
    await current?.archive.discard();
    await Promise.allSettled(started.filter(Boolean));
    await rm(spool, { recursive: true, force: true });
  }
  result.refused.sort((a, b) => codeUnitOrder(a.id, b.id));
}

interface Current {
  archive: StreamingArchive;
  batch: Prepared[];
  seq: number;
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

function archiveName(prefix: string, at: Date, seq: number): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${prefix}-${stamp}-${seq}.zip`;
}

/** §8 commit protocol: temp file, fsync, verify, report, no-clobber rename, ledger, then move sources. */
async function commitArchive(
  archive: StreamingArchive,
  batch: Prepared[],
  result: PackResult,
  ctx: RunContext,
  seq: number,
): Promise<ArchiveReport> {
  const { out, log } = ctx;
  const createdAt = ctx.now();
  const tmp = archive.tmp;
  let verified: { sha256: string; bytes: number };
  try {
    const { readBack } = await archive.finish();
    verified = await verifyZip(
      tmp,
      archive.entries.map((e) => ({ name: e.name, size: e.size, crc32: e.crc32 ?? Number.NaN })),
      readBack,
    );
  } catch (err) {
    await rm(tmp, { force: true });
    throw err instanceof SourceChangedError ? err : writeFailure(err, ctx);
  }

  const moveTo = ctx.moveTo ? path.resolve(ctx.moveTo) : undefined;
  const workOrders: PackedWorkOrder[] = [];
  for (const p of batch) {
    // a JPEG the writer cut at its real end: the report says so, as for one cut while it was checked
    for (const e of p.entries) {
      const r = e.trimmed ? p.report.find((x) => x.entry === e.name) : undefined;
      if (r && e.trimmed) Object.assign(r, { bytes: e.size, conversion: trailerNote(e.trimmed) });
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

  let report: ArchiveReport | undefined;
  try {
    for (let s = seq; !report; s++) {
      const name = archiveName(ctx.config.archive.prefix, createdAt, s);
      for (const wo of workOrders) wo.archive = name;
      const candidate: ArchiveReport = {
        archive: name,
        path: path.join(out, name),
        sha256: verified.sha256,
        bytes: verified.bytes,
        createdAt: createdAt.toISOString(),
        workOrders,
        refused: result.refused.map(({ id, problems }) => ({ id, problems })),
        warnings: result.warnings,
      };
      ctx.signal?.throwIfAborted();
      const reportPath = candidate.path + REPORT_SUFFIX;
      // A name taken (an earlier archive in the same second, or its report): try the next sequence number.
      // Neither file is ever written over: that would take the earlier archive's report from it.
      if (await exists(candidate.path)) continue;
      if (!(await writeFileNoClobber(reportPath, JSON.stringify(candidate, null, 2) + "\n", tmpDir(out)))) continue;
      faultPoint("before-publish");
      if (
        await publishNoClobber(tmp, candidate.path).catch(async (err) => {
          await rm(reportPath, { force: true });
          throw err;
        })
      )
        report = candidate;
      else await rm(reportPath, { force: true });
    }
    await syncDir(out);
  } catch (err) {
    await rm(tmp, { force: true });
    if (ctx.signal?.aborted) throw interrupted();
    throw ioError(err, `cannot commit the archive in ${out}`);
  }
  log.debug(`packed ${workOrders.length} work order${workOrders.length === 1 ? "" : "s"} into ${report.archive}`);

  // Committed: from here on a crash is repaired by recover() from the report beside the archive.
  faultPoint("after-publish");
  const at = ctx.now().toISOString();
  const commits = workOrders.map((wo) => ({ id: wo.id, fingerprint: wo.fingerprint, archive: report.archive, moves: wo.moves }));
  try {
    await appendLedger(
      out,
      commits.map((c) => ({ type: "commit", at, ...c }) as LedgerRecord),
    );
  } catch (err) {
    throw ioError(
      err,
      `archive ${report.archive} is committed, but recording it in the ledger failed (the next run finishes this)`,
    );
  }
  faultPoint("after-ledger");
  // One work order whose folder cannot be moved stays packed and in staging; the others move on.
  for (const c of commits) {
    try {
      const left = await finishMoves(out, c, ctx.now);
      for (const w of leftBehindWarnings(c.id, left, ctx.staging)) {
        result.warnings.push(w);
        log.warn(w.message);
      }
    } catch (err) {
      const p = moveFailed(c.id, err);
      result.moveFailures.push(p);
      log.warn(p.message);
    }
  }
  return report;
}

function interrupted(): WopackError {
  return interruptedError("interrupted; the archive in progress was discarded");
}
