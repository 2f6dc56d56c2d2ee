// A JPEG copied as is ends where its image ends, even when what follows happens to end in FF D9; the cut is
// made by the archive writer as it copies, checked by a reader that is not the writer.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { writeZip, type ZipEntrySource } from "../../src/archive/write.js";
import { archivesIn, put, readZip, tempDir, testWithThirdPartyTools, wopack, workspace } from "../helpers.js";

const MB = 1024 * 1024;

/** JPEG-shaped bytes: SOI, a scan header at 20, `length` bytes of scan data without FF D9, then EOI. */
function fakeJpeg(length: number, seed: number): Buffer {
  const b = Buffer.alloc(20 + length + 2);
  b.set([0xff, 0xd8, 0xff, 0xfe, 0x00, 0x0e], 0); // SOI, a comment segment of 12 bytes
  b.set([0xff, 0xda], 20 - 2 - 0); // (the scan marker sits at 18; its "header" runs into the data)
  let x = seed >>> 0 || 1;
  for (let i = 20; i < 20 + length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const v = x & 255;
    b[i] = v === 0xff ? 0xfe : v; // scan data never holds a bare FF D9
  }
  b.set([0xff, 0xd9], 20 + length);
  return b;
}

describe("a JPEG followed by other data (§7)", () => {
  it("the writer cuts the entry at the image's end, wherever the end falls in its copy chunks (property)", async () => {
    const dir = await tempDir("wopack-trailer-");
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        // image ends near the writer's 1 MB chunk boundary, or anywhere small
        fc.oneof(fc.integer({ min: MB - 30, max: MB + 10 }), fc.integer({ min: 1, max: 5000 })),
        fc.oneof(
          fc.constant(Buffer.alloc(0)),
          fc.integer({ min: 1, max: 64 }).map((k) => Buffer.alloc(k)), // zero padding: kept
          fc
            .uint8Array({ minLength: 1, maxLength: 3000 })
            .map((a) => Buffer.concat([Buffer.from(a), Buffer.from([1, 0xff, 0xd9])])),
          fc.integer({ min: 1, max: 3 * MB }).map((k) => Buffer.concat([Buffer.alloc(k), Buffer.from([7, 0xff, 0xd9])])),
        ),
        fc.integer(),
        async (length, trailer, seed) => {
          const image = fakeJpeg(length - 20 > 0 ? length - 20 : 1, seed);
          const file = path.join(dir, `${n}.jpg`);
          await writeFile(file, Buffer.concat([image, trailer]));
          const zip = path.join(dir, `${n++}.zip`);
          const entry: ZipEntrySource = {
            name: "WO_1/meter-0.jpg",
            file,
            store: true,
            size: image.length + trailer.length,
            jpegScanFrom: 18,
          };
          await writeZip(zip, [entry, { name: "WO_1/metadata.json", data: Buffer.from("{}"), store: false, size: 2 }]);
          const expected = trailer.some((b) => b !== 0) ? image : Buffer.concat([image, trailer]);
          const read = await readZip(zip);
          expect(read.map((e) => e.name)).toEqual(["WO_1/meter-0.jpg", "WO_1/metadata.json"]);
          expect(read[0]!.data.equals(expected)).toBe(true);
          expect(entry.size).toBe(expected.length);
          expect(entry.trimmed ?? 0).toBe(image.length + trailer.length - expected.length);
        },
      ),
      {
        numRuns: 40,
        // the EOI split across two copy chunks (FF the last byte of the first), with a trailer and without
        examples: [
          [MB - 1, Buffer.from([1, 2, 0xff, 0xd9]), 7],
          [MB - 1, Buffer.alloc(0), 7],
          [MB - 2, Buffer.from([9, 0xff, 0xd9]), 3],
        ],
      },
    );
  });

  it("pack copies a photo with an appended picture as the photo alone, says so, and validate accepts the archive", async () => {
    const ws = await workspace();
    const photo = await sharp({ create: { width: 300, height: 200, channels: 3, background: "#246" } })
      .jpeg({ quality: 90 })
      .toBuffer();
    const extra = await sharp({ create: { width: 40, height: 30, channels: 3, background: "#fff" } })
      .jpeg()
      .toBuffer(); // ends in FF D9 like the photo
    await put(ws.staging, "WO_1/meter/a.jpg", Buffer.concat([photo, extra]));
    await put(ws.staging, "WO_1/meter/b.jpg", photo);
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const [zip] = await archivesIn(ws.out);
    await testWithThirdPartyTools(zip!);
    const entries = await readZip(zip!);
    for (const e of entries.filter((x) => x.name.endsWith(".jpg"))) expect(e.data.equals(photo), e.name).toBe(true);
    const result = JSON.parse(run.stdout);
    const notes = result.packed[0].entries.map((e: { source: string; conversion?: string; bytes: number }) => [
      e.source,
      e.conversion,
      e.bytes,
    ]);
    expect(notes).toEqual(
      expect.arrayContaining([
        [
          "WO_1/meter/a.jpg",
          `jpeg copied without the ${extra.length} bytes after its end (a motion-photo video or another trailer)`,
          photo.length,
        ],
        ["WO_1/meter/b.jpg", undefined, photo.length],
      ]),
    );
    const report = JSON.parse(await (await import("node:fs/promises")).readFile(`${zip}.report.json`, "utf8"));
    expect(report.workOrders[0].entries.find((e: { source: string }) => e.source === "WO_1/meter/a.jpg").bytes).toBe(
      photo.length,
    );
    const validate = await wopack(["validate", zip!]);
    expect(validate.code, validate.stdout).toBe(0);
  });
});
