import { execFile, spawn, spawnSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import zlib from "node:zlib";
import sharp from "sharp";
import yauzl from "yauzl";

export const ROOT = path.resolve(import.meta.dirname, "..");
export const BIN = path.join(ROOT, "bin", "wopack.js");
export const FIXTURES = path.join(ROOT, "test", "fixtures");
export const execFileP = promisify(execFile);

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (bin/wopack.js) and collects its output. */
export function wopack(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A new temporary folder inside the run's own (test/global-setup.ts removes it at the end). */
export async function tempDir(prefix = "wopack-test-"): Promise<string> {
  return mkdtemp(path.join(process.env.WOPACK_TEST_TMP ?? tmpdir(), prefix));
}

/** A staging folder and an output folder side by side in a new temp dir. */
export async function workspace(): Promise<{ dir: string; staging: string; out: string }> {
  const dir = await tempDir();
  const staging = path.join(dir, "staging");
  await mkdir(staging);
  return { dir, staging, out: path.join(dir, "out") };
}

export async function put(root: string, rel: string, content: Buffer | string | Promise<Buffer>): Promise<string> {
  const file = path.join(root, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, await content);
  return file;
}

export async function copyFixtureTree(from: string, to: string): Promise<void> {
  await cp(from, to, { recursive: true, preserveTimestamps: true });
}

export interface ZipEntryRead {
  name: string;
  method: number;
  data: Buffer;
}

/** Reads an archive with yauzl, a reader independent of the writer (src/archive/zip.ts). */
export async function readZip(file: string): Promise<ZipEntryRead[]> {
  const zip = await new Promise<yauzl.ZipFile>((res, rej) =>
    yauzl.open(file, { lazyEntries: true }, (e, z) => (e ? rej(e) : res(z))),
  );
  const entries: ZipEntryRead[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on("error", reject);
    zip.on("end", resolve);
    zip.on("entry", (entry: yauzl.Entry) => {
      zip.openReadStream(entry, async (err, stream) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        for await (const c of stream) chunks.push(c as Buffer);
        entries.push({ name: entry.fileName, method: entry.compressionMethod, data: Buffer.concat(chunks) });
        zip.readEntry();
      });
    });
    zip.readEntry();
  });
  return entries;
}

/** The three third-party testers the issue names; each throws on a bad archive. */
export async function testWithThirdPartyTools(file: string): Promise<void> {
  await execFileP("unzip", ["-tq", file]);
  await execFileP("7z", ["t", file]);
  const { stdout } = await execFileP("python3", ["-m", "zipfile", "-t", file]);
  if (!/Done testing/.test(stdout)) throw new Error(`python zipfile: ${stdout}`);
}

export async function archivesIn(out: string): Promise<string[]> {
  return (await readdir(out))
    .filter((n) => n.endsWith(".zip"))
    .sort()
    .map((n) => path.join(out, n));
}

/** Mean colour of a region (fractions of width/height) of a decoded image. */
export async function meanColour(image: Buffer, region: { x: number; y: number; w: number; h: number }): Promise<number[]> {
  const meta = await sharp(image).metadata();
  const left = Math.floor(region.x * meta.width);
  const top = Math.floor(region.y * meta.height);
  const width = Math.max(1, Math.floor(region.w * meta.width));
  const height = Math.max(1, Math.floor(region.h * meta.height));
  // (sharp's stats() would describe the whole image, not the extracted region: average by hand)
  const { data, info } = await sharp(image)
    .extract({ left, top, width, height })
    .toColourspace("srgb")
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const sums = [0, 0, 0];
  for (let i = 0; i < data.length; i += info.channels) for (let c = 0; c < 3; c++) sums[c]! += data[i + c]!;
  return sums.map((s) => s / (data.length / info.channels));
}

/** The four quadrant centres' colours, as [TL, TR, BL, BR]. */
export async function quadrantColours(image: Buffer): Promise<number[][]> {
  const at = (x: number, y: number) => meanColour(image, { x, y, w: 0.2, h: 0.2 });
  return Promise.all([at(0.15, 0.15), at(0.65, 0.15), at(0.15, 0.65), at(0.65, 0.65)]);
}

export function colourDistance(a: number[], b: number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
}

/**
 * A 24-bit BMP with a BITMAPINFOHEADER, bottom-up rows padded to 4 bytes: the common real-world layout,
 * written by hand so that the test does not use the decoder's own encoder.
 */
export function encodeBmp(rgb: Buffer, width: number, height: number): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const size = 54 + stride * height;
  const b = Buffer.alloc(size);
  b.write("BM", 0, "latin1");
  b.writeUInt32LE(size, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  b.writeUInt32LE(stride * height, 34);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      b[row + x * 3] = rgb[i + 2]!;
      b[row + x * 3 + 1] = rgb[i + 1]!;
      b[row + x * 3 + 2] = rgb[i]!;
    }
  }
  return b;
}

/** Waits until `check` holds, polling; fails after the deadline. No fixed sleeps. */
export async function waitFor(check: () => Promise<boolean> | boolean, what: string, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * A decompression bomb: a small, valid PNG (about 120 KB) that decodes to 12000 x 10000 grey pixels
 * (120 megapixels), above the default 100-megapixel limit.
 */
export function pngBomb(width = 12_000, height = 10_000): Buffer {
  const { deflateSync } = zlib;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((width + 1) * height); // filter byte 0 + zero pixels, every row
  return Buffer.concat([
    Buffer.from("\x89PNG\r\n\x1a\n", "latin1"),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Every path under dir with its content hash and mtime, to prove a folder was left untouched. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const { readdir: rd, lstat, readFile, readlink } = await import("node:fs/promises");
  const out: Record<string, string> = {};
  async function walk(d: string, rel: string) {
    for (const name of (await rd(d)).sort()) {
      const abs = path.join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(abs);
      if (st.isDirectory()) {
        out[r + "/"] = "dir";
        await walk(abs, r);
      } else if (st.isSymbolicLink()) out[r] = `link:${await readlink(abs)}`;
      else
        out[r] = `${createHash("sha256")
          .update(await readFile(abs))
          .digest("hex")}@${st.mtimeMs}`;
    }
  }
  await walk(dir, "");
  return out;
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** RGB noise (xorshift from `start`): pictures no codec compresses much. */
export function noiseRaw(width: number, height: number, start: number): Buffer {
  const raw = Buffer.alloc(width * height * 3);
  let x = start;
  for (let i = 0; i < raw.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    raw[i] = x & 255;
  }
  return raw;
}

// (a worker's test files share this module: tables encoded the same noise photo again for every row)
const pictures = new Map<string, Promise<Buffer>>();
let picturesBytes = 0;
const PICTURES_MAX_BYTES = 128 << 20;

/** The picture `make` gives, made once a `key` while the cache has room; each caller gets its own copy to change. */
export async function madeOnce(key: string, make: () => Promise<Buffer>): Promise<Buffer> {
  let made = pictures.get(key);
  if (!made) {
    made = make();
    pictures.set(key, made);
    made.then(
      (b) => {
        if (picturesBytes + b.length > PICTURES_MAX_BYTES) pictures.delete(key);
        else picturesBytes += b.length;
      },
      () => pictures.delete(key),
    );
  }
  return Buffer.from(await made);
}

/** A JPEG of noise (xorshift), which JPEG cannot compress much: big archives from few pixels. */
export function noiseJpeg(width = 1200, height = 1000, seed = 1, quality = 95): Promise<Buffer> {
  return madeOnce(`noise.jpg ${width} ${height} ${seed} ${quality}`, () => {
    const raw = noiseRaw(width, height, (2463534242 + seed) >>> 0);
    return sharp(raw, { raw: { width, height, channels: 3 } })
      .jpeg({ quality, chromaSubsampling: "4:4:4" })
      .toBuffer();
  });
}

/** Waits until an archive is being written in out/.wopack/tmp and has reached `minBytes`. */
export async function waitForPartialArchive(out: string, minBytes: number): Promise<void> {
  const { readdir: rd, stat: st } = await import("node:fs/promises");
  const tmp = path.join(out, ".wopack", "tmp");
  await waitFor(async () => {
    const partial = (await rd(tmp).catch(() => [] as string[])).find((n) => n.endsWith(".zip.partial"));
    return partial !== undefined && (await st(path.join(tmp, partial)).catch(() => ({ size: 0 }))).size > minBytes;
  }, `an archive of ${minBytes} bytes to be part written`);
}

/** One PNG chunk: length, type, data, CRC-32 of type and data. */
function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  data.copy(out, 8);
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** One of libvips' own ICC profiles ("p3", "srgb"), as sharp attaches it. */
export async function builtinIcc(name: string): Promise<Buffer> {
  const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: "#888" } })
    .withIccProfile(name)
    .png()
    .toBuffer();
  return (await sharp(png).metadata()).icc!;
}

/** A small JPEG of one colour: a photo where its pixels do not matter. */
export function solidJpeg(background = "#357", width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background } })
    .jpeg()
    .toBuffer();
}

/** A workspace whose --out holds `count` committed archives, one work order of `photos` noise photos each. */
export async function committedOutbox(
  count: number,
  photos = 1,
  photo?: Buffer,
): Promise<{ dir: string; staging: string; out: string }> {
  const ws = await workspace();
  const image = photo ?? (await noiseJpeg(400, 300, 1));
  for (let w = 0; w < count; w++) for (let p = 0; p < photos; p++) await put(ws.staging, `WO_${w}/meter/p${p}.jpg`, image);
  const r = await wopack(["pack", ws.staging, "--out", ws.out, "--max-work-orders", "1", "--max-image-size", "50MB"]);
  if (r.code !== 0) throw new Error(`packing the outbox failed (exit ${r.code}): ${r.stderr}`);
  return ws;
}

/**
 * committedOutbox(count, photos, photo), packed once in a worker (a pack is a CLI run) and copied whole (staging,
 * --out, the folder that holds them) for each caller: a fresh, never-uploaded workspace a test. Not for a test
 * that packs again from its staging folder: the copied photos are new to the ledger there.
 */
export async function committedCopy(
  count: number,
  photos = 1,
  photo?: Buffer,
): Promise<{ dir: string; staging: string; out: string }> {
  const key = `${count} ${photos} ${photo ? sha256(photo) : "default"}`;
  if (!packedOnce.has(key)) packedOnce.set(key, committedOutbox(count, photos, photo));
  const made = packedOnce.get(key)!;
  made.catch(() => packedOnce.delete(key)); // (a failed pack is not kept for the next test)
  const dir = await tempDir();
  await cp((await made).dir, dir, { recursive: true });
  return { dir, staging: path.join(dir, "staging"), out: path.join(dir, "out") };
}
const packedOnce = new Map<string, Promise<{ dir: string }>>();

/** A copy of a committed --out (archives, reports, ledger), never uploaded: a fresh start for each row of a table. */
export async function copyOutbox(out: string): Promise<string> {
  const copy = `${out}-${randomUUID()}`;
  await cp(out, copy, { recursive: true });
  return copy;
}

/**
 * A run's warnings but the photo checks' findings (W_PHOTO_*, SPEC §15): for tests about something else,
 * whose generated pictures (one colour, the same fixture twice) those checks rightly flag.
 */
export function besidesPhotoChecks<T extends { code: string }>(warnings: readonly T[]): T[] {
  return warnings.filter((w) => !w.code.startsWith("W_PHOTO_"));
}

/** stderr without the log lines of the photo checks' findings (see besidesPhotoChecks). */
export function stderrBesidesPhotoChecks(stderr: string): string {
  return stderr
    .split("\n")
    .filter((l) => !/ warn: W_PHOTO_/.test(l))
    .join("\n");
}

/**
 * `--config` args for a config with every photo check off, written in `dir`: for tests that count a run's
 * warnings about something else, packing plain generated pictures the checks would rightly flag.
 */
export async function photoChecksOff(dir: string): Promise<string[]> {
  const file = path.join(dir, "checks-off.config.json");
  const off = { action: "off" };
  const checks = { reuse: off, duplicate: off, blur: off, exposure: off, age: off, distance: off };
  await writeFile(file, JSON.stringify({ images: { checks } }));
  return ["--config", file];
}

/** The `path: message` lines of a config's problems (none: it parses), as parseConfig words them. */
export function configProblems(parse: (raw: unknown) => unknown, raw: unknown): string[] {
  try {
    parse(raw);
    return [];
  } catch (err) {
    return (err as Error).message
      .split("\n")
      .slice(1)
      .map((l) => l.trim());
  }
}

/**
 * A disk that goes away and comes back as the same folder: a tmpfs mounted at `<root>/disk`, bound onto
 * `<root>/sent` (a tmpfs mounted anew would be another folder, with another device:inode). Each step says
 * whether `mount`/`umount` succeeded; `unmountAll()` (afterAll) leaves nothing mounted.
 */
export class BoundDisk {
  readonly disk: string;
  readonly sent: string;

  private constructor(root: string) {
    this.disk = path.join(root, "disk");
    this.sent = path.join(root, "sent");
  }

  /** Makes both folders and mounts the tmpfs; the disk is not bound onto `sent` yet. */
  static async mount(root: string): Promise<BoundDisk | undefined> {
    const d = new BoundDisk(root);
    await mkdir(d.disk);
    await mkdir(d.sent);
    return succeeds(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", d.disk]) ? d : undefined;
  }

  bind(): boolean {
    return succeeds(["mount", "--bind", this.disk, this.sent]);
  }

  unbind(): boolean {
    return succeeds(["umount", this.sent]);
  }

  unmountAll(): void {
    spawnSync("umount", [this.sent]);
    spawnSync("umount", [this.disk]);
  }
}

/**
 * Fresh 8 MiB tmpfs disks under a test's folder (another disk than --out or the sources: a move copies, and a full
 * one is a real ENOSPC); `unmountAll()` in afterEach leaves nothing mounted. `mount` says undefined without root.
 */
export class TinyDisks {
  private made = 0;
  private readonly mounted: string[] = [];

  async mount(root: string): Promise<string | undefined> {
    const dir = path.join(root, `disk-${this.made++}`);
    await mkdir(dir);
    if (!succeeds(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", dir])) return undefined;
    this.mounted.push(dir);
    return dir;
  }

  unmountAll(): void {
    for (const d of this.mounted.splice(0)) spawnSync("umount", [d]);
  }
}

function succeeds(args: string[]): boolean {
  return spawnSync(args[0]!, args.slice(1)).status === 0;
}
