import { createHash } from "node:crypto";
import { chmod, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { crc32 } from "node:zlib";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { verifyZip } from "../../src/archive/verify.js";
import { writeZip, type ZipEntrySource } from "../../src/archive/write.js";
import {
  archivesIn,
  FIXTURES,
  put,
  ROOT,
  readZip,
  snapshot,
  tempDir,
  testWithThirdPartyTools,
  wopack,
  workspace,
} from "../helpers.js";

/** A noisy JPEG of roughly `kb` kilobytes: stored as is, so archive sizes are predictable. */
async function noiseJpeg(kb: number, seed = 1): Promise<Buffer> {
  const side = Math.round(Math.sqrt(kb * 1000) / 1.1);
  const raw = Buffer.alloc(side * side * 3);
  let x = 2463534242 + seed;
  for (let i = 0; i < raw.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    raw[i] = x & 255;
  }
  return sharp(raw, { raw: { width: side, height: side, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

async function workOrdersPerArchive(out: string): Promise<string[][]> {
  const result: string[][] = [];
  for (const zip of await archivesIn(out)) {
    await testWithThirdPartyTools(zip);
    result.push([...new Set((await readZip(zip)).map((e) => e.name.split("/")[0]!))]);
  }
  return result;
}

describe("splitting archives (§4, §8)", () => {
  it("--max-work-orders: at most N work orders per archive, none spanning two", async () => {
    const ws = await workspace();
    const photo = await noiseJpeg(5);
    for (let i = 1; i <= 5; i++) await put(ws.staging, `WO_${i}/meter/a.jpg`, photo);
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--max-work-orders", "2"]);
    expect(run.code).toBe(0);
    expect(await workOrdersPerArchive(ws.out)).toEqual([["WO_1", "WO_2"], ["WO_3", "WO_4"], ["WO_5"]]);
    expect((await archivesIn(ws.out)).map((z) => path.basename(z).replace(/\d{8}T\d{6}Z/, "T"))).toEqual([
      "batch-T-1.zip",
      "batch-T-2.zip",
      "batch-T-3.zip",
    ]);
  });

  it("--max-archive-size: archives stay under it; a larger work order gets one of its own, with a warning", async () => {
    const ws = await workspace();
    const small = await noiseJpeg(100);
    const large = await noiseJpeg(450, 2);
    for (const id of ["WO_1", "WO_2", "WO_3", "WO_5"]) await put(ws.staging, `${id}/meter/a.jpg`, small);
    await put(ws.staging, "WO_4/meter/a.jpg", large);
    const limit = Math.round(small.length * 2.5);
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--max-archive-size", String(limit), "--json"]);
    expect(run.code).toBe(0);
    expect(await workOrdersPerArchive(ws.out)).toEqual([["WO_1", "WO_2"], ["WO_3"], ["WO_4"], ["WO_5"]]);
    const result = JSON.parse(run.stdout);
    const warned = result.packed.filter((w: { warnings: { code: string }[] }) =>
      w.warnings.some((x) => x.code === "W_WORK_ORDER_OVER_ARCHIVE_SIZE"),
    );
    expect(warned.map((w: { id: string }) => w.id)).toEqual(["WO_4"]);
    for (const a of result.archives)
      if (!a.workOrders.some((w: { id: string }) => w.id === "WO_4")) expect(a.bytes).toBeLessThanOrEqual(limit);
  });
});

describe("--on-archive (§4)", () => {
  async function hook(dir: string, exitCode: number): Promise<string> {
    const script = path.join(dir, "hook.sh");
    await writeFile(
      script,
      `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> "${dir}/calls"; done\necho '---' >> "${dir}/calls"\necho "uploading $#"\nexit ${exitCode}\n`,
    );
    await chmod(script, 0o755);
    return script;
  }

  it("runs after each commit with the archive's path as its last argument, without a shell", async () => {
    const ws = await workspace();
    const photo = await noiseJpeg(5);
    for (let i = 1; i <= 3; i++) await put(ws.staging, `WO_${i}/meter/a.jpg`, photo);
    const script = await hook(ws.dir, 0);
    const run = await wopack([
      "pack",
      ws.staging,
      "--out",
      ws.out,
      "--max-work-orders",
      "2",
      "--on-archive",
      `${script} "two words" $HOME;touch`,
    ]);
    expect(run.code).toBe(0);
    const zips = await archivesIn(ws.out);
    const calls = (await readFile(path.join(ws.dir, "calls"), "utf8")).split("---\n").filter(Boolean);
    expect(calls).toEqual(zips.map((z) => `two words\n$HOME;touch\n${z}\n`));
  });

  it("a failing hook is reported (exit 1) and the archive is kept", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", noiseJpeg(5));
    const script = await hook(ws.dir, 3);
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--on-archive", script, "--json"]);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result.hooks).toEqual([expect.objectContaining({ ok: false, exitCode: 3, output: "uploading 1" })]);
    const zips = await archivesIn(ws.out);
    expect(zips).toHaveLength(1);
    await testWithThirdPartyTools(zips[0]!);
    expect(run.stderr).toContain("--on-archive failed");
  });
});

describe("ZIP64 (§8)", () => {
  it("an archive of more than 65,535 entries passes unzip, 7z and python's zipfile", async () => {
    const dir = await tempDir();
    const data = Buffer.from("tiny photo\n");
    const entries = Array.from({ length: 66_000 }, (_, i) => ({
      name: `WO_${String(Math.floor(i / 10)).padStart(5, "0")}/meter-${i % 10}.jpg`,
      data,
      store: true,
      crc32: crc32(data),
      size: data.length,
    }));
    const zip = path.join(dir, "many.zip");
    await writeZip(zip, entries);
    await verifyZip(zip, entries);
    await testWithThirdPartyTools(zip);
  });

  it.runIf(process.env.WOPACK_BIG_TESTS === "1")(
    "an archive larger than 4 GiB, with an entry above 4 GiB and one past it, passes unzip, 7z and python",
    async () => {
      const dir = await tempDir();
      // a sparse source of 4.1 GiB of zeros: every ZIP64 field is needed (an entry's size, then an offset)
      const size = Math.round(4.1 * 2 ** 30);
      const big = path.join(dir, "big.bin");
      const { open } = await import("node:fs/promises");
      const fh = await open(big, "w");
      await fh.truncate(size);
      await fh.close();
      const zeros = Buffer.alloc(64 * 1024 * 1024);
      let crc = 0;
      for (let done = 0; done < size; done += zeros.length)
        crc = crc32(zeros.subarray(0, Math.min(zeros.length, size - done)), crc);
      const small = Buffer.from("after the big one\n");
      const json = Buffer.from("{}\n");
      const entries = [
        { name: "WO_1/big-0.jpg", file: big, store: true, size } as ZipEntrySource, // CRC computed while copying
        { name: "WO_1/metadata.json", data: json, store: false, crc32: crc32(json), size: json.length },
        { name: "WO_1/small-1.jpg", data: small, store: true, crc32: crc32(small), size: small.length },
      ];
      const zip = path.join(dir, "big.zip");
      // read back while writing, as pack does for a large archive (the worker is built code)
      const { TrailingReadBack } = await import("../../dist/archive/readBack.js");
      const trailing = new TrailingReadBack(zip);
      const bytes = await writeZip(zip, entries, undefined, (upTo, ranges) => trailing.settled(upTo, ranges));
      const readBack = await trailing.end(bytes, []);
      expect(entries[0]!.crc32).toBe(crc >>> 0);
      const expected = entries.map((e) => ({ name: e.name, size: e.size, crc32: e.crc32! }));
      expect(readBack.checked.map((r) => r.start)).toEqual([expect.any(Number), expect.any(Number)]);
      expect(readBack.checked[1]!.start).toBeGreaterThan(2 ** 32); // small-1.jpg sits past 4 GiB
      const followed = await verifyZip(zip, expected, readBack);
      // and read back after the fact, as for a small archive: the same SHA-256
      expect(await verifyZip(zip, expected)).toEqual(followed);
      await testWithThirdPartyTools(zip);
    },
    1_800_000,
  );
});

describe("the pipeline overlaps work (§4 --concurrency)", () => {
  it("one slow HEIC does not stall the other cores: every quick photo after it finishes first", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_000/meter/slow.heic", readFile(path.join(FIXTURES, "slow-12mp.heic"))); // ~0.5 s to decode
    const quick = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#468" } })
      .jpeg()
      .toBuffer();
    for (let i = 1; i <= 30; i++) await put(ws.staging, `WO_${String(i).padStart(3, "0")}/meter/a.jpg`, quick);
    // the built library (its HEIC decoder runs on worker threads, which need the compiled files)
    const lib = (await import(path.join(ROOT, "dist", "index.js") as string)) as typeof import("../../src/index.js");
    const finished: string[] = [];
    const result = await lib.pack({
      staging: ws.staging,
      out: ws.out,
      config: lib.parseConfig({}),
      concurrency: 2,
      onProgress: (p) => {
        if (p.lastPhoto && finished.at(-1) !== p.lastPhoto) finished.push(p.lastPhoto);
      },
    });
    expect(result.packed).toHaveLength(31);
    expect(finished).toHaveLength(31);
    // the work orders are written in order, so WO_000 holds up the archive, but not the conversions
    expect(finished.at(-1)).toBe("WO_000/meter/slow.heic");
  });
});

describe("a large archive is read back while it is written (§8 commit protocol)", () => {
  it("the report's SHA-256 and size are the file's, every entry checks out, and the sources are untouched", async () => {
    const ws = await workspace();
    const photos = await Promise.all([1, 2, 3, 4].map((seed) => noiseJpeg(2000, seed)));
    for (let i = 0; i < 40; i++) await put(ws.staging, `WO_${String(i).padStart(2, "0")}/meter/a.jpg`, photos[i % 4]!);
    const before = await snapshot(ws.staging);
    const run = await wopack(["pack", ws.staging, "--out", ws.out]);
    expect(run.code, run.stderr).toBe(0);
    expect(await snapshot(ws.staging)).toEqual(before);
    const [zip, ...others] = await archivesIn(ws.out);
    expect(others).toEqual([]);
    const bytes = await readFile(zip!);
    expect(bytes.length).toBeGreaterThan(40_000_000); // past the point where the read-back follows the writer
    const report = JSON.parse(await readFile(`${zip}.report.json`, "utf8"));
    expect(report.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(report.bytes).toBe(bytes.length);
    const entries = await readZip(zip!);
    expect(
      entries.filter((e) => e.name.endsWith(".jpg")).map((e) => e.data.equals(photos[Number(e.name.slice(3, 5)) % 4]!)),
    ).toEqual(Array(40).fill(true));
    await testWithThirdPartyTools(zip!);
  });
});
