// The check that a photo written from the bytes read for its checks is still what was read: its file's
// size and mtime, compared with those seen then. Checked in batches while the writing goes on, not one
// awaited stat a photo: each stat was a hand-over to libuv's pool and back, 80-190 us of the main thread
// a photo (a sixth of a small photo's cost). The archive fails at the first photo found changed, before
// it is finished.
import { stat } from "node:fs/promises";
import { getSystemErrorName } from "node:util";
import type { StatMany } from "../core/native.js";
import { assertUnchanged, type FileTimes, sourceError } from "./zip.js";

export interface SourceCheck {
  /** the entry's name in the archive */
  name: string;
  file: string;
  since: FileTimes;
}

/** Photos checked in one call. */
const BATCH = 64;

export class SourceChecks {
  private pending: SourceCheck[] = [];
  /** the batch being checked: its failure is thrown by the next add() or by done() */
  private checking: Promise<void> | undefined;

  /** `statMany`: the native binding's, else each file is stat'ed by node:fs */
  constructor(private readonly statMany: StatMany | undefined) {}

  async add(check: SourceCheck): Promise<void> {
    this.pending.push(check);
    if (this.pending.length >= BATCH) await this.next();
  }

  /** Every check added so far done; throws the first photo found changed or gone. */
  async done(): Promise<void> {
    await this.next();
    await this.checking;
  }

  /** Starts checking what is pending, once the batch before it has passed (or throws its failure). */
  private async next(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const before = this.checking;
    this.checking = undefined;
    await before;
    if (!batch.length) return;
    this.checking = this.check(batch);
    this.checking.catch(() => undefined); // (thrown by the next add() or done())
  }

  private async check(batch: SourceCheck[]): Promise<void> {
    if (!this.statMany) {
      for (const c of batch) {
        const now = await stat(c.file).catch((err) => {
          throw sourceError(err, c.name, c.file);
        });
        assertUnchanged(c.name, c.file, c.since, now);
      }
      return;
    }
    const seen = new Float64Array(batch.length * 2);
    await this.statMany(batch.map((c) => c.file).join("\0"), seen);
    for (const [i, c] of batch.entries()) {
      const size = seen[2 * i]!;
      if (size < 0) throw sourceError(errnoError(-size, c.file), c.name, c.file);
      assertUnchanged(c.name, c.file, c.since, { size, mtimeMs: seen[2 * i + 1]! });
    }
  }
}

/** The error node:fs would have thrown for `errno` on `file`. */
function errnoError(errno: number, file: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(-errno);
  return Object.assign(new Error(`${code}: stat '${file}'`), { errno: -errno, code, syscall: "stat", path: file });
}
