// Issue 12 §1: every JPEG and PNG packed as it is has its pixels decoded once. Damaged picture data (the
// kind a structure check passes) refuses its work order; a decoder's benign remark is a warning at most.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import zlib from "node:zlib";
import fc from "fast-check";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nativeBinding } from "../../src/convert/heicDecoder.js";
import { checkPixels, decoderReadyJpeg, type PixelVerdict, thumbnailOf } from "../../src/convert/pixels.js";
import {
  archivesIn,
  besidesPhotoChecks,
  colourDistance,
  execFileP,
  put,
  quadrantColours,
  readZip,
  tempDir,
  wopack,
  workspace,
} from "../helpers.js";

/** Both JPEG decoders: the binding's libjpeg-turbo (built by `npm ci` here) and libvips, the fallback. */
const DECODERS = ["native", "sharp"] as const;
type Decoder = (typeof DECODERS)[number];

/** Runs a describe block's tests with `WOPACK_PIXEL_DECODER` set for `decoder` (in-process calls read it). */
type Packed = { id: string; warnings: { code: string }[]; entries: { width: number; conversion?: string }[] };
/** Every case of a pack's --json result decided as the case says; `packed` checks a photo packed further. */
function expectDecided(
  result: { refused: { id: string; problems: { code: string; hint: string }[] }[]; packed: Packed[]; pending: unknown },
  all: Case[],
  more: (packed: Packed, c: Case) => void,
): void {
  for (const [i, c] of all.entries()) {
    const refused = result.refused.find((r) => r.id === `WO_${i}`);
    const packed = result.packed.find((p) => p.id === `WO_${i}`);
    if (c.expect === "damaged") {
      expect(
        refused?.problems.map((p) => p.code),
        c.name,
      ).toEqual([c.caught ?? "E_IMAGE_DAMAGED"]);
      if (!c.caught) expect(refused?.problems[0]?.hint, c.name).toMatch(/replace it/);
    } else {
      expect(packed, `${c.name}: ${JSON.stringify(refused ?? result.pending)}`).toBeDefined();
      // (every case is the same picture, each in a work order of its own: the reuse check says so)
      const codes = besidesPhotoChecks(packed!.warnings).map((w) => w.code);
      expect(codes, c.name).toEqual(c.expect === "warning" ? ["W_IMAGE_HEADER_QUIRK"] : []);
      more(packed!, c);
    }
  }
}

function usingDecoder(decoder: Decoder): void {
  const before = process.env.WOPACK_PIXEL_DECODER;
  beforeAll(() => {
    // (a native run that silently fell back to libvips would test nothing new)
    if (decoder === "native") expect(nativeBinding()?.thumbnail, "the native binding is built").toBeTypeOf("function");
    process.env.WOPACK_PIXEL_DECODER = decoder;
  });
  afterAll(() => {
    if (before === undefined) delete process.env.WOPACK_PIXEL_DECODER;
    else process.env.WOPACK_PIXEL_DECODER = before;
  });
}

function verdictOf(v: PixelVerdict): "ok" | "warning" | "damaged" {
  return "problem" in v ? "damaged" : v.warnings.length ? "warning" : "ok";
}

/** A JPEG through jpegtran with these options (restart markers, progressive, ...). */
async function jpegtran(jpeg: Buffer, args: string[]): Promise<Buffer> {
  const dir = await tempDir("wopack-tran-");
  const src = path.join(dir, "in.jpg");
  await writeFile(src, jpeg);
  const { stdout } = await execFileP("jpegtran", [...args, "-copy", "all", src], {
    encoding: "buffer",
    maxBuffer: 64 << 20,
  });
  return stdout as unknown as Buffer;
}

/** A camera-like JPEG: a smooth scene with edges, EXIF, and a restart marker after every MCU row (jpegtran). */
async function cameraJpeg(width = 1600, height = 1200): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#8ab4e8"/><stop offset="1" stop-color="#f2e6c9"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/><rect y="${height * 0.6}" width="100%" height="${height * 0.4}" fill="#3d6b35"/>
    <rect x="${width * 0.4}" y="${height * 0.3}" width="${width * 0.2}" height="${height * 0.35}" fill="#777" stroke="#222" stroke-width="8"/>
    <circle cx="${width / 2}" cy="${height * 0.45}" r="${height * 0.08}" fill="#fff" stroke="#111" stroke-width="6"/></svg>`;
  const plain = await sharp(Buffer.from(svg))
    .jpeg({ quality: 92 })
    .withExif({ IFD0: { Make: "Camera", Model: "Test" } })
    .toBuffer();
  return jpegtran(plain, ["-restart", "1"]);
}

/** Where the entropy-coded data of the (only) scan starts and ends (the EOI). */
function scanBounds(jpeg: Buffer): { start: number; end: number } {
  const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
  const start = sos + 2 + jpeg.readUInt16BE(sos + 2);
  return { start, end: jpeg.lastIndexOf(Buffer.from([0xff, 0xd9])) };
}

/** Bytes flipped inside the scan, never making or breaking a marker (no 0xFF written, none touched). */
function flipped(jpeg: Buffer, count: number): Buffer {
  const out = Buffer.from(jpeg);
  const { start, end } = scanBounds(jpeg);
  let done = 0;
  for (let at = start + Math.floor((end - start) / 3); done < count && at < end; at += 97) {
    if (out[at] === 0xff || out[at - 1] === 0xff || (out[at]! ^ 0x2c) === 0xff) continue;
    out[at] = out[at]! ^ 0x2c;
    done++;
  }
  return out;
}

/** The scan cut at 40 %, the file still ending in a valid EOI: a structure check sees nothing wrong. */
function cutWithEoi(jpeg: Buffer): Buffer {
  const { start, end } = scanBounds(jpeg);
  let at = start + Math.floor((end - start) * 0.4);
  while (jpeg[at] === 0xff || jpeg[at - 1] === 0xff) at++;
  return Buffer.concat([jpeg.subarray(0, at), Buffer.from([0xff, 0xd9])]);
}

/** `junk` inserted right before the marker at `markerAt`. */
function junkBefore(jpeg: Buffer, markerAt: number, junk = Buffer.from([0x00, 0x11, 0x22])): Buffer {
  return Buffer.concat([jpeg.subarray(0, markerAt), junk, jpeg.subarray(markerAt)]);
}

function chunk(type: string, data: Buffer): Buffer {
  const b = Buffer.alloc(12 + data.length);
  b.writeUInt32BE(data.length, 0);
  b.write(type, 4, "latin1");
  data.copy(b, 8);
  b.writeUInt32BE(zlib.crc32(b.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
  return b;
}

/** An APP0 JFIF 1.1 segment (sharp writes none), for the version case. */
const JFIF = Buffer.from([0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);

let jpeg: Buffer;
let png: Buffer;
/** `caught`: the structure check (end marker, header) refuses it first, with this code */
type Case = { name: string; bytes: () => Buffer; expect: "ok" | "warning" | "damaged"; caught?: string };
const cases: Case[] = [
  { name: "intact JPEG with restart markers", bytes: () => jpeg, expect: "ok" },
  { name: "JPEG with bytes flipped inside its scan", bytes: () => flipped(jpeg, 40), expect: "damaged" },
  // (one flipped byte can stay a valid Huffman code and only change a block's shade: no decoder can tell)
  { name: "JPEG whose scan is cut short but ends in a valid EOI", bytes: () => cutWithEoi(jpeg), expect: "damaged" },
  {
    name: "JPEG with junk before a restart marker",
    bytes: () => junkBefore(jpeg, jpeg.indexOf(Buffer.from([0xff, 0xd3]), scanBounds(jpeg).start)),
    expect: "damaged",
  },
  {
    // the decoder stops after the last row and never reads that far: nothing to say
    name: "JPEG with padding before its EOI",
    bytes: () => junkBefore(jpeg, scanBounds(jpeg).end),
    expect: "ok",
  },
  {
    // more than libjpeg's bit buffer reads ahead: the native decoder, which reads up to the EOI, passes
    // over it as libvips (which stops after the last row) does
    name: "JPEG with 200 bytes of padding before its EOI",
    bytes: () => junkBefore(jpeg, scanBounds(jpeg).end, Buffer.alloc(200, 0x5a)),
    expect: "ok",
  },
  {
    name: "JPEG with junk between header segments",
    bytes: () => junkBefore(jpeg, jpeg.indexOf(Buffer.from([0xff, 0xdb]))),
    expect: "warning",
  },
  {
    name: "JFIF header with an unknown version",
    bytes: () => {
      const out = Buffer.concat([jpeg.subarray(0, 2), JFIF, jpeg.subarray(2)]);
      out[2 + 9] = 5;
      return out;
    },
    expect: "warning",
  },
  {
    name: "sequential JPEG whose scan header carries progressive parameters",
    bytes: () => {
      const out = Buffer.from(jpeg);
      const sos = out.indexOf(Buffer.from([0xff, 0xda]));
      out[sos + 5 + 2 * out[sos + 4]! + 1] = 0x3e; // Se 62 instead of 63
      return out;
    },
    expect: "warning",
  },
  { name: "intact PNG", bytes: () => png, expect: "ok" },
  {
    name: "PNG with a damaged IDAT (its CRC made to match)",
    bytes: () => {
      const out = Buffer.from(png);
      const idat = out.indexOf("IDAT");
      const len = out.readUInt32BE(idat - 4);
      out[idat + 4 + Math.floor(len / 2)]! ^= 0x55;
      out.writeUInt32BE(zlib.crc32(out.subarray(idat, idat + 4 + len)) >>> 0, idat + 4 + len);
      return out;
    },
    expect: "damaged",
  },
  {
    name: "PNG cut short",
    bytes: () => png.subarray(0, Math.floor(png.length * 0.6)),
    expect: "damaged",
    caught: "E_IMAGE_TRUNCATED",
  },
  {
    name: "PNG with a text chunk whose CRC is wrong (ancillary: libpng only warns)",
    bytes: () => {
      const text = chunk("tEXt", Buffer.from("Comment\0hello"));
      text[text.length - 1]! ^= 1;
      return Buffer.concat([png.subarray(0, 33), text, png.subarray(33)]);
    },
    expect: "ok",
  },
];

beforeAll(async () => {
  jpeg = await cameraJpeg();
  png = await sharp(jpeg).resize(800).png().toBuffer();
  // the fixture is what it claims: restart markers in the scan
  expect(jpeg.indexOf(Buffer.from([0xff, 0xdd]))).toBeGreaterThan(0);
});

describe.each(DECODERS)("checkPixels with the %s JPEG decoder: a table of damaged and benign images", (decoder) => {
  usingDecoder(decoder);

  it.each(cases)("$name: $expect", async ({ name, bytes, expect: want }) => {
    const verdict = await checkPixels("wo/photo", bytes());
    if (want === "damaged") {
      expect("problem" in verdict && verdict.problem.code).toBe("E_IMAGE_DAMAGED");
      // the native decoder's words are this photo's own, and the problem quotes them
      const quoted = "problem" in verdict && /\(libjpeg: .+\)/.test(verdict.problem.message);
      expect(quoted).toBe(decoder === "native" && name.startsWith("JPEG"));
      return;
    }
    expect("thumb" in verdict, JSON.stringify(verdict)).toBe(true);
    if (!("thumb" in verdict)) return;
    expect(verdict.warnings.map((w) => w.code)).toEqual(want === "warning" ? ["W_IMAGE_HEADER_QUIRK"] : []);
    const thumb = await sharp(verdict.thumb.jpeg).metadata();
    expect(thumb.format).toBe("jpeg");
    expect(Math.max(thumb.width, thumb.height)).toBe(256);
  });

  it("gives the right verdict to each of many photos checked at once (libvips' warnings are shared by all decodes)", async () => {
    const many = cases.flatMap((c) => Array.from({ length: 8 }, () => c));
    const verdicts = await Promise.all(many.map((c) => checkPixels("wo/photo", c.bytes())));
    expect(verdicts.map(verdictOf)).toEqual(many.map((c) => c.expect));
  });

  it("turns each thumbnail upright for all 8 EXIF orientations, as libvips' rotate does", async () => {
    // four quadrants of distinct colours, wider than tall
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="800">
      <rect width="600" height="400" fill="#d02020"/><rect x="600" width="600" height="400" fill="#20b020"/>
      <rect y="400" width="600" height="400" fill="#2040d0"/><rect x="600" y="400" width="600" height="400" fill="#e0e020"/></svg>`;
    const flat = await sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toBuffer();
    for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const photo = await sharp(flat).withMetadata({ orientation }).jpeg({ quality: 90 }).toBuffer();
      const verdict = await checkPixels("wo/photo", photo);
      expect("thumb" in verdict).toBe(true);
      if (!("thumb" in verdict)) return;
      expect(verdict.thumb).toMatchObject({ width: 1200, height: 800, orientation });
      const want = await sharp(photo).rotate().resize(256, 256, { fit: "inside" }).jpeg().toBuffer();
      const [got, wanted] = [await sharp(verdict.thumb.jpeg).metadata(), await sharp(want).metadata()];
      expect([got.width, got.height], `orientation ${orientation}`).toEqual([wanted.width, wanted.height]);
      const [ours, theirs] = [await quadrantColours(verdict.thumb.jpeg), await quadrantColours(want)];
      for (const [i, c] of ours.entries())
        expect(colourDistance(c, theirs[i]!), `orientation ${orientation}, quadrant ${i}`).toBeLessThan(16);
      // a converted photo's thumbnail (made from its JPEG in memory) is the same picture
      expect(await quadrantColours((await thumbnailOf(photo)).jpeg)).toEqual(ours);
    }
  });
});

/** The verdict of each decoder on the same bytes (one after the other: the variable is read per call). */
async function bothVerdicts(bytes: Buffer): Promise<Record<Decoder, string>> {
  const before = process.env.WOPACK_PIXEL_DECODER;
  const out = {} as Record<Decoder, string>;
  try {
    for (const decoder of DECODERS) {
      process.env.WOPACK_PIXEL_DECODER = decoder;
      out[decoder] = verdictOf(await checkPixels("wo/photo", bytes));
    }
  } finally {
    if (before === undefined) delete process.env.WOPACK_PIXEL_DECODER;
    else process.env.WOPACK_PIXEL_DECODER = before;
  }
  return out;
}

describe("the native and the libvips decoder decide the same", () => {
  beforeAll(() => expect(nativeBinding()?.thumbnail, "the native binding is built").toBeTypeOf("function"));

  // each encoding a camera or an editor writes, each damaged in each way: a bug in one is a class
  // (`restarts`: flipped bytes in a scan without restart markers only garble the rest of it: neither
  // decoder warns unless the garbled codes run into the end marker, so only their agreement is asserted)
  const encodings: { name: string; make: () => Promise<Buffer>; restarts?: true }[] = [
    { name: "baseline, restart marker per MCU row", make: async () => jpeg, restarts: true },
    { name: "baseline, restart every 7 MCUs", make: () => jpegtran(jpeg, ["-restart", "7B"]), restarts: true },
    { name: "baseline, no restart markers", make: () => sharp(jpeg).jpeg({ quality: 90 }).toBuffer() },
    { name: "4:4:4", make: () => sharp(jpeg).jpeg({ quality: 90, chromaSubsampling: "4:4:4" }).toBuffer() },
    { name: "optimised Huffman tables", make: () => jpegtran(jpeg, ["-optimize"]) },
    { name: "progressive", make: () => jpegtran(jpeg, ["-progressive"]) },
    { name: "grayscale", make: () => jpegtran(jpeg, ["-grayscale", "-restart", "2"]), restarts: true },
    { name: "odd size (1001x667)", make: () => sharp(jpeg).resize(1001, 667, { fit: "fill" }).jpeg().toBuffer() },
  ];
  const damages: { name: string; apply: (j: Buffer) => Buffer; expect: "ok" | "damaged"; needsRestarts?: true }[] = [
    { name: "intact", apply: (j) => j, expect: "ok" },
    { name: "bytes flipped in its scan", apply: (j) => flipped(j, 40), expect: "damaged", needsRestarts: true },
    { name: "scan cut short, valid EOI", apply: cutWithEoi, expect: "damaged" },
    { name: "truncated (no EOI)", apply: (j) => j.subarray(0, Math.floor(j.length * 0.7)), expect: "damaged" },
  ];
  const table = encodings.flatMap((e) => damages.map((d) => ({ ...d, encoding: e })));
  it.each(table)("$encoding.name, $name", async ({ encoding, apply, expect: want, needsRestarts }) => {
    const bytes = apply(await encoding.make());
    const verdicts = await bothVerdicts(bytes);
    expect(verdicts.native).toBe(verdicts.sharp);
    if (!needsRestarts || encoding.restarts) expect(verdicts.native).toBe(want);
  });

  it("keeps a wide-gamut photo's colours in its thumbnail (its ICC profile goes with it; an sRGB one does not)", async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"><rect width="400" height="300" fill="#ff0000"/>
      <rect x="400" width="400" height="300" fill="#00ff00"/><rect y="300" width="400" height="300" fill="#0000ff"/>
      <rect x="400" y="300" width="400" height="300" fill="#00ffff"/></svg>`;
    for (const profile of ["p3", "srgb"]) {
      const photo = await sharp(Buffer.from(svg)).withIccProfile(profile).jpeg({ quality: 90 }).toBuffer();
      const want = await quadrantColours(await sharp(photo).resize(256, 256, { fit: "inside" }).jpeg().toBuffer());
      const verdict = await checkPixels("wo/photo", photo);
      expect("thumb" in verdict).toBe(true);
      if (!("thumb" in verdict)) return;
      const got = await quadrantColours(verdict.thumb.jpeg);
      for (const [i, c] of got.entries()) expect(colourDistance(c, want[i]!), `${profile}, quadrant ${i}`).toBeLessThan(24);
      expect((await sharp(verdict.thumb.jpeg).metadata()).icc === undefined, profile).toBe(profile === "srgb");
    }
  });

  it("decodes a photo read by its path as it decodes its bytes, whatever the files read before on that thread", async () => {
    // (the binding keeps its read buffer from one photo to the next, up to 32 MB: a smaller or cut file read
    // after a larger one must not see the larger one's bytes, and one above the bound is read all the same)
    const dir = await tempDir();
    const big = await sharp(jpeg).resize(1600).jpeg({ quality: 95 }).toBuffer();
    const small = await sharp(jpeg).resize(300).jpeg({ quality: 70 }).toBuffer();
    const cut = big.subarray(0, Math.floor(big.length * 0.6));
    // (33 MB after the end of the picture: a decoder stops at its end marker)
    const huge = Buffer.concat([small, Buffer.alloc(33 << 20, 0x55)]);
    const outcome = (p: Promise<{ width: number; height: number; jpeg: ArrayBuffer; warnings: string[] }>) =>
      p.then(
        (t) => ({ width: t.width, height: t.height, jpeg: Buffer.from(t.jpeg).toString("base64"), warnings: t.warnings }),
        (err: { code?: string }) => ({ code: err.code }),
      );
    const binding = nativeBinding()!;
    for (const [i, bytes] of [big, small, cut, huge, small, cut, big].entries()) {
      const file = path.join(dir, `${i}.jpg`);
      await writeFile(file, bytes);
      const byPath = await outcome(binding.thumbnail(file, 256, 60, 1e9));
      expect(byPath, `file ${i}`).toEqual(await outcome(binding.thumbnail(bytes, 256, 60, 1e9)));
      if (bytes === cut) expect(byPath, "a cut photo").not.toHaveProperty("warnings", []);
    }
  });

  it("leaves CMYK and 12-bit JPEGs to libvips: the binding says E_UNSUPPORTED, and the photo is checked all the same", async () => {
    const cmyk = await sharp(jpeg).resize(800).toColourspace("cmyk").jpeg({ quality: 90 }).toBuffer();
    await expect(nativeBinding()!.thumbnail(cmyk, 256, 60, 1e9)).rejects.toMatchObject({ code: "E_UNSUPPORTED" });
    expect(await bothVerdicts(cmyk)).toEqual({ native: "ok", sharp: "ok" });
    expect(await bothVerdicts(cutWithEoi(cmyk))).toEqual({ native: "damaged", sharp: "damaged" });
    // a precision other than 8 bits (here only announced in the frame header): libvips' to judge
    const twelve = Buffer.from(jpeg);
    twelve[twelve.indexOf(Buffer.from([0xff, 0xc0])) + 4] = 12;
    await expect(nativeBinding()!.thumbnail(twelve, 256, 60, 1e9)).rejects.toMatchObject({ code: "E_UNSUPPORTED" });
    const verdicts = await bothVerdicts(twelve);
    expect(verdicts.native).toBe(verdicts.sharp);
  });

  it("on JPEGs with bytes flipped anywhere in the scan (generated)", async () => {
    const plain = await sharp(jpeg).resize(400).jpeg({ quality: 85 }).toBuffer();
    const rst = await jpegtran(plain, ["-restart", "1"]);
    const { start, end } = scanBounds(rst);
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 1, max: 254 })), { minLength: 1, maxLength: 6 }),
        async (restarts, flips) => {
          const source = restarts ? rst : plain;
          const at = restarts ? { start, end } : scanBounds(plain);
          const out = Buffer.from(source);
          for (const [where, xor] of flips) {
            const i = at.start + (where % (at.end - at.start));
            // never make or break a marker: that is a structure question, not the decoders'
            if (out[i] === 0xff || out[i - 1] === 0xff || (out[i]! ^ xor) === 0xff) continue;
            out[i] = out[i]! ^ xor;
          }
          const v = await bothVerdicts(out);
          expect(v.native).toBe(v.sharp);
        },
      ),
      { seed: 2512, numRuns: 60 },
    );
  });
});

describe("decoderReadyJpeg", () => {
  it("mends only the header quirks decoders pass over, and says which", () => {
    expect(decoderReadyJpeg(jpeg).jpeg).toBe(jpeg);
    const junk = junkBefore(jpeg, jpeg.indexOf(Buffer.from([0xff, 0xdb])));
    const mended = decoderReadyJpeg(junk);
    expect(mended.jpeg.equals(jpeg)).toBe(true);
    expect(mended.notes).toEqual(["3 stray bytes between its header segments (before marker 0xdb)"]);
    // only the head of a file is enough to tell
    expect(decoderReadyJpeg(junk.subarray(0, 4096)).notes).toHaveLength(1);
  });
});

describe.each(DECODERS)("pack and validate decode every photo copied as is (%s JPEG decoder)", (decoder) => {
  const env = { WOPACK_PIXEL_DECODER: decoder };
  it("refuses the damaged ones with a code, packs the benign ones with a warning; verify: structure lets them through", async () => {
    const ws = await workspace();
    for (const [i, c] of cases.entries()) {
      const ext = c.name.includes("PNG") ? "png" : "jpg";
      await put(ws.staging, `WO_${i}/photo.${ext}`, c.bytes());
    }
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json", "--no-review"], { env });
    // (the packed photo is the source byte for byte, its size in the report from the decode)
    expectDecided(JSON.parse(run.stdout), cases, (packed) => expect(packed.entries[0]!.width).toBeGreaterThan(0));
    expect(run.code).toBe(1);
    const [archive] = await archivesIn(ws.out);
    const names = (await readZip(archive!)).map((e) => e.name.split("/")[0]);
    expect(new Set(names).size).toBe(cases.filter((c) => c.expect !== "damaged").length);

    // validate <archive> decodes too: a zip made by another tool with the damaged photos in it
    const zipDir = await tempDir("wopack-zip-");
    for (const [i, c] of cases.entries())
      await put(zipDir, `WO_${i}/photo-${i}.${c.name.includes("PNG") ? "png" : "jpg"}`, c.bytes());
    await execFileP("zip", ["-qr0", "../other.zip", "."], { cwd: zipDir });
    const checked = await wopack(["validate", path.join(zipDir, "..", "other.zip"), "--json"], { env });
    const damaged = JSON.parse(checked.stdout).problems.filter((p: { code: string }) => p.code === "E_IMAGE_DAMAGED");
    expect(damaged.length).toBe(cases.filter((c) => c.expect === "damaged" && !c.caught).length);

    // a site that trusts its cameras: structure only, and the flipped JPEG goes through
    const trusting = await workspace();
    await put(trusting.staging, "WO_F/photo.jpg", flipped(jpeg, 40));
    await writeFile(path.join(trusting.dir, "wopack.config.json"), JSON.stringify({ images: { verify: "structure" } }));
    const loose = await wopack(["pack", trusting.staging, "--out", trusting.out, "--json"], { cwd: trusting.dir, env });
    expect(JSON.parse(loose.stdout).packed.map((p: { id: string }) => p.id)).toEqual(["WO_F"]);
  });
});

// The same photos re-encoded (over the size ceiling, or the largest dimension): the conversion's own decode
// is the pixel check then, and it must decide each of them as the copy path does, with the same codes.
describe("a photo re-encoded is judged as the same photo copied as is", () => {
  it.each([
    ["--max-dimension", "300"],
    ["--max-image-size", "smallest"],
  ])("%s %s: each case of the table refused or packed as when copied, the packed ones converted", async (flag, value) => {
    const ws = await workspace();
    for (const [i, c] of cases.entries()) {
      const ext = c.name.includes("PNG") ? "png" : "jpg";
      await put(ws.staging, `WO_${i}/photo.${ext}`, c.bytes());
    }
    const limit = value === "smallest" ? String(Math.min(...cases.map((c) => c.bytes().length)) - 1) : value;
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json", "--no-review", flag, limit]);
    expectDecided(JSON.parse(run.stdout), cases, (packed, c) =>
      expect(packed.entries[0]!.conversion, c.name).toMatch(/re-encoded as jpeg/),
    );
    expect(run.code).toBe(1);
  });
});
