// Issue 25 item 4: a small JPEG is read and decoded in one call into the binding (readThumbnail). Every
// photo must be decided as by the old path (readEnds, then thumbnail() of the bytes read): the same verdict,
// entry, thumbnail and measures, damaged photos included; and a file that changes while it is read is
// judged by what was read, as readEnds judges it.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import pLimit from "p-limit";
import sharp from "sharp";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import { HeldBytes } from "../../src/prepare/heldBytes.js";
import { prepareWorkOrder } from "../../src/prepare/prepare.js";
import type { PrepareContext } from "../../src/prepare/prepareContext.js";
import { readEndsDecoding } from "../../src/prepare/readEnds.js";
import { tempDir } from "../helpers.js";
import { jpegShapes, plannedJpegs, writtenOutcome } from "../prepareHelpers.js";

// (the binding as it is, or as one built before readThumbnail: `hide`; `calls` counts the one-call reads)
const binding = vi.hoisted(() => ({ hide: false, calls: 0 }));
vi.mock("../../src/convert/heicDecoder.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/convert/heicDecoder.js")>();
  return {
    ...real,
    nativeBinding: () => {
      const b = real.nativeBinding();
      if (!b) return b;
      const { thumbnail, measure, optimise, readThumbnail } = b;
      if (binding.hide || !readThumbnail) return { thumbnail, measure, optimise };
      return {
        thumbnail,
        measure,
        optimise,
        readThumbnail: async (...args: Parameters<typeof readThumbnail>) => {
          binding.calls++;
          return readThumbnail(...args);
        },
      };
    },
  };
});

const config = parseConfig({});

function context(): PrepareContext {
  return {
    images: config.images,
    checks: config.images.checks,
    omitEmptyMetadata: false,
    thumbs: true,
    heic: {} as HeicDecoder,
    photoLimit: pLimit(2),
    progress: { photosDone: 0, photosTotal: 0, bytesDone: 0 },
    log: { info() {}, warn() {}, error() {}, debug() {} } as never,
    heldPhotos: new HeldBytes(64 << 20),
    heldThumbs: new HeldBytes(32 << 20),
  };
}

/** Prepares the files with the binding as it is and as one built before readThumbnail: both outcomes. */
async function both(dir: string, files: { name: string; bytes: Buffer }[], run: string) {
  for (const f of files) await writeFile(path.join(dir, f.name), f.bytes);
  const wo = plannedJpegs(
    dir,
    files.map((f) => ({ name: f.name, size: f.bytes.length })),
  );
  binding.hide = false;
  const calls = binding.calls;
  const ctx = context();
  const oneCall = await writtenOutcome(await prepareWorkOrder(wo, ctx, path.join(dir, `spool-a${run}`)), dir, `a${run}`, {
    photos: true,
  });
  const used = binding.calls - calls;
  expect(ctx.heldPhotos!.inUse).toBe(0);
  binding.hide = true;
  try {
    const old = await writtenOutcome(await prepareWorkOrder(wo, context(), path.join(dir, `spool-b${run}`)), dir, `b${run}`, {
      photos: true,
    });
    return { oneCall, old, used };
  } finally {
    binding.hide = false;
  }
}

/** Photos of several shapes (a CMYK one too), and the project's sample photos. */
async function bases(): Promise<Buffer[]> {
  const shapes = await jpegShapes();
  const samples = [
    "sample-input/WO_100231/cabinet_front-0.jpeg",
    "sample-input/WO_100231/meter_reading/IMG_4502.jpg",
    "sample-input/WO_100233/cabinet_inside/DSC_0012.jpg",
  ];
  return [
    ...shapes,
    await sharp(shapes[0]!).toColourspace("cmyk").jpeg({ quality: 80 }).toBuffer(),
    ...(await Promise.all(samples.map((s) => readFile(s)))),
  ];
}

/** Damage and quirks: bytes set (header, scan), cut short, something appended, a JFIF version decoders do not know. */
function variants(photo: Buffer): Buffer[] {
  const set = (at: number, value: number) => {
    const b = Buffer.from(photo);
    b[at] = value;
    return b;
  };
  const jfif = photo.indexOf("JFIF\0");
  return [
    photo,
    photo.subarray(0, Math.floor(photo.length / 2)),
    photo.subarray(0, photo.length - 2),
    Buffer.concat([photo, Buffer.from("trailer")]),
    Buffer.concat([photo, Buffer.from([0, 0, 0xff, 0xd9])]),
    set(Math.floor(photo.length * 0.6), 0xff),
    set(Math.floor(photo.length * 0.7), 0x00),
    set(3, 0x00),
    ...(jfif > 0 ? [set(jfif + 5, 3)] : []),
  ];
}

let photos: Buffer[];
beforeAll(async () => {
  photos = await bases();
});

describe("a small JPEG read and decoded in one call (prepare/copyAsIs.ts readPhoto)", () => {
  it("is decided as by the old path: verdict, entry, thumbnail and measures, on the fixtures and their damaged variants", async () => {
    const dir = await tempDir("wopack-one-call-");
    const files = photos.flatMap((p, i) => variants(p).map((bytes, k) => ({ name: `p${i}-${k}.jpg`, bytes })));
    let used = 0;
    const packed = new Set<string>();
    // (one photo a work order: a refused photo would hide the others' entries)
    for (const file of files) {
      const both_ = await both(dir, [file], file.name);
      expect(both_.oneCall, file.name).toEqual(both_.old);
      used += both_.used;
      if ("entries" in both_.oneCall) packed.add(file.name);
    }
    expect(used, "every photo went through the one call").toBe(files.length);
    // (and it says something: most are packed, the damaged refused)
    expect(packed.size).toBeGreaterThan(files.length / 2);
    expect(packed.size).toBeLessThan(files.length);
  }, 120_000);

  it("the same, photo by photo, over generated damage (one photo a work order: a refusal hides nothing)", async () => {
    const dir = await tempDir("wopack-one-call-gen-");
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.option(fc.nat()),
        async (i, sets, cut) => {
          const bytes = Buffer.from(photos[i]!);
          for (const [at, v] of sets) bytes[at % bytes.length] = v;
          const photo = cut === null ? bytes : bytes.subarray(0, 2 + (cut % bytes.length));
          run++;
          const { oneCall, old } = await both(dir, [{ name: `g${run}.jpg`, bytes: photo }], `g${run}`);
          expect(oneCall).toEqual(old);
        },
      ),
      { numRuns: 60, seed: 2504 },
    );
  }, 180_000);

  it("a file that shrinks between its fstat and its read: the native read gives what was there, and decodes nothing", async () => {
    // (a sysfs file says 4096 bytes and holds fewer: to the read, one cut short after its fstat)
    const file = "/sys/kernel/mm/transparent_hugepage/enabled";
    const read = (await import("../../src/convert/heicDecoder.js")).nativeBinding()!.readThumbnail!;
    const got = await read(file, Buffer.alloc(8192), 256, 60, 1e8, 2);
    expect(got.size).toBe(4096);
    expect(got.bytesRead).toBeGreaterThan(0);
    expect(got.bytesRead).toBeLessThan(got.size);
    expect(got.thumbnail ?? got.error).toBeUndefined();
    // and such a read is judged as readEnds judges a short read: what was read, nothing held
    const held = new HeldBytes(1 << 20);
    const short = await readEndsDecoding("x.jpg", held, 4096, async (_f, into) => {
      photos[0]!.copy(into, 0, 0, 1000);
      return { size: 4096, mtimeMs: 1, bytesRead: 1000 };
    });
    expect(short?.ends.whole).toBeUndefined();
    expect(short?.ends.head.length).toBe(1000);
    expect(held.inUse).toBe(0);
  });

  it("a file that shrank or grew since the scan, the old path's verdict", async () => {
    const dir = await tempDir("wopack-one-call-changed-");
    const bytes = photos[0]!;
    for (const [name, size] of [
      ["shrank.jpg", bytes.length + 100],
      ["grew.jpg", bytes.length - 100],
      ["huge.jpg", 2 << 20],
    ] as const) {
      await writeFile(path.join(dir, name), bytes);
      const wo = plannedJpegs(dir, [{ name, size }]);
      const oneCall = await writtenOutcome(
        await prepareWorkOrder(wo, context(), path.join(dir, `spool-a-${name}`)),
        dir,
        `a-${name}`,
        { photos: true },
      );
      binding.hide = true;
      const old = await writtenOutcome(
        await prepareWorkOrder(wo, context(), path.join(dir, `spool-b-${name}`)),
        dir,
        `b-${name}`,
        { photos: true },
      );
      binding.hide = false;
      expect(oneCall).toEqual(old);
      expect("entries" in oneCall).toBe(true);
    }
  });

  it("a file that vanished before its read: the old path's verdict", async () => {
    const dir = await tempDir("wopack-one-call-gone-");
    const wo = plannedJpegs(dir, [{ name: "gone.jpg", size: photos[0]!.length }]);
    binding.hide = false;
    const oneCall = await prepareWorkOrder(wo, context(), path.join(dir, "spool-a"));
    binding.hide = true;
    const old = await prepareWorkOrder(wo, context(), path.join(dir, "spool-b"));
    binding.hide = false;
    expect(await writtenOutcome(oneCall, dir, "a", { photos: true })).toEqual(
      await writtenOutcome(old, dir, "b", { photos: true }),
    );
  });
});
