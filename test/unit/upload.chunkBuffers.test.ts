// The sender's two chunk buffers (issue 21 item 8): the bytes read into them are the file's, and with the
// native binding and transparent huge pages on "madvise" (or "always"), their first fill does not take a
// page fault per 4 KiB page (perf on the project's 2-core VM: 8,192 faults, ~6 % of an upload's CPU).
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { open, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ChunkBuffers } from "../../src/upload/archiveBytes.js";
import { tempDir } from "../helpers.js";

const nativeBuilt = existsSync(new URL("../../native/build/Release/wopack_sha.node", import.meta.url));
const thp = (() => {
  try {
    return readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8");
  } catch {
    return "";
  }
})();
const hugePagesAdvisable = nativeBuilt && /\[(always|madvise)\]/.test(thp);

describe("chunk buffers", () => {
  it("hold the file's bytes, chunk after chunk, in turn", async () => {
    const file = path.join(await tempDir(), "a.zip");
    const bytes = randomBytes(5 << 20);
    await writeFile(file, bytes);
    const fh = await open(file, "r");
    try {
      const buffers = new ChunkBuffers(2 << 20);
      for (let at = 0; at < bytes.length; at += 2 << 20) {
        const got = await buffers.read(fh, at, Math.min(2 << 20, bytes.length - at));
        expect(got.equals(bytes.subarray(at, at + (2 << 20)))).toBe(true);
      }
    } finally {
      await fh.close();
    }
  });

  it.skipIf(!hugePagesAdvisable)("a 16 MiB buffer's first fill takes far fewer page faults than its 4,096 pages", async () => {
    const file = path.join(await tempDir(), "b.zip");
    const bytes = randomBytes(16 << 20);
    await writeFile(file, bytes);
    const fh = await open(file, "r");
    try {
      // (three fresh buffers at most: a kernel short of free huge pages at that moment falls back to small
      // ones for that buffer; one that never gives them fails)
      const tries: number[] = [];
      for (let i = 0; i < 3 && !tries.some((f) => f < 1024); i++) {
        const buffers = new ChunkBuffers(16 << 20);
        await buffers.read(fh, 0, 4096); // (the file's first page in the cache, the buffer made)
        const before = process.resourceUsage().minorPageFault;
        const got = await buffers.read(fh, 0, bytes.length);
        tries.push(process.resourceUsage().minorPageFault - before);
        expect(got.equals(bytes)).toBe(true);
      }
      expect(Math.min(...tries), `page faults of each try: ${tries.join(", ")}`).toBeLessThan(1024);
    } finally {
      await fh.close();
    }
  });
});
