import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { faultPoint } from "../core/fault.js";
import { loadBinding } from "../core/native.js";
import { HeicPool } from "./heicPool.js";
import type { HeicConverted, HeicDecoder, HeicFailure, HeicReply, NativeThumbnail, PictureNumbers } from "./heicTypes.js";

interface NativeBinding {
  decode(
    bytes: Uint8Array,
    maxPixels: number,
    room: number,
    threads: number,
  ): Promise<{ width: number; height: number; channels: 3 | 4; data: ArrayBuffer }>;
  convert(
    bytes: Uint8Array,
    maxPixels: number,
    quality: number,
    threads: number,
    colour: Float32Array | undefined,
    /** the thumbnail's long edge (0: none; a binding built before it gives none), its quality, 2: with measures */
    edge?: number,
    thumbQuality?: number,
    picture?: 0 | 1 | 2,
  ): Promise<{ width: number; height: number; jpeg: ArrayBuffer; thumbnail?: NativeThumbnail }>;
  thumbnail(
    bytes: Uint8Array | string,
    edge: number,
    quality: number,
    maxPixels: number,
    /** 1: the thumbnail in greyscale too; 2: only the photo checks' measures of it (native/measures.c) */
    picture?: 0 | 1 | 2,
  ): Promise<NativeThumbnail>;
  /**
   * One job for a small JPEG: the file opened, fstat'ed, read whole into `into` when it fits (bytesRead 0
   * when not; short when it shrank since), and, read whole, decoded as thumbnail() decodes it: `thumbnail`,
   * or `error` what thumbnail() would reject with. Rejects (E_READ) when the file cannot be read.
   */
  readThumbnail(
    path: string,
    into: Uint8Array,
    edge: number,
    quality: number,
    maxPixels: number,
    picture?: 0 | 1 | 2,
  ): Promise<{
    size: number;
    mtimeMs: number;
    bytesRead: number;
    thumbnail?: NativeThumbnail;
    error?: Error & { code?: string };
  }>;
  /**
   * A file's first into.length bytes (all of a smaller one) read into `into`, with its fstat's size and
   * mtime, in one job on the binding's threads. Rejects (E_READ) when it cannot be opened or read.
   */
  readHead(path: string, into: Uint8Array): Promise<{ size: number; mtimeMs: number; bytesRead: number }>;
  /**
   * A baseline JPEG re-written losslessly with Huffman tables made for it (native/jpegopt.c); given `edge`,
   * with its thumbnail made from the coefficients read, when they can give it (a binding built before that
   * gives the JPEG alone)
   */
  optimise(bytes: Uint8Array): Promise<ArrayBuffer>;
  optimise(
    bytes: Uint8Array,
    edge: number,
    quality: number,
    picture?: 0 | 1 | 2,
  ): Promise<ArrayBuffer | { jpeg: ArrayBuffer; thumbnail?: NativeThumbnail }>;
  /** the photo checks' measures of a greyscale picture, on the calling thread (tests, calibration) */
  measure?(gray: Uint8Array, width: number, height: number): PictureNumbers;
  version(): string;
}

const CORES = availableParallelism();
/** Names this process's crash markers: not the pid, which a restarted container may well reuse. */
const RUN = randomUUID();

/**
 * The system's libheif, when `npm ci` could build the binding against it (`scripts/build-native.mjs`):
 * native libde265 decodes ~1.6x faster than its wasm build. It runs on threads of its own, one per core at most.
 */
function loadNative(): NativeBinding | Error {
  return loadBinding() as NativeBinding | Error;
}

/**
 * The binding when it was built and loads, for its other jobs (a JPEG's thumbnail and the checks' measures:
 * pixels.ts; optimised Huffman tables: normalize.ts). A binding built before `optimise` existed has none.
 */
export function nativeBinding():
  | (Pick<NativeBinding, "thumbnail" | "measure"> & Partial<Pick<NativeBinding, "optimise" | "readThumbnail" | "readHead">>)
  | undefined {
  const native = loadNative();
  return native instanceof Error ? undefined : native;
}

/**
 * A native decoder that crashes on a file (libheif is C++) takes the whole process down, and a rerun
 * would meet the same file again: a crash loop that packs nothing. So each native decode leaves a marker
 * naming its file in `guardDir` until it returns; markers of a dead process name the files that crashed
 * it, and those are decoded by the wasm decoder (sandboxed: a fault there is an error) from then on.
 */
class NativeHeic implements HeicDecoder {
  readonly name: string;
  private wasm: HeicPool | undefined;
  private suspects: Promise<Map<string, string>> | undefined;
  private markers = 0;
  private active = 0;

  constructor(
    private readonly binding: NativeBinding,
    private readonly concurrency: number,
    private readonly guardDir: string | undefined,
  ) {
    this.name = `native libheif ${binding.version()}`;
  }

  async convert(
    buffer: Uint8Array,
    maxPixels: number,
    quality: number,
    file: string,
    colour: Float32Array | undefined,
    thumbnail?: { edge: number; quality: number },
  ): Promise<HeicConverted | undefined> {
    this.suspects ??= crashMarkers(this.guardDir);
    if ((await this.suspects).has(file)) return undefined; // decode() takes it to the wasm decoder
    const converted = await this.guarded(file, async (threads) => {
      const { edge = 0, quality: thumbQuality = 0 } = thumbnail ?? {};
      const done = await this.binding.convert(buffer, maxPixels, quality, threads, colour, edge, thumbQuality, 2);
      const { width, height, jpeg, thumbnail: made } = done;
      return { ok: true as const, width, height, jpeg: Buffer.from(jpeg), ...(made ? { thumbnail: made } : {}) };
    });
    return converted === "alpha" ? undefined : converted;
  }

  async decode(buffer: Uint8Array, maxPixels: number, file: string, room = 0): Promise<HeicReply> {
    this.suspects ??= crashMarkers(this.guardDir);
    const suspects = await this.suspects;
    const leftover = suspects.get(file);
    if (leftover !== undefined) {
      this.wasm ??= new HeicPool(this.concurrency);
      const reply = await this.wasm.decode(buffer, maxPixels);
      suspects.delete(file);
      await rm(leftover, { force: true });
      return reply.ok ? { ...reply, afterCrash: true } : reply;
    }
    const decoded = await this.guarded(file, async (threads) => {
      const { width, height, channels, data } = await this.binding.decode(buffer, maxPixels, room, threads);
      return { ok: true as const, width, height, channels, data: new Uint8Array(data, room), room };
    });
    if (decoded === "alpha") throw new Error("decode() never refuses alpha");
    return decoded;
  }

  /**
   * One call of the binding, with its crash marker, on as many threads as cores have no photo: the tiles
   * of a grid are decoded in parallel only for the last photos of a run (in parallel, libheif spends a
   * third more processor time on a photo than on one thread).
   */
  private async guarded<T>(file: string, call: (threads: number) => Promise<T>): Promise<T | "alpha" | HeicFailure> {
    const marker = await this.mark(file);
    this.active++;
    try {
      faultPoint("heic-native");
      return await call(Math.max(1, Math.floor(CORES / this.active)));
    } catch (err) {
      const { code, message } = err as { code?: string; message?: string };
      if (code === "E_IMAGE_TOO_LARGE" || code === "E_IMAGE_CORRUPT") return { ok: false, code, message: message ?? code };
      if (code === "E_HAS_ALPHA") return "alpha";
      throw err;
    } finally {
      this.active--;
      if (marker) await rm(marker, { force: true });
    }
  }

  async close(): Promise<void> {
    await this.wasm?.close();
  }

  /** Best effort: a full disk is reported where the archive is written, not as a problem of this photo. */
  private async mark(file: string): Promise<string | undefined> {
    if (!this.guardDir) return undefined;
    const marker = path.join(this.guardDir, `${RUN}.${++this.markers}`);
    return writeFile(marker, file).then(
      () => marker,
      () => undefined,
    );
  }
}

/** The files named by markers that a process other than this one left behind: it died decoding them. */
async function crashMarkers(dir: string | undefined): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (!dir) return found;
  await mkdir(dir, { recursive: true }).catch(() => undefined);
  for (const name of await readdir(dir).catch(() => [])) {
    if (name.startsWith(`${RUN}.`)) continue;
    const marker = path.join(dir, name);
    const file = await readFile(marker, "utf8").catch(() => "");
    if (file) found.set(file, marker);
    else await rm(marker, { force: true });
  }
  return found;
}

/**
 * The native binding if it was built, else libheif compiled to wasm on `concurrency` worker threads.
 * `WOPACK_HEIC_DECODER=wasm|native` forces one (tests run both; `native` fails if it is not built).
 * `guardDir` (in --out; none for a dry run) keeps the native decoder's crash markers.
 */
export function createHeicDecoder(concurrency: number, guardDir?: string, choice = process.env.WOPACK_HEIC_DECODER): HeicDecoder {
  if (choice !== "wasm") {
    const native = loadNative();
    if (!(native instanceof Error)) return new NativeHeic(native, concurrency, guardDir);
    if (choice === "native") throw new Error(`WOPACK_HEIC_DECODER=native, but the binding did not load: ${native.message}`);
  }
  return new HeicPool(concurrency);
}

/** Which decoder `createHeicDecoder` would pick, for `wopack --version` (neither starts anything). */
export function heicDecoderName(): string {
  return createHeicDecoder(1, undefined, process.env.WOPACK_HEIC_DECODER === "wasm" ? "wasm" : undefined).name;
}

/** Which decoder is in use and, when it is the wasm one, why (`wopack doctor`). */
export function heicDecoderStatus(): { name: string; native: boolean; why?: string } {
  if (process.env.WOPACK_HEIC_DECODER === "wasm")
    return { name: heicDecoderName(), native: false, why: "WOPACK_HEIC_DECODER=wasm" };
  const native = loadNative();
  if (!(native instanceof Error)) return { name: `native libheif ${native.version()}`, native: true };
  const missing = /Cannot find module|no such file/i.test(native.message);
  return {
    name: heicDecoderName(),
    native: false,
    why: missing
      ? "the native binding was not built (libheif's headers were missing at install)"
      : `the binding did not load: ${native.message}`,
  };
}
