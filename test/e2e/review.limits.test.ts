// Issue 21, item 4b: `wopack review foreign.zip` reads any archive within validate's limits (SPEC §13):
// entries streamed, declared and real sizes checked, memory bounded. A 512 MiB entry of zeros in a 0.5 MB
// zip took over 1.1 GB; now a photo over the limits gets its problem on the page instead of a thumbnail.
// And the report beside someone else's zip may hold anything: it never breaks the page nor writes markup.
import { copyFile, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { crc32, createDeflateRaw, deflateRawSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { pack } from "../../src/run/pack.js";
import { review } from "../../src/run/review.js";
import { archivesIn, noiseJpeg, pngBomb, put, solidJpeg, tempDir, wopack, workspace } from "../helpers.js";
import { craftZip, zeros } from "../zipCraft.js";

interface RawEntry {
  name: string;
  /** the bytes as stored (deflated when method is 8) */
  stored: Buffer;
  method: 0 | 8;
  crc: number;
  /** the uncompressed size the headers declare (which may lie) */
  declared: number;
}

/** A zip written by hand, so that a header can lie about its entry's size (no zip tool writes that). */
function zipOf(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(e.method, 8);
    local.writeUInt32LE(e.crc >>> 0, 14);
    local.writeUInt32LE(e.stored.length, 18);
    local.writeUInt32LE(e.declared, 22);
    local.writeUInt16LE(name.length, 26);
    parts.push(local, name, e.stored);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(e.method, 10);
    cd.writeUInt32LE(e.crc >>> 0, 16);
    cd.writeUInt32LE(e.stored.length, 20);
    cd.writeUInt32LE(e.declared, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, name);
    offset += local.length + name.length + e.stored.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBytes, end]);
}

/** `mib` MiB of zeros, deflated chunk by chunk (never held whole here either), with its CRC. */
async function deflatedZeros(mib: number): Promise<{ stored: Buffer; crc: number; size: number }> {
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on("data", (d: Buffer) => out.push(d));
  const done = new Promise((resolve) => deflate.on("end", resolve));
  const zeros = Buffer.alloc(1 << 20);
  let crc = 0;
  for (let i = 0; i < mib; i++) {
    crc = crc32(zeros, crc);
    if (!deflate.write(zeros)) await new Promise((r) => deflate.once("drain", r));
  }
  deflate.end();
  await done;
  return { stored: Buffer.concat(out), crc, size: mib << 20 };
}

const stored = (name: string, data: Buffer): RawEntry => ({
  name,
  stored: data,
  method: 0,
  crc: crc32(data),
  declared: data.length,
});

/** The real CLI, with its peak resident memory (kB) written by a hook that runs at its exit. */
async function reviewMeasured(zip: string, extra: string[] = []) {
  const rssFile = `${zip}.rss`;
  // (VmHWM, the process's own peak: getrusage's maxRSS also counts the forked copy of the parent before exec,
  // a test worker of 400 MB after a few files)
  const hook = `import { readFileSync, writeFileSync } from "node:fs"; process.on("exit", () => writeFileSync(${JSON.stringify(rssFile)}, /VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]));`;
  const run = await wopack(["review", zip, ...extra], {
    env: { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(hook)}` },
  });
  return { ...run, maxRssKb: Number(await readFile(rssFile, "utf8")) };
}

describe("wopack review <zip> reads within validate's limits (§13)", () => {
  it("a 512 MiB entry of zeros, a size that lies, a pixel bomb, a huge metadata.json: each its problem on the page, under 300 MB", async () => {
    const dir = await tempDir("wopack-review-bomb-");
    const zeros = await deflatedZeros(512);
    const liar = await deflatedZeros(64);
    const bomb = pngBomb();
    const bigJson = Buffer.from(`{${" ".repeat(2_000_000)}}`);
    const zip = path.join(dir, "foreign.zip");
    await writeFile(
      zip,
      zipOf([
        // 512 MiB declared truly, 0.5 MB in the zip
        { name: "WO_1/meter-1.jpg", stored: zeros.stored, method: 8, crc: zeros.crc, declared: zeros.size },
        // declares 4 MB (under the limit), inflates to 64 MiB
        { name: "WO_1/meter-2.jpg", stored: liar.stored, method: 8, crc: liar.crc, declared: 4_000_000 },
        stored("WO_1/cabinet-3.jpg", await solidJpeg("#357", 640, 480)),
        // 12,000 x 10,000 pixels in a few hundred kB
        stored("WO_2/meter-1.png", bomb),
        { name: "WO_2/metadata.json", stored: deflateRawSync(bigJson), method: 8, crc: crc32(bigJson), declared: bigJson.length },
      ]),
    );
    expect((await readFile(zip)).length).toBeLessThan(2_000_000);

    for (const extra of [[], ["--config", await configFile(dir, { images: { maxImageSize: "2GiB" } })]]) {
      const run = await reviewMeasured(zip, extra);
      expect(run.code, run.stderr).toBe(0);
      expect(run.maxRssKb, `peak RSS with ${extra.join(" ") || "the defaults"}`).toBeLessThan(300_000);
      const page = await readFile(path.join(dir, "foreign.html"), "utf8");
      const figure = (entry: string) => page.slice(page.indexOf(`<span class="entry">${entry}</span>`)).split("</figure>")[0]!;
      expect(figure("meter-1.jpg")).toContain("E_IMAGE_TOO_BIG");
      expect(figure("meter-1.jpg")).toContain(extra.length ? `above the ${64 << 20}-byte limit` : "above the 5000000-byte limit");
      expect(figure("meter-2.jpg")).toContain("E_ZIP_ENTRY_UNREADABLE");
      expect(figure("meter-1.png")).toContain("E_IMAGE_TOO_LARGE");
      expect(page).toContain("E_JSON_TOO_BIG");
      // the photo within the limits has its thumbnail; none of the others has one
      expect(page.match(/<img src="data:image\/jpeg/g)).toHaveLength(1);
      expect(page.slice(0, page.indexOf(`<span class="entry">cabinet-3.jpg</span>`)).split("<figure>").at(-1)).toContain(
        "<img src=",
      );
    }
  });
});

describe("wopack review of generated hostile zips (issue 21 item 4, audit: the class, not four cases)", () => {
  type Kind = "photo" | "zeros" | "liar" | "bomb" | "badCrc" | "truncated" | "method" | "bigJson";
  it("any mix of entries that lie, inflate, bomb, break or are fine: each hostile one has its coded problem and no thumbnail, each fine photo its thumbnail, peak memory under 300 MB", async () => {
    const dir = await tempDir("wopack-review-gen-");
    const photo = await solidJpeg("#357", 640, 480);
    const deflatedPhoto = deflateRawSync(photo);
    const zeros = await deflatedZeros(200);
    const liar = await deflatedZeros(64);
    const bomb = pngBomb();
    const bigJson = Buffer.from(`{${" ".repeat(2_000_000)}}`);
    const entry = (kind: Kind, name: string): RawEntry => {
      switch (kind) {
        case "photo":
          return stored(name, photo);
        case "zeros":
          return { name, stored: zeros.stored, method: 8, crc: zeros.crc, declared: zeros.size };
        case "liar":
          return { name, stored: liar.stored, method: 8, crc: liar.crc, declared: 1_000_000 };
        case "bomb":
          return stored(name.replace(/\.jpg$/, ".png"), bomb);
        case "badCrc":
          return { ...stored(name, photo), crc: (crc32(photo) ^ 0xdeadbeef) >>> 0 };
        case "truncated":
          return {
            name,
            stored: deflatedPhoto.subarray(0, deflatedPhoto.length >> 1),
            method: 8,
            crc: crc32(photo),
            declared: photo.length,
          };
        case "method":
          return { ...stored(name, photo), method: 99 as 0 };
        case "bigJson":
          return {
            name: `${path.dirname(name)}/metadata.json`,
            stored: deflateRawSync(bigJson),
            method: 8,
            crc: crc32(bigJson),
            declared: bigJson.length,
          };
      }
    };
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Kind>("photo", "zeros", "liar", "bomb", "badCrc", "truncated", "method", "bigJson"), {
          minLength: 1,
          maxLength: 5,
        }),
        async (kinds) => {
          const entries = kinds.map((k, i) => entry(k, `WO_${i}/meter-${i}.jpg`));
          const zip = path.join(dir, `gen-${run++}.zip`);
          await writeFile(zip, zipOf(entries));
          const r = await reviewMeasured(zip);
          const what = kinds.join(", ");
          expect([0, 1], `${what}: exit ${r.code}: ${r.stderr}`).toContain(r.code);
          expect(r.maxRssKb, `${what}: peak RSS`).toBeLessThan(300_000);
          const page = await readFile(zip.replace(/\.zip$/, ".html"), "utf8");
          // the whole <figure> of an entry: its thumbnail comes before its caption
          const figure = (entry: string) => {
            const at = page.indexOf(`<span class="entry">${entry}</span>`);
            return page.slice(page.lastIndexOf("<figure", at), page.indexOf("</figure>", at));
          };
          for (const [i, k] of kinds.entries()) {
            if (k === "bigJson") continue;
            const name = k === "bomb" ? `meter-${i}.png` : `meter-${i}.jpg`;
            expect(page, `${what}: ${name} on the page`).toContain(`<span class="entry">${name}</span>`);
            if (k === "photo") expect(figure(name), `${what}: ${name}`).toContain("<img src=");
            else {
              expect(figure(name), `${what}: ${name} (${k})`).toMatch(/E_[A-Z_]+/);
              expect(figure(name), `${what}: ${name} (${k})`).not.toContain("<img src=");
            }
          }
          if (kinds.includes("bigJson")) expect(page, what).toContain("E_JSON_TOO_BIG");
          expect(page.match(/<img src="data:image\/jpeg/g)?.length ?? 0, what).toBe(kinds.filter((k) => k === "photo").length);
          await rm(zip.replace(/\.zip$/, ".html"), { force: true });
        },
      ),
      { numRuns: 20, seed: 2026_12_06 },
    );
  }, 300_000);
});

describe("wopack review <out> of our own archives", () => {
  it("a photo packed under a larger --max-image-size keeps its thumbnail (its report vouches for its size); without the report it is judged by the config", async () => {
    const ws = await workspace();
    const photo = await noiseJpeg(240, 200, 3);
    expect(photo.length).toBeGreaterThan(10_000);
    await put(ws.staging, "WO_1/meter/a.jpg", photo);
    const packed = await wopack(["pack", ws.staging, "--out", ws.out, "--max-image-size", "1MB"]);
    expect(packed.code, packed.stderr).toBe(0);
    const [zip] = await archivesIn(ws.out);
    const page = zip!.replace(/\.zip$/, ".html");
    // today's config allows less than the photo's size
    const config = await configFile(ws.dir, { images: { maxImageSize: 10_000 } });
    const again = await wopack(["review", ws.out, "--config", config]);
    expect(again.code, again.stderr).toBe(0);
    expect(await readFile(page, "utf8")).toMatch(/<img src="data:image\/jpeg/);
    await rm(`${zip}.report.json`);
    const alone = await wopack(["review", ws.out, "--config", config]);
    expect(alone.code, alone.stderr).toBe(0);
    const html = await readFile(page, "utf8");
    expect(html).not.toMatch(/<img src="data:image\/jpeg/);
    expect(html).toContain("E_IMAGE_TOO_BIG");
  });
});

async function configFile(dir: string, config: object): Promise<string> {
  const file = path.join(dir, "wopack.config.json");
  await writeFile(file, JSON.stringify(config));
  return file;
}

describe("wopack review <zip> beside a report that is not one of wopack's", () => {
  it("whatever the report holds, the page is made (from the zip, what of the report reads right) and carries none of its markup", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg("#357"));
    await put(ws.staging, "WO_2/cabinet-3.jpg", solidJpeg("#a31"));
    const packed = await pack({ staging: ws.staging, out: ws.out, config: parseConfig({}) });
    const zip = path.join(ws.dir, "foreign.zip");
    await copyFile(packed.archives[0]!.path, zip);
    const evil = fc.constantFrom("<x-evil>", `"><x-evil a='1'>`);
    const odd = fc.oneof(evil, fc.jsonValue({ maxDepth: 2 }));
    const entry = fc.record({ entry: fc.oneof(fc.constant("WO_1/meter-0.jpg"), odd), width: odd, captured: odd, handling: odd });
    const problem = fc.record({ code: odd, message: odd, hint: odd });
    const list = <T>(item: fc.Arbitrary<T>) => fc.oneof(fc.array(item, { maxLength: 3 }), odd);
    const workOrder = fc.record({
      id: fc.oneof(fc.constantFrom("WO_1", "WO_2"), odd),
      entries: list(entry),
      warnings: list(problem),
    });
    const report = fc.oneof(
      odd,
      fc.record(
        {
          sha256: odd,
          createdAt: odd,
          workOrders: list(workOrder),
          refused: list(fc.record({ id: odd, problems: list(problem) })),
          warnings: list(problem),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(report, async (r) => {
        await writeFile(`${zip}.report.json`, JSON.stringify(r) ?? "");
        const result = await review([zip], undefined);
        expect(result.problems).toEqual([]);
        expect(result.written.map((w) => [w.workOrders, w.photos])).toEqual([[2, 2]]);
        expect(await readFile(path.join(ws.dir, "foreign.html"), "utf8")).not.toContain("<x-evil");
      }),
      { numRuns: 60, seed: 20261205 },
    );
  });
});

describe("wopack review reads a hostile zip with validate's bounds on the whole archive (issue 21 item 4)", () => {
  const name = (i: number) => `WO_1/meter-${i + 1}.jpg`;
  it.for([false, true])(
    "zip64 %s: entries over one shared kernel are never read; past 100x the zip's size nothing more is",
    async (zip64) => {
      const dir = await tempDir("wopack-review-overlap-");
      // each entry 4 MiB of zeros, under the 5 MB image limit: only the archive-wide bounds stop them
      const overlapping = path.join(dir, "overlap.zip");
      await writeFile(
        overlapping,
        craftZip(
          [zeros(name(0), 4)],
          Array.from({ length: 12 }, (_, i) => ({ name: name(i), local: 0 })),
          zip64,
        ),
      );
      const inflating = path.join(dir, "inflating.zip");
      const locals = Array.from({ length: 40 }, (_, i) => zeros(name(i), 4));
      await writeFile(
        inflating,
        craftZip(
          locals,
          locals.map((l, i) => ({ name: l.name, local: i })),
          zip64,
        ),
      );
      const run = await wopack(["review", overlapping, inflating]);
      expect(run.code, run.stderr).toBe(0);
      const figures = async (page: string) =>
        (await readFile(path.join(dir, page), "utf8"))
          .split('<span class="entry">')
          .slice(1)
          .map((f) => f.split("</figure>")[0]!);
      const shared = await figures("overlap.html");
      expect(shared).toHaveLength(12);
      for (const f of shared) expect(f).toContain("E_ZIP_OVERLAP");
      // 160 MiB of zeros from a zip of ~170 kB: the first 16 entries (64 MiB, the least budget) are read, the rest not
      const many = await figures("inflating.html");
      expect(many).toHaveLength(40);
      const bombs = many.filter((f) => f.includes("E_ZIP_BOMB")).length;
      expect(bombs).toBeGreaterThanOrEqual(40 - 17);
      expect(bombs).toBeLessThan(40);
    },
  );
});
