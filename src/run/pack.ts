import { availableParallelism } from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import { appendLedger, type LedgerState, readLedger, shardLatest } from "../commit/ledger.js";
import { leftBehindWarnings, moveItem, planMoves } from "../commit/moves.js";
import { decodingDir } from "../commit/paths.js";
import { finishMoves, moveFailed } from "../commit/recovery.js";
import { readUploads, type UploadJournal } from "../commit/uploads.js";
import { tuneAllocator } from "../convert/allocator.js";
import { createHeicDecoder } from "../convert/heicDecoder.js";
import { HeicPool } from "../convert/heicPool.js";
import type { HeicDecoder } from "../convert/heicTypes.js";
import { PIXELS_PER_CORE, PixelBudget } from "../convert/pixelBudget.js";
import { type Clock, systemClock } from "../core/clock.js";
import { type Problem, usageError } from "../core/errors.js";
import {
  type ArchiveReport,
  type Logger,
  type PackResult,
  type Progress,
  type RefusedReport,
  silentLogger,
} from "../core/types.js";
import { groupStaging, shardScan } from "../plan/group.js";
import { type CommittedWorkOrder, type Plan, type PlannedWorkOrder, planPack } from "../plan/plan.js";
import { HeldBytes } from "../prepare/heldBytes.js";
import { checkPhotos, prepareWorkOrder } from "../prepare/prepare.js";
import { type FileFacts, readFileFacts, type ScannedEntry, scanStaging } from "../scan/scan.js";
import type { SidecarRow } from "../scan/sidecar.js";
import { loadSidecar } from "../scan/sidecar.js";
import { isIgnoredName } from "../spec/ignore.js";
import { countPhotos, entryName } from "../spec/images.js";
import { mergeRefusals, refusedReport } from "../spec/problems.js";
import { type RunContext, runArchives } from "./archives.js";
import { packEvents, packedEvent } from "./events.js";
import { checkFolders, destinationWarnings, requireFolder, stagingWarnings, uploadedToOf } from "./folders.js";
import { PhotoChecks } from "./judging.js";
import { type PackOptions, withSettings } from "./options.js";
import { openOutput } from "./session.js";
import type { Sender } from "./upload.js";

/**
 * Small photos read for their checks and kept for the archive writer, at most this many bytes at once (the
 * writer takes them soon after: this bounds a slow disk's backlog, not the usual run).
 */
const HELD_PHOTO_BYTES = 64 * 1024 * 1024;

/**
 * JPEGs checked at once per core: each waits on reads and on the binding's decoding threads (one a
 * core), so that those always have the next photo while this one's file is read or its picture measured.
 */
const CHECKS_PER_CORE = 4;

/** Review thumbnails kept in memory until their archive's page is written (~10 KB each); past it, spooled. */
const HELD_THUMB_BYTES = 32 * 1024 * 1024;

/** §4 pack: everything ready now, through scan -> plan -> normalize -> write -> commit, once. */
let saidWasm = false;

export async function pack(given: PackOptions): Promise<PackResult> {
  const options = withSettings("pack", given);
  const result = await packRun(options);
  // each refusal, failure and warning told once, when the run is over (archives as they were committed)
  for (const e of packEvents(result)) options.onEvent?.(e);
  return result;
}

async function packRun(options: ReturnType<typeof withSettings<PackOptions>>): Promise<PackResult> {
  if (!options.out && !options.dryRun) throw usageError("pack needs --out", "say where the archives go: --out <dir>");
  const staging = path.resolve(options.staging);
  const out = options.out ? path.resolve(options.out) : undefined;
  await requireFolder(
    staging,
    "E_STAGING_MISSING",
    "the staging folder",
    "check the path (and that its share is mounted); nothing was done",
  );
  await checkFolders({ staging, out, moveTo: options.moveTo, uploadedTo: uploadedToOf(options.upload, options.config) });
  const sidecar = options.metadataFile ? await loadSidecar(options.metadataFile, options.config.metadata.idColumn) : undefined;
  if (options.dryRun || !out) return packOnce(options, sidecar);
  const log = options.logger ?? silentLogger;
  // where packed folders go, said before anything moves (and what is wrong with it, told with the warnings)
  const moveWarnings = options.moveTo
    ? [...(await stagingWarnings(staging)), ...(await destinationWarnings("--move-to", options.moveTo, staging))]
    : [];
  if (options.moveTo) log.info(`packed work orders go to ${path.resolve(options.moveTo)}`);
  const session = await openOutput(out, log, options.now ?? systemClock);
  try {
    // (the upload stack - HTTP, TLS - is loaded only when something is sent: ~15 ms of every other pack)
    const sender = options.upload
      ? await (await import("./upload.js")).Sender.open(out, {
          ...options.upload,
          config: options.config,
          logger: log,
          now: options.now,
          signal: options.signal,
        })
      : undefined;
    await sender?.enqueueBacklog();
    let result: PackResult;
    try {
      result = await packOnce({ ...options, ...(sender ? { sender } : {}) }, sidecar);
    } catch (err) {
      // what was committed before the failure is still sent
      await sender?.drain().catch(() => undefined);
      throw err;
    }
    if (sender) result.uploads = await sender.drain();
    result.recovery = session.recovery;
    result.warnings.unshift(...moveWarnings);
    // (a failed move is tried again for the work order found already packed: report it once)
    const failed = new Set(result.moveFailures.map((p) => p.path));
    for (const p of session.recovery.skipped) {
      if (p.code !== "W_MOVE_FAILED") result.warnings.push(p);
      else if (!failed.has(p.path)) result.moveFailures.push(p);
    }
    return result;
  } finally {
    await session.release();
  }
}

export interface PackOnceOptions extends PackOptions {
  /** watch mode: one HEIC decoder pool for the whole session (its workers are costly to start) */
  heicDecoder?: HeicDecoder;
  /** watch mode: plan only these work orders */
  only?: ReadonlySet<string>;
  /** watch mode: the fingerprints the work orders had when judged ready */
  expected?: ReadonlyMap<string, string>;
  /** --upload: each committed archive is queued here, sent while the next one is packed */
  sender?: Sender;
  /** watch: a work order whose file vanished mid-run is left pending, judged again once it settles */
  vanishedWaits?: boolean;
}

/** One pass of the pipeline, with the lock on --out already held (or a dry run, which takes none). */
export async function packOnce(options: PackOnceOptions, sidecar?: Map<string, SidecarRow>): Promise<PackResult> {
  const staging = path.resolve(options.staging);
  const out = path.resolve(options.out ?? staging);
  const log = options.logger ?? silentLogger;
  const now = options.now ?? systemClock;
  const concurrency = Math.max(1, options.concurrency ?? availableParallelism());
  const dryRun = options.dryRun ?? false;
  tuneAllocator();
  const heic = options.heicDecoder ?? createHeicDecoder(concurrency, dryRun ? undefined : decodingDir(out));
  log.debug(`HEIC decoder: ${heic.name}`);
  try {
    const ledger = !options.out ? undefined : dryRun ? await readLedger(out).catch(() => undefined) : await readLedger(out);
    // Files' facts are read while the folder is still being listed (a shard knows its own files only once
    // all are listed); readFileFacts never throws
    const facts = new Map<string, FileFacts>();
    const limit = pLimit(concurrency * 2);
    const reads: Promise<unknown>[] = [];
    const readFacts = (e: ScannedEntry) => {
      if (e.kind === "file" && !e.rel.split("/").some(isIgnoredName))
        reads.push(limit(async () => facts.set(e.rel, await readFileFacts(e))));
    };
    const listed = await scanStaging(staging, options.shard ? undefined : readFacts).finally(() => Promise.all(reads));
    const scan = shardScan(listed, options.config, options.shard);
    if (options.shard) for (const e of scan.entries) readFacts(e);
    await Promise.all(reads);
    const latest = ledger && options.shard ? await shardLatest(out, ledger) : ledger?.latest;
    const plan = planPack({
      scan,
      facts,
      config: options.config,
      ledger: latest ? new Map([...latest].map(([id, rec]) => [id, rec.fingerprint])) : new Map(),
      ...(latest ? { committed: committedOf(latest, await readUploads(out)) } : {}),
      ...(options.shard ? { stagingIds: groupStaging(listed, options.config).groups.map((g) => g.id) } : {}),
      ...(sidecar ? { sidecar } : {}),
      options: {
        now: now().getTime(),
        settleMs: options.settleMs ?? 0,
        readyMarker: options.readyMarker,
        repack: options.repack ?? false,
        allowIncomplete: options.allowIncomplete ?? false,
        ...(options.only ? { only: options.only } : {}),
        ...(options.expected ? { expected: options.expected } : {}),
        vanishedWaits: options.vanishedWaits,
      },
    });
    if (!saidWasm && heic instanceof HeicPool && plan.ready.some((wo) => wo.photos.some((p) => p.type === "heic"))) {
      saidWasm = true; // once per process: watch packs many batches
      log.info(
        "HEIC photos are decoded by libheif compiled to wasm, about 1.6x slower than natively: install libheif's and libjpeg's headers (apt-get install libheif-dev libjpeg-dev pkg-config), then npm rebuild -g wopack (a global install) or npm run install (in a clone)",
      );
    }
    const result: PackResult = {
      dryRun,
      archives: [],
      packed: [],
      refused: plan.refused.map((wo) => refusedReport(wo, wo.problems)),
      alreadyPacked: plan.alreadyPacked.map(({ id }) => ({ id })),
      pending: plan.pending,
      warnings: plan.warnings,
      moveFailures: [],
      hooks: [],
    };
    // (a dry run reads no photo unless asked to check them)
    const photoChecks =
      dryRun && !options.checkImages
        ? undefined
        : await PhotoChecks.open({
            checks: options.config.images.checks,
            verify: options.config.images.verify,
            out,
            ledger,
            siblings: options.shard !== undefined,
            now,
            log,
          });
    const ctx: RunContext = {
      ...options,
      staging,
      out,
      concurrency,
      log,
      now,
      images: { ...options.config.images, budget: new PixelBudget(concurrency * PIXELS_PER_CORE) },
      omitEmptyMetadata: options.config.metadata.omitWhenEmpty,
      thumbs: !dryRun && options.review !== false,
      ...(dryRun ? {} : { heldPhotos: new HeldBytes(HELD_PHOTO_BYTES), heldThumbs: new HeldBytes(HELD_THUMB_BYTES) }),
      checks: photoChecks ? options.config.images.checks : undefined,
      photoChecks,
      heic,
      photoLimit: pLimit(concurrency),
      checkLimit: pLimit(CHECKS_PER_CORE * concurrency),
      onCommitted: (a: ArchiveReport) => {
        options.onEvent?.(packedEvent(a));
        options.sender?.enqueueCommitted(a);
      },
      progress: newProgress(plan),
    };
    // A work order refused while planning still has its images checked, so that every problem is listed.
    result.refused = mergeRefusals(result.refused, await checkPhotos(plan.refused, ctx));
    if (dryRun) {
      if (options.checkImages && photoChecks) {
        const judged = await judgeDry(plan.ready, ctx, photoChecks);
        result.refused = mergeRefusals(result.refused, judged.refused);
        result.warnings.push(...judged.warnings);
      } else if (options.checkImages) result.refused = mergeRefusals(result.refused, await checkPhotos(plan.ready, ctx));
      result.warnings.push(...plan.ready.flatMap((wo) => wo.warnings));
      const refused = new Set(result.refused.map((r) => r.id));
      result.planned = plan.ready
        .filter((wo) => !refused.has(wo.id))
        .map((wo) => ({
          id: wo.id,
          photos: wo.photos.map((p) => ({
            source: p.source,
            name: entryName(wo.id, p.taskGroup, p.n, p.ext),
          })),
        }));
      return result;
    }
    await finishAlreadyPacked(plan, { staging, moveTo: options.moveTo, out, ledger, now }, result, log);
    await runArchives(plan, result, ctx);
    return withTotals(result);
  } finally {
    if (!options.heicDecoder) await heic.close();
  }
}

/**
 * A dry run's images checked and its photo checks judged, as a real run would, in plan order; nothing is
 * written (converted photos are not spooled) and nothing recorded.
 */
async function judgeDry(
  wos: readonly PlannedWorkOrder[],
  ctx: RunContext,
  photoChecks: PhotoChecks,
): Promise<{ refused: RefusedReport[]; warnings: Problem[] }> {
  const prepared = wos.map((wo) => prepareWorkOrder(wo, ctx, null));
  const refused: RefusedReport[] = [];
  const warnings: Problem[] = [];
  for (const next of prepared) {
    const p = await next;
    if ("reason" in p) continue;
    if ("problems" in p) {
      refused.push(refusedReport(p, p.problems));
      continue;
    }
    const problems = photoChecks.judge(p);
    if (problems.length) refused.push(refusedReport(p.wo, problems));
    else warnings.push(...photoChecks.warningsOf(p));
  }
  return { refused, warnings };
}

/** The run's photo counts, and its warnings all in one place: its own, then each packed work order's. */
function withTotals(result: PackResult): PackResult {
  result.photos = countPhotos(result.packed.flatMap((wo) => wo.entries));
  result.warnings = [...result.warnings, ...result.packed.flatMap((wo) => wo.warnings)];
  return result;
}

function newProgress(plan: Plan): Progress {
  return {
    photosDone: 0,
    photosTotal: [...plan.ready, ...plan.refused].reduce((n, wo) => n + wo.photos.length, 0),
    bytesDone: 0,
  };
}

/** Each work order's last archive, with the batch the platform keeps of it when its upload needs attention. */
function committedOf(latest: LedgerState["latest"], journal: UploadJournal): Map<string, CommittedWorkOrder> {
  const committed = new Map<string, CommittedWorkOrder>();
  for (const [id, { archive }] of latest) {
    const upload = journal.archives.get(archive);
    const attentionBatch = upload?.uploaded ? undefined : upload?.attention?.batchId;
    committed.set(id, { archive, ...(attentionBatch ? { attentionBatch } : {}) });
  }
  return committed;
}

/**
 * A work order the ledger already holds, whose move to --move-to was not done: do it now, recorded as a
 * move of its last commit (the same archive and time; pending until done, as at a commit), so that prune
 * knows what went to --move-to. (A commit another shard's ledger holds is not this ledger's to amend.)
 */
async function finishAlreadyPacked(
  plan: Plan,
  at: { staging: string; moveTo: string | undefined; out: string; ledger: LedgerState | undefined; now: Clock },
  result: PackResult,
  log: Logger,
) {
  const { staging, moveTo } = at;
  if (!moveTo) return;
  for (const wo of plan.alreadyPacked) {
    try {
      const { moves } = await planMoves(wo, staging, path.resolve(moveTo));
      const last = at.ledger?.latest.get(wo.id);
      let left: string[] = [];
      if (last?.fingerprint === wo.fingerprint) {
        const { moved: _, ...commit } = last;
        await appendLedger(at.out, [{ ...commit, moves }]);
        left = await finishMoves(at.out, { ...commit, moves }, at.now);
      } else for (const m of moves) left.push(...(await moveItem(m)));
      result.warnings.push(...leftBehindWarnings(wo.id, left, staging));
      log.info(`${wo.id}: already packed; moved to ${moveTo}`);
    } catch (err) {
      result.moveFailures.push(moveFailed(wo.id, err));
    }
  }
}
