// Issue 25: entries written from memory (the photos read whole for their checks) are gathered into one write
// call of up to a megabyte, not one call per photo; the archive is what yauzl, unzip and 7z read, and the
// read-back is told of a stored entry only once its bytes are in the file.
import { closeSync, openSync, readSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { crc32, inflateRawSync } from "node:zlib";
import { describe, expect, it, vi } from "vitest";
import { writeZip } from "../../src/archive/write.js";
import { ZipWriter } from "../../src/archive/zip.js";
import { readZip, tempDir, testWithThirdPartyTools } from "../helpers.js";

let writeCalls = 0;

vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  const open = async (...a: Parameters<typeof fs.open>) => {
    const fh = await fs.open(...a);
    const counted =
      (f: (...x: unknown[]) => unknown) =>
      (...w: unknown[]) => {
        writeCalls++;
        return f(...w);
      };
    Object.assign(fh, { write: counted(fh.write.bind(fh) as never), writev: counted(fh.writev.bind(fh) as never) });
    return fh;
  };
  const wrapped = { ...fs, open };
  return { ...wrapped, default: wrapped };
});

describe("the writer gathers entries written from memory", () => {
  it("300 photos of 10 KB and their JSON in a few write calls; told of each entry once it is in the file", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "a.zip");
    const copied = path.join(dir, "copied.jpg");
    writeFileSync(copied, Buffer.alloc(5000, 7));
    const settled: string[] = [];
    const fd = { value: -1 };
    const zip = await ZipWriter.create(file, undefined, (upTo, ranges) => {
      // (what the file holds now: up to upTo, and each range's bytes, with their CRC, before it)
      fd.value = fd.value < 0 ? openSync(file, "r") : fd.value;
      expect(readSync(fd.value, Buffer.alloc(1), 0, 1, upTo - 1)).toBe(1);
      for (const range of ranges) {
        const bytes = Buffer.alloc(range.end - range.start);
        expect(range.end, range.name).toBeLessThanOrEqual(upTo);
        expect(readSync(fd.value, bytes, 0, bytes.length, range.start), range.name).toBe(bytes.length);
        // (a deflated entry's CRC is of its data inflated)
        expect(crc32(range.deflated ? inflateRawSync(bytes) : bytes) >>> 0, range.name).toBe(range.crc32);
        expect(range.deflated ?? false, range.name).toBe(range.name.endsWith(".json"));
        settled.push(range.name);
      }
    });
    writeCalls = 0;
    const written: { name: string; data: Buffer }[] = [];
    for (let i = 0; i < 300; i++) {
      const data = Buffer.alloc(10_000, i % 251);
      data.writeUInt32LE(i, 0);
      const name = `WO_${i}/meter-0.jpg`;
      await zip.addBuffer(name, data, crc32(data), true);
      written.push({ name, data });
      if (i % 10 === 9) {
        const json = Buffer.from(JSON.stringify({ workOrder: i }));
        await zip.addBuffer(`WO_${i}/metadata.json`, json, crc32(json), false);
        written.push({ name: `WO_${i}/metadata.json`, data: json });
      }
      if (i === 150) {
        // (a copy in the middle: what was gathered goes first)
        await zip.addFile(`WO_${i}/copied.jpg`, copied, 5000);
        written.push({ name: `WO_${i}/copied.jpg`, data: Buffer.alloc(5000, 7) });
      }
    }
    const beforeFinish = writeCalls;
    await zip.finish();
    if (fd.value >= 0) closeSync(fd.value);
    // 3 MB from memory in 1 MB writes, and the copy's header and data (not 330 calls)
    expect(beforeFinish).toBeLessThanOrEqual(8);
    // (the copied photo's range is told by addFile itself)
    expect(settled).toEqual(written.map((w) => w.name));
    const read = await readZip(file);
    expect(read.map((e) => [e.name, e.data])).toEqual(written.map((w) => [w.name, w.data]));
    await testWithThirdPartyTools(file);
  });

  it("gives a photo's buffer back (to be read into again) only once its bytes are in the file", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "a.zip");
    const photos = Array.from({ length: 20 }, (_, i) => {
      const source = path.join(dir, `p${i}.jpg`);
      const data = Buffer.alloc(20_000, i + 1);
      writeFileSync(source, data);
      const { size, mtimeMs } = statSync(source);
      // (the held buffer is reused at once for the next photo's read)
      const recycle = () => data.fill(0xee);
      return {
        name: `WO_1/p-${i}.jpg`,
        file: source,
        data,
        recycle,
        store: true,
        crc32: crc32(data),
        size,
        unchangedSince: { size, mtimeMs },
      };
    });
    await writeZip(file, photos);
    const read = await readZip(file);
    // (compared by CRC: a diff of 20 buffers of 20 KB takes minutes to print)
    const crcs = (list: { name: string; data: Buffer }[]) => list.map((e) => `${e.name} ${crc32(e.data)}`);
    expect(crcs(read)).toEqual(crcs(photos.map((p, i) => ({ name: p.name, data: Buffer.alloc(20_000, i + 1) }))));
    expect(photos.map((p) => p.data)).toEqual(photos.map(() => undefined));
  });
});
