// Issue 25 item 3 for HEIC: the native binding's whole conversion makes the review thumbnail and the photo
// checks' measures from the picture it decoded (in sRGB, upright), not from a second decode of its output.
import { readFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { createHeicDecoder, nativeBinding } from "../../src/convert/heicDecoder.js";
import type { ImageSettings } from "../../src/convert/imageSettings.js";
import { normalizeImage } from "../../src/convert/normalize.js";
import { execFileP, tempDir } from "../helpers.js";
import { scene } from "../scene.js";

const FIXTURES = path.join(import.meta.dirname, "..", "fixtures");
const SETTINGS: ImageSettings = { quality: 90, maxImageSize: 20e6, maxPixels: 1e8, stripGps: false, verify: "pixels" };
// (absent when native/ could not be built)
const binding = nativeBinding();
const heic = binding ? createHeicDecoder(2, undefined, "native") : undefined;
afterAll(() => heic?.close());

/** The mean difference of two thumbnails' decoded samples. */
async function meanApart(a: Buffer, b: Buffer): Promise<number> {
  const [x, y] = await Promise.all([a, b].map((j) => sharp(j).raw().toBuffer({ resolveWithObject: true })));
  expect([x!.info.width, x!.info.height]).toEqual([y!.info.width, y!.info.height]);
  let sum = 0;
  for (let i = 0; i < x!.data.length; i++) sum += Math.abs(x!.data[i]! - y!.data[i]!);
  return sum / x!.data.length;
}

describe.skipIf(!heic)("a HEIC converted natively brings its thumbnail", () => {
  it.each([
    "quad.heic",
    "quad-grid.heic",
    "quad-iphone.heic",
    "quad-irot90.heic",
    "quad-exif6.heic",
    "quad-p3.heic",
    "quad-nclx-p3.heic",
    "quad-nclx-hdr.heic",
    "quad-odd.heic",
    "slow-12mp.heic",
  ])("%s: the thumbnail the output's scaled decode gives, with its measures", async (name) => {
    const bytes = await readFile(path.join(FIXTURES, name));
    const n = await normalizeImage({ source: name, file: name, type: "heic", bytes }, SETTINGS, heic!);
    if ("problem" in n) throw new Error(n.problem.message);
    expect(n.thumb, "made with the conversion").toBeDefined();
    const decoded = await binding!.thumbnail(n.data, 256, 60, 1e9, 2);
    const size = await sharp(n.data).metadata();
    expect([n.thumb!.width, n.thumb!.height]).toEqual([size.width, size.height]);
    expect(await meanApart(n.thumb!.jpeg, Buffer.from(decoded.jpeg))).toBeLessThan(1.5);
    expect(Math.abs(n.thumb!.measures!.exposure.mean - decoded.measures!.exposure.mean)).toBeLessThan(1);
  });

  // (the fixtures are flat quadrants, whose hash says little: scenes with edges, encoded by libheif's heif-enc;
  // from 7/8 scale down to 1/8 the output's own JPEG noise shows, hence the looser mean)
  it.each([
    [2050, 1540, 1],
    [1100, 2050, 2],
    [1000, 700, 3],
    [300, 200, 4],
  ])("a %ix%i scene: the same thumbnail and measures as the output's scaled decode gives", async (width, height, seed) => {
    const dir = await tempDir("wopack-heic-thumb-");
    const png = path.join(dir, "scene.png");
    await sharp(await scene(seed))
      .resize(width, height, { fit: "fill" })
      .png()
      .toFile(png);
    await execFileP("heif-enc", ["-q", "90", "-o", path.join(dir, "scene.heic"), png]);
    const bytes = await readFile(path.join(dir, "scene.heic"));
    const n = await normalizeImage({ source: "scene.heic", file: "scene.heic", type: "heic", bytes }, SETTINGS, heic!);
    if ("problem" in n) throw new Error(n.problem.message);
    expect(n.thumb, "made with the conversion").toBeDefined();
    const decoded = await binding!.thumbnail(n.data, 256, 60, 1e9, 2);
    expect(await meanApart(n.thumb!.jpeg, Buffer.from(decoded.jpeg))).toBeLessThan(2);
    const bits = (n.thumb!.measures!.hash ^ decoded.measures!.hash).toString(2).replaceAll("0", "").length;
    expect(bits).toBeLessThanOrEqual(3);
    expect(Math.abs(n.thumb!.measures!.exposure.mean - decoded.measures!.exposure.mean)).toBeLessThan(1);
    expect(n.thumb!.measures!.flat).toBe(decoded.measures!.flat);
  });
});
