import { rm } from "node:fs/promises";
import { writeZip, type ZipEntrySource } from "./write.js";
import { END_OVERHEAD, entryOverhead } from "./zip.js";

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

  constructor(
    readonly tmp: string,
    signal?: AbortSignal,
  ) {
    this.written = writeZip(tmp, this.drain(), signal);
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

  /** Waits until every entry is written, the archive closed and flushed to disk. */
  async finish(): Promise<number> {
    this.ended = true;
    this.wake?.();
    return this.written;
  }

  /** Gives up on the archive: stops writing and removes the temporary file. */
  async discard(): Promise<void> {
    this.ended = true;
    this.pending.length = 0;
    this.wake?.();
    await this.written.catch(() => undefined);
    await rm(this.tmp, { force: true });
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
