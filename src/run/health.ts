import { mkdir } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../commit/files.js";
import type { Clock } from "../core/clock.js";

export interface WatchSummary {
  packed: number;
  refused: number;
  archives: number;
  /** an archive in progress was rolled back by the stop */
  interrupted: boolean;
}

export interface HealthState {
  pid: number;
  status: "starting" | "idle" | "packing" | "unhealthy" | "stopped";
  startedAt: string;
  lastScanAt: string;
  lastPackAt: string;
  lastError: string;
  /** work orders seen but not ready yet */
  waiting: number;
}

/**
 * Watch mode's health file, for monitoring: the state and the summary, rewritten atomically through a
 * temporary file beside it (a rename across file systems fails), one write at a time. A failed write is
 * reported once per distinct failure, so that a stale file can be explained from the log. `file`
 * undefined (a dry run): nothing is written.
 */
export class HealthFile {
  readonly state: HealthState;
  private writes = Promise.resolve();
  private lastProblem = "";

  constructor(
    private readonly file: string | undefined,
    private readonly summary: WatchSummary,
    private readonly clock: Clock,
    private readonly onError: (message: string) => void,
  ) {
    this.state = {
      pid: process.pid,
      status: "starting",
      startedAt: clock().toISOString(),
      lastScanAt: "",
      lastPackAt: "",
      lastError: "",
      waiting: 0,
    };
  }

  write(): Promise<void> {
    this.writes = this.writes.then(() => this.writeNow());
    return this.writes;
  }

  private async writeNow(): Promise<void> {
    if (!this.file) return;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      const body = JSON.stringify({ ...this.state, ...this.summary, at: this.clock().toISOString() }, null, 2) + "\n";
      await writeFileAtomic(this.file, body, path.dirname(this.file));
      this.lastProblem = "";
    } catch (err) {
      const message = `cannot write the health file ${this.file}: ${(err as Error).message}`;
      if (message !== this.lastProblem) this.onError(message);
      this.lastProblem = message;
    }
  }
}
