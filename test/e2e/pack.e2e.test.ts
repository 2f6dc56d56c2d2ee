import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import exifr from "exifr";
import sharp, { type Sharp } from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { tiffBlock } from "../../src/convert/exif.js";
// @ts-expect-error plain JS module shared with scripts/make-fixtures.sh
import { COLOURS, quadrantPixels, quadrants } from "../fixtures/quadrants.mjs";
import {
  archivesIn,
  BIN,
  colourDistance,
  copyFixtureTree,
  encodeBmp,
  FIXTURES,
  pngBomb,
  put,
  quadrantColours,
  ROOT,
  readZip,
  sha256,
  snapshot,
  stderrBesidesPhotoChecks,
  testWithThirdPartyTools,
  wopack,
  workspace,
} from "../helpers.js";

const Q = COLOURS as Record<"topLeft" | "topRight" | "bottomLeft" | "bottomRight", number[]>;
const quad = quadrants as (w: number, h: number) => Sharp;

interface Report {
  archive: string;
  sha256: string;
  bytes: number;
  workOrders: {
    id: string;
    entries: { entry: string; source: string; conversion?: string }[];
    warnings: { code: string; path?: string }[];
  }[];
  refused: { id: string; problems: { code: string; message: string; hint: string; path?: string }[] }[];
}

async function onlyArchive(out: string): Promise<{ zip: string; entries: Awaited<ReturnType<typeof readZip>>; report: Report }> {
  const zips = await archivesIn(out);
  expect(zips).toHaveLength(1);
  const zip = zips[0]!;
  return { zip, entries: await readZip(zip), report: JSON.parse(await readFile(zip + ".report.json", "utf8")) as Report };
}

describe("sample-input (README quick start)", () => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  let run: Awaited<ReturnType<typeof wopack>>;
  let before: Record<string, string>;

  beforeAll(async () => {
    ws = await workspace();
    await copyFixtureTree(path.join(ROOT, "sample-input"), ws.staging);
    before = await snapshot(ws.staging);
    run = await wopack(["pack", ws.staging, "--out", ws.out]);
  });

  it("exits 0 and writes one archive that unzip, 7z and python's zipfile accept", async () => {
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    const { zip } = await onlyArchive(ws.out);
    expect(path.basename(zip)).toMatch(/^batch-\d{8}T\d{6}Z-1\.zip$/);
    await testWithThirdPartyTools(zip);
  });

  it("is eight distinct photos: the photo checks find nothing (the README's first run shows no false finding)", () => {
    expect(run.stderr).not.toMatch(/W_PHOTO_/);
  });

  it("has work-order folders at the root, holding only <task_group>-<N>.<ext> images and metadata.json", async () => {
    const { entries } = await onlyArchive(ws.out);
    expect(entries.map((e) => e.name)).toEqual([
      "WO_100231/cabinet_front-0.jpg",
      "WO_100231/cabinet_front-3.png",
      "WO_100231/metadata.json",
      "WO_100231/meter_reading-1.jpg",
      "WO_100231/meter_reading-2.jpg",
      "WO_100232/metadata.json",
      "WO_100232/pole_base-1.jpg",
      "WO_100232/pole_top-0.jpg",
      "WO_100233/cabinet_inside-6.jpg",
      "WO_100233/cabinet_inside-7.jpg",
      "WO_100233/metadata.json",
      "WO_100233/meter_reading-5.jpg",
    ]);
    for (const e of entries) {
      expect(e.name.endsWith(".json") ? e.method : 0).toBe(e.name.endsWith(".json") ? 8 : 0); // stored images, deflated JSON
      if (e.name.endsWith(".jpg")) expect(e.data.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    }
    expect(JSON.parse(entries.find((e) => e.name === "WO_100231/metadata.json")!.data.toString())).toEqual({
      site: "Substation 12",
      technician: "R. Alvarez",
    });
    expect(JSON.parse(entries.find((e) => e.name === "WO_100232/metadata.json")!.data.toString())).toEqual({});
  });

  it("packs JPEG and PNG sources byte for byte (EXIF orientation included)", async () => {
    const { entries } = await onlyArchive(ws.out);
    const same = async (entry: string, source: string) =>
      expect(sha256(entries.find((e) => e.name === entry)!.data)).toBe(sha256(await readFile(path.join(ws.staging, source))));
    await same("WO_100231/cabinet_front-0.jpg", "WO_100231/cabinet_front-0.jpeg");
    await same("WO_100231/cabinet_front-3.png", "WO_100231/cabinet_front.png");
    await same("WO_100231/meter_reading-2.jpg", "WO_100231/meter_reading/IMG_4502.jpg");
    await same("WO_100233/cabinet_inside-6.jpg", "WO_100233/cabinet_inside/DSC_0012.jpg");
  });

  it("writes a report with the source -> entry mapping and the archive's SHA-256 and size", async () => {
    const { zip, report } = await onlyArchive(ws.out);
    const bytes = await readFile(zip);
    expect(report.sha256).toBe(sha256(bytes));
    expect(report.bytes).toBe(bytes.length);
    const wo = report.workOrders.find((w) => w.id === "WO_100233")!;
    expect(wo.entries).toContainEqual(
      expect.objectContaining({
        entry: "WO_100233/meter_reading-5.jpg",
        source: "WO_100233__meter_reading-5.heic",
        conversion: "heic converted to jpeg",
      }),
    );
  });

  it("leaves the staging folder untouched", async () => {
    expect(await snapshot(ws.staging)).toEqual(before);
  });
});

describe("image normalization (§7)", () => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  let images: Map<string, Buffer>;
  let report: Report;
  let run: Awaited<ReturnType<typeof wopack>>;
  const W = 640;
  const H = 480;

  beforeAll(async () => {
    ws = await workspace();
    const s = ws.staging;
    await put(s, "WO_1/heic/a.heic", readFile(path.join(FIXTURES, "quad.heic")));
    await put(s, "WO_1/heic_irot/a.heic", readFile(path.join(FIXTURES, "quad-irot90.heic")));
    await put(s, "WO_1/heic_exif6/a.heic", readFile(path.join(FIXTURES, "quad-exif6.heic")));
    await put(s, "WO_1/heic_p3/a.heic", readFile(path.join(FIXTURES, "quad-p3.heic")));
    await put(s, "WO_1/heic_grid/a.heic", readFile(path.join(FIXTURES, "quad-grid.heic")));
    await put(s, "WO_1/webp/a.webp", quad(W, H).webp({ quality: 95 }).toBuffer());
    await put(s, "WO_1/webp_alpha/a.webp", quad(W, H).ensureAlpha(0).webp({ lossless: true }).toBuffer());
    await put(s, "WO_1/tiff_rot6/a.tif", quad(W, H).withMetadata({ orientation: 6 }).tiff().toBuffer());
    await put(s, "WO_1/gif/a.gif", quad(W, H).gif().toBuffer());
    await put(s, "WO_1/bmp/a.bmp", encodeBmp(quadrantPixels(W, H) as Buffer, W, H));
    await put(s, "WO_1/avif/a.avif", quad(W, H).avif({ quality: 90, chromaSubsampling: "4:4:4" }).toBuffer());
    await put(s, "WO_1/cmyk/a.jpg", quad(W, H).toColourspace("cmyk").jpeg({ quality: 95 }).toBuffer());
    await put(s, "WO_1/png_as_jpg/a.jpg", quad(W, H).png().toBuffer());
    // ~6.5 MB of noise: above the 5 MB default, so it must be re-encoded to fit.
    const noise = Buffer.alloc(1600 * 1400 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (Math.imul(i, 2654435761) >>> 13) & 255;
    await put(
      s,
      "WO_1/big/a.png",
      sharp(noise, { raw: { width: 1600, height: 1400, channels: 3 } })
        .png({ compressionLevel: 0 })
        .toBuffer(),
    );
    run = await wopack(["pack", s, "--out", ws.out]);
    const { entries, report: r } = await onlyArchive(ws.out);
    report = r;
    const bySource = new Map(report.workOrders[0]!.entries.map((e) => [e.source.split("/")[1]!, e.entry]));
    images = new Map([...bySource].map(([group, entry]) => [group, entries.find((e) => e.name === entry)!.data]));
  });

  const expectQuadrants = async (group: string, size: [number, number], order: (keyof typeof Q)[], tolerance = 16) => {
    const img = images.get(group)!;
    const meta = await sharp(img).metadata();
    expect(meta.format).toBe("jpeg");
    expect([meta.width, meta.height]).toEqual(size);
    expect(meta.orientation ?? 1).toBe(1);
    const got = await quadrantColours(img);
    for (const [i, q] of order.entries()) expect(colourDistance(got[i]!, Q[q]), `${group} ${q}`).toBeLessThan(tolerance);
  };

  it("exits 0", () => {
    // (the HEIC fixtures are the same picture in several encodings: the duplicate check says so)
    expect(stderrBesidesPhotoChecks(run.stderr)).not.toMatch(/error|warn/i);
    expect(run.code).toBe(0);
  });

  it("converts HEVC HEIC with the right size and colours, and keeps its capture date", async () => {
    await expectQuadrants("heic", [W, H], ["topLeft", "topRight", "bottomLeft", "bottomRight"]);
    const tags = await exifr.parse(images.get("heic")!, { pick: ["DateTimeOriginal"], reviveValues: false });
    expect(tags.DateTimeOriginal).toBe("2024:03:04 05:06:07");
  });

  it("converts a Display P3 HEIC (ICC profile in its colr box) to the right sRGB colours", async () => {
    // coded as P3, the green quadrant is about (97, 197, 81): read as sRGB it would be off by 57
    await expectQuadrants("heic_p3", [W, H], ["topLeft", "topRight", "bottomLeft", "bottomRight"]);
  });

  it("assembles a HEIC grid of separately coded tiles", async () => {
    await expectQuadrants("heic_grid", [W, H], ["topLeft", "topRight", "bottomLeft", "bottomRight"]);
  });

  it("applies a HEIC irot rotation box (90° anti-clockwise)", async () => {
    await expectQuadrants("heic_irot", [H, W], ["topRight", "bottomRight", "topLeft", "bottomLeft"]);
  });

  it("does not apply a HEIC's EXIF orientation on top (HEIF: irot is authoritative)", async () => {
    await expectQuadrants("heic_exif6", [W, H], ["topLeft", "topRight", "bottomLeft", "bottomRight"]);
  });

  it("applies EXIF orientation 6 to the pixels and resets the tag", async () => {
    await expectQuadrants("tiff_rot6", [H, W], ["bottomLeft", "topLeft", "bottomRight", "topRight"]);
  });

  it("converts WebP, GIF, BMP and AVIF with the right size and colours", async () => {
    for (const group of ["webp", "gif", "bmp", "avif"]) {
      await expectQuadrants(group, [W, H], ["topLeft", "topRight", "bottomLeft", "bottomRight"]);
    }
  });

  it("flattens alpha onto white", async () => {
    const img = images.get("webp_alpha")!;
    const got = await quadrantColours(img);
    for (const c of got) expect(colourDistance(c, [255, 255, 255])).toBeLessThan(4);
  });

  it("converts a CMYK JPEG to sRGB, with the colours a colour-managed decoder gives", async () => {
    const img = images.get("cmyk")!;
    const meta = await sharp(img).metadata();
    expect(meta.space).toBe("srgb");
    expect([meta.width, meta.height]).toEqual([W, H]);
    const source = await readFile(path.join(ws.staging, "WO_1/cmyk/a.jpg"));
    expect((await sharp(source).metadata()).space).toBe("cmyk");
    const want = await quadrantColours(await sharp(source).toColourspace("srgb").png().toBuffer());
    const got = await quadrantColours(img);
    for (const [i, c] of got.entries()) expect(colourDistance(c, want[i]!)).toBeLessThan(6);
  });

  it("judges type by content: a PNG named .jpg is packed as .png, unchanged", async () => {
    const entry = report.workOrders[0]!.entries.find((e) => e.source.includes("png_as_jpg"))!;
    expect(entry.entry).toMatch(/\.png$/);
    expect(entry.conversion).toBeUndefined();
    expect(sha256(images.get("png_as_jpg")!)).toBe(sha256(await readFile(path.join(ws.staging, "WO_1/png_as_jpg/a.jpg"))));
  });

  it("re-encodes an image over the 5 MB default until it fits", async () => {
    const source = await stat(path.join(ws.staging, "WO_1/big/a.png"));
    expect(source.size).toBeGreaterThan(5_000_000);
    const img = images.get("big")!;
    expect(img.length).toBeLessThanOrEqual(5_000_000);
    expect((await sharp(img).metadata()).format).toBe("jpeg");
  });
});

// npm ci builds a binding to the system's libheif when its headers are installed (.ci/run installs them);
// otherwise HEIC goes through libheif compiled to wasm. Both must give the same pictures and refusals.
// Where the headers are installed, the binding must have been built: no silent skip.
const nativeExpected =
  existsSync(path.join(ROOT, "native/build/Release/wopack_heif.node")) ||
  spawnSync("pkg-config", ["--exists", "libheif >= 1.13"]).status === 0;
describe.each([
  { decoder: "native", skip: !nativeExpected },
  { decoder: "wasm", skip: false },
])("HEIC with the $decoder decoder (§7)", ({ decoder, skip }) => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  let run: Awaited<ReturnType<typeof wopack>>;
  let images: Map<string, Buffer>;
  let report: Report;
  const env = { WOPACK_HEIC_DECODER: decoder };

  beforeAll(async () => {
    if (skip) return;
    ws = await workspace();
    const s = ws.staging;
    const fixtures = ["quad", "quad-irot90", "quad-exif6", "quad-p3", "quad-grid", "quad-odd", "quad-alpha", "quad-iphone"];
    for (const f of [...fixtures, "quad-nclx-p3"])
      await put(s, `WO_1/${f.replaceAll("-", "_")}/a.heic`, readFile(path.join(FIXTURES, `${f}.heic`)));
    const heic = await readFile(path.join(FIXTURES, "quad.heic"));
    await put(s, "WO_cut/meter/a.heic", heic.subarray(0, Math.floor(heic.length * 0.7)));
    await put(s, "WO_junk/meter/a.heic", Buffer.concat([heic.subarray(0, 40), Buffer.alloc(4000, 7)]));
    run = await wopack(["pack", s, "--out", ws.out], { env });
    const read = await onlyArchive(ws.out);
    report = read.report;
    const bySource = new Map(report.workOrders[0]!.entries.map((e) => [e.source.split("/")[1]!, e.entry]));
    images = new Map([...bySource].map(([group, entry]) => [group, read.entries.find((e) => e.name === entry)!.data]));
  });

  it.skipIf(skip)("is the decoder in use", async () => {
    // and a run that decodes HEIC with the wasm one says how to get the native one
    expect(run.stderr.includes("install libheif's and libjpeg's headers")).toBe(decoder === "wasm");
    const version = await wopack(["--version"], { env });
    expect(version.stdout).toMatch(
      decoder === "native" ? /HEIC decoder: native libheif \d/ : /HEIC decoder: libheif compiled to wasm/,
    );
  });

  it.skipIf(skip)(
    "decodes plain, P3, grid, irot, EXIF-6, odd-width, alpha and iPhone-like HEICs to the right pixels",
    async () => {
      const white = [255, 255, 255];
      const cases: [string, [number, number], (keyof typeof Q)[]][] = [
        ["quad", [640, 480], ["topLeft", "topRight", "bottomLeft", "bottomRight"]],
        ["quad_p3", [640, 480], ["topLeft", "topRight", "bottomLeft", "bottomRight"]],
        ["quad_grid", [640, 480], ["topLeft", "topRight", "bottomLeft", "bottomRight"]],
        ["quad_irot90", [480, 640], ["topRight", "bottomRight", "topLeft", "bottomLeft"]],
        ["quad_exif6", [640, 480], ["topLeft", "topRight", "bottomLeft", "bottomRight"]],
        ["quad_odd", [321, 241], ["topLeft", "topRight", "bottomLeft", "bottomRight"]],
        // P3, 4:2:0 tiles overhanging the picture: cropped to it, converted to sRGB
        ["quad_iphone", [1000, 700], ["topLeft", "topRight", "bottomLeft", "bottomRight"]],
        // Display P3 said by nclx code points (colour primaries 12) rather than by an ICC profile
        ["quad_nclx_p3", [640, 480], ["topLeft", "topRight", "bottomLeft", "bottomRight"]],
      ];
      for (const [group, size, order] of cases) {
        const img = images.get(group)!;
        const meta = await sharp(img).metadata();
        expect([meta.width, meta.height], group).toEqual(size);
        const got = await quadrantColours(img);
        for (const [i, q] of order.entries()) expect(colourDistance(got[i]!, Q[q]), `${group} ${q}`).toBeLessThan(16);
      }
      // the right half is transparent: flattened onto white
      const alpha = await quadrantColours(images.get("quad_alpha")!);
      expect(alpha.map((c) => colourDistance(c, white) < 16)).toEqual([false, true, false, true]);
      expect(colourDistance(alpha[0]!, Q.topLeft)).toBeLessThan(16);
      expect(colourDistance(alpha[2]!, Q.bottomLeft)).toBeLessThan(16);
    },
  );

  it.skipIf(skip)("refuses a cut-off or garbled HEIC as corrupt, naming the file, and packs the rest", () => {
    expect(run.code).toBe(1);
    const codes = Object.fromEntries(report.refused.map((r) => [r.id, r.problems.map((p) => `${p.code} ${p.path}`)]));
    expect(codes).toEqual({ WO_cut: ["E_IMAGE_CORRUPT WO_cut/meter/a.heic"], WO_junk: ["E_IMAGE_CORRUPT WO_junk/meter/a.heic"] });
    expect(report.workOrders.map((w) => w.id)).toEqual(["WO_1"]);
  });

  it.skipIf(skip)("packs an HDR HEIC in a colour space it does not convert, and says so", async () => {
    const hdr = await workspace();
    await put(hdr.staging, "WO_1/meter/a.heic", readFile(path.join(FIXTURES, "quad-nclx-hdr.heic")));
    const r = await wopack(["pack", hdr.staging, "--out", hdr.out], { env });
    expect(r.code, r.stderr).toBe(0);
    const { report: rep } = await onlyArchive(hdr.out);
    expect(rep.workOrders[0]!.warnings.map((w) => `${w.code} ${w.path}`)).toEqual([
      "W_HDR_NOT_TONE_MAPPED WO_1/meter/a.heic",
      "W_COLOUR_SPACE_UNCONVERTED WO_1/meter/a.heic",
    ]);
  });

  it.skipIf(skip)("refuses a HEIC above --max-pixels before decoding it", async () => {
    const small = await workspace();
    await put(small.staging, "WO_1/meter/a.heic", readFile(path.join(FIXTURES, "quad.heic")));
    const r = await wopack(["pack", small.staging, "--out", small.out, "--max-pixels", "300000", "--json"], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("E_IMAGE_TOO_LARGE");
    expect(r.stdout).toContain("640x480");
  });
});

describe("bad input refuses only its own work order (§3, §7, §9)", () => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  let run: Awaited<ReturnType<typeof wopack>>;
  let before: Record<string, string>;

  beforeAll(async () => {
    ws = await workspace();
    const s = ws.staging;
    const jpeg = await quad(320, 240).jpeg().toBuffer();
    await put(s, "WO_good/meter/a.jpg", jpeg);
    await put(s, "WO_truncated/meter/a.jpg", jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
    await put(s, "WO_truncated/meter/b.jpg", jpeg);
    await put(s, "WO_zero/meter/a.jpg", Buffer.alloc(0));
    await put(s, "WO_text/meter/a.jpg", "this is not a photo\n");
    await put(s, "WO spaces/meter/a.jpg", jpeg);
    await put(s, "WO_unknown/meter/a.jpg", jpeg);
    await put(s, "WO_unknown/report.pdf", "%PDF-1.4\n");
    await put(s, "WO_bomb/meter/a.png", pngBomb());
    await put(s, "WO_link/meter/a.jpg", jpeg);
    await put(ws.dir, "outside.jpg", jpeg);
    await symlink(path.join(ws.dir, "outside.jpg"), path.join(s, "WO_link/meter/b.jpg"));
    // every problem of one work order is listed, not just the first
    await put(s, "WO_many/meter/a.jpg", Buffer.alloc(0));
    await put(s, "WO_many/notes.txt", "call the customer\n");
    await put(s, "WO_many/bad name!/x.jpg", jpeg);
    before = await snapshot(s);
    run = await wopack(["pack", s, "--out", ws.out]);
  });

  it("exits 1 and packs the good work order", async () => {
    expect(run.code).toBe(1);
    const { zip, entries } = await onlyArchive(ws.out);
    expect(entries.map((e) => e.name)).toEqual(["WO_good/metadata.json", "WO_good/meter-0.jpg"]);
    await testWithThirdPartyTools(zip);
  });

  it("refuses each bad work order with a coded error that names the file", async () => {
    const { report } = await onlyArchive(ws.out);
    const codes = Object.fromEntries(report.refused.map((r) => [r.id, r.problems.map((p) => p.code).sort()]));
    expect(codes).toEqual({
      "WO spaces": ["E_WORK_ORDER_ID"],
      WO_bomb: ["E_IMAGE_TOO_LARGE"],
      WO_link: ["E_SYMLINK_OUTSIDE"],
      WO_many: ["E_EMPTY_FILE", "E_NOT_AN_IMAGE", "E_TASK_GROUP_NAME"],
      WO_text: ["E_NOT_AN_IMAGE"],
      WO_truncated: ["E_IMAGE_TRUNCATED"],
      WO_unknown: ["E_NOT_AN_IMAGE"],
      WO_zero: ["E_EMPTY_FILE"],
    });
    for (const r of report.refused) {
      for (const p of r.problems) {
        expect(p.hint.length).toBeGreaterThan(10);
        expect(p.message).toContain(r.id === "WO spaces" ? "WO spaces" : p.path!);
      }
    }
    expect(report.refused.find((r) => r.id === "WO_truncated")!.problems[0]!.path).toBe("WO_truncated/meter/a.jpg");
  });

  it("tells each refusal once, in the log with its codes and hints; the summary names it", () => {
    const told = run.stderr.split("\n").filter((l) => l.includes("refused WO_truncated"));
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/warn: refused WO_truncated: E_IMAGE_TRUNCATED WO_truncated\/meter\/a\.jpg: .*\(hint: /);
    expect(run.stdout).toMatch(/^refused: .*WO_truncated \(E_IMAGE_TRUNCATED\)/m);
    expect(run.stdout).not.toMatch(/hint: /);
  });

  it("leaves the staging folder untouched", async () => {
    expect(await snapshot(ws.staging)).toEqual(before);
  });
});

describe("determinism, ledger, flags", () => {
  async function smallStaging() {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", quad(320, 240).jpeg().toBuffer());
    await put(ws.staging, "WO_1/meter/b.heic", readFile(path.join(FIXTURES, "quad.heic")));
    await put(ws.staging, "WO_1/metadata.json", JSON.stringify({ site: "A" }));
    await put(ws.staging, "WO_2/overview.webp", quad(320, 240).webp().toBuffer());
    await put(ws.staging, "WO_3__meter-4.png", quad(100, 100).png().toBuffer());
    return ws;
  }

  it("identical input gives a byte-identical archive", async () => {
    const ws = await smallStaging();
    const a = await wopack(["pack", ws.staging, "--out", path.join(ws.dir, "a")]);
    const b = await wopack(["pack", ws.staging, "--out", path.join(ws.dir, "b")]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const [za] = await archivesIn(path.join(ws.dir, "a"));
    const [zb] = await archivesIn(path.join(ws.dir, "b"));
    expect(sha256(await readFile(za!))).toBe(sha256(await readFile(zb!)));
  });

  it("a rerun skips what the ledger holds; changed content is packed again; --repack forces it", async () => {
    const ws = await smallStaging();
    expect((await wopack(["pack", ws.staging, "--out", ws.out])).code).toBe(0);
    const again = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      packed: [],
      alreadyPacked: [{ id: "WO_1" }, { id: "WO_2" }, { id: "WO_3" }],
    });
    expect(await archivesIn(ws.out)).toHaveLength(1);

    await put(ws.staging, "WO_2/extra.jpg", quad(64, 64).jpeg().toBuffer());
    const changed = JSON.parse((await wopack(["pack", ws.staging, "--out", ws.out, "--json"])).stdout);
    expect(changed.packed.map((w: { id: string }) => w.id)).toEqual(["WO_2"]);
    const forced = JSON.parse((await wopack(["pack", ws.staging, "--out", ws.out, "--json", "--repack"])).stdout);
    expect(forced.packed.map((w: { id: string }) => w.id)).toEqual(["WO_1", "WO_2", "WO_3"]);
    expect(await archivesIn(ws.out)).toHaveLength(3);
  });

  it("--json prints a machine-readable summary on stdout only", async () => {
    const ws = await smallStaging();
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    const result = JSON.parse(run.stdout);
    expect(result.archives).toHaveLength(1);
    expect(result.archives[0].workOrders.map((w: { id: string }) => w.id)).toEqual(["WO_1", "WO_2", "WO_3"]);
    expect(result.refused).toEqual([]);
  });

  it("--dry-run plans and writes nothing", async () => {
    const ws = await smallStaging();
    const before = await snapshot(ws.dir);
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--dry-run"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("dry run: would pack 3 work orders");
    expect(run.stdout).toContain("WO_1/meter/b.heic -> WO_1/meter-0.jpg"); // EXIF 2024 before a.jpg's mtime
    expect(await snapshot(ws.dir)).toEqual(before);
  });

  it("--move-to moves packed folders and their root files, and a rerun finds nothing to do", async () => {
    const ws = await smallStaging();
    const moveTo = path.join(ws.dir, "processed");
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--move-to", moveTo]);
    expect(run.code).toBe(0);
    expect(await readdir(ws.staging)).toEqual([]);
    expect((await readdir(moveTo)).sort()).toEqual(["WO_1", "WO_2", "WO_3"]);
    expect(await readdir(path.join(moveTo, "WO_3"))).toEqual(["WO_3__meter-4.png"]);
    const rerun = await wopack(["pack", ws.staging, "--out", ws.out]);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain("packed 0 work orders");
  });

  it("progress bar never shows when stdout is not a TTY", async () => {
    const ws = await smallStaging();
    const run = await wopack(["pack", ws.staging, "--out", ws.out]);
    expect(run.stderr).not.toContain("photos  ");
    expect(run.stdout).not.toContain("\r");
  });

  it("usage errors exit 2 and write nothing", async () => {
    const ws = await smallStaging();
    const run = await wopack(["pack", ws.staging]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("out");
    const inside = await wopack(["pack", ws.staging, "--out", path.join(ws.staging, "out")]);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toContain("E_OUT_IN_STAGING");
    await writeFile(
      path.join(ws.dir, "bad.json"),
      JSON.stringify({ images: { quality: 101 }, archive: { prefix: "a b" }, bogus: 1 }),
    );
    const badConfig = await wopack(["pack", ws.staging, "--out", ws.out, "--config", path.join(ws.dir, "bad.json")]);
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toContain("images.quality:");
    expect(badConfig.stderr).toContain("archive.prefix:");
    expect(badConfig.stderr).toContain("bogus");
    expect(await readdir(ws.dir)).not.toContain("out");
  });
});

describe("progress bar", () => {
  it("shows files done / total, MB/s and ETA on a terminal", async (ctx) => {
    if (spawnSync("script", ["--version"]).status !== 0) ctx.skip();
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", quad(320, 240).jpeg().toBuffer());
    await put(ws.staging, "WO_1/meter/b.webp", quad(320, 240).webp().toBuffer());
    // `script` runs the CLI on a pseudo-terminal, as a person at a shell would
    const cmd = `${process.execPath} ${BIN} pack ${ws.staging} --out ${ws.out}`;
    const run = spawnSync("script", ["-qefc", cmd, "/dev/null"], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/\[#+-*\] \d\/2 photos +\d+\.\d MB\/s +ETA \d+s/);
    expect(run.stdout).toContain("packed 1 work order");
  });
});

describe("--strip-gps (§7)", () => {
  it("removes location data from every packed image and keeps the capture date; without it JPEGs keep theirs", async () => {
    const ws = await workspace();
    const exif = {
      IFD0: { Make: "FieldCam" },
      IFD2: { DateTimeOriginal: "2025:06:07 08:09:10" },
      IFD3: { GPSLatitudeRef: "N", GPSLatitude: "51/1 30/1 0/1", GPSLongitudeRef: "W", GPSLongitude: "0/1 7/1 0/1" },
    };
    await put(ws.staging, "WO_1/meter/a.jpg", quad(320, 240).jpeg().withExif(exif).toBuffer());
    await put(ws.staging, "WO_1/meter/b.png", quad(320, 240).png().withExif(exif).toBuffer());
    await put(ws.staging, "WO_1/meter/c.webp", quad(320, 240).webp().withExif(exif).toBuffer());
    await put(ws.staging, "WO_1/meter/d.jpg", quad(320, 240).jpeg().toBuffer());
    const xmp =
      '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
      '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.0N" exif:GPSLongitude="0,7.0W"/>' +
      "</rdf:RDF></x:xmpmeta>";
    await put(ws.staging, "WO_1/meter/e.jpg", quad(320, 240).jpeg().withXmp(xmp).toBuffer()); // location in XMP only
    for (const file of ["a.jpg", "b.png", "c.webp"]) {
      const bytes = await readFile(path.join(ws.staging, "WO_1/meter", file));
      // exifr does not read WebP; its EXIF block comes out through libvips
      const exifBlock = file.endsWith(".webp") ? tiffBlock((await sharp(bytes).metadata()).exif)! : bytes;
      expect(await exifr.gps(exifBlock), file).toBeDefined();
    }

    const kept = await wopack(["pack", ws.staging, "--out", path.join(ws.dir, "kept")]);
    expect(kept.code).toBe(0);
    const keptEntries = await readZip((await archivesIn(path.join(ws.dir, "kept")))[0]!);
    expect(await exifr.gps(keptEntries.find((e) => e.name.endsWith(".jpg"))!.data)).toBeDefined();

    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--strip-gps"]);
    expect(run.code).toBe(0);
    const { entries, report } = await onlyArchive(ws.out);
    const images = entries.filter((e) => !e.name.endsWith(".json"));
    expect(images).toHaveLength(5);
    for (const e of images) {
      expect(await exifr.gps(e.data).catch(() => undefined), e.name).toBeUndefined();
      const xmpTags = await exifr.parse(e.data, { xmp: true, tiff: false, mergeOutput: true }).catch(() => undefined);
      expect(xmpTags?.GPSLatitude, e.name).toBeUndefined();
      expect(sha256(e.data)).not.toBe("");
    }
    const bySource = (s: string) => report.workOrders[0]!.entries.find((e) => e.source.endsWith(s))!;
    expect(bySource("b.png").entry).toMatch(/\.png$/); // stays lossless
    expect(bySource("d.jpg").conversion).toBeUndefined(); // nothing to remove: copied as is
    const a = entries.find((e) => e.name === bySource("a.jpg").entry)!;
    expect((await exifr.parse(a.data, { pick: ["DateTimeOriginal"], reviveValues: false })).DateTimeOriginal).toBe(
      "2025:06:07 08:09:10",
    );
    await expectSameQuadrants(a.data);
  });
});

async function expectSameQuadrants(img: Buffer) {
  const got = await quadrantColours(img);
  for (const [i, want] of [Q.topLeft, Q.topRight, Q.bottomLeft, Q.bottomRight].entries()) {
    expect(colourDistance(got[i]!, want)).toBeLessThan(16);
  }
}

/**
 * Rewrites a JPEG's header the way some phones and editors leave it: JFIF, an ICC APP2, an XMP APP1 and a
 * 60 KB comment all before the EXIF APP1, so the EXIF block sits past the first read chunk.
 */
function exifLast(jpeg: Buffer): Buffer {
  const segments: Buffer[] = [];
  let at = 2;
  while (jpeg[at] === 0xff && jpeg[at + 1]! >= 0xe0 && jpeg[at + 1]! <= 0xfe) {
    const length = jpeg.readUInt16BE(at + 2);
    segments.push(jpeg.subarray(at, at + 2 + length));
    at += 2 + length;
  }
  const segment = (marker: number, body: Buffer) => {
    const head = Buffer.from([0xff, marker, 0, 0]);
    head.writeUInt16BE(body.length + 2, 2);
    return Buffer.concat([head, body]);
  };
  const isExif = (s: Buffer) => s[1] === 0xe1 && s.subarray(4, 10).toString("latin1") === "Exif\0\0";
  const xmp = segment(0xe1, Buffer.from('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x="adobe:ns:meta/"/>', "latin1"));
  const comment = segment(0xfe, Buffer.alloc(60_000, 0x20));
  return Buffer.concat([
    jpeg.subarray(0, 2),
    ...segments.filter((s) => !isExif(s)),
    xmp,
    comment,
    ...segments.filter(isExif),
    jpeg.subarray(at),
  ]);
}

describe("EXIF in odd places (§5 capture order)", () => {
  it("finds DateTimeOriginal behind XMP, ICC and a large comment, and orders by it", async () => {
    const ws = await workspace();
    const dated = (date: string) =>
      quad(320, 240)
        .jpeg()
        .withIccProfile("p3")
        .withExif({ IFD2: { DateTimeOriginal: date } })
        .toBuffer();
    const odd = exifLast(await dated("2024:01:01 08:00:00"));
    expect(odd.indexOf("Exif\0\0")).toBeGreaterThan(60_000);
    // by name a.jpg would come first; by capture date b.jpg (odd header, earlier) must
    await put(ws.staging, "WO_1/meter/a.jpg", dated("2024:01:01 09:00:00"));
    await put(ws.staging, "WO_1/meter/b.jpg", odd);
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    expect(run.code).toBe(0);
    const entries = JSON.parse(run.stdout).packed[0].entries.map(
      (e: { source: string; entry: string }) => `${e.source} -> ${e.entry}`,
    );
    expect(entries).toEqual(["WO_1/meter/b.jpg -> WO_1/meter-0.jpg", "WO_1/meter/a.jpg -> WO_1/meter-1.jpg"]);
    const { entries: files } = await onlyArchive(ws.out);
    expect(sha256(files.find((f) => f.name === "WO_1/meter-0.jpg")!.data)).toBe(sha256(odd));
  });
});

describe("motion photos (a video after the JPEG)", () => {
  it("packs the photo without the trailer instead of refusing it as truncated", async () => {
    const ws = await workspace();
    const photo = await quad(320, 240)
      .jpeg()
      .withExif({ IFD0: { Make: "Pixel" }, IFD2: { DateTimeOriginal: "2025:01:02 03:04:05" } })
      .toBuffer();
    const mp4 = Buffer.alloc(40_000, 0x11);
    mp4.writeUInt32BE(24, 0);
    mp4.write("ftypmp42", 4, "latin1"); // the video starts right after the JPEG's end-of-image marker
    await put(ws.staging, "WO_1/meter/PXL_20250102_030405.MP.jpg", Buffer.concat([photo, mp4]));
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    expect(run.code).toBe(0);
    const [entry] = JSON.parse(run.stdout).packed[0].entries;
    expect(entry.conversion).toMatch(/without the 40000 bytes after its end/);
    const { entries } = await onlyArchive(ws.out);
    expect(sha256(entries.find((e) => e.name === "WO_1/meter-0.jpg")!.data)).toBe(sha256(photo));
  });
});
