// Issue 25 item 2: a small JPEG copied as is is read once, its header taken from the native decode that
// checks its pixels, and its archive entry written from the bytes read. Every photo must be decided as
// before: where the native decode is clean, libvips' header read would have said the same; where it is not,
// the photo is judged the old way. And a photo held in memory makes the same entry as one copied from
// its file (cut at the same end, same CRC, same report).
import { existsSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import pLimit from "p-limit";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { nativeBinding } from "../../src/convert/heicDecoder.js";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import { checkAsIs } from "../../src/convert/integrity.js";
import { checkPixels, cleanNativeDecode } from "../../src/convert/pixels.js";
import { HeldBytes } from "../../src/prepare/heldBytes.js";
import { checkPhotos, prepareWorkOrder } from "../../src/prepare/prepare.js";
import type { PrepareContext } from "../../src/prepare/prepareContext.js";
import { tempDir } from "../helpers.js";
import { jpegShapes, plannedJpegs, writtenOutcome } from "../prepareHelpers.js";

const settings = { ...parseConfig({}).images };

/** A photo changed: bytes set anywhere (header, EXIF, scan), cut short, or something appended. */
const mutation = (length: number) =>
  fc.record({
    // (most photos are intact or nearly so: a property over only broken ones would say little of the others)
    set: fc.oneof(
      { arbitrary: fc.constant<[number, number][]>([]), weight: 2 },
      fc.array(fc.tuple(fc.integer({ min: 0, max: Math.min(length - 1, 700) }), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 3,
      }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: length - 1 }), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 3,
      }),
    ),
    cut: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, fc.integer({ min: 2, max: length })),
    append: fc.oneof(
      { arbitrary: fc.constant(Buffer.alloc(0)), weight: 2 },
      fc.integer({ min: 1, max: 40 }).map((k) => Buffer.alloc(k)),
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.uint8Array({ maxLength: 50 }).map((b) => Buffer.concat([Buffer.from(b), Buffer.from([0xff, 0xd9])])),
    ),
  });

function mutate(photo: Buffer, m: { set: [number, number][]; cut: number | undefined; append: Buffer }): Buffer {
  const out = Buffer.from(photo);
  for (const [at, value] of m.set) out[at] = value;
  return Buffer.concat([out.subarray(0, m.cut ?? out.length), m.append]);
}

function ends(bytes: Buffer) {
  return { head: bytes.subarray(0, 256 * 1024), tail: bytes.subarray(Math.max(0, bytes.length - 64 * 1024)), size: bytes.length };
}

function context(held: boolean): PrepareContext {
  return {
    images: settings,
    omitEmptyMetadata: false,
    thumbs: true,
    heic: {} as HeicDecoder,
    photoLimit: pLimit(2),
    progress: { photosDone: 0, photosTotal: 0, bytesDone: 0 },
    log: { info() {}, warn() {}, error() {}, debug() {} } as never,
    ...(held ? { heldPhotos: new HeldBytes(64 << 20), heldThumbs: new HeldBytes(32 << 20) } : {}),
  };
}

let photos: Buffer[];
beforeAll(async () => {
  expect(nativeBinding()?.thumbnail, "the native binding is built").toBeTypeOf("function");
  photos = await jpegShapes();
});

describe("a JPEG judged from its native decode (prepare/prepare.ts judgeAsIs)", () => {
  it("where the native decode is clean, libvips' header read and checkPixels say the same (generated)", async () => {
    let clean = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 }).chain((i) => fc.tuple(fc.constant(i), mutation(photos[i]!.length))),
        fc.constantFrom(1e8, 320 * 240, 320 * 240 - 1),
        async ([i, m], maxPixels) => {
          const bytes = mutate(photos[i]!, m);
          const limits = { ...settings, maxPixels };
          const decoded = await cleanNativeDecode("a.jpg", bytes, maxPixels);
          if (!decoded) return;
          clean++;
          // the header libjpeg read is the one libvips reads (what the old path judged the size by)
          const meta = await sharp(ends(bytes).head, { limitInputPixels: false })
            .metadata()
            .catch(() => undefined);
          expect(meta && [meta.width, meta.height]).toEqual([decoded.thumb.width, decoded.thumb.height]);
          const byLibvips = await checkAsIs("a.jpg", "jpeg", ends(bytes), limits);
          expect(await checkAsIs("a.jpg", "jpeg", ends(bytes), limits, decoded.thumb)).toEqual(byLibvips);
          const old = await checkPixels("a.jpg", bytes);
          expect("problem" in old ? old.problem : old.warnings).toEqual(decoded.warnings);
          if (!("problem" in old)) {
            expect({ w: decoded.thumb.width, h: decoded.thumb.height, o: decoded.thumb.orientation }).toEqual({
              w: old.thumb.width,
              h: old.thumb.height,
              o: old.thumb.orientation,
            });
          }
        },
      ),
      { numRuns: 150, seed: 25 },
    );
    expect(clean, "enough of the generated photos decode cleanly to say something").toBeGreaterThan(30);
  }, 120_000);

  it("a photo held in memory makes the same entry, report, warnings and thumbnail as one copied from its file (generated)", async () => {
    const dir = await tempDir("wopack-one-read-");
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.integer({ min: 0, max: 4 }).chain((i) => fc.tuple(fc.constant(i), mutation(photos[i]!.length))),
          { minLength: 1, maxLength: 3 },
        ),
        async (list) => {
          const files = list.map((_, k) => `p${run}-${k}.jpg`);
          run++;
          for (const [k, [i, m]] of list.entries()) await writeFile(path.join(dir, files[k]!), mutate(photos[i]!, m));
          const wo = plannedJpegs(
            dir,
            files.map((name) => ({ name, size: 0 })),
          );
          const held = context(true);
          const fromMemory = await writtenOutcome(
            await prepareWorkOrder(wo, held, path.join(dir, `spool-a${run}`)),
            dir,
            `a${run}`,
          );
          const fromFile = await writtenOutcome(
            await prepareWorkOrder(wo, context(false), path.join(dir, `spool-b${run}`)),
            dir,
            `b${run}`,
          );
          expect(fromMemory).toEqual(fromFile);
          // (written: the writer gave the photos' bytes back; a refused work order gave them back at once)
          expect(held.heldPhotos!.inUse).toBe(0);
        },
      ),
      { numRuns: 60, seed: 2512 },
    );
  }, 180_000);

  it("a work order has a folder in the spool only once it writes a file there (its thumbnails past the memory bound)", async () => {
    const dir = await tempDir("wopack-one-read-spool-");
    const files = ["a.jpg", "b.jpg"];
    for (const [i, f] of files.entries()) await writeFile(path.join(dir, f), photos[i]!);
    const spool = path.join(dir, "spool");
    const inMemory = await prepareWorkOrder(
      plannedJpegs(
        dir,
        files.map((name) => ({ name, size: 0 })),
      ),
      context(true),
      spool,
    );
    expect("entries" in inMemory && [...inMemory.thumbs.values()].every(Buffer.isBuffer)).toBe(true);
    expect(existsSync(path.join(spool, "WO_1"))).toBe(false);
    const spooled = await prepareWorkOrder(
      plannedJpegs(
        dir,
        files.map((name) => ({ name, size: 0 })),
      ),
      context(false),
      spool,
    );
    expect("entries" in spooled && [...spooled.thumbs.values()].every((t) => typeof t === "string")).toBe(true);
    expect((await readdir(path.join(spool, "WO_1"))).sort()).toEqual(["meter-0.thumb.jpg", "meter-1.thumb.jpg"]);
  });

  it("what a check reads is given back whatever becomes of the photo: packed, refused, or only checked (a refused work order's photos)", async () => {
    const dir = await tempDir("wopack-one-read-back-");
    const files = ["intact.jpg", "cut.jpg", "trailer.jpg"];
    await writeFile(path.join(dir, files[0]!), photos[0]!);
    await writeFile(path.join(dir, files[1]!), photos[0]!.subarray(0, 4000));
    await writeFile(path.join(dir, files[2]!), Buffer.concat([photos[1]!, Buffer.from("trailer")]));
    const ctx = context(true);
    expect(
      await checkPhotos(
        [
          {
            ...plannedJpegs(
              dir,
              files.map((name) => ({ name, size: 0 })),
            ),
            id: "WO_9",
          },
        ],
        ctx,
      ),
    ).toHaveLength(1);
    expect(ctx.heldPhotos!.inUse).toBe(0);
    const refused = await prepareWorkOrder(
      plannedJpegs(
        dir,
        files.map((name) => ({ name, size: 0 })),
      ),
      ctx,
      path.join(dir, "spool"),
    );
    expect("problems" in refused).toBe(true);
    expect(ctx.heldPhotos!.inUse).toBe(0);
    expect(ctx.heldThumbs!.inUse).toBe(0);
  });
});
