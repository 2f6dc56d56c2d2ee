// sharp (libvips) and exifr, loaded when a photo first needs them: loading sharp takes ~75 ms and exifr
// ~20 ms, which every command paid at start-up although a pack of JPEGs decoded by the native binding, a
// dry run, `--version` or an upload never calls them.
import type exifrModule from "exifr";
import type sharpModule from "sharp";

type Sharp = typeof sharpModule;
type Exifr = typeof exifrModule;

let sharp: Promise<Sharp> | undefined;
let exifr: Promise<Exifr> | undefined;

export function loadSharp(): Promise<Sharp> {
  sharp ??= import("sharp").then(({ default: loaded }) => {
    // libvips caches recent operations and their pixels; each photo is seen once, so the cache only costs memory.
    loaded.cache(false);
    return loaded;
  });
  return sharp;
}

export function loadExifr(): Promise<Exifr> {
  // (the type of a CommonJS module's default export, as Node gives it, is not the one its typings declare)
  exifr ??= import("exifr").then((m) => m.default as Exifr);
  return exifr;
}
