// An archive's bytes as the sender reads them: a chunk at an offset, and the hash of what came before.
import type { FileHandle } from "node:fs/promises";
import { CHUNK_SIZE } from "./protocol.js";
import { chunkBuffer, type RunningHash } from "./sha256.js";

/** Bytes [from, from + length) of the file (fewer at its end), into `into` (or a new buffer). */
export async function readChunk(fh: FileHandle, from: number, length: number, into?: Buffer): Promise<Buffer> {
  const data = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(data, got, length - got, from + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return data.subarray(0, got);
}

/** Feeds bytes [0, upTo) of the file to `hash`. */
export async function hashFile(fh: FileHandle, hash: RunningHash, upTo: number): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, Math.max(upTo, 1)));
  for (let at = 0; at < upTo; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, upTo - at), at);
    if (bytesRead === 0) break;
    await hash.update(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
}

/**
 * Two chunk buffers read into in turn: the chunk sent last lives in one, the chunk read ahead in the
 * other, so a read never lands in a buffer still being sent or hashed (the caller awaits a read it drops
 * before the next). No allocation per chunk: a 16 MiB buffer each time cost page faults and garbage
 * collections (some 0.2 s of CPU for a 0.3 GB archive).
 */
export class ChunkBuffers {
  private readonly slots: Buffer[] = [];
  private turn = 0;

  /** `size`: the largest chunk expected (allocated at once: growing them later made V8 collect garbage) */
  constructor(private readonly size: number) {}

  read(fh: FileHandle, from: number, length: number): Promise<Buffer> {
    const i = this.turn;
    this.turn ^= 1;
    const slot = this.slots[i];
    const buffer = slot && slot.length >= length ? slot : chunkBuffer(Math.max(length, this.size));
    this.slots[i] = buffer;
    return readChunk(fh, from, length, buffer);
  }
}
