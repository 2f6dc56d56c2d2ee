import { rm } from "node:fs/promises";
import { type DataRange, type ReadBack, TrailingReadBack } from "./readBack.js";
import { writeZip, type ZipEntrySource } from "./write.js";
import { END_OVERHEAD, entryOverhead } from "./zip.js";

/** Below this, reading the archive back after it is written costs less than starting a reader thread. */
const TRAILING_READ_FROM = 32 * 1024 * 1024;

/** The trailing read-back is told of final bytes in steps of at least this many. */
const ANNOUNCE_EVERY = 1024 * 1024;

/**
 * An archive being written while the photos of later work orders are still being converted: entries are
 * added work order by work order (in path order) and streamed out at once; finish() closes it.
 */
export class StreamingArchive {
  readonly entries: ZipEntrySource[] = [];
  /** an upper bound of the archive's size so far, headers and end records included */
  bytes = END_OVERHEAD;
  private readonly pending: ZipEntrySource[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private failure: unknown;
  private readonly written: Promise<number>;
  private trailing: TrailingReadBack | undefined;
  private unannounced: DataRange[] = [];
  /** the bytes the trailing read-back was told are final */
  private announced = 0;

  constructor(
    readonly tmp: string,
    signal?: AbortSignal,
  ) {
    this.written = writeZip(tmp, this.drain(), signal, (upTo, ranges) => this.settled(upTo, ranges));
    this.written.catch((err) => {
      this.failure = err;
    });
  }

  /** Queues the entries; throws at once if writing already failed (a full disk, say). */
  add(entries: readonly ZipEntrySource[]): void {
    if (this.failure) throw this.failure;
    for (const e of entries) {
      this.entries.push(e);
      this.pending.push(e);
      this.bytes += e.size + entryOverhead(e.name);
    }
    this.wake?.();
  }

  /**
   * Waits until every entry is written, the archive closed and flushed to disk. For a large archive, also
   * the read-back that followed the writing (for a small one, verifyZip reads it back itself).
   */
  async finish(): Promise<{ bytes: number; readBack?: ReadBack }> {
    this.ended = true;
    this.wake?.();
    try {
      const bytes = await this.written;
      return { bytes, ...(this.trailing ? { readBack: await this.trailing.end(bytes, this.unannounced) } : {}) };
    } finally {
      await this.trailing?.stop();
    }
  }

  /** Gives up on the archive: stops writing and removes the temporary file. */
  async discard(): Promise<void> {
    this.ended = true;
    this.pending.length = 0;
    this.wake?.();
    await this.written.catch(() => undefined);
    await this.trailing?.stop();
    await rm(this.tmp, { force: true });
  }

  private settled(upTo: number, ranges: DataRange[]): void {
    this.unannounced.push(...ranges);
    if (!this.trailing && upTo < TRAILING_READ_FROM) return;
    this.trailing ??= new TrailingReadBack(this.tmp);
    // (told every megabyte or so, not every entry: a message per small photo cost more than reading it)
    if (upTo - this.announced < ANNOUNCE_EVERY) return;
    this.trailing.settled(upTo, this.unannounced);
    this.announced = upTo;
    this.unannounced = [];
  }

  private async *drain(): AsyncGenerator<ZipEntrySource> {
    for (;;) {
      const next = this.pending.shift();
      if (next) yield next;
      else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
