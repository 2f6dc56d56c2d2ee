// A converted picture is the source's picture or a coded refusal (SPEC §7): never a blank page where the
// file holds a photo, never damaged data painted over in silence; old-style JPEG TIFFs decoded from the
// JPEG they hold, or refused with a code that names the variant.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import type { ImageSettings } from "../../src/convert/imageSettings.js";
import { normalizeImage } from "../../src/convert/normalize.js";
import { checkConverted } from "../../src/convert/outputCheck.js";
import type { ImageType } from "../../src/spec/images.js";
import { handTiff, type Tag } from "../tiff-writer.js";

const SETTINGS: ImageSettings = { quality: 90, maxImageSize: 5e6, maxPixels: 1e8, stripGps: false, verify: "pixels" };
const NO_HEIC = { name: "none", decode: () => Promise.reject(new Error("not a HEIC")) } as unknown as HeicDecoder;
const [W, H] = [96, 64];

function convert(bytes: Buffer, type: ImageType) {
  return normalizeImage({ source: "a.src", file: "a.src", type, bytes }, SETTINGS, NO_HEIC);
}

/** A picture with detail everywhere (a hash of the position), so that any blank or smeared part shows. */
function busy(): Buffer {
  const raw = Buffer.alloc(W * H * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (Math.imul(i, 2654435761) >>> 24) & 255;
  return raw;
}
const image = () => sharp(busy(), { raw: { width: W, height: H, channels: 3 } });

async function spread(jpeg: Buffer): Promise<number> {
  const stats = await sharp(jpeg).stats();
  return Math.max(...stats.channels.map((c) => c.stdev));
}

/** An old-style JPEG TIFF as cameras and scanners wrote them: the strip is a whole JPEG, JPEGInterchangeFormat points to it. */
async function oldStyleJpegTiff(withInterchange: boolean): Promise<{ tiff: Buffer; jpeg: Buffer }> {
  const jpeg = await image().jpeg({ quality: 95 }).toBuffer();
  const tags: Tag[] = [
    { tag: 259, short: [6] },
    { tag: 262, short: [6] },
    { tag: 279, long: [jpeg.length] },
    ...(withInterchange
      ? [
          { tag: 513, long: [8] },
          { tag: 514, long: [jpeg.length] },
        ]
      : []),
  ];
  return { tiff: handTiff({ width: W, height: H, rgb: jpeg, tags }), jpeg };
}

describe("old-style JPEG TIFF (compression 6)", () => {
  it("with its JPEG stream: converted from that JPEG, the same picture (it came out solid white)", async () => {
    const { tiff, jpeg } = await oldStyleJpegTiff(true);
    const out = await convert(tiff, "tiff");
    if ("problem" in out) throw new Error(out.problem.message);
    expect(await spread(out.data)).toBeGreaterThan(30);
    // (shrunk 4x: JPEG's loss on pixel noise is no difference in the picture)
    const small = (j: Buffer) =>
      sharp(j)
        .resize(W / 4, H / 4, { kernel: "linear" })
        .raw()
        .toBuffer();
    const [a, b] = await Promise.all([small(out.data), small(jpeg)]);
    let sum = 0;
    for (let i = 0; i < a!.length; i++) sum += Math.abs(a![i]! - b![i]!);
    expect(sum / a!.length).toBeLessThan(4);
  });

  it("without one: refused E_IMAGE_UNSUPPORTED, naming the variant and how to convert it", async () => {
    const out = await convert((await oldStyleJpegTiff(false)).tiff, "tiff");
    expect("problem" in out && out.problem.code).toBe("E_IMAGE_UNSUPPORTED");
    if ("problem" in out) {
      expect(out.problem.message).toMatch(/^a\.src: an old-style JPEG TIFF \(compression 6\)/);
      expect(out.problem.hint).toMatch(/convert it to JPEG or PNG/);
    }
  });
});

describe("camera raw files (TIFF-based) are refused, not packed as their small preview", () => {
  it.for([
    ["DNG (DNGVersion)", [{ tag: 50706, short: [1, 4, 0, 0] }]],
    ["ARW/NEF-style (SubIFDs to the sensor data)", [{ tag: 330, long: [8] }]],
    ["sensor data in the first page (CFA)", [{ tag: 262, short: [32803] }]],
  ] as const)("%s: E_IMAGE_UNSUPPORTED, with how to get a JPEG", async ([, tags]) => {
    const tiff = handTiff({ width: W, height: H, rgb: busy(), tags: tags as unknown as Tag[] });
    const out = await convert(tiff, "tiff");
    expect("problem" in out && out.problem.code).toBe("E_IMAGE_UNSUPPORTED");
    if ("problem" in out) {
      expect(out.problem.message).toContain("a camera raw file");
      expect(out.problem.hint).toMatch(/export it as a JPEG/);
    }
  });
});

describe("damaged data in a converted format is refused in the decoder's words", () => {
  // (16 bytes flipped at a third of the file: inside the compressed pixel data of each of these)
  it.for([
    ["tiff", "JPEG-in-TIFF", () => image().tiff({ compression: "jpeg" }).toBuffer(), 0.5],
    ["tiff", "deflate TIFF", () => image().tiff({ compression: "deflate" }).toBuffer(), 0.3],
    ["tiff", "LZW TIFF", () => image().tiff({ compression: "lzw" }).toBuffer(), 0.3],
    ["gif", "GIF", () => image().gif().toBuffer(), 0.3],
  ] as const)("%s (%s): E_IMAGE_DAMAGED", async ([type, , make, at]) => {
    const bytes = Buffer.from(await make());
    const from = Math.floor(bytes.length * at);
    for (let k = 0; k < 16; k++) bytes[from + k] = bytes[from + k]! ^ 0x5a;
    const out = await convert(bytes, type);
    expect("problem" in out && out.problem.code, "problem" in out ? out.problem.message : "packed").toBe("E_IMAGE_DAMAGED");
    if ("problem" in out) expect(out.problem.message).toMatch(/^a\.src: its picture data is damaged \(.+\)/);
  });
});

describe("a genuinely one-colour picture is packed (no false refusal)", () => {
  const solid = () => sharp({ create: { width: 640, height: 480, channels: 3, background: "#3a6" } });
  it.for([
    ["tiff", "uncompressed", () => solid().tiff({ compression: "none" }).toBuffer()],
    ["tiff", "LZW", () => solid().tiff({ compression: "lzw" }).toBuffer()],
    ["tiff", "packbits", () => solid().tiff({ compression: "packbits" }).toBuffer()],
    ["gif", "", () => solid().gif().toBuffer()],
    ["webp", "lossless", () => solid().webp({ lossless: true }).toBuffer()],
    ["avif", "", () => solid().avif().toBuffer()],
  ] as const)("%s %s", async ([type, , make]) => {
    const out = await convert(await make(), type);
    if ("problem" in out) throw new Error(out.problem.message);
    expect(out.warnings).toEqual([]);
  });
});

describe("checkConverted: the converted picture against its source", () => {
  const blank = () =>
    sharp({ create: { width: W, height: H, channels: 3, background: "#fff" } })
      .jpeg()
      .toBuffer();
  const detailed = () => image().jpeg().toBuffer();
  const dense = { source: "a.tif", bytes: W * H, width: W, height: H };
  it.for([
    ["blank from a file dense with data", blank, dense, "E_IMAGE_BLANK_DECODE"],
    ["blank from a small file", blank, { ...dense, bytes: 200 }, undefined],
    ["blank from an uncompressed file", blank, { ...dense, uncompressed: true }, undefined],
    ["blank first page of several", blank, { ...dense, pages: 3 }, undefined],
    ["a detailed picture", detailed, dense, undefined],
  ] as const)("%s: %s", async ([, make, src, code]) => {
    const checked = await checkConverted(src, await make(), false);
    expect(checked.problem?.code).toBe(code);
  });

  it("smaller than declared: a warning, unless resizing was asked; orientation 5-8 swaps the sides", async () => {
    const jpeg = await image().jpeg().toBuffer();
    const bigger = { source: "a.tif", bytes: 100, width: W + 10, height: H };
    expect((await checkConverted(bigger, jpeg, false)).warnings.map((w) => w.code)).toEqual(["W_IMAGE_SMALLER_THAN_DECLARED"]);
    expect((await checkConverted(bigger, jpeg, true)).warnings).toEqual([]);
    const turned = { source: "a.tif", bytes: 100, width: H, height: W, orientation: 6 };
    expect((await checkConverted(turned, jpeg, false)).warnings).toEqual([]);
  });
});
