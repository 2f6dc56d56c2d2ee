// The platform's word on what it stored: the upload session's last answer may carry the object's MD5 and
// CRC32C (protocol.ts objectDigests reads them). When it does, they are compared with the archive's, so that bytes
// changed on their way or in storage make the archive "needs attention", never "uploaded".
//
// The CRC32C is kept while sending, in the same pass as the SHA-256 on libuv's pool (native/sha256.c; it
// costs nothing measurable there): the storage names it for every object, so the archive is not read again.
// MD5 alone (a storage that names no CRC32C), or no native binding (in JavaScript, CRC32C runs at ~0.6-0.75
// GB/s here and MD5 at ~0.3-0.5 GB/s: on the main thread they would hold back the socket): the archive is read
// once more after the session said complete, with its SHA-256 proving the bytes read are the ones sent (their
// SHA-256 matched the report before the last chunk went).
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { ChunkBuffers } from "./archiveBytes.js";
import type { ObjectDigests } from "./protocol.js";
import { runningSha256 } from "./sha256.js";

const READ_BYTES = 8 * 1024 * 1024;

const CRC_TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++)
    for (let s = 1; s < 8; s++) t[s * 256 + n] = (t[(s - 1) * 256 + n]! >>> 8) ^ t[t[(s - 1) * 256 + n]! & 0xff]!;
  return t;
})();

/** CRC-32C (Castagnoli) of `data`, going on from `crc` (0 to start); slicing by 8. */
export function crc32c(data: Uint8Array, crc = 0): number {
  const t = CRC_TABLES;
  let c = ~crc;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    const a = c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    const b = data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24);
    c =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + (b & 0xff)]! ^
      t[512 + ((b >>> 8) & 0xff)]! ^
      t[256 + ((b >>> 16) & 0xff)]! ^
      t[b >>> 24]!;
  }
  for (; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * Compares the platform's digests with the archive's: undefined when they match, else what differs. One
 * digest is checked, CRC32C when given (the cheaper here, and the one the storage always gives), else MD5.
 * `sentCrc32c`: the CRC32C of every byte sent, when the sender kept it (then the archive is not read).
 * An archive whose bytes are no longer the ones sent (its SHA-256 is not the report's) cannot be checked:
 * that is said too, and is never taken for a match.
 */
export async function compareObject(
  file: string,
  sha256: string,
  given: ObjectDigests,
  sentCrc32c?: number,
): Promise<string | undefined> {
  if (given.crc32c && sentCrc32c !== undefined) return crcDiffers(given.crc32c, sentCrc32c);
  const kind = given.crc32c ? "crc32c" : "md5";
  const md5 = kind === "md5" ? createHash("md5") : undefined;
  let crc = 0;
  const sha = runningSha256();
  const fh = await open(file, "r");
  try {
    const buffers = new ChunkBuffers(READ_BYTES);
    for (let at = 0; ; ) {
      const data = await buffers.read(fh, at, READ_BYTES);
      if (!data.length) break;
      const hashing = sha.update(data); // (on libuv's pool with the binding, while the digest below runs here)
      if (md5) md5.update(data);
      else crc = crc32c(data, crc);
      await hashing;
      at += data.length;
    }
  } finally {
    await fh.close();
  }
  if (sha.hex() !== sha256) return "the archive's bytes changed since they were sent, so the platform's digest cannot be checked";
  if (!md5) return crcDiffers(given.crc32c, crc);
  const mine = md5.digest("hex");
  return mine === given.md5 ? undefined : differs("md5", given.md5, mine);
}

function crcDiffers(theirs: string | undefined, crc: number): string | undefined {
  const mine = crc.toString(16).padStart(8, "0");
  return mine === theirs ? undefined : differs("crc32c", theirs, mine);
}

const differs = (kind: string, theirs: string | undefined, mine: string) =>
  `the platform stored an object whose ${kind} is ${theirs}, but the archive's is ${mine}`;
