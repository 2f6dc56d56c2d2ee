// What the conversions do to bound their memory: a large picture is written with the standard Huffman
// tables (no second pass over its coefficients held in memory) and keeps its pixels; a conversion waits
// for its share of the run's pixel budget.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import type { ImageSettings } from "../../src/convert/imageSettings.js";
import { normalizeImage } from "../../src/convert/normalize.js";
import { PixelBudget } from "../../src/convert/pixelBudget.js";

const SETTINGS: ImageSettings = { quality: 90, maxImageSize: 5e6, maxPixels: 1e8, stripGps: false, verify: "pixels" };
const NO_HEIC = { name: "none", decode: () => Promise.reject(new Error("no HEIC here")), close: async () => {} } as HeicDecoder;

/** A smooth picture with some detail, as a lossless TIFF. */
async function tiffOf(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      raw[o] = (x * 7) & 255;
      raw[o + 1] = (y * 5) & 255;
      raw[o + 2] = ((x + y) >> 4) & 255;
    }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .tiff({ compression: "lzw" })
    .toBuffer();
}

describe("conversions and memory", () => {
  it("over 16 MP: standard Huffman tables, the very pixels of an optimised encode; under it, optimised as before", async () => {
    for (const [width, height, optimised] of [
      [4800, 3600, false], // 17.3 MP
      [1200, 900, true],
    ] as const) {
      const tiff = await tiffOf(width, height);
      const n = await normalizeImage({ source: "a.tif", file: "a.tif", type: "tiff", bytes: tiff }, SETTINGS, NO_HEIC);
      if ("problem" in n) throw new Error(n.problem.message);
      expect(n.conversion).toBe("tiff converted to jpeg"); // (not made smaller to fit: same quality as the reference)
      const reference = await sharp(tiff).jpeg({ quality: 90, optimiseCoding: true }).toBuffer();
      const pixels = (jpeg: Buffer) => sharp(jpeg).raw().toBuffer();
      expect((await pixels(n.data)).equals(await pixels(reference)), `${width}x${height}: same pixels`).toBe(true);
      // (the EXIF segment aside: the date alone, or nothing, is added)
      expect(n.data.length > reference.length, `${width}x${height}: larger without optimised tables`).toBe(!optimised);
    }
  });

  it("a conversion waits for its share of the run's pixel budget, and gives it back", async () => {
    const budget = new PixelBudget(16e6);
    const tiff = await tiffOf(1200, 900);
    let release!: () => void;
    const held = budget.run(16e6, () => new Promise<void>((r) => (release = r)));
    let settled = false;
    const converting = normalizeImage(
      { source: "a.tif", file: "a.tif", type: "tiff", bytes: tiff },
      { ...SETTINGS, budget },
      NO_HEIC,
    ).finally(() => (settled = true));
    for (const deadline = Date.now() + 10_000; budget.queued === 0; ) {
      if (Date.now() > deadline) throw new Error("the conversion never asked for its pixels");
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(settled).toBe(false);
    release();
    await held;
    const n = await converting;
    expect("problem" in n).toBe(false);
    expect(budget.queued).toBe(0);
    await expect(budget.run(16e6, async () => "free again")).resolves.toBe("free again");
  });
});
