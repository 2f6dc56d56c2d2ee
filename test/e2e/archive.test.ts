import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ReadBackCheck } from "../../src/archive/readBack.js";
import { verifyZip } from "../../src/archive/verify.js";
import { writeZip, type ZipEntrySource } from "../../src/archive/write.js";
import { sha256, tempDir, testWithThirdPartyTools } from "../helpers.js";

const entry = (name: string, data: Buffer, store = true): ZipEntrySource & { crc32: number } => ({
  name,
  data,
  store,
  crc32: crc32(data),
  size: data.length,
});

async function written(entries: ZipEntrySource[]) {
  const file = path.join(await tempDir(), "a.zip");
  await writeZip(file, entries);
  return file;
}

describe("writeZip + verifyZip (the commit protocol's check)", () => {
  const photo = Buffer.alloc(9 * 1024 * 1024, 0x5a); // larger than one read chunk, so ranges span chunks
  photo.write("PHOTO", 100);
  const entries = () => [
    entry("WO_1/a-0.jpg", photo),
    entry("WO_1/metadata.json", Buffer.from('{"a": 1}\n'), false),
    entry("WO_2/b-0.jpg", Buffer.from("tiny")),
  ];

  it("accepts what it wrote, and reports the file's SHA-256 and size", async () => {
    const file = await written(entries());
    const v = await verifyZip(file, entries());
    const bytes = await readFile(file);
    expect(v).toEqual({ sha256: sha256(bytes), bytes: bytes.length });
    await testWithThirdPartyTools(file);
  });

  it("refuses a stored entry whose bytes were damaged after writing", async () => {
    const file = await written(entries());
    const bytes = await readFile(file);
    const at = bytes.indexOf("PHOTO") + 1;
    bytes[at] = bytes[at]! ^ 0xff;
    await writeFile(file, bytes);
    await expect(verifyZip(file, entries())).rejects.toThrow(/WO_1\/a-0\.jpg: data CRC/);
  });

  it.for<[string, number, number]>([
    ["CRC", 14, 4],
    ["compressed size", 18, 4],
    ["size", 22, 4],
    ["data descriptor", 6, 1],
  ])(
    "refuses a local header whose %s disagrees with the central directory (streaming readers trust it)",
    async ([what, offset, length]) => {
      const file = await written(entries());
      const bytes = await readFile(file);
      // the third entry's local header: found by its name right after a local header signature
      const name = bytes.indexOf("WO_2/b-0.jpg");
      const header = name - 30;
      expect(bytes.readUInt32LE(header)).toBe(0x04034b50);
      for (let i = 0; i < length; i++)
        bytes[header + offset + i] = bytes[header + offset + i]! ^ (what === "data descriptor" ? 0x08 : 0x01);
      await writeFile(file, bytes);
      await expect(verifyZip(file, entries())).rejects.toThrow(
        new RegExp(`WO_2/b-0\\.jpg: its local header says .*${what === "data descriptor" ? "a data descriptor" : what}`),
      );
    },
  );

  it("refuses when the recorded CRC is not the one meant (a source changed while packing)", async () => {
    const file = await written(entries());
    const meant = entries();
    meant[2] = { ...meant[2]!, crc32: 1234 };
    await expect(verifyZip(file, meant)).rejects.toThrow(/WO_2\/b-0\.jpg: recorded CRC/);
  });

  it("refuses missing, extra or reordered entries", async () => {
    const file = await written(entries());
    await expect(verifyZip(file, entries().slice(0, 2))).rejects.toThrow(/holds 3 entries, expected 2/);
    await expect(verifyZip(file, [...entries()].reverse())).rejects.toThrow(/where "WO_2\/b-0.jpg" was expected/);
  });

  it("names the first damaged entry in the archive's order, however many are read ahead of it", async () => {
    const many = Array.from({ length: 120 }, (_, i) => entry(`WO_${i}/a-0.jpg`, Buffer.alloc(100 + i, i)));
    const file = await written(many);
    const bytes = await readFile(file);
    // the local headers of entries 45 and 100 damaged; entry 70 not the one expected
    for (const i of [45, 100]) {
      const crcAt = bytes.indexOf(`WO_${i}/a-0.jpg`) - 30 + 14;
      bytes[crcAt] = bytes[crcAt]! ^ 0x01;
    }
    await writeFile(file, bytes);
    const meant = many.map((e, i) => (i === 70 ? { ...e, crc32: 1 } : e));
    for (let run = 0; run < 5; run++)
      await expect(verifyZip(file, meant)).rejects.toThrow(/^WO_45\/a-0\.jpg: its local header says CRC/);
  });

  it("refuses a truncated archive", async () => {
    const file = await written(entries());
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, bytes.length - 30));
    await expect(verifyZip(file, entries())).rejects.toThrow();
  });
});

describe("files copied as is", () => {
  it("get their CRC computed while copied and written back into the local header", async () => {
    const dir = await tempDir();
    const photo = Buffer.alloc(3 * 1024 * 1024 + 17, 0x33);
    const file = path.join(dir, "photo.jpg");
    await writeFile(file, photo);
    const e: ZipEntrySource = { name: "WO_1/a-0.jpg", file, store: true, size: photo.length };
    const zip = path.join(dir, "a.zip");
    await writeZip(zip, [e]);
    expect(e.crc32).toBe(crc32(photo));
    await verifyZip(zip, [{ name: e.name, size: e.size, crc32: e.crc32! }]);
    await testWithThirdPartyTools(zip); // unzip checks the local header's CRC too
  });

  it("fail the archive when the file changed since it was checked, and leave no partial file", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "photo.jpg");
    await writeFile(file, Buffer.alloc(1000, 1));
    const { stat } = await import("node:fs/promises");
    const seen = await stat(file);
    const e: ZipEntrySource = {
      name: "WO_1/a-0.jpg",
      file,
      store: true,
      size: 1000,
      unchangedSince: { size: seen.size, mtimeMs: seen.mtimeMs - 1000 },
    };
    const zip = path.join(dir, "a.zip");
    await expect(writeZip(zip, [e])).rejects.toThrow(/changed while it was being packed/);
    await expect(stat(zip)).rejects.toThrow();
  });
});

describe("the read-back (SHA-256 and stored entries' CRCs from one sequential read)", () => {
  const data = Buffer.alloc(3_000_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) >>> 5;
  const ranges = [
    { name: "a", start: 100, end: 1_000_100, crc32: crc32(data.subarray(100, 1_000_100)) },
    { name: "b", start: 1_500_000, end: 2_999_000, crc32: crc32(data.subarray(1_500_000, 2_999_000)) },
  ];
  const feed = (check: ReadBackCheck, chunk: number) => {
    for (let at = 0; at < data.length; at += chunk) check.update(data.subarray(at, at + chunk));
  };

  it("hashes every byte and checks each range, whatever the chunk size", () => {
    for (const chunk of [4093, 1_000_000, data.length]) {
      const check = new ReadBackCheck();
      for (const r of ranges) check.expect(r);
      feed(check, chunk);
      expect(check.digest("f")).toMatchObject({ sha256: sha256(data), bytes: data.length, checked: ranges });
    }
  });

  it("names the entry whose bytes do not match, and one whose data never came", () => {
    const check = new ReadBackCheck();
    check.expect(ranges[0]!);
    check.expect({ ...ranges[1]!, crc32: ranges[1]!.crc32 ^ 1 });
    expect(() => feed(check, 65536)).toThrow(/^b: data CRC/);
    const short = new ReadBackCheck();
    for (const r of ranges) short.expect(r);
    short.update(data.subarray(0, 2_000_000));
    expect(() => short.digest("f")).toThrow(/f: ends before the data of b/);
  });

  it("runs behind the writer on a worker thread (built code), and fails on a damaged range", async () => {
    const { TrailingReadBack } = await import("../../dist/archive/readBack.js");
    const dir = await tempDir();
    // (the last range told as its bytes become final, or only with the end: the writer tells it every MB)
    for (const [damaged, lastAtEnd] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      const file = path.join(dir, `f${damaged}${lastAtEnd}`);
      await writeFile(file, data.subarray(0, 1_200_000));
      const reader = new TrailingReadBack(file);
      reader.settled(1_200_000, [ranges[0]!]);
      const { appendFile } = await import("node:fs/promises");
      const rest = Buffer.from(data.subarray(1_200_000));
      if (damaged) rest[500_000] = rest[500_000]! ^ 0xff;
      await appendFile(file, rest);
      if (!lastAtEnd) reader.settled(data.length, [ranges[1]!]);
      const ended = reader.end(data.length, lastAtEnd ? [ranges[1]!] : []);
      if (damaged) await expect(ended).rejects.toThrow(/^b: data CRC/);
      else expect(await ended).toMatchObject({ sha256: sha256(data), bytes: data.length, checked: ranges });
    }
  });

  it("follows a streamed archive of 40 MB of photos from memory, gathered several to a write (built code)", async () => {
    // (issue 25: the writer tells of several photos at once; each must be expected before its bytes are read)
    const { StreamingArchive } = await import("../../dist/archive/stream.js");
    const file = path.join(await tempDir(), "s.zip");
    const archive = new StreamingArchive(file);
    const photos: ZipEntrySource[] = [];
    for (let wo = 0; wo < 40; wo++) {
      const order = Array.from({ length: 10 }, (_, i) => {
        const data = Buffer.alloc(100_000, (wo * 10 + i) % 253);
        data.writeUInt32LE(wo * 10 + i, 50_000);
        return entry(`WO_${wo}/p-${i}.jpg`, data);
      });
      photos.push(...order);
      archive.add([...order, entry(`WO_${wo}/metadata.json`, Buffer.from(`{"wo": ${wo}}`), false)]);
    }
    const { bytes, readBack } = await archive.finish();
    const written = await readFile(file);
    expect(readBack).toMatchObject({ sha256: sha256(written), bytes: written.length });
    expect(bytes).toBe(written.length);
    expect(readBack!.checked.map((r: { name: string }) => r.name)).toEqual(photos.map((p) => p.name));
    const expected = archive.entries.map((e: ZipEntrySource) => ({ name: e.name, crc32: e.crc32!, size: e.size }));
    expect(await verifyZip(file, expected, readBack)).toEqual({ sha256: sha256(written), bytes: written.length });
  }, 60_000);

  it("verifyZip refuses an archive whose stored data is not where it was read back", async () => {
    const photo = Buffer.alloc(100_000, 9);
    const entries = [entry("WO_1/a-0.jpg", photo)];
    const file = await written(entries);
    const bytes = await readFile(file);
    const start = bytes.indexOf(photo);
    const range = { name: "WO_1/a-0.jpg", start, end: start + photo.length, crc32: crc32(photo) };
    const readBack = { sha256: sha256(bytes), bytes: bytes.length, checked: [range] };
    expect(await verifyZip(file, entries, readBack)).toEqual({ sha256: sha256(bytes), bytes: bytes.length });
    const shifted = { ...readBack, checked: [{ ...range, start: start + 1 }] };
    await expect(verifyZip(file, entries, shifted)).rejects.toThrow(/not where the archive was read back/);
    await expect(verifyZip(file, entries, { ...readBack, bytes: bytes.length - 1 })).rejects.toThrow(/changed size/);
  });
});
