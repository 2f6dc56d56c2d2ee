// One rule for data after the end of any image (SPEC §7): a JPEG or PNG is packed without it (zero padding
// is kept) and the report says so; a GIF's converted picture is its own. BigTIFF is sniffed as TIFF.
import { readFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import type { ImageSettings } from "../../src/convert/imageSettings.js";
import { normalizeImage } from "../../src/convert/normalize.js";
import { sniffImageType } from "../../src/convert/sniff.js";
import { archivesIn, put, readZip, wopack, workspace } from "../helpers.js";
import { handTiff } from "../tiff-writer.js";

const SETTINGS: ImageSettings = { quality: 90, maxImageSize: 5e6, maxPixels: 1e8, stripGps: false, verify: "pixels" };
const NO_HEIC = { name: "none", decode: () => Promise.reject(new Error("not a HEIC")) } as unknown as HeicDecoder;

const picture = (w = 40, h = 30) => {
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) & 255;
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } });
};

describe("data after the end of an image (§7)", () => {
  it("pack: PNG and JPEG cut at their end with a note, zero padding kept, GIF converted, BigTIFF sniffed", async () => {
    const ws = await workspace();
    const png = await picture().png().toBuffer();
    const jpeg = await picture().jpeg().toBuffer();
    const gif = await picture().gif().toBuffer();
    const cases: [string, Buffer, Buffer | "jpg", RegExp | undefined][] = [
      [
        "WO_PNG_BYTE/a.png",
        Buffer.concat([png, Buffer.from([0x0a])]),
        png,
        /png copied without the 1 bytes after its IEND chunk/,
      ],
      ["WO_PNG_JUNK/a.png", Buffer.concat([png, Buffer.from("trailing junk")]), png, /without the 13 bytes/],
      ["WO_PNG_TWICE/a.png", Buffer.concat([png, png]), png, /without the \d+ bytes/],
      ["WO_PNG_ZEROS/a.png", Buffer.concat([png, Buffer.alloc(7)]), Buffer.concat([png, Buffer.alloc(7)]), undefined],
      ["WO_JPEG_JUNK/a.jpg", Buffer.concat([jpeg, Buffer.from("trailing junk")]), jpeg, /jpeg copied without the 13 bytes/],
      ["WO_GIF_JUNK/a.gif", Buffer.concat([gif, Buffer.from("trailing junk")]), "jpg", /gif converted to jpeg/],
      ["WO_GIF_NO_TRAILER/a.gif", gif.subarray(0, -1), "jpg", /gif converted to jpeg/],
      [
        "WO_BIGTIFF/a.tif",
        handTiff({ big: true, width: 40, height: 30, rgb: await picture().raw().toBuffer() }),
        "jpg",
        /tiff converted to jpeg/,
      ],
    ];
    for (const [file, bytes] of cases) await put(ws.staging, file.replace("/", "/photo/"), bytes);
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    const entries = await readZip((await archivesIn(ws.out))[0]!);
    for (const [file, , expected, note] of cases) {
      const id = file.split("/")[0]!;
      const wo = result.packed.find((w: { id: string }) => w.id === id);
      expect(wo, id).toBeDefined();
      const [reported] = wo.entries;
      const entry = entries.find((e) => e.name === reported.entry)!;
      if (expected === "jpg") expect(entry.name, id).toMatch(/\.jpg$/);
      else expect(entry.data.equals(expected), id).toBe(true);
      if (note) expect(reported.conversion, id).toMatch(note);
      else expect(reported.conversion, id).toBeUndefined();
    }
  });

  it("a GIF whose data ends early: whole picture -> packed with W_IMAGE_ENDS_EARLY; picture cut -> E_IMAGE_DAMAGED (every cut)", async () => {
    const gif = await picture(60, 40).gif().toBuffer();
    // where the picture's data ends: the block terminator (00) before the trailer (3B)
    expect([...gif.subarray(-2)]).toEqual([0x00, 0x3b]);
    const convert = (bytes: Buffer) => normalizeImage({ source: "a.gif", file: "a.gif", type: "gif", bytes }, SETTINGS, NO_HEIC);
    const whole = await convert(gif.subarray(0, -2));
    if ("problem" in whole) throw new Error(whole.problem.message);
    expect(whole.warnings.map((w) => w.code)).toEqual(["W_IMAGE_ENDS_EARLY"]);
    // (shrunk 4x: JPEG's loss on the palette's dithering is no difference in the picture)
    const small = (b: Buffer) => sharp(b).removeAlpha().resize(15, 10, { kernel: "linear" }).raw().toBuffer();
    const [reference, packed] = await Promise.all([small(gif), small(whole.data)]);
    let sum = 0;
    for (let i = 0; i < packed.length; i++) sum += Math.abs(packed[i]! - reference[i]!);
    expect(sum / packed.length).toBeLessThan(8);
    for (let cut = 3; cut < gif.length - 800; cut += 97) {
      const out = await convert(gif.subarray(0, gif.length - cut));
      expect("problem" in out && out.problem.code, `cut ${cut}`).toMatch(/^E_IMAGE_(DAMAGED|CORRUPT)$/);
    }
  });

  it("any PNG followed by any non-zero data is packed as the PNG alone (property)", async () => {
    const pngs = await Promise.all([picture().png().toBuffer(), picture(3, 200).png({ palette: true }).toBuffer()]);
    await fc.assert(
      fc.asyncProperty(fc.nat(pngs.length - 1), fc.uint8Array({ minLength: 1, maxLength: 200 }), async (i, tail) => {
        const png = pngs[i]!;
        const bytes = Buffer.concat([png, Buffer.from(tail)]);
        const out = await normalizeImage({ source: "a.png", file: "a.png", type: "png", bytes }, SETTINGS, NO_HEIC);
        if ("problem" in out) throw new Error(out.problem.message);
        const hasData = tail.some((b) => b !== 0);
        expect(out.data.equals(hasData ? png : bytes)).toBe(true);
        expect(out.conversion !== undefined).toBe(hasData);
      }),
      { numRuns: 60 },
    );
  });

  it("sniffs TIFF and BigTIFF in either byte order", async () => {
    for (const magic of ["II*\0", "MM\0*", "II+\0", "MM\0+"]) {
      expect(sniffImageType(Buffer.from(`${magic}\0\0\0\x08`, "latin1"))).toBe("tiff");
    }
    const big = await readFile(
      path.join(
        await put(
          (await workspace()).dir,
          "b.tif",
          handTiff({ big: true, le: false, width: 2, height: 2, rgb: Buffer.alloc(12) }),
        ),
      ),
    );
    expect(sniffImageType(big)).toBe("tiff");
  });
});
