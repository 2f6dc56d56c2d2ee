// An archive's bytes as the sender reads them: a chunk at an offset, and the hash of what came before.
import type { Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { CHUNK_SIZE } from "./protocol.js";

/** Bytes [from, from + length) of the file (fewer at its end). */
export async function readChunk(fh: FileHandle, from: number, length: number): Promise<Buffer> {
  const data = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(data, got, length - got, from + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return data.subarray(0, got);
}

/** Feeds bytes [0, upTo) of the file to `hash`. */
export async function hashFile(fh: FileHandle, hash: Hash, upTo: number): Promise<void> {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_SIZE, Math.max(upTo, 1)));
  for (let at = 0; at < upTo; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, upTo - at), at);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
}
