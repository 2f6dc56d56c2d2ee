#!/usr/bin/env node
// Part of `npm run bench`: where one iPhone photo's conversion spends its time, with the native binding,
// one photo at a time and two at once, next to the general path (decoded pixels through libvips: lcms for
// the colours, libvips' JPEG encoder) that the binding's whole conversion replaced; and how far apart
// their pictures are. Prints one JSON object. Usage: node bench/heic-stages.mjs <dir of .heic files>
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { heifExif, sanitizeExif, withExifSegment } from "../dist/convert/exif.js";
import { createHeicDecoder } from "../dist/convert/heicDecoder.js";
import { normalizeImage } from "../dist/convert/normalize.js";

const dir = process.argv[2];
const files = readdirSync(dir, { recursive: true })
  .filter((f) => f.endsWith(".heic"))
  .sort()
  .slice(0, 8)
  .map((f) => path.join(dir, f));
const settings = { quality: 90, maxImageSize: 100e6, maxPixels: 1e8, stripGps: false, verify: "pixels" };
const native = createHeicDecoder(2, undefined, "native");
const clock = () => performance.now();

/** The binding's whole conversion of one photo, stage by stage (read and EXIF timed here, the rest in C). */
async function fast(file) {
  let t = clock();
  const bytes = readFileSync(file);
  const read = clock() - t;
  t = clock();
  const tiff = heifExif(bytes);
  const exif = tiff && sanitizeExif(tiff, { stripGps: false });
  const exifMs = clock() - t;
  // the colour table is made once per profile: warm it through normalizeImage before timing
  t = clock();
  const out = await normalizeImage({ source: file, file, type: "heic", bytes }, settings, timed);
  const total = clock() - t;
  t = clock();
  if (exif) withExifSegment(out.data, exif);
  const { ms } = replies.get(file);
  return { read, exif: exifMs + (clock() - t), ...ms, rest: total - ms.decode - ms.colour - ms.encode };
}
const replies = new Map();
const timed = {
  name: native.name,
  decode: (...a) => native.decode(...a),
  convert: async (bytes, maxPixels, quality, file, colour) => {
    const { binding } = native;
    const r = await binding.convert(bytes, maxPixels, quality, 1, colour);
    replies.set(file, r);
    return { ok: true, width: r.width, height: r.height, jpeg: Buffer.from(r.jpeg) };
  },
  close: () => native.close(),
};

/** The general path (decoded on as many threads as cores, as it was): pixels decoded, then libvips converts the colours (lcms) and encodes. */
async function general(file) {
  const bytes = readFileSync(file);
  let decodeMs = 0;
  const decoder = {
    name: native.name,
    decode: async (...a) => {
      const t = clock();
      const r = await native.decode(...a);
      decodeMs = clock() - t;
      return r;
    },
    close: () => native.close(),
  };
  const t = clock();
  const out = await normalizeImage({ source: file, file, type: "heic", bytes }, settings, decoder);
  return { out, decode: decodeMs, colourAndEncode: clock() - t - decodeMs };
}

const mean = (runs, key) => runs.reduce((s, r) => s + r[key], 0) / runs.length;
const stages = (runs) =>
  Object.fromEntries(["read", "exif", "decode", "colour", "encode", "rest"].map((k) => [k, Math.round(mean(runs, k))]));

await fast(files[0]); // warm: the colour table, libjpeg, libheif's plugins
const single = [];
for (const f of files) single.push(await fast(f));
const wide = [];
for (let i = 0; i < files.length; i += 2) wide.push(...(await Promise.all(files.slice(i, i + 2).map(fast))));
const old = [];
let worstMean = 0;
for (const f of files) {
  const g = await general(f);
  old.push(g);
  await fast(f);
  const a = await sharp(Buffer.from(replies.get(f).jpeg))
    .raw()
    .toBuffer();
  const b = await sharp(g.out.data).raw().toBuffer();
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  worstMean = Math.max(worstMean, sum / a.length);
}
await native.close();
console.log(
  JSON.stringify({
    photos: files.length,
    single: stages(single),
    twoWide: stages(wide),
    general: { decode: Math.round(mean(old, "decode")), colourAndEncode: Math.round(mean(old, "colourAndEncode")) },
    meanAbsDiff: worstMean,
  }),
);
