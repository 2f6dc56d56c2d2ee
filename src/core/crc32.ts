// The zip format's CRC-32 of what wopack writes and reads back: native/crc32.c (carry-less multiplication,
// some 10 GB/s of CPU) where the binding is built, else node:zlib's (zlib's tables, some 1-3 GB/s). Same
// numbers either way (test/unit/crc32.test.ts).
import { createRequire } from "node:module";
import { crc32 as zlibCrc32 } from "node:zlib";

type Crc32 = (data: Uint8Array, crc?: number) => number;

function load(): Crc32 {
  if (process.env.WOPACK_CRC32 === "zlib") return zlibCrc32;
  try {
    return (createRequire(import.meta.url)("../../native/build/Release/wopack_crc.node") as { crc32: Crc32 }).crc32;
  } catch {
    return zlibCrc32; // not built
  }
}

/** zlib's crc32(crc, data): the CRC-32 of `data` going on from `crc`, an unsigned 32-bit number. */
export const crc32: Crc32 = load();
