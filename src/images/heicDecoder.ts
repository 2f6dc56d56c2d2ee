import { createRequire } from "node:module";
import { HeicPool } from "./heicPool.js";

export type HeicReply =
  | { ok: true; width: number; height: number; channels: 3 | 4; data: Uint8Array }
  | { ok: false; code: "E_IMAGE_TOO_LARGE" | "E_IMAGE_CORRUPT"; message: string };

/** Decodes a HEIC's primary image to upright 8-bit RGB(A) pixels. */
export interface HeicDecoder {
  readonly name: string;
  decode(buffer: Uint8Array, maxPixels: number): Promise<HeicReply>;
  close(): Promise<void>;
}

interface NativeBinding {
  decode(bytes: Uint8Array, maxPixels: number): Promise<{ width: number; height: number; channels: 3 | 4; data: ArrayBuffer }>;
  version(): string;
}

const BINDING_PATH = "../../native/build/Release/wopack_heif.node";

/**
 * The system's libheif, when `npm ci` could build the binding against it (`scripts/build-native.mjs`):
 * native libde265 decodes ~1.6x faster than its wasm build. It runs on libuv's thread pool.
 */
function loadNative(): NativeBinding | Error {
  try {
    return createRequire(import.meta.url)(BINDING_PATH) as NativeBinding;
  } catch (err) {
    return err as Error;
  }
}

class NativeHeic implements HeicDecoder {
  readonly name: string;
  constructor(private readonly binding: NativeBinding) {
    this.name = `native libheif ${binding.version()}`;
  }
  async decode(buffer: Uint8Array, maxPixels: number): Promise<HeicReply> {
    try {
      const { width, height, channels, data } = await this.binding.decode(buffer, maxPixels);
      return { ok: true, width, height, channels, data: new Uint8Array(data) };
    } catch (err) {
      const { code, message } = err as { code?: string; message?: string };
      if (code === "E_IMAGE_TOO_LARGE" || code === "E_IMAGE_CORRUPT") return { ok: false, code, message: message ?? code };
      throw err;
    }
  }
  async close(): Promise<void> {}
}

/**
 * The native binding if it was built, else libheif compiled to wasm on `concurrency` worker threads.
 * `WOPACK_HEIC_DECODER=wasm|native` forces one (tests run both; `native` fails if it is not built).
 */
export function createHeicDecoder(concurrency: number, choice = process.env.WOPACK_HEIC_DECODER): HeicDecoder {
  if (choice !== "wasm") {
    const native = loadNative();
    if (!(native instanceof Error)) return new NativeHeic(native);
    if (choice === "native") throw new Error(`WOPACK_HEIC_DECODER=native, but the binding did not load: ${native.message}`);
  }
  return new HeicPool(concurrency);
}

/** Which decoder `createHeicDecoder` would pick, for `wopack --version`. */
export function heicDecoderName(): string {
  const native = process.env.WOPACK_HEIC_DECODER === "wasm" ? undefined : loadNative();
  return native && !(native instanceof Error) ? `native libheif ${native.version()}` : HeicPool.NAME;
}
