import { lstat, mkdir, rm, rmdir, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { watch as watchFiles } from "chokidar";
import { moveItem, planMoves } from "../commit/moves.js";
import { decodingDir, stateDir } from "../commit/paths.js";
import { createHeicDecoder } from "../convert/heicDecoder.js";
import type { HeicDecoder } from "../convert/heicTypes.js";
import { type Clock, systemClock } from "../core/clock.js";
import { ioError, WopackError } from "../core/errors.js";
import { type PackResult, type RefusedReport, silentLogger, type WatchEvent, type WatchStatus } from "../core/types.js";
import { groupStaging, shardScan } from "../plan/group.js";
import { Readiness } from "../plan/readiness.js";
import { scanStaging } from "../scan/scan.js";
import { loadSidecar, type SidecarRow } from "../scan/sidecar.js";
import { WatchMetrics } from "../serve/metrics.js";
import { checkListen, type StatusServer, startStatusServer } from "../serve/server.js";
import { isIgnoredName } from "../spec/ignore.js";
import { resultEvents, warningEvents } from "./events.js";
import { checkFolders, destinationWarnings, stagingWarnings, uploadedToOf } from "./folders.js";
import { HealthFile, type WatchSummary } from "./health.js";
import { type WatchOptions, withSettings } from "./options.js";
import { packOnce } from "./pack.js";
import { pruneHeld } from "./prune.js";
import { PassScheduler } from "./scheduler.js";
import { openOutput } from "./session.js";
import { openSender } from "./watchUpload.js";

export type { WatchEvent, WatchOptions, WatchSummary };

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
export async function watch(given: WatchOptions): Promise<WatchSummary> {
  const options = withSettings("watch", given);
  const staging = path.resolve(options.staging);
  const out = path.resolve(options.out);
  const moveTo = path.resolve(options.moveTo ?? path.join(staging, "..", "processed"));
  const failedTo = path.resolve(options.failedTo ?? path.join(staging, "..", "failed"));
  const dryRun = options.dryRun ?? false;
  await checkFolders({ staging, out, moveTo, failedTo, uploadedTo: uploadedToOf(options.upload, options.config) });
  const destinations = dryRun
    ? []
    : [
        ...(await stagingWarnings(staging)),
        ...(await destinationWarnings("--move-to", moveTo, staging)),
        ...(await destinationWarnings("--failed-to", failedTo, staging)),
      ];
  const sidecar = options.metadataFile ? await loadSidecar(options.metadataFile, options.config.metadata.idColumn) : undefined;
  if (options.http) await checkListen(options.http);
  const log = options.logger ?? silentLogger;
  const clock = options.now ?? systemClock;
  // A dry run takes no lock and repairs nothing: it writes nothing at all, so it never stands in a real run's way.
  const session = dryRun ? { release: async () => undefined } : await openOutput(out, log, clock);

  let metrics: WatchMetrics | undefined;
  const emit = (event: WatchEvent) => {
    // a staging warning stays on the status page (the event's message repeats the code and the hint)
    if (event.event === "warning" && typeof event.code === "string" && typeof event.hint === "string") {
      const message = event.message.replace(`${event.code}: `, "").replace(` (hint: ${event.hint})`, "");
      health.warned({
        code: event.code,
        message,
        hint: event.hint,
        ...(typeof event.path === "string" ? { path: event.path } : {}),
      });
      health.changed();
    }
    metrics?.onEvent(event);
    options.onEvent?.(event);
  };
  // (the counts are the health file's; only whether the stop rolled an archive back is kept here)
  const stop = { interrupted: false, uploadInterrupted: false };
  const healthFile = dryRun ? undefined : (options.healthFile ?? path.join(stateDir(out), "health.json"));
  const health = new HealthFile(healthFile, { staging, out, failedTo: dryRun ? null : failedTo }, clock, (message) =>
    emit({ event: "error", message, code: "E_HEALTH_FILE" }),
  );
  // after a restart the page shows what the ledger and the reports in --out know, not an empty session
  if (!dryRun) await health.restore(out).catch(() => undefined);
  if (options.http) metrics = new WatchMetrics(() => health.state);
  const server =
    options.http && metrics
      ? await serve(options.http, out, health, metrics, options.pollMs, options.config.upload.maxElapsed + 300_000, session)
      : undefined;
  const { settleMs } = options;
  const sender = await openSender(options, out, dryRun, log, clock, emit, health, stop);
  const w: WatchRun = {
    options: { ...options, staging, out, moveTo, dryRun, settleMs: 0, logger: log, ...(sender ? { sender } : {}) },
    failedTo,
    sidecar,
    clock,
    emit,
    stop,
    health,
    readiness: new Readiness(settleMs, options.readyMarker),
    seenWarnings: new Set(),
    heicDecoder: createHeicDecoder(
      Math.max(1, options.concurrency ?? availableParallelism()),
      dryRun ? undefined : decodingDir(out),
    ),
    loop: { windowEnds: undefined, retryAt: 0, failures: 0, lastPassAt: 0 },
  };
  const retention = options.config.watch.prune;
  if (retention && !dryRun) {
    health.state.prune = {
      olderThanMs: retention.olderThan,
      everyMs: retention.every,
      lastAt: null,
      nextAt: null,
      last: null,
      lastError: null,
    };
  }
  const scheduler: PassScheduler = new PassScheduler(() => pass(w, scheduler), options.signal);

  const watcher = watchFiles(staging, {
    ignoreInitial: true,
    usePolling: options.pollMs !== undefined,
    ...(options.pollMs !== undefined ? { interval: options.pollMs, binaryInterval: options.pollMs } : {}),
    // temp names (*.part, .syncthing.*, ...) never trigger a scan; the scans still see them
    // (but the ready marker, often a hidden name like .ready, is what says "go": its arrival is seen at once)
    ignored: (p: string) => p !== staging && path.basename(p) !== options.readyMarker && isIgnoredName(path.basename(p)),
  });
  // a file event brings the next scan forward, but never puts off one already due (see EVENT_SCAN_GAP_MS)
  watcher.on("all", () => scheduler.schedule(Math.max(100, w.loop.lastPassAt + EVENT_SCAN_GAP_MS - performance.now())));
  watcher.on("error", (err) => emit({ event: "error", message: `file watcher: ${(err as Error).message}` }));
  await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));

  const heartbeat = setInterval(() => void health.write(), options.heartbeatMs ?? 10_000);
  emit({
    event: "started",
    message: startedMessage(w.options, failedTo, settleMs, options.pollMs) + (server ? `; status page ${server.url}/` : ""),
    staging,
    out,
    ...(server ? { url: server.url } : {}),
    moveTo,
    failedTo,
  });
  for (const e of warningEvents({ warnings: destinations, packed: [] }, w.seenWarnings)) emit(e);
  void scheduler.runNow();

  await new Promise<void>((resolve) => {
    if (options.signal.aborted) resolve();
    options.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  clearInterval(heartbeat);
  // from here /healthz is 503: a watch on its way out is not one to send work to
  health.state.status = "stopping";
  void health.write();
  try {
    await scheduler.stop();
  } catch (err) {
    if (!(err instanceof WopackError && err.kind === "interrupted")) throw err;
    stop.interrupted = true;
  } finally {
    await watcher.close();
    await sender?.drain().catch(() => undefined); // an upload in progress stops with the signal; resumed next time
    await w.heicDecoder.close();
    health.state.status = "stopped";
    await health.write();
    await server?.close();
    await session.release();
  }
  const cut = [
    ...(stop.interrupted ? ["the archive in progress was rolled back"] : []),
    ...(stop.uploadInterrupted ? ["the upload in progress stopped; the next run resumes it"] : []),
  ];
  emit({ event: "stopped", message: `stopped${cut.length ? ` (${cut.join("; ")})` : ""}` });
  const { packed, refused, archives } = health.state;
  return { packed, refused, archives, interrupted: stop.interrupted || stop.uploadInterrupted };
}

/** watch --http: the status server, over the health file's state; a port in use stops watch before it starts. */
async function serve(
  listen: { host: string; port: number; token?: string | undefined },
  out: string,
  health: HealthFile,
  metrics: WatchMetrics,
  pollMs: number | undefined,
  uploadStuckAfterMs: number,
  session: { release(): Promise<void> },
): Promise<StatusServer> {
  try {
    return await startStatusServer({
      ...listen,
      out,
      status: () => health.state,
      subscribe: (l) => health.subscribe(l),
      metrics,
      // three missed rescans, and never less than 3 minutes
      staleAfterMs: Math.max(180_000, 3 * (pollMs ?? SAFETY_RESCAN_MS)),
      // one archive's failing requests are given upload.maxElapsed (each request its own deadline)
      uploadStuckAfterMs,
    });
  } catch (err) {
    await session.release();
    if (err instanceof WopackError) throw err;
    throw new WopackError(
      "io",
      "E_HTTP_LISTEN",
      `cannot serve the status page on ${listen.host}:${listen.port} (${(err as Error).message})`,
      "pick another port (--http 127.0.0.1:9465), or stop what listens there",
      { cause: err },
    );
  }
}

/** What one watch session's passes share. */
interface WatchRun {
  /** the options each pass gives the pipeline: folders resolved, settling already judged here */
  options: WatchOptions & { staging: string; out: string; moveTo: string; dryRun: boolean };
  failedTo: string;
  sidecar: Map<string, SidecarRow> | undefined;
  clock: Clock;
  emit: (event: WatchEvent) => void;
  stop: { interrupted: boolean; uploadInterrupted: boolean };
  health: HealthFile;
  readiness: Readiness;
  heicDecoder: HeicDecoder;
  /** warnings already told this session (a stray file at the staging root is told once, not every pass) */
  seenWarnings: Set<string>;
  loop: {
    /** with --batch-window: when the window opened by the first ready work order closes */
    windowEnds: number | undefined;
    /** after a failed pass: no packing before this (backoff) */
    retryAt: number;
    failures: number;
    /** performance.now() when the last pass began */
    lastPassAt: number;
  };
}

function startedMessage(o: WatchRun["options"], failedTo: string, settleMs: number, pollMs: number | undefined): string {
  const how = [`settle ${settleMs / 1000}s`];
  if (o.readyMarker) how.push(`marker ${o.readyMarker}`);
  if (pollMs !== undefined) how.push(`polling every ${pollMs}ms`);
  return `${o.dryRun ? "dry run (nothing is written or moved): " : ""}watching ${o.staging} (${how.join(", ")}); archives to ${o.out}; packed work orders ${o.dryRun ? "would go" : "go"} to ${o.moveTo}, refused ones to ${failedTo} (with <id>.errors.json)`;
}

/**
 * One scan of the staging folder: judge readiness, pack what is ready (or wait for the batch window, or
 * for the backoff after a failure), update the health file, and schedule the next pass.
 */
async function pass(w: WatchRun, scheduler: PassScheduler): Promise<void> {
  const { loop, health } = w;
  loop.lastPassAt = performance.now();
  const now = w.clock().getTime();
  let next = now + (w.options.pollMs ?? SAFETY_RESCAN_MS);
  let healthy = true;
  let windowOpen = false;
  try {
    const scan = shardScan(await scanStaging(w.options.staging), w.options.config, w.options.shard);
    const { groups, warnings } = groupStaging(scan, w.options.config);
    // (a stray file at the staging root is told once per session, at the first scan that sees it)
    for (const e of warningEvents({ warnings, packed: [] }, w.seenWarnings)) w.emit(e);
    const update = w.readiness.update(groups, now);
    health.state.lastScanAt = new Date(now).toISOString();
    health.state.waiting = [...update.waiting].map(([id, { reason, readyAt }]) => ({
      id,
      reason,
      readyAt: readyAt === undefined ? null : new Date(readyAt).toISOString(),
    }));
    if (update.nextCheck !== undefined) next = Math.min(next, update.nextCheck);
    windowOpen = false;
    if (update.ready.size && now < loop.retryAt) next = Math.min(next, loop.retryAt);
    else if (update.ready.size && w.options.batchWindowMs && (loop.windowEnds === undefined || now < loop.windowEnds)) {
      loop.windowEnds ??= now + w.options.batchWindowMs;
      next = Math.min(next, loop.windowEnds);
      windowOpen = true;
      const readyAt = new Date(loop.windowEnds).toISOString();
      for (const id of update.ready.keys()) health.state.waiting.push({ id, reason: "batch window", readyAt });
    } else if (update.ready.size) {
      loop.windowEnds = undefined;
      const handled = await packReady(w, update.ready);
      // look again at once, as more may have become ready meanwhile; but when all of it came back
      // pending (changed meanwhile), no sooner than a file event would: never a busy loop
      next = handled ? now : now + EVENT_SCAN_GAP_MS;
    }
  } catch (err) {
    if (w.options.signal.aborted) {
      if (err instanceof WopackError && err.kind === "interrupted") w.stop.interrupted = true;
      return;
    }
    const e = err instanceof WopackError ? err : ioError(err, "watching the staging folder failed");
    healthy = false;
    health.failed(e.code, e.message);
    const retryMs = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** loop.failures++);
    w.emit({ event: "error", message: `${e.code}: ${e.message} (retrying in ${retryMs / 1000}s)`, code: e.code });
    loop.retryAt = w.clock().getTime() + retryMs;
    next = loop.retryAt;
  }
  // unhealthy (staging unreachable, output not writable) until a pass succeeds again: monitoring sees it
  if (w.options.signal.aborted) return; // stopping: the status says so, and no next pass
  if (healthy) health.rest(windowOpen);
  else health.state.status = "error";
  if (healthy) loop.failures = 0;
  if (healthy) next = Math.min(next, await pruneIfDue(w));
  health.state.nextScanAt = new Date(Math.max(next, w.clock().getTime())).toISOString();
  await health.write();
  scheduler.schedule(next - w.clock().getTime());
}

/**
 * watch.prune: `wopack prune --delete` by the same rules, under the lock watch holds, between passes (never
 * during a commit) and not while an upload is in flight (it may be moving its archive). Returns when the
 * next is due; a failure is told and tried again at the next due time.
 */
async function pruneIfDue(w: WatchRun): Promise<number> {
  const p = w.health.state.prune;
  const retention = w.options.config.watch.prune;
  const now = w.clock().getTime();
  if (!p || !retention) return Number.POSITIVE_INFINITY;
  if (p.nextAt && now < Date.parse(p.nextAt)) return Date.parse(p.nextAt);
  if (w.health.state.uploads?.sending) return now + EVENT_SCAN_GAP_MS * 10;
  p.lastAt = new Date(now).toISOString();
  p.nextAt = new Date(now + retention.every).toISOString();
  const log = w.options.logger ?? silentLogger;
  try {
    const r = await pruneHeld({
      out: w.options.out,
      olderThanMs: retention.olderThan,
      processed: retention.processed,
      delete: true,
      config: w.options.config,
      now: w.clock,
    });
    p.last = { pruned: r.pruned.length, bytes: r.bytes, kept: r.kept.length, failed: r.failed.length };
    p.lastError = null;
    log.info(
      `pruned ${r.pruned.length} item(s), ${r.bytes} bytes; kept ${r.kept.length} the platform has not confirmed; next prune at ${p.nextAt}`,
    );
    // (as wopack prune says them, at each prune: W_PRUNE_PROCESSED_EMPTY, a disk not mounted under `processed`)
    for (const e of warningEvents({ warnings: r.warnings, packed: [] })) w.emit(e);
    for (const f of r.failed)
      w.emit({ event: "error", message: `E_PRUNE_FAILED: cannot delete ${f.path}: ${f.reason}`, code: "E_PRUNE_FAILED" });
  } catch (err) {
    const e = err instanceof WopackError ? err : ioError(err, "pruning --out failed");
    // the status says this run failed, not what an earlier one did
    p.last = null;
    p.lastError = { code: e.code, message: e.message };
    w.emit({ event: "error", message: `${e.code}: ${e.message} (pruning again at ${p.nextAt})`, code: e.code });
  }
  w.health.changed();
  return Date.parse(p.nextAt);
}

/** Runs the pipeline on the ready work orders and reports it; returns how many it dealt with. */
async function packReady(w: WatchRun, ready: Map<string, string>): Promise<number> {
  for (const id of ready.keys()) w.emit({ event: "ready", message: `ready ${id}`, workOrder: id });
  const { health } = w;
  if (!w.options.signal.aborted) health.state.status = "packing"; // (a stop under way stays "stopping")
  health.passStarted();
  const progress: NonNullable<WatchStatus["inProgress"]> = {
    workOrders: [...ready.keys()],
    photosDone: 0,
    photosTotal: 0,
    lastPhoto: null,
  };
  health.state.inProgress = progress;
  health.changed();
  let result: PackResult;
  try {
    result = await packOnce(
      {
        ...w.options,
        only: new Set(ready.keys()),
        expected: ready,
        vanishedWaits: true,
        heicDecoder: w.heicDecoder,
        // each archive told as it is committed, not when the pass ends
        onEvent: w.emit,
        onProgress: (p) => {
          Object.assign(progress, { photosDone: p.photosDone, photosTotal: p.photosTotal, lastPhoto: p.lastPhoto ?? null });
          health.changed();
          w.options.onProgress?.(p);
        },
      },
      w.sidecar,
    );
  } finally {
    health.state.inProgress = null;
  }
  for (const event of resultEvents(result, w.seenWarnings)) w.emit(event);
  for (const a of result.archives) health.archived(a);
  if (health.state.uploads) health.state.uploads.queued += result.archives.length;
  for (const wo of result.refused) await refuse(w, wo);
  // what the pipeline dealt with is not offered again; what came back pending is judged again
  const stillPending = new Set(result.pending.map((p) => p.id));
  let handled = 0;
  for (const [id, fingerprint] of ready) {
    if (stillPending.has(id)) continue;
    w.readiness.markHandled(id, fingerprint);
    handled++;
  }
  return handled;
}

/** A refused work order goes to --failed-to with <id>.errors.json beside it; if it cannot, it stays in staging. */
async function refuse(w: WatchRun, wo: RefusedReport): Promise<void> {
  if (w.options.dryRun) {
    w.health.refusedOne(wo, null);
    w.emit({ event: "refused", message: `dry run: would refuse ${wo.id}`, workOrder: wo.id, problems: wo.problems });
    return;
  }
  const { target, moves } = await planMoves(wo, w.options.staging, w.failedTo);
  const errors = { workOrder: wo.id, refusedAt: w.clock().toISOString(), problems: wo.problems };
  try {
    await mkdir(w.failedTo, { recursive: true });
    await writeFile(`${target}.errors.json`, JSON.stringify(errors, null, 2) + "\n");
    for (const m of moves) await moveItem(m);
  } catch (err) {
    // Nothing reached --failed-to (moved away meanwhile, say): no errors.json, nor an empty folder, for a work
    // order that is not there. Something did (a folder moved file by file, an item of several): its errors.json
    // stays beside it, and the message says so. Judged by what is there, not by which step failed.
    const reached = await rmdir(target).then(
      () => false,
      (e: NodeJS.ErrnoException) => e.code !== "ENOENT",
    );
    const rootFiles = await Promise.all(
      moves.map((m) =>
        lstat(m.to).then(
          () => 1,
          () => 0,
        ),
      ),
    );
    const moved = reached || rootFiles.some(Boolean);
    if (!moved) await rm(`${target}.errors.json`, { force: true }).catch(() => undefined);
    // What did not move stays in staging (refused again once it changes); the other work orders go on.
    const where = moved ? `part of it is in ${target}, beside its errors.json; the rest stays in staging` : "it stays in staging";
    const message = `refused ${wo.id}, but cannot move it to ${w.failedTo} (${(err as Error).message}); ${where}`;
    w.health.refusedOne(wo, moved ? `${target}.errors.json` : null);
    w.health.failed("E_MOVE_FAILED", message);
    w.emit({ event: "error", message, code: "E_MOVE_FAILED", workOrder: wo.id, problems: wo.problems });
    return;
  }
  w.health.refusedOne(wo, `${target}.errors.json`);
  const first = wo.problems[0];
  const more = wo.problems.length > 1 ? ` (+${wo.problems.length - 1} more)` : "";
  w.emit({
    event: "refused",
    message: `refused ${wo.id}: ${first ? `${first.code} ${first.message}` : "see its errors"}${more}; moved to ${target}`,
    workOrder: wo.id,
    movedTo: target,
    problems: wo.problems,
  });
}
