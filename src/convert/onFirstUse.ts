// sharp (libvips) and exifr, loaded when a photo first needs them rather than at the top of each module that
// calls them: loading sharp takes ~75 ms and exifr ~15 ms, which every command paid at start-up. A pack of
// JPEGs that the native binding decodes, a dry run and `--version` never call sharp; an upload calls neither.
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
