// §8 the commit protocol, after the archive was written, fsynced and read back (run/archives.ts): the report
// and the archive given their final names (never written over), the directory fsynced, the ledger, then
// the sources moved. A crash at any point is repaired by recovery.ts from what is on disk.
import { rm } from "node:fs/promises";
import path from "node:path";
import type { Clock } from "../core/clock.js";
import { interruptedError, ioError, type Problem } from "../core/errors.js";
import { faultPoint } from "../core/fault.js";
import type { ArchiveReport, Logger, PackedWorkOrder, RefusedReport } from "../core/types.js";
import { countPhotos } from "../spec/images.js";
import { type Shard, shardTag } from "../spec/shard.js";
import { exists, publishNoClobber, syncDir, writeFileNoClobber } from "./files.js";
import { appendLedger, type LedgerRecord } from "./ledger.js";
import { leftBehindWarnings } from "./moves.js";
import { tmpDir } from "./paths.js";
import { finishMoves, moveFailed, REPORT_SUFFIX } from "./recovery.js";

export interface CommitContext {
  out: string;
  staging: string;
  /** the archives' prefix (config archive.prefix) */
  prefix: string;
  shard?: Shard | undefined;
  now: Clock;
  log: Logger;
  signal?: AbortSignal | undefined;
  /**
   * Records (appends and fsyncs) what the index of packed pictures keeps of this archive under the name it is
   * given (checks/pictureStore.ts appendPictures): called once its report is in place and before the archive
   * is, so that the ledger never holds an archive whose pictures were not written. A failure fails the commit.
   */
  recordPictures?: ((archive: string) => Promise<void>) | undefined;
}

/** What an archive's report says of its work orders; photoChecks: see ArchiveReport. */
export interface ArchiveContent {
  workOrders: PackedWorkOrder[];
  refused: RefusedReport[];
  warnings: Problem[];
  photoChecks?: ArchiveReport["photoChecks"];
}

/** A verified temporary archive, ready to be committed. */
export interface VerifiedArchive {
  tmp: string;
  sha256: string;
  bytes: number;
  /** the first sequence number to try for its name */
  seq: number;
  /** performance.now() when it was opened: the report's durationMs */
  openedAt: number;
}

export interface Committed {
  report: ArchiveReport;
  /** files left in staging after a finished move (added after their work order was packed) */
  warnings: Problem[];
  /** work orders whose sources could not be moved (they stay; the next run moves them) */
  moveFailures: Problem[];
}

/** Commits a verified archive: named, recorded in the ledger, then its work orders' sources moved. */
export async function commitArchive(archive: VerifiedArchive, content: ArchiveContent, ctx: CommitContext): Promise<Committed> {
  const report = await publish(archive, content, ctx);
  ctx.log.debug(
    `packed ${content.workOrders.length} work order${content.workOrders.length === 1 ? "" : "s"} into ${report.archive}`,
  );
  // Committed: from here on a crash is repaired by recover() from the report beside the archive.
  faultPoint("after-publish");
  return { report, ...(await recordAndMove(report, ctx)) };
}

/** `<prefix>-<UTC>-<seq>.zip`, with the shard before the sequence when sharded (`-s1of3-`): still sorts by time. */
export function archiveName(prefix: string, at: Date, seq: number, shard: Shard | undefined): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${prefix}-${stamp}-${shard ? `${shardTag(shard)}-` : ""}${seq}.zip`;
}

/**
 * Gives the archive its name: the report first, then the archive, neither ever written over (a name
 * taken by an earlier archive in the same second, or its report, moves on to the next sequence number).
 */
async function publish(archive: VerifiedArchive, content: ArchiveContent, ctx: CommitContext): Promise<ArchiveReport> {
  const { out } = ctx;
  const createdAt = ctx.now();
  const { workOrders } = content;
  try {
    for (let s = archive.seq; ; s++) {
      const name = archiveName(ctx.prefix, createdAt, s, ctx.shard);
      for (const wo of workOrders) {
        wo.archive = name;
        // (a photo check's earlier picture in this same archive: named now, as its work order is)
        for (const e of wo.entries) for (const f of e.checks ?? []) if (f.earlier?.archive === "") f.earlier.archive = name;
      }
      const report: ArchiveReport = {
        archive: name,
        path: path.join(out, name),
        sha256: archive.sha256,
        bytes: archive.bytes,
        createdAt: createdAt.toISOString(),
        workOrders,
        photos: countPhotos(workOrders.flatMap((wo) => wo.entries)),
        refused: content.refused.map(({ id, problems }) => ({ id, problems })),
        warnings: content.warnings,
        durationMs: Math.round(performance.now() - archive.openedAt),
        ...(content.photoChecks ? { photoChecks: content.photoChecks } : {}),
      };
      ctx.signal?.throwIfAborted();
      const reportPath = report.path + REPORT_SUFFIX;
      if (await exists(report.path)) continue;
      if (!(await writeFileNoClobber(reportPath, JSON.stringify(report, null, 2) + "\n", tmpDir(out)))) continue;
      await ctx.recordPictures?.(name).catch(async (err) => {
        await rm(reportPath, { force: true });
        throw err;
      });
      faultPoint("before-publish");
      const published = await publishNoClobber(archive.tmp, report.path).catch(async (err) => {
        await rm(reportPath, { force: true });
        throw err;
      });
      if (published) {
        await syncDir(out);
        return report;
      }
      await rm(reportPath, { force: true });
    }
  } catch (err) {
    await rm(archive.tmp, { force: true });
    if (ctx.signal?.aborted) throw interruptedError("interrupted; the archive in progress was discarded");
    throw ioError(err, `cannot commit the archive in ${out}`);
  }
}

/**
 * Records the commit in the ledger, then moves each work order's sources (one that cannot move stays).
 * What went wrong is returned, for the run to tell once.
 */
async function recordAndMove(report: ArchiveReport, ctx: CommitContext): Promise<Omit<Committed, "report">> {
  const { out } = ctx;
  const at = ctx.now().toISOString();
  const commits = report.workOrders.map((wo) => ({
    id: wo.id,
    fingerprint: wo.fingerprint,
    archive: report.archive,
    moves: wo.moves,
  }));
  try {
    await appendLedger(
      out,
      commits.map((c) => ({ type: "commit", at, ...c }) as LedgerRecord),
    );
  } catch (err) {
    const e = ioError(
      err,
      `archive ${report.archive} is committed, but recording it in the ledger failed (the next run finishes this)`,
    );
    // (it is in place under its name: the run's error lists it with the others committed)
    e.committed = [{ archive: report.archive, path: report.path, workOrders: report.workOrders.map((w) => w.id) }];
    throw e;
  }
  faultPoint("after-ledger");
  const done: Omit<Committed, "report"> = { warnings: [], moveFailures: [] };
  for (const c of commits) {
    try {
      const left = await finishMoves(out, c, ctx.now);
      done.warnings.push(...leftBehindWarnings(c.id, left, ctx.staging));
    } catch (err) {
      done.moveFailures.push(moveFailed(c.id, err));
    }
  }
  return done;
}
