// Issue 25 item 4: pack starts a small JPEG's one-call read and decode as the staging folder is listed
// (prepare/earlyReads.ts). Preparing takes it only if it read the file as listed; a file changed between the
// listing and that read is read again by preparing, as before, and one changed after it fails the archive's
// write (its bytes in memory are no longer the file's), as a photo changed after preparing's read does.
import { stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import pLimit from "p-limit";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { writeZip } from "../../src/archive/write.js";
import { SourceChangedError } from "../../src/archive/zip.js";
import { parseConfig } from "../../src/config/load.js";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import { decodingRead } from "../../src/prepare/copyAsIs.js";
import { EarlyReads } from "../../src/prepare/earlyReads.js";
import { HeldBytes } from "../../src/prepare/heldBytes.js";
import { type Prepared, prepareWorkOrder } from "../../src/prepare/prepare.js";
import type { PrepareContext } from "../../src/prepare/prepareContext.js";
import { noiseJpeg, tempDir } from "../helpers.js";
import { plannedJpegs, writtenOutcome } from "../prepareHelpers.js";

// (`calls` counts the one-call reads into the binding)
const binding = vi.hoisted(() => ({ calls: 0 }));
vi.mock("../../src/convert/heicDecoder.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/convert/heicDecoder.js")>();
  return {
    ...real,
    nativeBinding: () => {
      const b = real.nativeBinding();
      if (!b?.readThumbnail) return b;
      // (the binding's functions are not enumerable: named one by one)
      const { thumbnail, measure, optimise, readThumbnail } = b;
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

function context(early: boolean): PrepareContext {
  const heldPhotos = new HeldBytes(64 << 20);
  return {
    images: config.images,
    checks: config.images.checks,
    omitEmptyMetadata: false,
    thumbs: true,
    heic: {} as HeicDecoder,
    photoLimit: pLimit(2),
    progress: { photosDone: 0, photosTotal: 0, bytesDone: 0 },
    log: { info() {}, warn() {}, error() {}, debug() {} } as never,
    heldPhotos,
    heldThumbs: new HeldBytes(32 << 20),
    ...(early
      ? { earlyReads: new EarlyReads(heldPhotos, 32 << 20, (size) => decodingRead(config.images, config.images.checks, size)) }
      : {}),
  };
}

let dir: string;
let photo: Buffer;
let other: Buffer;
beforeAll(async () => {
  dir = await tempDir();
  photo = await noiseJpeg(320, 240, 7, 90);
  // (another picture of the same length: a change the size does not show)
  other = Buffer.from(photo);
  other.fill(0x55, 2000, 2400);
});

/** The photo as listed (its size and mtime), written at `name`. */
async function listed(name: string, bytes: Buffer) {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  await utimes(file, 1_700_000_000, 1_700_000_000);
  const st = await stat(file);
  return { file, size: st.size, mtimeMs: st.mtimeMs, wo: plannedJpegs(dir, [{ name, size: st.size }]) };
}

/** Another picture of the same length at `file`, with another mtime. */
async function changed(file: string) {
  await writeFile(file, other);
  await utimes(file, 1_700_000_100, 1_700_000_100);
}

describe("a small JPEG read and decoded as it is listed", () => {
  it("is taken by preparing (one read in all), which decides it as its own read does", async () => {
    const { file, size, mtimeMs, wo } = await listed("a.jpg", photo);
    const ctx = context(true);
    const before = binding.calls;
    ctx.earlyReads!.start(file, size, mtimeMs);
    const early = await writtenOutcome(await prepareWorkOrder(wo, ctx, path.join(dir, "spool-a")), dir, "a1", { photos: true });
    expect(binding.calls - before).toBe(1);
    expect(ctx.heldPhotos!.inUse).toBe(0);
    const own = await writtenOutcome(await prepareWorkOrder(wo, context(false), path.join(dir, "spool-b")), dir, "a2", {
      photos: true,
    });
    expect(early).toEqual(own);
  });

  it("changed between the listing and that read: read again by preparing, which packs the file as it is then", async () => {
    const { file, size, mtimeMs, wo } = await listed("b.jpg", photo);
    await changed(file);
    const ctx = context(true);
    const before = binding.calls;
    ctx.earlyReads!.start(file, size, mtimeMs);
    const early = await writtenOutcome(await prepareWorkOrder(wo, ctx, path.join(dir, "spool-c")), dir, "b1", { photos: true });
    expect(binding.calls - before).toBe(2);
    expect(ctx.heldPhotos!.inUse).toBe(0);
    const own = await writtenOutcome(await prepareWorkOrder(wo, context(false), path.join(dir, "spool-d")), dir, "b2", {
      photos: true,
    });
    expect(early).toEqual(own);
    // (not the bytes read early: those of the file as listed)
    expect((early as { zip: { data: Buffer }[] }).zip[0]!.data.equals(photo)).toBe(false);
  });

  it("changed after that read: the archive's write fails on it, as for a photo changed after preparing read it", async () => {
    const { file, size, mtimeMs, wo } = await listed("c.jpg", photo);
    const ctx = context(true);
    // (told when the early read is done, to change the file after it)
    let readDone!: () => void;
    const read = new Promise<void>((resolve) => (readDone = resolve));
    ctx.earlyReads = new EarlyReads(ctx.heldPhotos!, 32 << 20, (n) => {
      const own = decodingRead(config.images, config.images.checks, n);
      return own && ((f, into) => own(f, into).finally(readDone));
    });
    ctx.earlyReads.start(file, size, mtimeMs);
    await read;
    await changed(file);
    const prepared = (await prepareWorkOrder(wo, ctx, path.join(dir, "spool-e"))) as Prepared;
    expect(prepared.entries.length).toBeGreaterThan(0);
    await expect(writeZip(path.join(dir, "c.zip"), prepared.entries)).rejects.toBeInstanceOf(SourceChangedError);
  });

  it("not taken (its work order not packed): given back by drop()", async () => {
    const { file, size, mtimeMs } = await listed("d.jpg", photo);
    const ctx = context(true);
    ctx.earlyReads!.start(file, size, mtimeMs);
    await ctx.earlyReads!.drop();
    expect(ctx.heldPhotos!.inUse).toBe(0);
    expect(await ctx.earlyReads!.take(file)).toBeUndefined();
  });

  it("one at a time, and none started once the listing is done: preparing reads those itself", async () => {
    const a = await listed("e.jpg", photo);
    const b = await listed("f.jpg", photo);
    const ctx = context(true);
    const before = binding.calls;
    ctx.earlyReads!.start(a.file, a.size, a.mtimeMs);
    ctx.earlyReads!.start(b.file, b.size, b.mtimeMs);
    ctx.earlyReads!.listingDone();
    expect(await ctx.earlyReads!.take(b.file)).toBeUndefined();
    expect((await ctx.earlyReads!.take(a.file))?.ends.whole?.bytes.equals(photo)).toBe(true);
    expect(binding.calls - before).toBe(1);
  });
});
