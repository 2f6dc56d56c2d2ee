import { access, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../commit/files.js";
import { readLedger } from "../commit/ledger.js";
import { REPORT_SUFFIX } from "../commit/recovery.js";
import type { Clock } from "../core/clock.js";
import type { Problem } from "../core/errors.js";
import type { ArchiveReport, WatchStatus } from "../core/types.js";
import { VERSION } from "../core/version.js";
import { reviewPath } from "../spec/names.js";

export interface WatchSummary {
  packed: number;
  refused: number;
  archives: number;
  /** the stop rolled an archive in progress back, or stopped an upload in progress (exit 130) */
  interrupted: boolean;
}

/** How many archives and refused work orders the status keeps (the newest). */
export const STATUS_HISTORY = 20;
/** How many photo checks' findings the status keeps (the newest). */
export const STATUS_FINDINGS = 20;
/** How many distinct staging warnings the status keeps (the newest). */
export const STATUS_WARNINGS = 10;

/**
 * The status word while no pass is packing: an upload in flight, else a work order settling, else work
 * orders waiting for a ready marker or for the batch window to close (`windowOpen`), else idle. Pure.
 */
export function restingStatus(s: Pick<WatchStatus, "uploads" | "waiting">, windowOpen: boolean): WatchStatus["status"] {
  if (s.uploads?.sending) return "uploading";
  if (s.waiting.some((w) => w.reason === "settling")) return "settling";
  if (windowOpen || s.waiting.length) return "waiting";
  return "idle";
}

const RESTING = new Set<WatchStatus["status"]>(["idle", "settling", "waiting", "uploading"]);

function archiveEntry(report: ArchiveReport): WatchStatus["recentArchives"][number] {
  return {
    archive: report.archive,
    at: report.createdAt,
    workOrders: report.workOrders.map((w) => w.id),
    photos: report.workOrders.reduce((n, w) => n + w.entries.length, 0),
    bytes: report.bytes,
    sha256: report.sha256,
    review: report.reviewPage ? path.basename(report.reviewPage) : null,
  };
}

/**
 * A running watch's status (core/types.ts WatchStatus): kept here, written to the health file for
 * monitoring, and told to whoever listens (the status page). The file is rewritten atomically through a
 * temporary file beside it (a rename across file systems fails), one write at a time; a failed write is
 * reported once per distinct failure, so that a stale file can be explained from the log. `file`
 * undefined (a dry run): nothing is written.
 */
export class HealthFile {
  readonly state: WatchStatus;
  private writes = Promise.resolve();
  private lastProblem = "";
  private windowOpen = false;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly file: string | undefined,
    folders: { staging: string; out: string; failedTo: string | null },
    private readonly clock: Clock,
    private readonly onError: (message: string) => void,
  ) {
    this.state = {
      pid: process.pid,
      version: VERSION,
      staging: folders.staging,
      out: folders.out,
      status: "starting",
      startedAt: clock().toISOString(),
      lastScanAt: null,
      nextScanAt: null,
      failedTo: folders.failedTo,
      warnings: [],
      lastPackAt: null,
      lastError: null,
      waiting: [],
      inProgress: null,
      recentArchives: [],
      recentRefused: [],
      uploads: null,
      prune: null,
      packed: 0,
      refused: 0,
      archives: 0,
      photoChecks: { warned: 0, refused: 0, byCode: {}, lastPass: { warned: 0, refused: 0, byCode: {} }, recent: [] },
    };
  }

  /** Tells the listeners; `write()` also does. */
  changed(): void {
    for (const l of this.listeners) l();
  }

  /** A pass ended well: the status word says what waits or is sent (see restingStatus). */
  rest(windowOpen: boolean): void {
    this.windowOpen = windowOpen;
    this.state.status = restingStatus(this.state, windowOpen);
  }

  /** An upload started or ended: the word follows, unless a pass packs, passes fail or watch stops. */
  uploadChanged(): void {
    if (RESTING.has(this.state.status)) this.state.status = restingStatus(this.state, this.windowOpen);
    this.changed();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  failed(code: string, message: string): void {
    this.state.lastError = { at: this.clock().toISOString(), code, message };
  }

  archived(report: ArchiveReport): void {
    const s = this.state;
    s.archives++;
    s.packed += report.workOrders.length;
    s.lastPackAt = this.clock().toISOString();
    s.recentArchives = [archiveEntry(report), ...s.recentArchives].slice(0, STATUS_HISTORY);
    const at = this.clock().toISOString();
    for (const wo of report.workOrders)
      for (const e of wo.entries) {
        if (!e.checks?.length) continue;
        const found = e.checks.map((f) => ({
          at,
          code: f.code,
          message: f.message,
          workOrder: wo.id,
          entry: e.entry,
          archive: report.archive,
        }));
        this.photoFindings(found, "warned");
      }
  }

  /** A pass starts: the photo checks' last-pass counts start again. */
  passStarted(): void {
    this.state.photoChecks.lastPass = { warned: 0, refused: 0, byCode: {} };
  }

  /** One photo's findings (warned), or one work order's refusals: counted since start and in this pass, kept as the newest. */
  private photoFindings(found: WatchStatus["photoChecks"]["recent"], outcome: "warned" | "refused"): void {
    const c = this.state.photoChecks;
    for (const counts of [c, c.lastPass]) {
      counts[outcome]++;
      for (const f of found) counts.byCode[f.code] = (counts.byCode[f.code] ?? 0) + 1;
    }
    c.recent = [...found, ...c.recent].slice(0, STATUS_FINDINGS);
  }

  /** errors: the <id>.errors.json beside the moved folder, or null when it was not moved */
  refusedOne(wo: { id: string; problems: Problem[] }, errors: string | null): void {
    this.state.refused++;
    const at = this.clock().toISOString();
    const photo = wo.problems.filter((p) => p.code.startsWith("E_PHOTO_"));
    const found = photo.map((p) => ({
      at,
      code: p.code,
      message: p.message,
      workOrder: wo.id,
      ...(p.path ? { entry: p.path } : {}),
      archive: null,
    }));
    if (found.length) this.photoFindings(found, "refused");
    this.state.recentRefused = [
      { id: wo.id, at: this.clock().toISOString(), problems: wo.problems, errors },
      ...this.state.recentRefused,
    ].slice(0, STATUS_HISTORY);
  }

  /** A staging warning: kept once (the newest first), at most STATUS_WARNINGS of them. */
  warned(p: Problem): void {
    const same = (w: Problem) => w.code === p.code && w.path === p.path && w.message === p.message;
    const entry = {
      at: this.clock().toISOString(),
      code: p.code,
      message: p.message,
      hint: p.hint,
      ...(p.path ? { path: p.path } : {}),
    };
    this.state.warnings = [entry, ...this.state.warnings.filter((w) => !same(w))].slice(0, STATUS_WARNINGS);
  }

  /**
   * After a restart: the newest archives the ledger knows in --out (those whose report is still beside
   * them) and the work orders their runs refused, so that the page is not empty. The session's counts
   * stay 0; an archive without its report beside it (uploaded and moved, or pruned) is left out.
   */
  async restore(out: string): Promise<void> {
    const ledger = await readLedger(out);
    const newest = [...ledger.archiveAt].sort((x, y) => y[1].localeCompare(x[1]) || y[0].localeCompare(x[0]));
    const archives: WatchStatus["recentArchives"] = [];
    const refused: WatchStatus["recentRefused"] = [];
    for (const [archive] of newest) {
      if (archives.length >= STATUS_HISTORY) break;
      const file = path.join(out, archive);
      const report = await readFile(file + REPORT_SUFFIX, "utf8").then(
        (text) => JSON.parse(text) as ArchiveReport,
        () => undefined,
      );
      if (!report || !Array.isArray(report.workOrders)) continue;
      const review = reviewPath(file);
      const reviewed = await access(review).then(
        () => true,
        () => false,
      );
      archives.push(archiveEntry({ ...report, archive, ...(reviewed ? { reviewPage: review } : {}) }));
      for (const r of report.refused ?? []) {
        const errors = this.state.failedTo ? path.join(this.state.failedTo, `${r.id}.errors.json`) : null;
        refused.push({ id: r.id, at: report.createdAt, problems: r.problems, errors });
      }
    }
    this.state.recentArchives = archives;
    this.state.recentRefused = refused.slice(0, STATUS_HISTORY);
  }

  write(): Promise<void> {
    this.changed();
    this.writes = this.writes.then(() => this.writeNow());
    return this.writes;
  }

  private async writeNow(): Promise<void> {
    if (!this.file) return;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      const body = JSON.stringify({ ...this.state, at: this.clock().toISOString() }, null, 2) + "\n";
      await writeFileAtomic(this.file, body, path.dirname(this.file));
      this.lastProblem = "";
    } catch (err) {
      const message = `cannot write the health file ${this.file}: ${(err as Error).message}`;
      if (message !== this.lastProblem) this.onError(message);
      this.lastProblem = message;
    }
  }
}
