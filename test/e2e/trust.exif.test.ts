// What goes in comes out: a converted photo keeps its EXIF (date, make, model, lens, location), its
// orientation reset, location removed only when asked; HEIC written by libheif's own tools included.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { heifExif, sanitizeExif } from "../../src/convert/exif.js";
import { exiftoolSession, haveExiftool } from "../exiftool.js";
import { archivesIn, put, ROOT, readZip, tempDir, wopack, workspace } from "../helpers.js";

const haveTools = spawnSync("heif-enc", ["--version"]).status !== null && haveExiftool;
const exiftool = exiftoolSession();
const nativeBuilt = existsSync(path.join(ROOT, "native/build/Release/wopack_heif.node"));

const TAGS = {
  DateTimeOriginal: "2024:05:06 07:08:09",
  Make: "Apple",
  Model: "iPhone 15 Pro",
  LensModel: "iPhone 15 Pro back triple camera 6.765mm f/1.78",
};

/** A JPEG with a phone's EXIF (location, orientation 6), written by exiftool. */
async function phoneJpeg(dir: string): Promise<string> {
  const file = await put(
    dir,
    "src.jpg",
    sharp({ create: { width: 64, height: 48, channels: 3, background: "#c33" } })
      .jpeg()
      .toBuffer(),
  );
  const args = Object.entries(TAGS).map(([k, v]) => `-${k}=${v}`);
  const gps = ["-GPSLatitude=48.8566", "-GPSLatitudeRef=N", "-GPSLongitude=2.3522", "-GPSLongitudeRef=E"];
  const run = await exiftool(["-overwrite_original", ...args, ...gps, "-Orientation#=6", file]);
  expect(run.stdout, run.stderr).toMatch(/\b1 image files updated/);
  return file;
}

/** 48° 51' as EXIF writes a latitude: rationals 48/1 and 51/1, in either byte order. */
function holdsLatitude(bytes: Buffer): boolean {
  const be = Buffer.from([0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1]);
  const le = Buffer.from([48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1, 0, 0, 0]);
  return bytes.includes(be) || bytes.includes(le);
}

/** A PNG's chunks but its picture data, whose compressed noise may hold any three letters by chance. */
function pngAncillary(png: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 8; at + 12 <= png.length; ) {
    const length = png.readUInt32BE(at);
    if (png.toString("latin1", at + 4, at + 8) !== "IDAT") parts.push(png.subarray(at, at + 12 + length));
    at += 12 + length;
  }
  return Buffer.concat(parts);
}

async function exifOf(file: string): Promise<Record<string, string>> {
  return JSON.parse((await exiftool(["-j", "-n", "-EXIF:all", file])).stdout)[0];
}

async function packedJpeg(ws: { staging: string; out: string; dir: string }, args: string[], env: Record<string, string> = {}) {
  const run = await wopack(["pack", ws.staging, "--out", ws.out, ...args], { env });
  expect(run.code, run.stderr).toBe(0);
  const zips = await archivesIn(ws.out);
  const entry = (await readZip(zips[zips.length - 1]!)).find((e) => e.name.endsWith(".jpg"))!;
  return put(ws.dir, `packed-${zips.length}.jpg`, entry.data);
}

describe.skipIf(!haveTools)("EXIF of converted photos (§6, §7)", () => {
  const decoders = nativeBuilt ? ["native", "wasm"] : ["wasm"];

  it.for(decoders)(
    "a HEIC written by heif-enc keeps its whole EXIF (%s decoder), orientation reset; its date reaches metadata",
    async (decoder) => {
      const ws = await workspace();
      const heic = path.join(ws.staging, "WO_1/meter/a.heic");
      await put(ws.staging, "WO_1/meter/.keep", "");
      expect(spawnSync("heif-enc", ["-q", "80", "-o", heic, await phoneJpeg(ws.dir)]).status).toBe(0);
      const config = await put(
        ws.dir,
        "c.json",
        '{"metadata": {"fields": {"taken": {"type": "text", "from": "exif:DateTimeOriginal"}}}}',
      );
      const out = await packedJpeg(ws, ["--config", config], { WOPACK_HEIC_DECODER: decoder });
      const exif = await exifOf(out);
      for (const [k, v] of Object.entries(TAGS)) expect(String(exif[k]), k).toBe(v);
      expect(exif.Orientation).toBe(1);
      expect(Number(exif.GPSLatitude)).toBeCloseTo(48.8566, 3);
      const [zip] = await archivesIn(ws.out);
      const metadata = (await readZip(zip!)).find((e) => e.name === "WO_1/metadata.json")!;
      expect(JSON.parse(metadata.data.toString())).toEqual({ taken: "2024-05-06T07:08:09" });
    },
  );

  it("--strip-gps removes the location (not a byte of it left) and keeps the rest, for HEIC and WebP alike", async () => {
    const ws = await workspace();
    const src = await phoneJpeg(ws.dir);
    expect(spawnSync("heif-enc", ["-q", "80", "-o", path.join(ws.dir, "a.heic"), src]).status).toBe(0);
    await put(ws.staging, "WO_1/meter/a.heic", readFile(path.join(ws.dir, "a.heic")));
    const webp = await put(
      ws.staging,
      "WO_2/meter/a.webp",
      sharp(await readFile(src))
        .keepExif()
        .webp()
        .toBuffer(),
    );
    expect((await exifOf(webp)).Make).toBe("Apple");
    expect(holdsLatitude(await readFile(webp))).toBe(true);
    expect(holdsLatitude(await readFile(path.join(ws.dir, "a.heic")))).toBe(true);
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--strip-gps"]);
    expect(run.code, run.stderr).toBe(0);
    const [zip] = await archivesIn(ws.out);
    for (const entry of (await readZip(zip!)).filter((e) => e.name.endsWith(".jpg"))) {
      const file = await put(ws.dir, entry.name.replace("/", "-"), entry.data);
      const exif = await exifOf(file);
      expect(exif.Make, entry.name).toBe("Apple");
      expect(exif.Model).toBe(TAGS.Model);
      expect(exif.DateTimeOriginal).toBe(TAGS.DateTimeOriginal);
      expect(Object.keys(exif).filter((k) => k.startsWith("GPS"))).toEqual([]);
      // the latitude's rationals (48/1, 51/1) are gone from the bytes, not just unlinked
      expect(holdsLatitude(entry.data), entry.name).toBe(false);
    }
  });
});

describe("the EXIF patcher on damaged blocks (§7)", () => {
  it("never throws, and never grows or shrinks a block (property)", async (ctx) => {
    if (!haveTools) ctx.skip();
    const dir = await tempDir("wopack-exif-");
    const heic = path.join(dir, "a.heic");
    expect(spawnSync("heif-enc", ["-q", "50", "-o", heic, await phoneJpeg(dir)]).status).toBe(0);
    const block = heifExif(await readFile(heic))!;
    expect(block).toBeDefined();
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(block.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.boolean(),
        (flips, stripGps) => {
          const damaged = Buffer.from(block);
          for (const [at, value] of flips) damaged[at] = value;
          const clean = sanitizeExif(damaged, { stripGps });
          if (clean) expect(clean.length).toBe(damaged.length);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

// (ImageMagick 6's own name first: a machine may put a stand-in `convert` ahead of it on PATH, as this project's
// build machines do, and the tests below then never ran)
const MAGICK = ["convert-im6.q16", "convert"].find((c) =>
  spawnSync(c, ["-version"], { encoding: "utf8" }).stdout?.includes("ImageMagick"),
);
const haveMagick = MAGICK !== undefined && haveExiftool;

describe.skipIf(!haveMagick)("--strip-gps on a PNG packed as it is, wherever its location lies (§7)", () => {
  // ImageMagick writes a JPEG's EXIF into a PNG as an eXIf chunk *after* the picture data, and every tag
  // again as text ("exif:GPSLatitude"); the fast path reads only a PNG's first 256 KiB
  const MAKERS: [string, string[]][] = [
    ["eXIf and text chunks after IDAT", []],
    ["text chunks only", ["-define", "png:exclude-chunk=exif"]],
  ];
  it.for(MAKERS.flatMap(([what, args]) => [64, 700].map((edge) => ({ what, args, edge }))))(
    "ImageMagick PNG, $what, $edge px: packed without any location",
    async ({ args, edge }) => {
      const ws = await workspace();
      const jpeg = await put(
        ws.dir,
        "src.jpg",
        sharp({
          create: {
            width: edge,
            height: edge,
            channels: 3,
            background: "#808080",
            noise: { type: "gaussian", mean: 128, sigma: 60 },
          },
        })
          .jpeg()
          .toBuffer(),
      );
      const gps = ["-GPSLatitude=48.8566", "-GPSLatitudeRef=N", "-GPSLongitude=2.3522", "-GPSLongitudeRef=E", "-Make=Parrot"];
      expect((await exiftool(["-overwrite_original", ...gps, jpeg])).stdout).toMatch(/\b1 image files updated/);
      const png = path.join(ws.staging, "WO_1", "meter", "a.png");
      await put(ws.staging, "WO_1/meter/.keep", "");
      expect(spawnSync(MAGICK!, [jpeg, ...args, png]).status).toBe(0);
      expect(pngAncillary(await readFile(png)).includes("GPSLatitude"), "the source holds it, outside its picture data").toBe(
        true,
      );
      const run = await wopack(["pack", ws.staging, "--out", ws.out, "--strip-gps", "--no-review"]);
      expect(run.code, run.stderr).toBe(0);
      const [entry] = (await readZip((await archivesIn(ws.out))[0]!)).filter((e) => e.name.endsWith(".png"));
      expect(entry, "packed as a PNG").toBeDefined();
      expect(pngAncillary(entry!.data).includes("GPS"), "no GPS tag or text left").toBe(false);
      expect(holdsLatitude(pngAncillary(entry!.data))).toBe(false);
      const packed = await put(ws.dir, "packed.png", entry!.data);
      const left = JSON.parse((await exiftool(["-j", "-a", "-G", "-GPS:all", packed])).stdout)[0];
      expect(Object.keys(left).filter((k) => /GPS/.test(k))).toEqual([]);
    },
  );
});
