// The scan reads each file's first 256 KB through the native binding's readHead (one job on its thread, where
// open, read and close on libuv's pool were three hand-overs a file). Every file's facts must be what the
// fs path reads (a binding built before readHead, or none), whatever the file's size against the 256 KB
// read; a file that cannot be read is read again by the fs path, for the error's code.
import { stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it, vi } from "vitest";
import { nativeBinding as realBinding } from "../../src/convert/heicDecoder.js";
import { readFileFacts, type ScannedEntry } from "../../src/scan/scan.js";
import { tempDir } from "../helpers.js";

// (the binding as it is, or as one built before readHead: `hide`; `calls` counts its head reads)
const binding = vi.hoisted(() => ({ hide: false, calls: 0 }));
vi.mock("../../src/convert/heicDecoder.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../src/convert/heicDecoder.js")>();
  return {
    ...real,
    nativeBinding: () => {
      const b = real.nativeBinding();
      if (!b?.readHead) return b;
      const { readHead, ...rest } = b;
      if (binding.hide) return rest;
      return {
        ...rest,
        readHead: (...args: Parameters<typeof readHead>) => {
          binding.calls++;
          return readHead(...args);
        },
      };
    },
  };
});

const HEAD = 256 * 1024;
const DATE = "2023:07:14 09:08:07";

/** A JPEG with a capture date, `pad` bytes of APP15 segments before its EXIF (pushing it past the 256 KB read). */
async function datedJpeg(pad: number): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#a52" } })
    .withExif({ IFD2: { DateTimeOriginal: DATE } })
    .jpeg()
    .toBuffer();
  const segments: Buffer[] = [];
  for (let left = pad; left > 0; left -= 65533) {
    const n = Math.min(65533, left);
    const seg = Buffer.alloc(n + 4, 0x20);
    seg.writeUInt16BE(0xffef, 0);
    seg.writeUInt16BE(n + 2, 2);
    segments.push(seg);
  }
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

async function factsBothWays(file: string) {
  const st = await stat(file).catch(() => undefined);
  const entry: ScannedEntry = {
    rel: `WO_1/${path.basename(file)}`,
    abs: file,
    kind: "file",
    size: st?.size ?? 0,
    mtimeMs: st?.mtimeMs ?? 0,
  };
  binding.hide = false;
  const before = binding.calls;
  const native = await readFileFacts(entry);
  const called = binding.calls - before;
  binding.hide = true;
  const fsRead = await readFileFacts(entry);
  binding.hide = false;
  return { native, fsRead, called };
}

describe("the scan's head read through the binding", () => {
  it.skipIf(!realBinding()?.readHead)(
    "reads a file's first bytes with its fstat's size and mtime, whatever its size",
    async () => {
      const dir = await tempDir("readhead-");
      const readHead = realBinding()!.readHead!;
      for (const size of [0, 1, 4095, HEAD - 1, HEAD, HEAD + 1, 3 * HEAD + 17]) {
        const file = path.join(dir, `f${size}`);
        const bytes = Buffer.alloc(size);
        for (let i = 0; i < size; i++) bytes[i] = (i * 131 + size) & 0xff;
        await writeFile(file, bytes);
        await utimes(file, 1_700_000_000.25, 1_700_000_000.25);
        const into = Buffer.alloc(HEAD, 0xee);
        const got = await readHead(file, into);
        const st = await stat(file);
        expect(got).toEqual({ size, mtimeMs: st.mtimeMs, bytesRead: Math.min(size, HEAD) });
        expect(into.subarray(0, got.bytesRead).equals(bytes.subarray(0, HEAD))).toBe(true);
      }
      await expect(readHead(path.join(dir, "missing"), Buffer.alloc(16))).rejects.toMatchObject({ code: "E_READ" });
    },
  );

  it.skipIf(!realBinding()?.readHead)("gives every file the facts the fs path reads", async () => {
    const dir = await tempDir("readhead-facts-");
    const files: Record<string, Buffer> = {
      "small.jpg": await datedJpeg(0),
      "exif-near-the-mark.jpg": await datedJpeg(HEAD - 200),
      "exif-past-the-mark.jpg": await datedJpeg(HEAD + 1000),
      "tile.png": await sharp({ create: { width: 33, height: 17, channels: 4, background: "#0a0" } })
        .png()
        .toBuffer(),
      "empty.jpg": Buffer.alloc(0),
      "text.jpg": Buffer.from("not a photo at all"),
      "meta.json": Buffer.from('{"site":"north"}'),
    };
    for (const [name, bytes] of Object.entries(files)) await writeFile(path.join(dir, name), bytes);
    const dated = [];
    for (const name of [...Object.keys(files), "vanished.jpg"]) {
      const { native, fsRead, called } = await factsBothWays(path.join(dir, name));
      expect(native, name).toEqual(fsRead);
      // (the binding was asked, except for JSON, which is read whole)
      expect(called, name).toBe(name.endsWith(".json") ? 0 : 1);
      if (native.captureDate) dated.push(name);
    }
    // (an EXIF block past the first 256 KB is not looked for: scan.captureDate's cases)
    expect(dated.sort()).toEqual(["exif-near-the-mark.jpg", "small.jpg"]);
    const vanished = await factsBothWays(path.join(dir, "vanished.jpg"));
    expect(vanished.native).toMatchObject({ type: null, vanished: true, readError: expect.stringMatching(/^ENOENT: /) });
  });
});
