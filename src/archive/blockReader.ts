// What yauzl reads a written archive through for its verification: the file on disk, by its own descriptor,
// each read served from a few small blocks kept from the reads before. yauzl reads every entry's headers in
// four small reads (the central header and its names, the local header and its names); through yauzl's own
// file reader each was a round trip to the thread pool, one after the other: 0.15-0.3 s for 1,000 photos at
// the end of a pack. The central directory is now read a block at a time, a local header in one read.
import { close, fstat, open, read } from "node:fs";
import { Readable } from "node:stream";
import yauzl from "yauzl";

const BLOCK = 16 * 1024;

/** Blocks kept: the central directory's and a local header's, read in turn, and one to spare. */
const KEPT = 3;

interface Block {
  start: number;
  bytes: Buffer;
}

class BlockReader extends yauzl.RandomAccessReader {
  private blocks: Block[] = [];

  constructor(
    private readonly fd: number,
    private readonly size: number,
    /** bytes of this file read before (by the read-back, from the file), in file order, not overlapping */
    private readonly seen: readonly Block[] = [],
  ) {
    super();
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null) => void): void {
    const served = this.serve(buffer, offset, length, position);
    if (served) {
      queueMicrotask(() => callback(null));
      return;
    }
    if (length > BLOCK) {
      read(this.fd, buffer, offset, length, position, (err, n) => callback(err ?? (n < length ? eof() : null)));
      return;
    }
    const bytes = Buffer.allocUnsafe(Math.min(BLOCK, Math.max(0, this.size - position)));
    read(this.fd, bytes, 0, bytes.length, position, (err, n) => {
      if (err) return callback(err);
      this.blocks = [{ start: position, bytes: bytes.subarray(0, n) }, ...this.blocks].slice(0, KEPT);
      callback(this.serve(buffer, offset, length, position) ? null : eof());
    });
  }

  /** An entry's data (deflated JSON), read in 64 KB pieces (not an fs stream: destroying one closes its fd). */
  override _readStreamForRange(start: number, end: number): Readable {
    const fd = this.fd;
    let at = start;
    return new Readable({
      read() {
        if (at >= end) return void this.push(null);
        const piece = Buffer.allocUnsafe(Math.min(64 * 1024, end - at));
        read(fd, piece, 0, piece.length, at, (err, n) => {
          if (err || n === 0) return void this.destroy(err ?? eof());
          at += n;
          this.push(piece.subarray(0, n));
        });
      },
    });
  }

  override close(callback: (err: Error | null) => void): void {
    close(this.fd, callback);
  }

  private serve(buffer: Buffer, offset: number, length: number, position: number): boolean {
    const fits = (b: Block | undefined) => b && position >= b.start && position + length <= b.start + b.bytes.length;
    const b = this.blocks.find(fits) ?? [this.seen[lastAtOrBefore(this.seen, position)]].find(fits);
    if (!b) return false;
    b.bytes.copy(buffer, offset, position - b.start, position - b.start + length);
    return true;
  }
}

/** The index of the last block starting at or before `position` (-1 if none). */
function lastAtOrBefore(blocks: readonly Block[], position: number): number {
  let [lo, hi] = [0, blocks.length - 1];
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (blocks[mid]!.start <= position) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi;
}

/** The bytes from `start` to `end` among `blocks` (in file order, not overlapping), when one block holds them all. */
export function bytesWithin(blocks: readonly Block[], start: number, end: number): Buffer | undefined {
  const b = blocks[lastAtOrBefore(blocks, start)];
  return b && end <= b.start + b.bytes.length ? b.bytes.subarray(start - b.start, end - b.start) : undefined;
}

/** (yauzl's message for a read past the end: what its own reader says) */
const eof = () => new Error("unexpected EOF");

/**
 * Opens `file` for yauzl (lazy entries), read through a BlockReader; a read within `seen` (bytes the
 * read-back read from this file) is served from them.
 */
export async function openForVerify(file: string, options: yauzl.Options, seen: readonly Block[] = []): Promise<yauzl.ZipFile> {
  const fd = await new Promise<number>((resolve, reject) => open(file, "r", (err, fd) => (err ? reject(err) : resolve(fd))));
  try {
    const { size } = await new Promise<{ size: number }>((resolve, reject) =>
      fstat(fd, (err, st) => (err ? reject(err) : resolve(st))),
    );
    return await yauzl.fromRandomAccessReaderPromise(new BlockReader(fd, size, seen), size, options);
  } catch (err) {
    close(fd, () => undefined);
    throw err;
  }
}
