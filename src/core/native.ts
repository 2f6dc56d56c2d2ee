// The binding to the system's libheif and libjpeg (native/heif.c), when `npm ci` could build it
// (scripts/build-native.mjs): loaded once, on first use (its libraries take ~20 ms to load). Its HEIC and JPEG
// jobs are convert/'s (heicDecoder.ts types them); what lower stages use of it is typed here.
import { createRequire } from "node:module";

const BINDING_PATH = "../../native/build/Release/wopack_heif.node";

let loaded: unknown;

/** The binding's exports, or why it did not load (not built, or built for another Node). */
export function loadBinding(): unknown {
  try {
    loaded ??= createRequire(import.meta.url)(BINDING_PATH);
  } catch (err) {
    loaded = err as Error;
  }
  return loaded;
}

/**
 * Each of the NUL-separated `paths` stat'ed on the binding's threads, in one job: into[2i] its size and
 * into[2i + 1] its mtimeMs as fs.stat gives them, or -errno and NaN.
 */
export type StatMany = (paths: string, into: Float64Array) => Promise<void>;

/** The binding's statMany, when it is built (and has it). */
export function nativeStatMany(): StatMany | undefined {
  const binding = loadBinding();
  return binding instanceof Error ? undefined : (binding as { statMany?: StatMany }).statMany;
}
