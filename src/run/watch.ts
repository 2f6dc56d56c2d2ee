import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { watch as watchFiles } from "chokidar";
import { writeFileAtomic } from "../commit/files.js";
import { moveItem, planMoves } from "../commit/moves.js";
import { decodingDir, stateDir } from "../commit/paths.js";
import { createHeicDecoder } from "../convert/heicDecoder.js";
import { systemClock } from "../core/clock.js";
import { ioError, WopackError } from "../core/errors.js";
import { type PackResult, type RefusedReport, silentLogger } from "../core/types.js";
import { groupStaging } from "../plan/plan.js";
import { Readiness } from "../plan/readiness.js";
import { scanStaging } from "../scan/scan.js";
import { loadSidecar } from "../scan/sidecar.js";
import { isIgnoredName } from "../spec/ignore.js";
import { checkFolders } from "./folders.js";
import type { PackOptions } from "./options.js";
import { openOutput, packOnce } from "./pack.js";

export interface WatchEvent {
  event: "started" | "ready" | "packed" | "planned" | "refused" | "warning" | "error" | "stopped";
  message: string;
  [field: string]: unknown;
}

export interface WatchOptions extends Omit<PackOptions, "checkImages" | "settleMs"> {
  out: string;
  signal: AbortSignal;
  /** a work order is ready once nothing in it changed for this long (default 30 s) */
  settleMs?: number;
  /** collect work orders that become ready within this long into one archive (default 0: at once) */
  batchWindowMs?: number;
  /** stat polling every this many ms instead of native events (network shares) */
  pollMs?: number | undefined;
  /** default: <staging>/../processed */
  moveTo?: string | undefined;
  /** default: <staging>/../failed */
  failedTo?: string | undefined;
  /** a JSON file rewritten at least every heartbeatMs, for monitoring; default <out>/.wopack/health.json */
  healthFile?: string | undefined;
  heartbeatMs?: number;
  onEvent?: (event: WatchEvent) => void;
}

export interface WatchSummary {
  packed: number;
  refused: number;
  archives: number;
  /** an archive in progress was rolled back by the stop */
  interrupted: boolean;
}

/** How often the folder is rescanned when no event says anything changed (events can be lost). */
const SAFETY_RESCAN_MS = 60_000;
/** After a failed pass, retry after 1 s, doubling up to 30 s: a share back from a blip is seen at once, a
 *  lasting failure does not fill the log. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/**
 * A file event brings the next scan forward (to 100 ms from now, and no sooner than this after the last
 * scan began), but never puts off a scan already due: a copy that trickles in for an hour must not starve
 * the scans that pack what settled meanwhile.
 */
const EVENT_SCAN_GAP_MS = 1_000;

/**
 * §4 watch: turns file events into "these work orders are ready" and runs the same pipeline as pack on
 * them; packed work orders move to --move-to, refused ones to --failed-to with <id>.errors.json. Runs
 * until the signal aborts; holds the lock on --out all along.
 */
export async function watch(options: WatchOptions): Promise<WatchSummary> {
  const staging = path.resolve(options.staging);
  const out = path.resolve(options.out);
  const log = options.logger ?? silentLogger;
  const clock = options.now ?? systemClock;
  const moveTo = path.resolve(options.moveTo ?? path.join(staging, "..", "processed"));
  const failedTo = path.resolve(options.failedTo ?? path.join(staging, "..", "failed"));
  const settleMs = options.settleMs ?? 30_000;
  const emit = (event: WatchEvent) => options.onEvent?.(event);
  const summary: WatchSummary = { packed: 0, refused: 0, archives: 0, interrupted: false };
  const dryRun = options.dryRun ?? false;
  await checkFolders({ staging, out, moveTo, failedTo });
  const sidecar = options.metadataFile ? await loadSidecar(options.metadataFile, options.config.metadata.idColumn) : undefined;

  // A dry run takes no lock and repairs nothing: it writes nothing at all, so it never stands in a real run's way.
  const session = dryRun ? { release: async () => undefined } : await openOutput(out, log, clock);
  const healthFile = options.healthFile ?? path.join(stateDir(out), "health.json");
  const health = {
    pid: process.pid,
    status: "starting",
    startedAt: clock().toISOString(),
    lastScanAt: "",
    lastPackAt: "",
    lastError: "",
    waiting: 0,
    ...summary,
  };
  let healthProblem = "";
  /**
   * Rewrites the health file atomically through a temporary file beside it (a rename across file systems
   * fails). A failure is an error event, once per distinct failure: monitoring that reads a stale file must
   * be explainable from the log.
   */
  let healthWrites = Promise.resolve();
  const writeHealth = () => {
    // one at a time: the heartbeat and a pass must not write the same temporary file at once
    healthWrites = healthWrites.then(writeHealthNow);
    return healthWrites;
  };
  const writeHealthNow = async () => {
    if (dryRun) return;
    try {
      await mkdir(path.dirname(healthFile), { recursive: true });
      const body = JSON.stringify({ ...health, ...summary, at: clock().toISOString() }, null, 2) + "\n";
      await writeFileAtomic(healthFile, body, path.dirname(healthFile));
      healthProblem = "";
    } catch (err) {
      const message = `cannot write the health file ${healthFile}: ${(err as Error).message}`;
      if (message !== healthProblem) emit({ event: "error", message, code: "E_HEALTH_FILE" });
      healthProblem = message;
    }
  };

  const readiness = new Readiness(settleMs, options.readyMarker);
  const heicDecoder = createHeicDecoder(
    Math.max(1, options.concurrency ?? availableParallelism()),
    dryRun ? undefined : decodingDir(out),
  );
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let windowEnds: number | undefined;
  let retryAt = 0;
  let failures = 0;

  let timerAt: number | undefined;
  let lastPassAt = 0;
  /** The next scan, at the earliest of the times asked for. */
  const schedule = (delayMs: number) => {
    if (options.signal.aborted) return;
    const at = performance.now() + Math.max(0, delayMs);
    if (timerAt !== undefined && timerAt <= at) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timerAt = undefined;
      void tick();
    }, at - performance.now());
  };
  const onFileEvent = () => schedule(Math.max(100, lastPassAt + EVENT_SCAN_GAP_MS - performance.now()));

  const tick = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = pass().finally(() => {
      running = undefined;
      if (again && !options.signal.aborted) {
        again = false;
        void tick();
      }
    });
    return running;
  };

  const pass = async () => {
    lastPassAt = performance.now();
    const now = clock().getTime();
    let next = now + (options.pollMs ?? SAFETY_RESCAN_MS);
    let healthy = true;
    try {
      const scan = await scanStaging(staging);
      const { groups } = groupStaging(scan, options.config);
      const update = readiness.update(groups, now);
      health.lastScanAt = new Date(now).toISOString();
      health.waiting = update.waiting.size;
      if (update.nextCheck !== undefined) next = Math.min(next, update.nextCheck);
      if (update.ready.size && now >= retryAt) {
        if (options.batchWindowMs && (windowEnds === undefined || now < windowEnds)) {
          windowEnds ??= now + options.batchWindowMs;
          next = Math.min(next, windowEnds);
        } else {
          windowEnds = undefined;
          const handled = await packReady(update.ready);
          // look again at once, as more may have become ready meanwhile; but when all of it came back
          // pending (changed meanwhile), no sooner than a file event would: never a busy loop
          next = handled ? now : now + EVENT_SCAN_GAP_MS;
        }
      } else if (update.ready.size) next = Math.min(next, retryAt);
    } catch (err) {
      if (options.signal.aborted) {
        if (err instanceof WopackError && err.kind === "interrupted") summary.interrupted = true;
        return;
      }
      const e = err instanceof WopackError ? err : ioError(err, "watching the staging folder failed");
      healthy = false;
      health.lastError = `${e.code}: ${e.message}`;
      const retryMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** failures++);
      emit({ event: "error", message: `${e.code}: ${e.message} (retrying in ${retryMs / 1000}s)`, code: e.code });
      retryAt = clock().getTime() + retryMs;
      next = retryAt;
    }
    // unhealthy (staging unreachable, output not writable) until a pass succeeds again: monitoring sees it
    health.status = healthy ? "idle" : "unhealthy";
    if (healthy) failures = 0;
    await writeHealth();
    schedule(next - clock().getTime());
  };

  const packReady = async (ready: Map<string, string>) => {
    for (const id of ready.keys()) emit({ event: "ready", message: `ready ${id}`, workOrder: id });
    health.status = "packing";
    const result = await packOnce(
      {
        ...options,
        staging,
        out,
        moveTo,
        dryRun,
        settleMs: 0,
        only: new Set(ready.keys()),
        expected: ready,
        logger: log,
        heicDecoder,
      },
      sidecar,
    );
    for (const wo of result.planned ?? []) {
      emit({
        event: "planned",
        message: `dry run: would pack ${wo.id} (${wo.photos.length} photo${wo.photos.length === 1 ? "" : "s"})`,
        workOrder: wo.id,
        photos: wo.photos,
      });
    }
    for (const archive of result.archives) {
      summary.archives++;
      summary.packed += archive.workOrders.length;
      const ids = archive.workOrders.map((w) => w.id);
      emit({
        event: "packed",
        message: `packed ${ids.join(", ")} into ${archive.archive}`,
        archive: archive.path,
        workOrders: ids,
      });
    }
    for (const hook of result.hooks.filter((h) => !h.ok)) {
      emit({
        event: "error",
        message: `--on-archive failed for ${hook.archive} (exit ${hook.exitCode ?? "?"}); the archive is kept`,
        archive: hook.archive,
      });
    }
    for (const p of [...result.moveFailures, ...result.warnings.filter((w) => w.code === "W_LEFT_IN_STAGING")]) {
      emit({ event: p.code === "W_MOVE_FAILED" ? "error" : "warning", message: `${p.code}: ${p.message}`, code: p.code });
    }
    for (const wo of result.refused) await fail(wo);
    health.lastPackAt = clock().toISOString();
    return markHandled(result, ready);
  };

  /** Marks what the pipeline dealt with; returns how many that was (the rest is pending again). */
  const markHandled = (result: PackResult, ready: Map<string, string>): number => {
    const stillPending = new Set(result.pending.map((p) => p.id));
    let handled = 0;
    for (const [id, fingerprint] of ready) {
      if (stillPending.has(id)) continue;
      readiness.markHandled(id, fingerprint);
      handled++;
    }
    return handled;
  };

  const fail = async (wo: RefusedReport) => {
    summary.refused++;
    if (dryRun) {
      emit({ event: "refused", message: `dry run: would refuse ${wo.id}`, workOrder: wo.id, problems: wo.problems });
      return;
    }
    const { target, moves } = await planMoves(wo, staging, failedTo);
    const errors = { workOrder: wo.id, refusedAt: clock().toISOString(), problems: wo.problems };
    try {
      await mkdir(failedTo, { recursive: true });
      await writeFile(`${target}.errors.json`, JSON.stringify(errors, null, 2) + "\n");
      for (const m of moves) await moveItem(m);
    } catch (err) {
      // It stays in staging (refused again once it changes); the other work orders go on.
      const message = `refused ${wo.id}, but cannot move it to ${failedTo} (${(err as Error).message}); it stays in staging`;
      health.lastError = `E_MOVE_FAILED: ${message}`;
      emit({ event: "error", message, code: "E_MOVE_FAILED", workOrder: wo.id, problems: wo.problems });
      return;
    }
    const first = wo.problems[0];
    emit({
      event: "refused",
      message: `refused ${wo.id}: ${first ? `${first.code} ${first.message}` : "see its errors"}${wo.problems.length > 1 ? ` (+${wo.problems.length - 1} more)` : ""}; moved to ${target}`,
      workOrder: wo.id,
      movedTo: target,
      problems: wo.problems,
    });
  };

  const watcher = watchFiles(staging, {
    ignoreInitial: true,
    usePolling: options.pollMs !== undefined,
    ...(options.pollMs !== undefined ? { interval: options.pollMs, binaryInterval: options.pollMs } : {}),
    // temp names (*.part, .syncthing.*, ...) never trigger a scan; the scans still see them
    // (but the ready marker, often a hidden name like .ready, is what says "go": its arrival is seen at once)
    ignored: (p: string) => p !== staging && path.basename(p) !== options.readyMarker && isIgnoredName(path.basename(p)),
  });
  watcher.on("all", onFileEvent);
  watcher.on("error", (err) => emit({ event: "error", message: `file watcher: ${(err as Error).message}` }));
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  const heartbeat = setInterval(() => void writeHealth(), options.heartbeatMs ?? 10_000);
  emit({
    event: "started",
    message: `${dryRun ? "dry run (nothing is written or moved): " : ""}watching ${staging} (settle ${settleMs / 1000}s${options.readyMarker ? `, marker ${options.readyMarker}` : ""}${options.pollMs !== undefined ? `, polling every ${options.pollMs}ms` : ""}); archives to ${out}`,
    staging,
    out,
  });
  void tick();

  await new Promise<void>((resolve) => {
    if (options.signal.aborted) resolve();
    options.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  clearTimeout(timer);
  clearInterval(heartbeat);
  try {
    await running;
  } catch (err) {
    if (!(err instanceof WopackError && err.kind === "interrupted")) throw err;
    summary.interrupted = true;
  } finally {
    await watcher.close();
    await heicDecoder.close();
    health.status = "stopped";
    await writeHealth();
    await session.release();
  }
  emit({ event: "stopped", message: `stopped${summary.interrupted ? " (the archive in progress was rolled back)" : ""}` });
  return summary;
}
