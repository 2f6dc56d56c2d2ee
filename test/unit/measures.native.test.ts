// The photo checks' measures taken by the native binding on its decoding thread (native/measures.c) are
// checks/measures.ts' to the last bit: the same hash bits, the same sharpness and exposure numbers (the same
// operations in the same order, no fused multiply-add, the same cosine table), so the calibration in
// docs/photo-checks.md holds for both. The JavaScript measures stay for libvips' decodes.
import { readFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { measurePicture } from "../../src/checks/measures.js";
import { nativeBinding } from "../../src/convert/heicDecoder.js";
import { checkPixels, type GrayRaster } from "../../src/convert/pixels.js";
import { photoFacts } from "../../src/prepare/photoFacts.js";
import { ROOT } from "../helpers.js";
import { scene } from "../scene.js";

const binding = nativeBinding();
const measure = binding?.measure;

/** A raster of one of the kinds that stress the measures: noise, shading, hard blocks, mirror images, flat. */
const rasters = fc
  .record({
    width: fc.integer({ min: 1, max: 300 }),
    height: fc.integer({ min: 1, max: 300 }),
    kind: fc.constantFrom("noise", "shading", "blocks", "mirrored", "flat", "dark", "bright"),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    level: fc.integer({ min: 0, max: 255 }),
  })
  .map(({ width, height, kind, seed, level }) => {
    let x = seed;
    const next = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
    const data = new Uint8Array(width * height);
    const blocks = Array.from({ length: 6 }, () => [next() * width, next() * height, next() * width, next() * 256]);
    for (let y = 0; y < height; y++)
      for (let i = 0; i < width; i++) {
        const mx = Math.min(i, width - 1 - i); // (mirrored: symmetric, so many frequencies cancel exactly)
        data[y * width + i] =
          kind === "noise"
            ? next() * 256
            : kind === "shading"
              ? 128 + 100 * Math.sin(i / 9 + y / 13) + next() * 6
              : kind === "blocks"
                ? (blocks.find(([bx, by, s]) => Math.abs(i - bx!) < s! / 2 && Math.abs(y - by!) < s! / 3)?.[3] ?? level)
                : kind === "mirrored"
                  ? (mx * 7 + y * 3) % 256
                  : kind === "flat"
                    ? level
                    : kind === "dark"
                      ? next() * 20
                      : 235 + next() * 21;
      }
    return { data, width, height };
  });

/** The measures with the hash as hex, so that a difference prints readably. */
const shown = (m: { hash: bigint }) => ({ ...m, hash: m.hash.toString(16).padStart(16, "0") });

describe.skipIf(!binding)("the native measures (native/measures.c) against checks/measures.ts", () => {
  afterEach(() => {
    delete process.env.WOPACK_PIXEL_DECODER;
  });

  it("holds the cosines V8's Math.cos gives (glibc's cos differs in the last bit for some)", async () => {
    const source = await readFile(path.join(ROOT, "native", "measures.c"), "utf8");
    const table = /COSINES\[[^\]]*\] = \{([^}]*)\}/.exec(source)?.[1];
    const values = table!
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean)
      .map(Number);
    const want: number[] = [];
    for (let u = 0; u < 11; u++) for (let x = 0; x < 32; x++) want.push(Math.cos(((2 * x + 1) * u * Math.PI) / (2 * 32)));
    expect(values).toEqual(want);
  });

  it("gives the same hash bits and the same numbers on generated rasters (exactly)", () => {
    fc.assert(
      fc.property(rasters, ({ data, width, height }) => {
        expect(shown(measure!(data, width, height))).toEqual(shown(measurePicture(data, width, height)));
      }),
      { numRuns: 400 },
    );
  });

  it("gives the same numbers on small rasters of two levels, where the noise median falls on a boundary", () => {
    // (few distinct responses over an odd number of samples: the median's count often lands on half of them
    // exactly, where an integer halving would pick another median than JavaScript's)
    const small = fc
      .record({
        width: fc.integer({ min: 6, max: 14 }),
        height: fc.integer({ min: 6, max: 14 }),
        bits: fc.array(fc.boolean(), { minLength: 196, maxLength: 196 }),
        low: fc.integer({ min: 0, max: 255 }),
        high: fc.integer({ min: 0, max: 255 }),
      })
      .map(({ width, height, bits, low, high }) => ({
        width,
        height,
        data: Uint8Array.from({ length: width * height }, (_, i) => (bits[i] ? high : low)),
      }));
    fc.assert(
      fc.property(small, ({ data, width, height }) => {
        expect(shown(measure!(data, width, height))).toEqual(shown(measurePicture(data, width, height)));
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses a raster smaller than its size says", () => {
    expect(() => measure!(new Uint8Array(10), 4, 4)).toThrow(RangeError);
    expect(() => measure!(new Uint8Array(10), 0, 4)).toThrow(RangeError);
  });

  it("measures the pixel check's own decode: photos turned by EXIF, resized, re-encoded, dark, blurred", async () => {
    const photos: Buffer[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      const s = await scene(seed);
      photos.push(s);
      photos.push(await sharp(s).rotate(90).withMetadata({ orientation: 8 }).jpeg({ quality: 70 }).toBuffer());
      photos.push(await sharp(s).resize(1500).jpeg({ quality: 95 }).toBuffer());
      photos.push(await sharp(s).blur(6).jpeg().toBuffer());
      photos.push(await sharp(s).linear(0.05, 0).jpeg().toBuffer());
      photos.push(await sharp(s).resize(200).greyscale().jpeg().toBuffer());
    }
    for (const [i, photo] of photos.entries()) {
      const gray = await checkPixels("wo/photo", photo, "gray");
      const measured = await checkPixels("wo/photo", photo, "measures");
      if (!("thumb" in gray) || !("thumb" in measured)) throw new Error(`photo ${i} refused`);
      const g = gray.thumb.gray as GrayRaster;
      // (only the numbers come back from the binding: no greyscale picture is copied into JavaScript)
      expect(measured.thumb.gray, `photo ${i}`).toBeUndefined();
      expect(shown(measured.thumb.measures!), `photo ${i}`).toEqual(shown(measurePicture(g.data, g.width, g.height)));
    }
  });

  it("with WOPACK_PIXEL_DECODER=sharp, gives libvips' picture, measured in JavaScript", async () => {
    process.env.WOPACK_PIXEL_DECODER = "sharp";
    const photo = await scene(7);
    const v = await checkPixels("wo/photo", photo, "measures");
    if (!("thumb" in v)) throw new Error("refused");
    expect(v.thumb.measures).toBeUndefined();
    const g = v.thumb.gray!;
    expect(g.width * g.height).toBeGreaterThan(0);
    const checks = { reuse: { action: "warn" }, duplicate: { action: "off" }, blur: { action: "off" } };
    const facts = await photoFacts(
      { ...checks, exposure: { action: "off" }, age: { action: "off" }, distance: { action: "off" } } as never,
      v.thumb,
      "unused",
      photo,
      "jpeg",
    );
    expect(shown(facts.measures!)).toEqual(shown(measurePicture(g.data, g.width, g.height)));
  });

  it("gives no picture at all when the checks want none", async () => {
    const v = await checkPixels("wo/photo", await scene(8));
    if (!("thumb" in v)) throw new Error("refused");
    expect([v.thumb.gray, v.thumb.measures]).toEqual([undefined, undefined]);
  });
});
