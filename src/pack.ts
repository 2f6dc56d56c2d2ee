import { mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { crc32 } from "node:zlib";
import pLimit from "p-limit";
import { StreamingArchive } from "./archive/stream.js";
import { verifyZip } from "./archive/verify.js";
import type { ZipEntrySource } from "./archive/write.js";
import {
  acquireLock,
  appendLedger,
  faultPoint,
  finishMoves,
  freeName,
  type LedgerRecord,
  type MoveItem,
  moveItem,
  publishNoClobber,
  REPORT_SUFFIX,
  type Recovery,
  readLedger,
  recover,
  syncDir,
  tmpDir,
  writeFileAtomic,
} from "./commit.js";
import type { Config } from "./config/schema.js";
import { ioError, type Problem, WopackError } from "./errors.js";
import { type HookRun, runHook } from "./hook.js";
import { HeicPool } from "./images/heicPool.js";
import { checkAsIs, normalizeImage } from "./images/normalize.js";
import { isIgnoredName } from "./plan/ignore.js";
import type { SidecarRow } from "./plan/metadata.js";
import { type Plan, type PlannedPhoto, type PlannedWorkOrder, planPack, type RefusedWorkOrder } from "./plan/plan.js";
import { type FileFacts, readFileFacts, scanStaging } from "./scan.js";
import { loadSidecar } from "./sidecar.js";

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, debug() {} };

export interface Progress {
  photosDone: number;
  photosTotal: number;
  bytesDone: number;
}

export interface PackOptions {
  staging: string;
  /** the output folder; a dry run may leave it out (nothing is then "already packed") */
  out?: string | undefined;
  config: Config;
  dryRun?: boolean;
  settleMs?: number;
  readyMarker?: string | undefined;
  repack?: boolean;
  /** the --metadata sidecar (CSV or JSON keyed by work-order id) */
  metadataFile?: string | undefined;
  allowIncomplete?: boolean;
  /** with dryRun: also read and check every image (what `validate <staging>` does) */
  checkImages?: boolean;
  moveTo?: string | undefined;
  concurrency?: number;
  maxArchiveSize?: number | undefined;
  maxWorkOrders?: number | undefined;
  signal?: AbortSignal;
  logger?: Logger;
  onProgress?: (p: Progress) => void;
  /** --on-archive: run after each archive is committed, with its path as the last argument (no shell) */
  onArchive?: string[] | undefined;
  /** the clock, for tests */
  now?: () => Date;
}

export interface PackedEntry {
  entry: string;
  source: string;
  bytes: number;
  conversion?: string;
}

export interface PackedWorkOrder {
  id: string;
  fingerprint: string;
  archive: string;
  entries: PackedEntry[];
  warnings: Problem[];
  moves?: MoveItem[];
}

export interface ArchiveReport {
  archive: string;
  path: string;
  sha256: string;
  bytes: number;
  createdAt: string;
  workOrders: PackedWorkOrder[];
  refused: { id: string; problems: Problem[] }[];
  warnings: Problem[];
}

export interface PackResult {
  dryRun: boolean;
  archives: ArchiveReport[];
  packed: PackedWorkOrder[];
  refused: RefusedReport[];
  alreadyPacked: { id: string }[];
  pending: { id: string; reason: string }[];
  warnings: Problem[];
  recovery?: Recovery;
  /** the --on-archive runs; a failed one makes the run exit 1 (the archive is kept) */
  hooks: HookRun[];
  /** in a dry run: what would be packed, with the planned names */
  planned?: { id: string; photos: { source: string; name: string }[] }[];
}

export interface RefusedReport {
  id: string;
  folder?: string;
  /** the staging-relative files of the work order (watch mode moves them to --failed-to) */
  sources: string[];
  problems: Problem[];
}

interface Prepared {
  wo: PlannedWorkOrder;
  entries: ZipEntrySource[];
  report: PackedEntry[];
  warnings: Problem[];
  bytes: number;
}

const LOOKAHEAD_WORK_ORDERS = 4;

/** §4 pack: everything ready now, through scan -> plan -> normalize -> write -> commit, once. */
export async function pack(options: PackOptions): Promise<PackResult> {
  if (!options.out && !options.dryRun)
    throw new WopackError("usage", "E_USAGE", "pack needs --out", "say where the archives go: --out <dir>");
  const staging = path.resolve(options.staging);
  const out = options.out ? path.resolve(options.out) : undefined;
  checkFolders(staging, out, options.moveTo && path.resolve(options.moveTo));
  const sidecar = options.metadataFile ? await loadSidecar(options.metadataFile, options.config.metadata.idColumn) : undefined;
  if (options.dryRun || !out) return packOnce(options, sidecar);
  const session = await openOutput(out, options.logger ?? silentLogger, options.now?.() ?? new Date());
  try {
    const result = await packOnce(options, sidecar);
    result.recovery = session.recovery;
    return result;
  } finally {
    await session.release();
  }
}

/**
 * Takes the lock on --out (exit 4 when another run has it) and repairs what an interrupted run left
 * (recover()). Watch mode holds this for its whole life; pack for one run.
 */
export async function openOutput(out: string, log: Logger, now: Date): Promise<{ recovery: Recovery; release(): Promise<void> }> {
  const lock = await acquireLock(out, now);
  try {
    const recovery = await recover(out).catch((err) => {
      throw ioError(err, `cannot recover the state in ${out}`);
    });
    for (const a of recovery.adopted) log.info(`recovered: ${a} had been committed before an interruption`);
    for (const id of recovery.movesFinished) log.info(`recovered: finished moving ${id} to --move-to`);
    return { recovery, release: () => lock.release() };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

export interface PackOnceOptions extends PackOptions {
  /** watch mode: plan only these work orders */
  only?: ReadonlySet<string>;
  /** watch mode: the fingerprints the work orders had when judged ready */
  expected?: ReadonlyMap<string, string>;
}

/** One pass of the pipeline, with the lock on --out already held (or a dry run, which takes none). */
export async function packOnce(options: PackOnceOptions, sidecar?: Map<string, SidecarRow>): Promise<PackResult> {
  const staging = path.resolve(options.staging);
  const out = path.resolve(options.out ?? staging);
  const log = options.logger ?? silentLogger;
  const now = options.now ?? (() => new Date());
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  const dryRun = options.dryRun ?? false;
  const heic = new HeicPool(concurrency);
  try {
    const ledger = !options.out ? undefined : dryRun ? await readLedger(out).catch(() => undefined) : await readLedger(out);
    const scan = await scanStaging(staging);
    const facts = new Map<string, FileFacts>();
    const limit = pLimit(concurrency * 2);
    await Promise.all(
      scan.entries
        .filter((e) => e.kind === "file" && !e.rel.split("/").some(isIgnoredName))
        .map((e) => limit(async () => facts.set(e.rel, await readFileFacts(e)))),
    );
    const plan = planPack({
      scan,
      facts,
      config: options.config,
      ledger: ledger?.fingerprints ?? new Map(),
      ...(sidecar ? { sidecar } : {}),
      options: {
        now: now().getTime(),
        settleMs: options.settleMs ?? 0,
        readyMarker: options.readyMarker,
        repack: options.repack ?? false,
        allowIncomplete: options.allowIncomplete ?? false,
        ...(options.only ? { only: options.only } : {}),
        ...(options.expected ? { expected: options.expected } : {}),
      },
    });
    const result: PackResult = {
      dryRun,
      archives: [],
      packed: [],
      refused: plan.refused.map(({ id, folder, sources, problems }) => ({
        id,
        ...(folder ? { folder } : {}),
        sources,
        problems,
      })),
      alreadyPacked: plan.alreadyPacked.map(({ id }) => ({ id })),
      pending: plan.pending,
      warnings: plan.warnings,
      hooks: [],
    };
    const ctx: RunContext = {
      ...options,
      staging,
      out,
      concurrency,
      log,
      now,
      heic,
      photoLimit: pLimit(concurrency),
      progress: newProgress(plan),
    };
    // A work order refused while planning still has its images checked, so that every problem is listed.
    await checkPhotos(plan.refused, result, ctx);
    if (dryRun) {
      if (options.checkImages) await checkPhotos(plan.ready, result, ctx);
      result.warnings.push(...plan.ready.flatMap((wo) => wo.warnings));
      const refused = new Set(result.refused.map((r) => r.id));
      result.planned = plan.ready
        .filter((wo) => !refused.has(wo.id))
        .map((wo) => ({
          id: wo.id,
          photos: wo.photos.map((p) => ({
            source: p.source,
            name: `${wo.id}/${p.taskGroup}-${p.n}.${p.type === "png" ? "png" : "jpg"}`,
          })),
        }));
      return result;
    }
    await finishAlreadyPacked(plan, staging, options.moveTo, log);
    await runArchives(plan, result, ctx);
    return result;
  } finally {
    await heic.close();
  }
}

function newProgress(plan: Plan): Progress {
  return {
    photosDone: 0,
    photosTotal: [...plan.ready, ...plan.refused].reduce((n, wo) => n + wo.photos.length, 0),
    bytesDone: 0,
  };
}

/** Reads and checks the photos of these work orders without keeping anything; problems go to result.refused. */
async function checkPhotos(
  wos: readonly { id: string; folder?: string; sources: string[]; photos: PlannedPhoto[] }[],
  result: PackResult,
  ctx: RunContext,
) {
  await Promise.all(
    wos.map(async (wo) => {
      const outcomes = await Promise.all(wo.photos.map((p) => ctx.photoLimit(() => normalizePhoto(p, ctx, null))));
      const problems = outcomes.flatMap((o) => ("problem" in o ? [o.problem] : []));
      if (!problems.length) return;
      const target = result.refused.find((r) => r.id === wo.id);
      if (target) target.problems.push(...problems);
      else result.refused.push({ id: wo.id, ...(wo.folder ? { folder: wo.folder } : {}), sources: wo.sources, problems });
    }),
  );
  result.refused.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function checkFolders(staging: string, out: string | undefined, moveTo: string | undefined): void {
  const inside = (child: string, parent: string) => child === parent || child.startsWith(parent + path.sep);
  if (out && (inside(out, staging) || inside(staging, out))) {
    throw new WopackError(
      "usage",
      "E_OUT_IN_STAGING",
      `--out ${out} and the staging folder ${staging} overlap`,
      "put the output folder beside the staging folder, not inside it",
    );
  }
  if (moveTo && (inside(moveTo, staging) || inside(staging, moveTo))) {
    throw new WopackError(
      "usage",
      "E_MOVE_TO_IN_STAGING",
      `--move-to ${moveTo} and the staging folder ${staging} overlap`,
      "move packed work orders to a folder beside the staging folder, e.g. ../processed",
    );
  }
}

/** A work order the ledger already holds, whose move to --move-to was not done: do it now. */
async function finishAlreadyPacked(plan: Plan, staging: string, moveTo: string | undefined, log: Logger) {
  if (!moveTo) return;
  for (const wo of plan.alreadyPacked) {
    const moves = await planMoves(wo, staging, path.resolve(moveTo));
    for (const m of moves)
      await moveItem(m).catch((err) => {
        throw ioError(err, `cannot move ${m.from} to ${m.to}`);
      });
    log.info(`${wo.id}: already packed; moved to ${moveTo}`);
  }
}

async function planMoves(
  wo: { id: string; folder?: string; sources: string[] },
  staging: string,
  moveTo: string,
): Promise<MoveItem[]> {
  const target = await freeName(moveTo, wo.id);
  const moves: MoveItem[] = [];
  if (wo.folder) moves.push({ from: path.join(staging, wo.folder), to: target });
  for (const rel of wo.sources) {
    if (!rel.includes("/")) moves.push({ from: path.join(staging, rel), to: path.join(target, rel) });
  }
  return moves;
}

interface RunContext extends PackOptions {
  staging: string;
  out: string;
  concurrency: number;
  log: Logger;
  now: () => Date;
  heic: HeicPool;
  photoLimit: ReturnType<typeof pLimit>;
  progress: Progress;
}

/**
 * Prepares work orders (conversions on all cores, a few work orders ahead) while the archive in progress
 * streams the finished ones, in path order; splits archives by --max-work-orders / --max-archive-size.
 */
async function runArchives(plan: Plan, result: PackResult, ctx: RunContext): Promise<void> {
  const spool = path.join(tmpDir(ctx.out), `spool.${process.pid}`);
  await mkdir(spool, { recursive: true }).catch((err) => {
    throw ioError(err, `cannot write to ${ctx.out}`);
  });
  const prepare = (wo: PlannedWorkOrder) => prepareWorkOrder(wo, ctx, spool);
  // Enough work orders in flight to keep every core busy even when one of them holds a slow photo.
  const photosPerWorkOrder = Math.max(1, ctx.progress.photosTotal / Math.max(1, plan.ready.length));
  const lookahead = Math.max(LOOKAHEAD_WORK_ORDERS, Math.ceil((ctx.concurrency * 4) / photosPerWorkOrder));

  const started: Promise<Prepared | RefusedWorkOrder>[] = [];
  const start = (i: number) => {
    if (i >= plan.ready.length || started[i]) return;
    started[i] = prepare(plan.ready[i]!);
    started[i].catch(() => undefined); // awaited in order below; an abort must not surface as unhandled first
  };
  let current: { archive: StreamingArchive; batch: Prepared[]; seq: number } | undefined;
  let seq = 1;
  const close = async () => {
    if (!current) return;
    const { archive, batch, seq: n } = current;
    current = undefined;
    const report = await commitArchive(archive, batch, result, ctx, n);
    result.archives.push(report);
    result.packed.push(...report.workOrders);
    for (const p of batch) await rm(path.join(spool, p.wo.id), { recursive: true, force: true });
    if (ctx.onArchive?.length) {
      const run = await runHook(ctx.onArchive, report.path);
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
      for (let j = i; j <= i + lookahead; j++) start(j);
      const prepared = await started[i]!;
      delete started[i];
      ctx.signal?.throwIfAborted();
      if ("problems" in prepared) {
        result.refused.push({
          id: prepared.id,
          ...(prepared.folder ? { folder: prepared.folder } : {}),
          sources: prepared.sources,
          problems: prepared.problems,
        });
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
      if (!current) {
        const tmp = path.join(tmpDir(ctx.out), `${process.pid}.${seq}.zip.partial`);
        current = { archive: new StreamingArchive(tmp, ctx.signal), batch: [], seq: seq++ };
      }
      try {
        current.archive.add(prepared.entries);
      } catch (err) {
        throw writeFailure(err, ctx);
      }
      current.batch.push(prepared);
      ctx.onProgress?.(ctx.progress);
    }
    await close();
  } finally {
    await current?.archive.discard();
    await Promise.allSettled(started.filter(Boolean));
    await rm(spool, { recursive: true, force: true });
  }
  result.refused.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function writeFailure(err: unknown, ctx: RunContext): WopackError {
  if (err instanceof WopackError) return err;
  if (ctx.signal?.aborted) return interrupted();
  if ((err as NodeJS.ErrnoException).code) return ioError(err, `cannot write the archive in ${ctx.out}`);
  return new WopackError(
    "io",
    "E_ARCHIVE_VERIFY",
    `the archive failed verification: ${(err as Error).message}`,
    "nothing was committed; run again (if a source changed while packing, it is picked up then)",
    { cause: err },
  );
}

type PhotoOutcome =
  | { photo: PlannedPhoto; problem: Problem }
  | {
      photo: PlannedPhoto;
      normalized: {
        ext: "jpg" | "png";
        file: string;
        size: number;
        /** unknown for a file copied as is: the archive writer computes it */
        crc32?: number;
        conversion?: string;
        warnings: Problem[];
        unchangedSince?: { size: number; mtimeMs: number };
      };
    };

const HEAD_BYTES = 256 * 1024;
const TAIL_BYTES = 64 * 1024;

/** The first and last bytes of a file, and its size and mtime at that moment. */
async function readEnds(file: string): Promise<{ head: Buffer; tail: Buffer; size: number; mtimeMs: number }> {
  const fh = await open(file, "r");
  try {
    const { size, mtimeMs } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    await fh.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(size, TAIL_BYTES));
    await fh.read(tail, 0, tail.length, size - tail.length);
    return { head, tail, size, mtimeMs };
  } finally {
    await fh.close();
  }
}

/**
 * Reads, checks and converts one photo; a converted one is spooled to a file (not kept in memory). A JPEG
 * or PNG that can be packed as is is judged from its first and last bytes only: the archive writer copies
 * it (computing its CRC on the way) and fails if it changed since.
 */
async function normalizePhoto(photo: PlannedPhoto, ctx: RunContext, spool: string | null): Promise<PhotoOutcome> {
  const { progress } = ctx;
  ctx.signal?.throwIfAborted();
  if (photo.type === "jpeg" || photo.type === "png") {
    const ends = await readEnds(photo.abs).catch(() => undefined);
    const verdict = ends && (await checkAsIs(photo.source, photo.type, ends, ctx.config.images));
    if (ends && verdict && verdict !== "full") {
      progress.photosDone++;
      progress.bytesDone += ends.size;
      ctx.onProgress?.(progress);
      if (verdict !== "copy") return { photo, problem: verdict };
      const ext = photo.type === "jpeg" ? "jpg" : "png";
      const unchangedSince = { size: ends.size, mtimeMs: ends.mtimeMs };
      return { photo, normalized: { ext, file: photo.abs, size: ends.size, warnings: [], unchangedSince } };
    }
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(photo.abs);
  } catch (err) {
    const message = `${photo.source}: cannot be read (${(err as Error).message})`;
    return {
      photo,
      problem: {
        code: "E_UNREADABLE",
        message,
        hint: "check the file's permissions and that it is fully copied",
        path: photo.source,
      },
    };
  }
  const n = await normalizeImage(
    { source: photo.source, type: photo.type, bytes, captureDate: photo.captureDate },
    ctx.config.images,
    ctx.heic,
  );
  progress.photosDone++;
  progress.bytesDone += bytes.length;
  ctx.onProgress?.(progress);
  if ("problem" in n) return { photo, problem: n.problem };
  let file = photo.abs;
  if (n.conversion !== undefined && spool) {
    file = path.join(spool, `${photo.taskGroup}-${photo.n}.${n.ext}`);
    try {
      await writeFile(file, n.data);
    } catch (err) {
      throw ioError(err, `cannot write a converted image to ${spool}`);
    }
  }
  const { data, ...rest } = n;
  return { photo, normalized: { ...rest, file, size: data.length } };
}

async function prepareWorkOrder(wo: PlannedWorkOrder, ctx: RunContext, spoolRoot: string): Promise<Prepared | RefusedWorkOrder> {
  const spool = path.join(spoolRoot, wo.id);
  await mkdir(spool, { recursive: true }).catch((err) => {
    throw ioError(err, `cannot write to ${spoolRoot}`);
  });
  const outcomes = await Promise.all(wo.photos.map((photo) => ctx.photoLimit(() => normalizePhoto(photo, ctx, spool))));
  const problems = outcomes.flatMap((o) => ("problem" in o ? [o.problem] : []));
  if (problems.length)
    return {
      id: wo.id,
      ...(wo.folder ? { folder: wo.folder } : {}),
      sources: wo.sources,
      fingerprint: wo.fingerprint,
      problems,
      photos: [],
    };

  const entries: ZipEntrySource[] = [];
  const report: PackedEntry[] = [];
  const warnings = [...wo.warnings];
  for (const o of outcomes) {
    if (!("normalized" in o)) continue;
    const { photo, normalized: n } = o;
    const name = `${wo.id}/${photo.taskGroup}-${photo.n}.${n.ext}`;
    entries.push({
      name,
      file: n.file,
      store: true,
      size: n.size,
      ...(n.crc32 === undefined ? {} : { crc32: n.crc32 }),
      ...(n.unchangedSince ? { unchangedSince: n.unchangedSince } : {}),
    });
    report.push({ entry: name, source: photo.source, bytes: n.size, ...(n.conversion ? { conversion: n.conversion } : {}) });
    warnings.push(...n.warnings);
  }
  const json = (name: string, data: Buffer) =>
    entries.push({ name: `${wo.id}/${name}`, data, store: false, crc32: crc32(data), size: data.length });
  if (Object.keys(wo.metadata).length || !ctx.config.metadata.omitWhenEmpty) {
    json("metadata.json", Buffer.from(JSON.stringify(wo.metadata, null, 2) + "\n"));
  }
  if (wo.parameters) {
    try {
      json("parameters.json", await readFile(wo.parameters.abs));
    } catch (err) {
      const p = {
        code: "E_UNREADABLE",
        message: `${wo.parameters.source}: cannot be read (${(err as Error).message})`,
        hint: "check the file's permissions",
        path: wo.parameters.source,
      };
      return { id: wo.id, sources: wo.sources, fingerprint: wo.fingerprint, problems: [p], photos: [] };
    }
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { wo, entries, report, warnings, bytes: entries.reduce((n, e) => n + e.size, 0) };
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
    await archive.finish();
    verified = await verifyZip(
      tmp,
      archive.entries.map((e) => ({ name: e.name, size: e.size, crc32: e.crc32 ?? Number.NaN })),
    );
  } catch (err) {
    await rm(tmp, { force: true });
    throw writeFailure(err, ctx);
  }

  const moveTo = ctx.moveTo ? path.resolve(ctx.moveTo) : undefined;
  const workOrders: PackedWorkOrder[] = [];
  for (const p of batch) {
    const moves = moveTo ? await planMoves(p.wo, ctx.staging, moveTo) : undefined;
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
      await writeFileAtomic(reportPath, JSON.stringify(candidate, null, 2) + "\n", tmpDir(out));
      faultPoint("before-publish");
      // A name taken (another archive in the same second): drop this report and try the next sequence number.
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
  const at = new Date().toISOString();
  const commits = workOrders.map((wo) => ({ id: wo.id, fingerprint: wo.fingerprint, archive: report.archive, moves: wo.moves }));
  try {
    await appendLedger(
      out,
      commits.map((c) => ({ type: "commit", at, ...c }) as LedgerRecord),
    );
    faultPoint("after-ledger");
    for (const c of commits) await finishMoves(out, c);
  } catch (err) {
    throw ioError(
      err,
      `archive ${report.archive} is committed, but recording it or moving its sources failed (the next run finishes this)`,
    );
  }
  return report;
}

function interrupted(): WopackError {
  return new WopackError(
    "interrupted",
    "E_INTERRUPTED",
    "interrupted; the archive in progress was discarded",
    "run again to pack what is left",
  );
}
