// §5/§7: one table of photos whose entry name depends on their content and the size limits. For each,
// the name `--dry-run` shows is the name `pack` writes (read back by yauzl), and both follow the table.
import { execFileSync } from "node:child_process";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { pack } from "../../src/run/pack.js";
import { entryName, packedExt, pngDimensions, reencodeReasons } from "../../src/spec/images.js";
import { archivesIn, put, readZip, workspace } from "../helpers.js";

const noise = (width: number, height: number) => {
  const raw = Buffer.alloc(width * height * 3);
  let x = 7;
  for (let i = 0; i < raw.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    raw[i] = x >>> 24;
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
};
const png = (w: number, h: number) => noise(w, h).png().toBuffer();
const jpeg = (w: number, h: number) => noise(w, h).jpeg().toBuffer();

interface Case {
  title: string;
  file: string;
  bytes: () => Promise<Buffer>;
  images?: { maxImageSize?: number; maxDimension?: number; stripGps?: boolean };
  entry: string;
}

const cases: Case[] = [
  { title: "a PNG within the limits stays a PNG", file: "a.png", bytes: () => png(64, 48), entry: "meter-0.png" },
  {
    title: "a PNG named .jpg is packed as .png",
    file: "a.jpg",
    bytes: () => png(64, 48),
    entry: "meter-0.png",
  },
  {
    title: "a PNG over --max-image-size becomes a JPEG",
    file: "a.png",
    bytes: () => png(200, 150),
    images: { maxImageSize: 20_000 },
    entry: "meter-0.jpg",
  },
  {
    title: "a PNG over --max-dimension becomes a JPEG",
    file: "a.png",
    bytes: () => png(200, 150),
    images: { maxDimension: 100 },
    entry: "meter-0.jpg",
  },
  {
    title: "a PNG exactly at --max-dimension stays a PNG",
    file: "a.png",
    bytes: () => png(100, 60),
    images: { maxDimension: 100 },
    entry: "meter-0.png",
  },
  {
    title: "a PNG with location data and --strip-gps stays a PNG (re-encoded losslessly)",
    file: "a.png",
    bytes: async () => {
      const dir = (await workspace()).dir;
      const file = await put(dir, "gps.png", await png(64, 48));
      execFileSync("exiftool", ["-q", "-overwrite_original", "-GPSLatitude=48.85", "-GPSLatitudeRef=N", file]);
      const { readFile } = await import("node:fs/promises");
      return readFile(file);
    },
    images: { stripGps: true },
    entry: "meter-0.png",
  },
  { title: "a JPEG named .png is packed as .jpg", file: "a.png", bytes: () => jpeg(64, 48), entry: "meter-0.jpg" },
  {
    title: "a JPEG over --max-image-size stays a .jpg",
    file: "a.jpg",
    bytes: () => jpeg(400, 300),
    images: { maxImageSize: 20_000 },
    entry: "meter-0.jpg",
  },
  {
    title: "a WebP becomes a JPEG",
    file: "a.webp",
    bytes: () => noise(64, 48).webp().toBuffer(),
    entry: "meter-0.jpg",
  },
];

describe("entry names: what --dry-run shows is what pack writes (§5, §7)", () => {
  it.each(cases)("$title", async ({ file, bytes, images, entry }) => {
    const ws = await workspace();
    await put(ws.staging, `WO_1/meter/${file}`, await bytes());
    const config = parseConfig({ images: images ?? {} });
    const dry = await pack({ staging: ws.staging, out: ws.out, config, dryRun: true });
    const packed = await pack({ staging: ws.staging, out: ws.out, config });
    expect(dry.planned).toEqual([{ id: "WO_1", photos: [{ source: `WO_1/meter/${file}`, name: `WO_1/${entry}` }] }]);
    expect(packed.refused).toEqual([]);
    const [zip] = await archivesIn(ws.out);
    expect((await readZip(zip!)).map((e) => e.name)).toEqual(["WO_1/metadata.json", `WO_1/${entry}`]);
  });
});

describe("the rule itself", () => {
  const limits = { maxImageSize: 1000, maxDimension: 100 };
  it.each([
    ["png", { bytes: 1000, width: 100, height: 100 }, "png"],
    ["png", { bytes: 1001, width: 10, height: 10 }, "jpg"],
    ["png", { bytes: 10, width: 101, height: 10 }, "jpg"],
    ["png", { bytes: 10, width: 10, height: 101 }, "jpg"],
    ["png", { bytes: 10 }, "png"],
    ["jpeg", { bytes: 10, width: 10, height: 10 }, "jpg"],
    ["heic", { bytes: 10, width: 10, height: 10 }, "jpg"],
  ] as const)("%s %o -> .%s", (type, shape, ext) => {
    expect(packedExt(type, shape, limits)).toBe(ext);
  });

  it("names every reason a JPEG or PNG is re-encoded", () => {
    expect(reencodeReasons({ bytes: 2000, width: 200, height: 5, cmyk: true }, limits)).toEqual([
      "larger than 1000 bytes",
      "wider or taller than 100 px",
      "CMYK colour",
    ]);
    expect(reencodeReasons({ bytes: 2000, width: 200, height: 5 }, { maxImageSize: 5000 })).toEqual([]);
  });

  it("reads a PNG's dimensions from its header, and nothing from a head too short to hold them", async () => {
    const head = (await png(321, 123)).subarray(0, 64);
    expect(pngDimensions(head)).toEqual({ width: 321, height: 123 });
    expect(pngDimensions(head.subarray(0, 23))).toBeUndefined();
    expect(entryName("WO_1", "meter", 3, "jpg")).toBe("WO_1/meter-3.jpg");
  });
});
