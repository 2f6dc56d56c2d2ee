// Optimised Huffman tables without the memory: a converted photo up to 16 MP is encoded with the standard
// tables (the encoder streams) and the native binding re-writes it losslessly (native/jpegopt.c). The
// result must be the very bytes libjpeg's optimised encoding gives, with or without the binding.
import fc from "fast-check";
import sharp, { type Sharp } from "sharp";
import { describe, expect, it, vi } from "vitest";
import * as heic from "../../src/convert/heicDecoder.js";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import type { ImageSettings } from "../../src/convert/imageSettings.js";
import { normalizeImage } from "../../src/convert/normalize.js";
import type { ImageType } from "../../src/spec/images.js";
import { scene } from "../scene.js";

const mocks = vi.hoisted(() => ({ hide: false, calls: 0 }));
vi.mock("../../src/convert/heicDecoder.js", async (original) => {
  const m = await original<typeof import("../../src/convert/heicDecoder.js")>();
  return {
    ...m,
    nativeBinding: () => {
      const b = m.nativeBinding();
      if (mocks.hide || !b) return undefined;
      // (the binding's functions are not enumerable: named one by one)
      return {
        thumbnail: b.thumbnail,
        measure: b.measure,
        optimise: (...args: Parameters<NonNullable<typeof b.optimise>>) => {
          mocks.calls++;
          return b.optimise!(...args);
        },
      };
    },
  };
});

// (absent when native/ could not be built: WOPACK_SKIP_NATIVE=1, no libheif/libjpeg headers)
const binding = heic.nativeBinding();
const NO_HEIC = { name: "none", decode: () => Promise.reject(new Error("not a HEIC")) } as unknown as HeicDecoder;

/** A picture with detail (a hash of the position) and a gradient, `channels` deep. */
function picture(width: number, height: number, channels: 3 | 4, seed: number) {
  const raw = Buffer.alloc(width * height * channels);
  for (let i = 0; i < raw.length; i++) raw[i] = ((Math.imul(i + seed, 2654435761) >>> 27) + ((i / channels) % width)) & 255;
  if (channels === 4) for (let i = 3; i < raw.length; i += 4) raw[i] = i % 7 ? 255 : 90;
  return sharp(raw, { raw: { width, height, channels } });
}

const FORMATS: Record<string, (s: Sharp) => Promise<Buffer>> = {
  webp: (s) => s.webp({ quality: 90 }).toBuffer(),
  tiff: (s) => s.tiff({ compression: "lzw" }).toBuffer(),
  gif: (s) => s.gif().toBuffer(),
  png: (s) => s.png().toBuffer(),
};

describe.skipIf(!binding)("optimised Huffman tables, losslessly", () => {
  it("the binding re-writes libvips' standard-table JPEG into the bytes of its optimised encoding", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 100 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        async (width, height, quality, exif, seed) => {
          const pipeline = () => {
            const p = picture(width, height, 3, seed);
            return exif ? p.withExif({ IFD0: { Make: "wopack" }, IFD2: { DateTimeOriginal: "2026:12:05 22:00:00" } }) : p;
          };
          const standard = await pipeline().jpeg({ quality, optimiseCoding: false }).toBuffer();
          const optimised = await pipeline().jpeg({ quality, optimiseCoding: true }).toBuffer();
          const rewritten = Buffer.from(await binding!.optimise!(standard));
          expect(rewritten.equals(optimised), `${width}x${height} q${quality}${exif ? " with EXIF" : ""}`).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("refuses what is not a whole JPEG, with a code", async () => {
    const jpeg = await picture(64, 48, 3, 1).jpeg({ quality: 90 }).toBuffer();
    for (const bad of [Buffer.from("not a jpeg"), jpeg.subarray(0, jpeg.length >> 1), Buffer.alloc(0)]) {
      await expect(binding!.optimise!(bad)).rejects.toMatchObject({ code: "E_IMAGE_CORRUPT" });
    }
  });

  it("a conversion gives the same bytes with the binding as without it (libjpeg optimising as it encodes)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...(Object.keys(FORMATS) as ImageType[])),
        fc.integer({ min: 8, max: 240 }),
        fc.integer({ min: 8, max: 240 }),
        fc.constantFrom(3 as const, 4 as const),
        fc.constantFrom(90, 75),
        fc.boolean(),
        async (type, width, height, channels, quality, exif) => {
          let source = picture(width, height, channels, width * height);
          if (exif) source = source.withExif({ IFD0: { Make: "wopack", Model: "bench" } });
          const bytes = await FORMATS[type]!(source);
          // (a PNG is re-encoded only when it has to be: here, to fit a largest dimension)
          const settings: ImageSettings = {
            quality,
            maxImageSize: 5e6,
            maxPixels: 1e8,
            stripGps: false,
            verify: "pixels",
            ...(type === "png" ? { maxDimension: Math.max(width, height) - 1 } : {}),
          };
          const convert = async (hide: boolean) => {
            mocks.hide = hide;
            mocks.calls = 0;
            const n = await normalizeImage(
              { source: `a.${type}`, file: `a.${type}`, type, bytes, captureDate: "2026-12-05T22:00:00" },
              settings,
              NO_HEIC,
            );
            if ("problem" in n) throw new Error(n.problem.message);
            return { data: n.data, calls: mocks.calls };
          };
          const lossless = await convert(false);
          const atEncoding = await convert(true);
          expect(lossless.calls, "the binding re-wrote it").toBeGreaterThan(0);
          expect(atEncoding.calls).toBe(0);
          expect(lossless.data.equals(atEncoding.data), `${type} ${width}x${height}x${channels} q${quality}`).toBe(true);
        },
      ),
      { numRuns: 20 },
    );
  });
});

// Issue 25 item 3: a converted photo's thumbnail and the photo checks' measures come from the coefficients
// the lossless re-write reads anyway (each block's DC coefficient is its mean), not from a second decode.
describe.skipIf(!binding)("the thumbnail made from the coefficients", () => {
  it("is the thumbnail a scaled decode of the output gives, for any size, chroma sampling, grey or colour", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2041, max: 2600 }),
        fc.integer({ min: 300, max: 2600 }),
        fc.boolean(),
        fc.constantFrom("4:2:0", "4:4:4", "grey"),
        fc.constantFrom(90, 60),
        fc.integer({ min: 0, max: 1000 }),
        async (long, short, landscape, sampling, quality, seed) => {
          const [width, height] = landscape ? [long, short] : [short, long];
          let p = sharp(await scene(seed)).resize(width, height, { fit: "fill" });
          if (sampling === "grey") p = p.toColourspace("b-w");
          const standard = await p
            .jpeg({ quality, optimiseCoding: false, chromaSubsampling: sampling === "4:4:4" ? "4:4:4" : "4:2:0" })
            .toBuffer();
          const done = await binding!.optimise!(standard, 256, 60, 2);
          const what = `${width}x${height} ${sampling} q${quality}`;
          if (done instanceof ArrayBuffer) throw new Error(`${what}: the binding gave no thumbnail`);
          const made = done.thumbnail;
          expect(made, what).toBeDefined();
          const decoded = await binding!.thumbnail(Buffer.from(done.jpeg), 256, 60, 1e9, 2);
          expect([made!.width, made!.height, made!.orientation]).toEqual([width, height, 0]);
          // (the chroma of a 4:2:0 picture is libjpeg's own reduced 2x2 IDCT, fixed-point step for step: a
          // float version was a level or two off, which a q60 thumbnail turned into a mean of 1.08 apart)
          expect(Buffer.from(made!.jpeg).equals(Buffer.from(decoded.jpeg)), what).toBe(true);
          expect(made!.measures, what).toEqual(decoded.measures);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("is not made where the picture at 1/8 scale is shorter than the thumbnail: the output is decoded as before", async () => {
    for (const [width, height] of [
      [2040, 1000],
      [640, 480],
      [1, 1],
    ] as const) {
      const standard = await picture(width, height, 3, 7).jpeg({ quality: 90, optimiseCoding: false }).toBuffer();
      const done = await binding!.optimise!(standard, 256, 60, 2);
      if (done instanceof ArrayBuffer) throw new Error("the binding gave no object");
      expect(done.thumbnail, `${width}x${height}`).toBeUndefined();
      expect(Buffer.from(done.jpeg).equals(Buffer.from(await binding!.optimise!(standard)))).toBe(true);
    }
  });

  it("comes with a 12 MP conversion, its measures those of the output's scaled decode", async () => {
    const bytes = await sharp(await scene(3))
      .resize(4000, 3000)
      .webp({ quality: 80 })
      .toBuffer();
    const settings: ImageSettings = { quality: 90, maxImageSize: 20e6, maxPixels: 1e8, stripGps: false, verify: "pixels" };
    mocks.hide = false;
    const n = await normalizeImage({ source: "a.webp", file: "a.webp", type: "webp", bytes }, settings, NO_HEIC);
    if ("problem" in n) throw new Error(n.problem.message);
    expect(n.thumb, "the conversion's thumbnail").toBeDefined();
    const decoded = await binding!.thumbnail(n.data, 256, 60, 1e9, 2);
    expect(Buffer.from(n.thumb!.jpeg).equals(Buffer.from(decoded.jpeg))).toBe(true);
    expect(n.thumb!.measures).toEqual(decoded.measures);
  });
});
