import { mkdir } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../commit/files.js";
import type { Clock } from "../core/clock.js";
import type { Problem } from "../core/errors.js";
import type { ArchiveReport, WatchStatus } from "../core/types.js";
import { VERSION } from "../core/version.js";

export interface WatchSummary {
  packed: number;
  refused: number;
  archives: number;
  /** the stop rolled an archive in progress back, or stopped an upload in progress (exit 130) */
  interrupted: boolean;
}

/** How many archives and refused work orders the status keeps (the newest). */
export const STATUS_HISTORY = 20;

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
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly file: string | undefined,
    folders: { staging: string; out: string },
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
      lastPackAt: null,
      lastError: null,
      waiting: [],
      inProgress: null,
      recentArchives: [],
      recentRefused: [],
      uploads: null,
      packed: 0,
      refused: 0,
      archives: 0,
    };
  }

  /** Tells the listeners; `write()` also does. */
  changed(): void {
    for (const l of this.listeners) l();
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
    s.recentArchives = [
      {
        archive: report.archive,
        at: report.createdAt,
        workOrders: report.workOrders.map((w) => w.id),
        photos: report.workOrders.reduce((n, w) => n + w.entries.length, 0),
        bytes: report.bytes,
        sha256: report.sha256,
        review: report.reviewPage ? path.basename(report.reviewPage) : null,
      },
      ...s.recentArchives,
    ].slice(0, STATUS_HISTORY);
  }

  refusedOne(wo: { id: string; problems: Problem[] }): void {
    this.state.refused++;
    this.state.recentRefused = [
      { id: wo.id, at: this.clock().toISOString(), problems: wo.problems },
      ...this.state.recentRefused,
    ].slice(0, STATUS_HISTORY);
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
