// Small JPEGs read and decoded while the staging folder is still being listed, for their preparation to take:
// a decoding thread starts before the plan is made instead of after it.
import type { DecodedRead } from "../convert/pixels.js";
import type { HeldBytes } from "./heldBytes.js";
import { type Ends, readEndsDecoding } from "./readEnds.js";

type ReadDecoding = (file: string, into: Buffer) => Promise<DecodedRead>;
type EarlyRead = { ends: Ends; decoded?: DecodedRead["decoded"] } | undefined;

interface Listed {
  size: number;
  mtimeMs: number;
  /** once started */
  read?: Promise<EarlyRead>;
}

/**
 * One read at a time: the listing itself needs the other core (more at once slowed it down more than they
 * saved, in paired runs).
 */
const IN_FLIGHT = 1;

/**
 * Reads started as files are listed, one at a time, at most `budget` bytes of `held` in use meanwhile (the rest
 * is left to preparing). A read is taken only if it saw the file as it was listed (the plan's file): same size
 * and mtime; one not started yet is not made; what is not taken (a work order not ready, a file changed) is
 * given back by drop().
 */
export class EarlyReads {
  private readonly listed = new Map<string, Listed>();
  private readonly queue: string[] = [];
  private running = 0;

  constructor(
    private readonly held: HeldBytes,
    private readonly budget: number,
    /** the one-call read and decode a JPEG of this size gets (copyAsIs' decodingRead), if any */
    private readonly readFor: (size: number) => ReadDecoding | undefined,
  ) {}

  /** Queues the read of a listed JPEG, when it is one prepare would read so. */
  start(file: string, size: number, mtimeMs: number): void {
    if (this.listed.has(file) || !this.readFor(size)) return;
    this.listed.set(file, { size, mtimeMs });
    this.queue.push(file);
    this.next();
  }

  private next(): void {
    while (this.running < IN_FLIGHT && this.queue.length) {
      const file = this.queue.shift()!;
      const listed = this.listed.get(file);
      const read = listed && this.readFor(listed.size);
      if (!listed || !read) continue;
      if (this.held.inUse + listed.size > this.budget) {
        this.listed.delete(file);
        continue;
      }
      this.running++;
      listed.read = readEndsDecoding(file, this.held, listed.size, read)
        .catch(() => undefined)
        .finally(() => {
          this.running--;
          this.next();
        });
    }
  }

  /** The read made of this file, when it read the whole file as it was listed; undefined otherwise. */
  async take(file: string): Promise<EarlyRead> {
    const listed = this.listed.get(file);
    this.listed.delete(file);
    if (!listed?.read) return undefined;
    const got = await listed.read;
    if (got?.ends.whole && got.ends.size === listed.size && got.ends.mtimeMs === listed.mtimeMs) return got;
    got?.ends.whole?.recycle();
    return undefined;
  }

  /** Makes no more reads than those started: the listing is done, and preparing reads the rest itself. */
  listingDone(): void {
    this.queue.length = 0;
  }

  /** Gives back every read not taken, and makes no more. */
  async drop(): Promise<void> {
    const left = [...this.listed.values()];
    this.listed.clear();
    this.queue.length = 0;
    for (const { read } of left) if (read) (await read)?.ends.whole?.recycle();
  }
}
