// Issue 12 §1: every JPEG and PNG packed as it is has its pixels decoded once. Damaged picture data (the
// kind a structure check passes) refuses its work order; a decoder's benign remark is a warning at most.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import zlib from "node:zlib";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { checkPixels, decoderReadyJpeg } from "../src/convert/pixels.js";
import { archivesIn, execFileP, put, readZip, tempDir, wopack, workspace } from "./helpers.js";

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
  const dir = await tempDir("wopack-rst-");
  const src = path.join(dir, "in.jpg");
  await writeFile(src, plain);
  const { stdout } = await execFileP("jpegtran", ["-restart", "1", "-copy", "all", src], {
    encoding: "buffer",
    maxBuffer: 64 << 20,
  });
  return stdout as unknown as Buffer;
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
const cases: { name: string; bytes: () => Buffer; expect: "ok" | "warning" | "damaged"; caught?: string }[] = [
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

describe("checkPixels: a table of damaged and benign images", () => {
  it.each(cases)("$name: $expect", async ({ bytes, expect: want }) => {
    const verdict = await checkPixels("wo/photo", bytes());
    if (want === "damaged") {
      expect("problem" in verdict && verdict.problem.code).toBe("E_IMAGE_DAMAGED");
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
    const many = cases.flatMap((c) => Array.from({ length: 4 }, () => c));
    const verdicts = await Promise.all(many.map((c) => checkPixels("wo/photo", c.bytes())));
    expect(verdicts.map((v) => ("problem" in v ? "damaged" : v.warnings.length ? "warning" : "ok"))).toEqual(
      many.map((c) => c.expect),
    );
  });

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

describe("pack and validate decode every photo copied as is", () => {
  it("refuses the damaged ones with a code, packs the benign ones with a warning; verify: structure lets them through", async () => {
    const ws = await workspace();
    for (const [i, c] of cases.entries()) {
      const ext = c.name.includes("PNG") ? "png" : "jpg";
      await put(ws.staging, `WO_${i}/photo.${ext}`, c.bytes());
    }
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json", "--no-review"]);
    const result = JSON.parse(run.stdout);
    for (const [i, c] of cases.entries()) {
      const refused = result.refused.find((r: { id: string }) => r.id === `WO_${i}`);
      const packed = result.packed.find((p: { id: string }) => p.id === `WO_${i}`);
      if (c.expect === "damaged") {
        expect(
          refused?.problems.map((p: { code: string }) => p.code),
          c.name,
        ).toEqual([c.caught ?? "E_IMAGE_DAMAGED"]);
        if (!c.caught) expect(refused.problems[0].hint).toMatch(/replace it/);
      } else {
        expect(packed, `${c.name}: ${JSON.stringify(refused ?? result.pending)}`).toBeDefined();
        const codes = packed.warnings.map((w: { code: string }) => w.code);
        expect(codes, c.name).toEqual(c.expect === "warning" ? ["W_IMAGE_HEADER_QUIRK"] : []);
        // the packed photo is the source byte for byte, its size in the report from the decode
        expect(packed.entries[0].width).toBeGreaterThan(0);
      }
    }
    expect(run.code).toBe(1);
    const [archive] = await archivesIn(ws.out);
    const names = (await readZip(archive!)).map((e) => e.name.split("/")[0]);
    expect(new Set(names).size).toBe(cases.filter((c) => c.expect !== "damaged").length);

    // validate <archive> decodes too: a zip made by another tool with the damaged photos in it
    const zipDir = await tempDir("wopack-zip-");
    for (const [i, c] of cases.entries())
      await put(zipDir, `WO_${i}/photo-${i}.${c.name.includes("PNG") ? "png" : "jpg"}`, c.bytes());
    await execFileP("zip", ["-qr0", "../other.zip", "."], { cwd: zipDir });
    const checked = await wopack(["validate", path.join(zipDir, "..", "other.zip"), "--json"]);
    const damaged = JSON.parse(checked.stdout).problems.filter((p: { code: string }) => p.code === "E_IMAGE_DAMAGED");
    expect(damaged.length).toBe(cases.filter((c) => c.expect === "damaged" && !c.caught).length);

    // a site that trusts its cameras: structure only, and the flipped JPEG goes through
    const trusting = await workspace();
    await put(trusting.staging, "WO_F/photo.jpg", flipped(jpeg, 40));
    await writeFile(path.join(trusting.dir, "wopack.config.json"), JSON.stringify({ images: { verify: "structure" } }));
    const loose = await wopack(["pack", trusting.staging, "--out", trusting.out, "--json"], { cwd: trusting.dir });
    expect(JSON.parse(loose.stdout).packed.map((p: { id: string }) => p.id)).toEqual(["WO_F"]);
  });
});
