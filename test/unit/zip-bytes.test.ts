// The ZIP writer's bytes against byte strings written by hand from APPNOTE 6.3.10 (4.3.7 local header,
// 4.3.12 central header, 4.3.16 end record, 4.3.14/4.3.15 ZIP64 end record and locator, 4.5.3 ZIP64
// extra). The ZIP64 case starts the writer past 4 GiB in a sparse file instead of writing 4 GiB.
import { open, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { crc32, deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { deflateEntry, ZipWriter } from "../../src/archive/zip.js";
import { execFileP, readZip, tempDir, testWithThirdPartyTools } from "../helpers.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const NAME = Buffer.from("WO_1/a-0.jpg"); // 12 bytes
const DATA = Buffer.from("hello"); // CRC-32 0x3610a686

describe("ZIP header bytes", () => {
  it("a stored entry: local header, data, central header and end record, byte for byte", async () => {
    const file = path.join(await tempDir(), "a.zip");
    const zip = await ZipWriter.create(file);
    await zip.addBuffer(NAME.toString(), DATA, crc32(DATA), true);
    await zip.finish();
    const expected = Buffer.concat([
      // local: signature, version 2.0, flags (UTF-8 names, no data descriptor), stored, 1980-01-01 00:00,
      // CRC, sizes, name length, no extra
      hex("504b0304 1400 0008 0000 0000 2100 86a61036 05000000 05000000 0c00 0000"),
      NAME,
      DATA,
      // central: made by Unix 2.0, needs 2.0, flags, stored, time, date, CRC, sizes, name length, no extra,
      // no comment, disk 0, internal 0, external = mode 0100644 << 16, local header at 0
      hex("504b0102 1403 1400 0008 0000 0000 2100 86a61036 05000000 05000000 0c00 0000 0000 0000 0000 0000a481 00000000"),
      NAME,
      // end: disks 0, 1 entry (this disk, total), central directory of 58 bytes at 47, no comment
      hex("504b0506 0000 0000 0100 0100 3a000000 2f000000 0000"),
    ]);
    expect((await readFile(file)).toString("hex")).toBe(expected.toString("hex"));
    await testWithThirdPartyTools(file);
  });

  it("a central directory of many entries, written in chunks, is every entry's header in order, end record after", async () => {
    // (20,000 headers of 66 bytes: the writer's 1 MB chunks end inside the directory; between the entries,
    // the header cut by a chunk's end, the last one)
    const file = path.join(await tempDir(), "many.zip");
    const zip = await ZipWriter.create(file);
    const names = Array.from({ length: 20_000 }, (_, i) => `WO_${String(i).padStart(5, "0")}/x-${i % 10}.jpg`);
    for (const [i, name] of names.entries()) {
      const data = Buffer.from(String(i));
      await zip.addBuffer(name, data, crc32(data), true);
    }
    const size = await zip.finish();
    const bytes = await readFile(file);
    expect(bytes.length).toBe(size);
    const end = bytes.subarray(bytes.length - 22);
    expect(end.readUInt32LE(0)).toBe(0x06054b50);
    expect(end.readUInt16LE(10)).toBe(names.length);
    const [cdSize, cdStart] = [end.readUInt32LE(12), end.readUInt32LE(16)];
    expect(cdStart + cdSize).toBe(bytes.length - 22);
    expect(cdSize).toBeGreaterThan(1024 * 1024);
    let at = cdStart;
    for (const [i, name] of names.entries()) {
      expect(bytes.readUInt32LE(at), name).toBe(0x02014b50);
      const nameLength = bytes.readUInt16LE(at + 28);
      expect(bytes.toString("utf8", at + 46, at + 46 + nameLength)).toBe(name);
      const local = bytes.readUInt32LE(at + 42);
      expect(bytes.readUInt32LE(local)).toBe(0x04034b50);
      expect(bytes.toString("utf8", local + 30 + nameLength, local + 30 + nameLength + String(i).length)).toBe(String(i));
      at += 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
    }
    expect(at).toBe(cdStart + cdSize);
    const read = await readZip(file);
    expect(read.map((e) => e.name)).toEqual(names);
  });

  it("an entry past 4 GiB: ZIP64 offset in the central header, ZIP64 end record and locator", async () => {
    const file = path.join(await tempDir(), "big.zip");
    const start = 2 ** 32 + 100;
    const zip = await ZipWriter.create(file, undefined, undefined, start);
    await zip.addBuffer(NAME.toString(), DATA, crc32(DATA), true);
    const end = await zip.finish();
    expect((await stat(file)).blocks * 512).toBeLessThan(1024 * 1024); // sparse: nothing like 4 GiB on disk

    const cd = start + 30 + 12 + 5;
    const u64 = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(n));
      return b;
    };
    const expected = Buffer.concat([
      // the local header needs no ZIP64: its sizes are small (its own offset is nowhere in it)
      hex("504b0304 1400 0008 0000 0000 2100 86a61036 05000000 05000000 0c00 0000"),
      NAME,
      DATA,
      // central: made by Unix 4.5, needs 4.5, offset 0xffffffff, a 12-byte extra holding only the offset
      hex("504b0102 2d03 2d00 0008 0000 0000 2100 86a61036 05000000 05000000 0c00 0c00 0000 0000 0000 0000a481 ffffffff"),
      NAME,
      hex("0100 0800"),
      u64(start),
      // ZIP64 end record: size 44, made by Unix 4.5, needs 4.5, disks 0, 1 entry twice, cd size 70, cd offset
      hex("504b0606"),
      u64(44),
      hex("2d03 2d00 00000000 00000000"),
      u64(1),
      u64(1),
      u64(70),
      u64(cd),
      // locator: disk 0, where the ZIP64 end record is, 1 disk
      hex("504b0607 00000000"),
      u64(cd + 70),
      hex("01000000"),
      // end: the counts fit, the central directory's size too, its offset does not
      hex("504b0506 0000 0000 0100 0100 46000000 ffffffff 0000"),
    ]);
    const fh = await open(file, "r");
    const tail = Buffer.alloc(end - start);
    await fh.read(tail, 0, tail.length, start);
    await fh.close();
    expect(tail.toString("hex")).toBe(expected.toString("hex"));

    // and readers that are not the writer find the entry through those records
    const { stdout } = await execFileP("python3", ["-m", "zipfile", "-t", file]);
    expect(stdout).toMatch(/Done testing/);
    expect(await readZip(file)).toEqual([expect.objectContaining({ name: NAME.toString(), data: DATA })]);
  });

  it("a copied file whose bytes no longer have the CRC it was given fails the archive", async () => {
    const dir = await tempDir();
    const source = path.join(dir, "converted.jpg");
    await writeFile(source, DATA);
    const zip = await ZipWriter.create(path.join(dir, "a.zip"));
    await expect(zip.addFile(NAME.toString(), source, DATA.length, crc32(Buffer.from("hellO")))).rejects.toThrow(
      /no longer have the CRC-32 computed when it was written/,
    );
    await zip.abort();
    // the CRC it was given, when right, is kept
    const ok = await ZipWriter.create(path.join(dir, "b.zip"));
    await expect(ok.addFile(NAME.toString(), source, DATA.length, crc32(DATA))).resolves.toEqual({ crc32: crc32(DATA), size: 5 });
    await ok.abort();
  });

  it("a deflated entry is zlib's level-9 bytes whatever its size (its small window holds all of it), and reads back", async () => {
    // (sizes at each window's edge, where the data plus zlib's 262 bytes of lookahead fill it; text and noise)
    let seed = 7;
    const byte = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    };
    const sizes = [0, 1, 100];
    for (let w = 9; w <= 16; w++) for (const d of [-263, -262, -261, -200, -100, 0]) sizes.push(2 ** w + d);
    const file = path.join(await tempDir(), "deflated.zip");
    const zip = await ZipWriter.create(file);
    const written: Buffer[] = [];
    for (const [i, n] of sizes.entries()) {
      const data = Buffer.from(Array.from({ length: n }, () => (i % 2 ? byte() : 0x61 + (byte() % 5))));
      // (its last 8 bytes repeat its first: a match as far back as the data is long)
      if (n >= 16) data.copy(data, n - 8, 0, 8);
      expect(deflateEntry(data).equals(deflateRawSync(data, { level: 9 })), `${n} bytes`).toBe(true);
      await zip.addBuffer(`WO_1/${i}.json`, data, crc32(data), false);
      written.push(data);
    }
    await zip.finish();
    const read = await readZip(file);
    expect(read.map((e) => e.data)).toEqual(written);
    await testWithThirdPartyTools(file);
  });
});
