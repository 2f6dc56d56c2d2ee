// The measures behind the photo checks (SPEC §15) on generated scenes: the same picture resized,
// re-encoded, cropped a little or rotated by EXIF stays within the reuse distance; distinct scenes of the
// same kind do not; a blur flags the picture, noise does not pass for detail; dark and white frames are
// flagged, a normal one is not; a flat frame is marked flat. Rasters are made as the pipeline makes them.
import fc from "fast-check";
import sharp, { type Sharp } from "sharp";
import { describe, expect, it } from "vitest";
import { FLAT_MAX_STRUCTURE, hashDistance, measurePicture } from "../../src/checks/measures.js";
import {
  BLUR_MIN_SHARPNESS,
  DARK_FRACTION,
  DARK_MAX_HIGHLIGHT,
  isDark,
  isOverexposed,
  REUSE_MAX_DISTANCE,
} from "../../src/spec/photoChecks.js";

/** The blur the checks are calibrated to flag: a Gaussian of this sigma, as a fraction of the long edge (docs/photo-checks.md). */
const FLAGGED_BLUR = 0.005;

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A scene like a field photo, all of one kind whatever the seed: a lit gradient, a fine texture, and some
 * objects (boxes, discs, cables) of random sizes, places and colours.
 */
/** The generated photos' size: big enough that the small decode averages it down, as a camera photo's. */
const WIDTH = 960;
const HEIGHT = 720;

function scene(seed: number, backdrop = seed, width = WIDTH, height = HEIGHT): Buffer {
  const r = random(seed);
  const colour = (next = r) => `rgb(${Math.floor(next() * 256)},${Math.floor(next() * 256)},${Math.floor(next() * 256)})`;
  const shapes: string[] = [];
  for (let i = 0; i < 6 + Math.floor(r() * 6); i++) {
    const x = r() * width;
    const y = r() * height;
    const s = (0.05 + r() * 0.25) * width;
    const kind = r();
    if (kind < 0.4)
      shapes.push(`<rect x="${x - s / 2}" y="${y - s / 3}" width="${s}" height="${(s * 2) / 3}" fill="${colour()}"/>`);
    else if (kind < 0.75) shapes.push(`<circle cx="${x}" cy="${y}" r="${s / 3}" fill="${colour()}"/>`);
    else
      shapes.push(
        `<path d="M${x} ${y} Q${r() * width} ${r() * height} ${r() * width} ${r() * height}" stroke="${colour()}" stroke-width="${4 + r() * 12}" fill="none"/>`,
      );
  }
  const b = random(backdrop * 7919 + 1);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs>
      <linearGradient id="light" x1="${b()}" y1="0" x2="${b()}" y2="1"><stop offset="0" stop-color="${colour(b)}"/><stop offset="1" stop-color="${colour(b)}"/></linearGradient>
      <filter id="grain"><feTurbulence type="fractalNoise" baseFrequency="${0.01 + b() * 0.05}" numOctaves="4" seed="${backdrop % 1000}"/><feColorMatrix type="saturate" values="0"/></filter>
    </defs>
    <rect width="100%" height="100%" fill="url(#light)"/>
    <rect width="100%" height="100%" filter="url(#grain)" opacity="0.35"/>
    ${shapes.join("\n")}
  </svg>`;
  return Buffer.from(svg);
}

const photo = (seed: number) => sharp(scene(seed)).jpeg({ quality: 90 }).toBuffer();

/** The pipeline's small decode (src/convert/pixels.ts): upright, long edge <= 256, grey. */
async function measure(image: Buffer) {
  const { data, info } = await sharp(image)
    .rotate()
    .resize({ width: 256, height: 256, fit: "inside", withoutEnlargement: true })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return measurePicture(new Uint8Array(data), info.width, info.height);
}

/** The picture stored turned so that EXIF orientation `o` shows it upright again, with the tag set. */
async function storedWithOrientation(upright: Buffer, o: number): Promise<Buffer> {
  const turn: Record<number, (s: Sharp) => Sharp> = {
    1: (s) => s,
    2: (s) => s.flop(),
    3: (s) => s.rotate(180),
    4: (s) => s.flip(),
    5: (s) => s.rotate(270).flop(),
    6: (s) => s.rotate(270),
    7: (s) => s.rotate(90).flop(),
    8: (s) => s.rotate(90),
  };
  const stored = await turn[o]!(sharp(upright)).jpeg({ quality: 90 }).toBuffer();
  return sharp(stored).withMetadata({ orientation: o }).jpeg({ quality: 90 }).toBuffer();
}

const copies: [string, (jpeg: Buffer) => Promise<Buffer>][] = [
  [
    "resized to half",
    (j) =>
      sharp(j)
        .resize(WIDTH / 2)
        .jpeg({ quality: 90 })
        .toBuffer(),
  ],
  [
    "resized to a quarter",
    (j) =>
      sharp(j)
        .resize(WIDTH / 4)
        .jpeg({ quality: 90 })
        .toBuffer(),
  ],
  ["re-encoded at quality 50", (j) => sharp(j).jpeg({ quality: 50 }).toBuffer()],
  ["as PNG", (j) => sharp(j).png().toBuffer()],
  [
    "cropped 2% around",
    (j) =>
      sharp(j)
        .extract({
          left: Math.round(WIDTH / 100),
          top: Math.round(HEIGHT / 100),
          width: Math.round(WIDTH * 0.98),
          height: Math.round(HEIGHT * 0.98),
        })
        .jpeg()
        .toBuffer(),
  ],
  ...[2, 3, 4, 5, 6, 7, 8].map((o): [string, (jpeg: Buffer) => Promise<Buffer>] => [
    `stored for EXIF orientation ${o}`,
    (j) => storedWithOrientation(j, o),
  ]),
];

describe("the hash: the same picture", () => {
  it.each(copies)("%s stays within the reuse distance", async (_, copy) => {
    for (const seed of [1, 2, 3]) {
      const original = await photo(seed);
      const a = await measure(original);
      const b = await measure(await copy(original));
      expect(a.flat).toBe(false);
      expect(hashDistance(a.hash, b.hash), `scene ${seed}`).toBeLessThanOrEqual(REUSE_MAX_DISTANCE);
    }
  });

  it("any scene, resized, re-encoded and stored with any orientation, stays within the distance", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1e6 }),
        fc.integer({ min: 200, max: WIDTH }),
        fc.integer({ min: 40, max: 98 }),
        fc.integer({ min: 1, max: 8 }),
        async (seed, width, quality, orientation) => {
          const original = await photo(seed);
          const resized = await sharp(original).resize(width).jpeg({ quality }).toBuffer();
          const copy = await storedWithOrientation(resized, orientation);
          const distance = hashDistance((await measure(original)).hash, (await measure(copy)).hash);
          expect(distance).toBeLessThanOrEqual(REUSE_MAX_DISTANCE);
        },
      ),
      { numRuns: 12, seed: 26 },
    );
  });
});

describe("the hash: distinct pictures", () => {
  it("scenes of the same kind are all further apart than the reuse distance", async () => {
    const hashes = await Promise.all([...Array(16).keys()].map(async (i) => (await measure(await photo(100 + i))).hash));
    for (let i = 0; i < hashes.length; i++)
      for (let j = i + 1; j < hashes.length; j++)
        expect(hashDistance(hashes[i]!, hashes[j]!), `scenes ${100 + i} and ${100 + j}`).toBeGreaterThan(REUSE_MAX_DISTANCE);
  });

  it("different objects before one backdrop are different pictures", async () => {
    const hashes = await Promise.all(
      [...Array(12).keys()].map(
        async (i) =>
          (
            await measure(
              await sharp(scene(200 + i, 7))
                .jpeg({ quality: 90 })
                .toBuffer(),
            )
          ).hash,
      ),
    );
    const distances: number[] = [];
    for (let i = 0; i < hashes.length; i++)
      for (let j = i + 1; j < hashes.length; j++) distances.push(hashDistance(hashes[i]!, hashes[j]!));
    expect(Math.min(...distances)).toBeGreaterThan(REUSE_MAX_DISTANCE);
  });

  it("the same objects moved apart are a different picture", async () => {
    // one scene, and the same scene mirrored: the same content, not the same picture
    const original = await photo(7);
    const mirrored = await sharp(original).flop().jpeg().toBuffer();
    expect(hashDistance((await measure(original)).hash, (await measure(mirrored)).hash)).toBeGreaterThan(REUSE_MAX_DISTANCE);
  });

  it("flat frames (black, grey, a plain wall with grain) are marked flat, scenes are not", async () => {
    for (const grey of [0, 40, 128, 220, 255]) {
      const plain = await sharp({ create: { width: 800, height: 600, channels: 3, background: { r: grey, g: grey, b: grey } } })
        .jpeg()
        .toBuffer();
      expect((await measure(plain)).flat, `grey ${grey}`).toBe(true);
    }
    const wall = await sharp(
      Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"><defs><filter id="g"><feTurbulence type="fractalNoise" baseFrequency="0.8" seed="3"/><feColorMatrix type="saturate" values="0"/></filter></defs><rect width="100%" height="100%" fill="#9a9a90"/><rect width="100%" height="100%" filter="url(#g)" opacity="0.08"/></svg>`,
      ),
    )
      .jpeg()
      .toBuffer();
    expect((await measure(wall)).flat).toBe(true);
    for (const seed of [1, 2, 3]) expect((await measure(await photo(seed))).flat).toBe(false);
  });
});

const hash64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe("hashDistance", () => {
  it("counts the differing bits of 64-bit hashes", () => {
    expect(hashDistance(0n, 0n)).toBe(0);
    expect(hashDistance(0n, 0xffffffffffffffffn)).toBe(64);
    expect(hashDistance(0b1011n, 0b0001n)).toBe(2);
    fc.assert(
      fc.property(hash64, hash64, hash64, (a, b, c) => {
        const bits = [...(a ^ b).toString(2)].filter((d) => d === "1").length;
        expect(hashDistance(a, b)).toBe(bits);
        expect(hashDistance(b, a)).toBe(bits);
        expect(hashDistance(a, c)).toBeLessThanOrEqual(hashDistance(a, b) + hashDistance(b, c));
      }),
    );
  });
});

describe("sharpness", () => {
  it.each([1, 2, 3, 4])(
    "scene %i: sharp passes; blurred by the calibrated radius or more, flagged, noise or not",
    async (seed) => {
      const original = await photo(seed);
      expect((await measure(original)).sharpness).toBeGreaterThanOrEqual(BLUR_MIN_SHARPNESS);
      for (const factor of [1, 1.5, 3]) {
        const sigma = FLAGGED_BLUR * factor * WIDTH;
        const blurred = await sharp(original).blur(sigma).jpeg({ quality: 90 }).toBuffer();
        expect((await measure(blurred)).sharpness, `sigma ${sigma}`).toBeLessThan(BLUR_MIN_SHARPNESS);
        // sensor noise on the blurred photo is not detail
        const { data, info } = await sharp(blurred).raw().toBuffer({ resolveWithObject: true });
        const next = random(seed);
        for (let i = 0; i < data.length; i++) data[i] = Math.max(0, Math.min(255, data[i]! + Math.round((next() - 0.5) * 16)));
        const noisy = await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
          .jpeg({ quality: 90 })
          .toBuffer();
        expect((await measure(noisy)).sharpness, `sigma ${sigma} with noise`).toBeLessThan(BLUR_MIN_SHARPNESS);
      }
    },
  );

  it("any scene blurred by the calibrated radius or more is flagged, and is not when not blurred", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 1, max: 4, noNaN: true }), async (seed, factor) => {
        const original = await photo(seed);
        expect((await measure(original)).sharpness).toBeGreaterThanOrEqual(BLUR_MIN_SHARPNESS);
        const blurred = await sharp(original)
          .blur(FLAGGED_BLUR * factor * WIDTH)
          .jpeg({ quality: 90 })
          .toBuffer();
        expect((await measure(blurred)).sharpness).toBeLessThan(BLUR_MIN_SHARPNESS);
      }),
      { numRuns: 10, seed: 26 },
    );
  });

  it("does not depend on contrast: a dim copy of a sharp scene is as sharp", async () => {
    const original = await photo(5);
    const dim = await sharp(original).linear(0.4, 60).jpeg({ quality: 90 }).toBuffer();
    const [a, b] = [await measure(original), await measure(dim)];
    expect(b.sharpness).toBeGreaterThanOrEqual(BLUR_MIN_SHARPNESS);
    expect(Math.abs(a.sharpness - b.sharpness) / a.sharpness).toBeLessThan(0.25);
  });
});

describe("exposure", () => {
  const gain = async (jpeg: Buffer, k: number) => {
    // in linear light, as a camera's exposure acts
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    const lin = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    const srgb = (v: number) => (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);
    const table = Array.from({ length: 256 }, (_, i) => Math.round(255 * srgb(Math.min(1, lin(i / 255) * k))));
    for (let i = 0; i < data.length; i++) data[i] = table[data[i]!]!;
    return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
      .jpeg()
      .toBuffer();
  };

  it.each([1, 2, 3])("scene %i: normal is not flagged; 4.3 stops under is dark; far over is overexposed", async (seed) => {
    const original = await photo(seed);
    const normal = (await measure(original)).exposure;
    expect(isDark(normal) || isOverexposed(normal)).toBe(false);
    for (const k of [0.05, 0.02, 0.005]) expect(isDark((await measure(await gain(original, k))).exposure), `x${k}`).toBe(true);
    expect(isOverexposed((await measure(await gain(original, 40))).exposure)).toBe(true);
    expect(isDark((await measure(await gain(original, 40))).exposure)).toBe(false);
  });

  it("a low-key photo (a bright object on black) is not dark, a black frame with a lamp is", async () => {
    const svg = (fill: string, r: number) =>
      Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"><rect width="100%" height="100%" fill="#050505"/><circle cx="400" cy="300" r="${r}" fill="${fill}"/></svg>`,
      );
    const lowKey = (await measure(await sharp(svg("#e0a040", 160)).jpeg().toBuffer())).exposure;
    expect(lowKey.dark).toBeGreaterThan(0.75);
    expect(isDark(lowKey)).toBe(false);
    // (a lamp smaller than 1 % of the frame: the highlight does not see it, the dark fraction does)
    const lamp = (await measure(await sharp(svg("#ffffff", 20)).jpeg().toBuffer())).exposure;
    expect(lamp.dark).toBeGreaterThanOrEqual(DARK_FRACTION);
    expect(isDark(lamp)).toBe(true);
  });

  it("reads mean, dark, bright and highlight off the raster", () => {
    const gray = new Uint8Array([0, 16, 17, 239, 240, 255, 100, 100]);
    const { exposure } = measurePicture(gray, 4, 2);
    expect(exposure.dark).toBe(2 / 8);
    expect(exposure.bright).toBe(2 / 8);
    expect(exposure.mean).toBeCloseTo((0 + 16 + 17 + 239 + 240 + 255 + 200) / 8, 10);
    expect(exposure.highlight).toBe(255);
    // the 99th percentile: 200 pixels of 10 and 2 of 250 (1 %) read 10; 3 of 250 read 250
    const some = (n: number) => new Uint8Array(202).fill(10).fill(250, 0, n);
    expect(measurePicture(some(2), 202, 1).exposure.highlight).toBe(10);
    expect(measurePicture(some(3), 202, 1).exposure.highlight).toBe(250);
    expect(DARK_MAX_HIGHLIGHT).toBeLessThan(250);
  });
});

describe("small and odd rasters", () => {
  it("any size from 1 x 1 up gives finite measures, and a flat one is flat", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 255 }),
        (w, h, v) => {
          const m = measurePicture(new Uint8Array(w * h).fill(v), w, h);
          expect(Number.isFinite(m.sharpness)).toBe(true);
          expect(m.flat).toBe(true);
          expect(m.exposure.mean).toBe(v);
          expect(m.hash >= 0n && m.hash < 1n << 64n).toBe(true);
        },
      ),
      { numRuns: 60, seed: 26 },
    );
    expect(FLAT_MAX_STRUCTURE).toBeGreaterThan(0);
  });
});
