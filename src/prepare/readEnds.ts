// A photo's first and last bytes, or the whole of a small one: what its checks judge it by.
import { open } from "node:fs/promises";
import type { DecodedRead } from "../convert/pixels.js";
import type { HeldBytes } from "./heldBytes.js";

const HEAD_BYTES = 256 * 1024;

const TAIL_BYTES = 64 * 1024;

/** A photo at most this large is read whole, once: its checks and its archive entry take the same bytes. */
const READ_WHOLE_MAX = 1024 * 1024;

export interface Ends {
  head: Buffer;
  tail: Buffer;
  size: number;
  mtimeMs: number;
  /**
   * the whole file, when it is small and `held` had room for it. `release` gives back its count; `recycle`
   * also lets its buffer be read into again, for when nothing refers to `bytes` (nor head, tail) any more.
   */
  whole?: { bytes: Buffer; release: () => void; recycle: () => void };
}

/**
 * The first and last bytes of a file, and its size and mtime at that moment; a small file is read whole
 * (one read, its bytes counted in `held`).
 */
export async function readEnds(file: string, held: HeldBytes | undefined): Promise<Ends> {
  const fh = await open(file, "r");
  try {
    const { size, mtimeMs } = await fh.stat();
    const release = size <= READ_WHOLE_MAX ? held?.take(size) : undefined;
    if (release && held) {
      const buffer = held.buffer(size);
      const { bytesRead } = await fh.read(buffer, 0, size, 0).catch((err) => {
        release();
        throw err;
      });
      return endsRead(buffer, size, bytesRead, mtimeMs, release, held);
    }
    const head = Buffer.allocUnsafe(Math.min(size, HEAD_BYTES));
    const tail = Buffer.allocUnsafe(Math.min(size, TAIL_BYTES));
    const [h, t] = await Promise.all([fh.read(head, 0, head.length, 0), fh.read(tail, 0, tail.length, size - tail.length)]);
    // a file cut short since its stat reads short: what was read is all there is
    return { head: head.subarray(0, h.bytesRead), tail: tail.subarray(0, t.bytesRead), size, mtimeMs };
  } finally {
    await fh.close();
  }
}

/**
 * The ends of a file read into `buffer` (a `held` buffer counted by `release`): bytesRead of its size from its
 * start, short when it was cut since its stat (then what was read is all there is, and its count is given back).
 */
function endsRead(buffer: Buffer, size: number, bytesRead: number, mtimeMs: number, release: () => void, held: HeldBytes): Ends {
  const read = buffer.subarray(0, bytesRead);
  const ends = { head: read.subarray(0, HEAD_BYTES), tail: read.subarray(Math.max(0, bytesRead - TAIL_BYTES)), size, mtimeMs };
  if (bytesRead < size) {
    release();
    return ends;
  }
  let recycled = false;
  const recycle = () => {
    release();
    if (!recycled) held.recycle(buffer);
    recycled = true;
  };
  return { ...ends, whole: { bytes: buffer.subarray(0, size), release, recycle } };
}

/**
 * readEnds through `read`, one call that also decodes the file (pixels.ts' readDecoding), into a buffer
 * counted in `held` for its size at the scan. Undefined (readEnds' turn) when held has no room for it, or it
 * is larger than READ_WHOLE_MAX, or its size changed since the scan.
 */
export async function readEndsDecoding(
  file: string,
  held: HeldBytes | undefined,
  scannedSize: number,
  read: (file: string, into: Buffer) => Promise<DecodedRead>,
): Promise<{ ends: Ends; decoded?: DecodedRead["decoded"] } | undefined> {
  const release = scannedSize <= READ_WHOLE_MAX ? held?.take(scannedSize) : undefined;
  if (!release || !held) return undefined;
  const buffer = held.buffer(scannedSize);
  const got = await read(file, buffer).catch((err) => {
    release();
    throw err;
  });
  const { size, mtimeMs, bytesRead } = got;
  if (size !== scannedSize) {
    release();
    held.recycle(buffer);
    return undefined;
  }
  const ends = endsRead(buffer, size, bytesRead, mtimeMs, release, held);
  // (a decode is of the whole file only)
  return { ends, ...(ends.whole && got.decoded ? { decoded: got.decoded } : {}) };
}
