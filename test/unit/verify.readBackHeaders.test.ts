// Issue 25: the verification's local-header reads (one read of the file each, a hand-over to the thread pool)
// are served from the bytes the read-back pass read from the file just before each stored entry's data, and a
// deflated entry (JSON) is inflated from its header and data as the read-back kept them; what it did not keep
// is read from the file as before, and a damaged header or JSON is still refused.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { crc32 } from "node:zlib";
import { describe, expect, it, vi } from "vitest";
import { type DataRange, ReadBackCheck } from "../../src/archive/readBack.js";
import { verifyZip } from "../../src/archive/verify.js";
import { writeZip, type ZipEntrySource } from "../../src/archive/write.js";
import { tempDir } from "../helpers.js";

let reads = 0;

vi.mock("node:fs", async (original) => {
  const fs = await original<typeof import("node:fs")>();
  const read = ((...a: unknown[]) => {
    reads++;
    return (fs.read as (...x: unknown[]) => unknown)(...a);
  }) as typeof fs.read;
  const wrapped = { ...fs, read };
  return { ...wrapped, default: wrapped };
});

async function archive() {
  const file = path.join(await tempDir(), "a.zip");
  const entries: ZipEntrySource[] = [];
  for (let i = 0; i < 200; i++) {
    const data = Buffer.alloc(3000 + i, i % 250);
    entries.push({ name: `WO_${i % 20}/p-${i}.jpg`, data, store: true, crc32: crc32(data), size: data.length });
    if (i % 10 === 9) {
      const json = Buffer.from(JSON.stringify({ i }));
      entries.push({ name: `WO_${i % 20}/metadata-${i}.json`, data: json, store: false, crc32: crc32(json), size: json.length });
    }
  }
  const ranges: DataRange[] = [];
  await writeZip(file, entries, undefined, (_, told) => ranges.push(...told));
  const expected = entries.map((e) => ({ name: e.name, crc32: e.crc32!, size: e.size }));
  return { file, ranges, expected, bytes: await readFile(file) };
}

/** The read-back's pass over `bytes` in chunks of `chunk` (headers cut across chunks). */
function readBackOf(bytes: Buffer, ranges: DataRange[], chunk: number) {
  const check = new ReadBackCheck();
  for (const r of ranges) check.expect(r);
  for (let at = 0; at < bytes.length; at += chunk) check.update(bytes.subarray(at, at + chunk));
  return check.digest("a.zip");
}

describe("verifyZip takes the local headers the read-back read", () => {
  it("keeps the bytes before each stored entry's data, and each JSON's with its data, whatever the chunks, as the file holds them", async () => {
    const { ranges, bytes } = await archive();
    expect(ranges.filter((r) => r.deflated)).toHaveLength(20);
    for (const chunk of [7, 4096, 1 << 20]) {
      const { before, checked } = readBackOf(bytes, ranges, chunk);
      expect(checked.map((r) => r.name)).toEqual(ranges.filter((r) => !r.deflated).map((r) => r.name));
      expect(before).toHaveLength(ranges.length);
      for (const [i, b] of before!.entries()) {
        const r = ranges[i]!;
        const end = r.deflated ? r.end : r.start;
        expect(b.start + b.bytes.length, r.name).toBe(end);
        // (in file order, never overlapping: a JSON's data kept is not kept again before the next header)
        const last = before![i - 1];
        expect(b.start, r.name).toBeGreaterThanOrEqual(last ? last.start + last.bytes.length : 0);
        expect(b.bytes.equals(bytes.subarray(b.start, end)), r.name).toBe(true);
      }
    }
  });

  it("reads the file for the central directory only, not for each photo's header or each JSON", async () => {
    const { file, ranges, expected, bytes } = await archive();
    const readBack = readBackOf(bytes, ranges, 4096);
    reads = 0;
    expect(await verifyZip(file, expected, readBack)).toEqual({ sha256: readBack.sha256, bytes: bytes.length });
    // (200 photos' headers and 20 JSON entries served; a few directory blocks)
    expect(reads).toBeLessThan(10);
    // half of the headers not kept: read from the file, and the archive still verifies
    const half = { ...readBack, before: readBack.before!.filter((_, i) => i % 2 === 0) };
    reads = 0;
    expect(await verifyZip(file, expected, half)).toEqual({ sha256: readBack.sha256, bytes: bytes.length });
    expect(reads).toBeGreaterThanOrEqual(100);
  });

  it("refuses a local header that is not what the central directory says, read back or not", async () => {
    const { file, ranges, expected, bytes } = await archive();
    // (the 50th photo's local header says another CRC: what the read-back saw on disk)
    const damaged = Buffer.from(bytes);
    const p50 = ranges.find((r) => r.name.endsWith("/p-50.jpg"))!;
    const header = p50.start - 30 - Buffer.byteLength(p50.name);
    damaged[header + 14] = damaged[header + 14]! ^ 0xff;
    const readBack = readBackOf(damaged, ranges, 4096);
    await expect(verifyZip(file, expected, readBack)).rejects.toThrow(/p-50\.jpg: its local header says CRC/);
  });

  it.each([
    ["a byte of its deflated data", (r: DataRange) => r.start + 2, /metadata-99\.json: (its data does not inflate|data CRC)/],
    [
      "its CRC in its local header",
      (r: DataRange) => r.start - 30 - Buffer.byteLength(r.name) + 14,
      /metadata-99\.json: its local header says CRC/,
    ],
  ])("refuses a JSON entry whose %s is damaged on disk, read back or read by yauzl", async (_, at, message) => {
    const { file, ranges, expected, bytes } = await archive();
    const json = ranges.find((r) => r.name.endsWith("/metadata-99.json"))!;
    const damaged = Buffer.from(bytes);
    damaged[at(json)] = damaged[at(json)]! ^ 0x5a;
    await writeFile(file, damaged);
    await expect(verifyZip(file, expected, readBackOf(damaged, ranges, 4096))).rejects.toThrow(message);
    await expect(verifyZip(file, expected)).rejects.toThrow(message);
  });
});
