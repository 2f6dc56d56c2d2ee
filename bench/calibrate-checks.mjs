// Calibrates the photo checks' thresholds (SPEC §15) on real camera photos and degradations of them.
//
//   npm run build && node bench/calibrate-checks.mjs <folder of photos> [<folder> ...] [--cache DIR] [--limit N]
//
// Each photo (JPEG/PNG, found recursively) is turned upright at full size; its degradations are made
// from that with sharp; every version goes through the pipeline's small decode (sharp
// .rotate().resize(256, 256, inside).greyscale().raw()) and dist/checks/measures.js. Photos whose small
// decodes are identical (EXIF variants of one file) count once. The rasters are cached (--cache, default
// <tmp>/wopack-calibrate) so that a second run only re-measures. Prints the rates docs/photo-checks.md quotes.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { hashDistance, measurePicture } from "../dist/checks/measures.js";
import * as T from "../dist/spec/photoChecks.js";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const [, value] = args.splice(at, 2);
  return value;
};
const cacheDir = option("--cache", path.join(os.tmpdir(), "wopack-calibrate"));
const limit = Number(option("--limit", "100000"));
const folders = args;
if (!folders.length) {
  console.error("usage: node bench/calibrate-checks.mjs <folder of photos> [...] [--cache DIR] [--limit N]");
  process.exit(2);
}
sharp.concurrency(1);

const BLUR_SIGMAS = [1, 2, 4, 8];
const RELATIVE_BLURS = [0.25, 0.5, 1];
/** Bumped when versions() makes different versions: the cache is keyed on it. */
const VERSIONS_MADE = 2;
const DARK_GAINS = [0.25, 0.1, 0.05];
const BRIGHT_GAINS = [4, 10, 20];
const CROPS = [
  ["crop 2% centred", 0.02, 0.5],
  ["crop 5% centred", 0.05, 0.5],
  ["crop 5% one corner", 0.05, 0],
];

/** The pipeline's small decode of a photo's bytes: upright, long edge <= 256, grey. */
async function raster(input) {
  const { data, info } = await sharp(input)
    .rotate()
    .resize({ width: 256, height: 256, fit: "inside", withoutEnlargement: true })
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { gray: new Uint8Array(data.buffer, data.byteOffset, info.width * info.height), width: info.width, height: info.height };
}

const jpeg = (img, quality = 92) => img.jpeg({ quality, chromaSubsampling: "4:2:0" }).toBuffer();

/** sRGB <-> linear light, for exposure steps that act as a camera's would. */
const toLinear = (v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
const toSrgb = (v) => (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);
const gainTable = (gain) =>
  Uint8Array.from({ length: 256 }, (_, i) => Math.round(255 * toSrgb(Math.min(1, toLinear(i / 255) * gain))));

/**
 * For each EXIF orientation, the transform of the upright pixels that the orientation turns back upright.
 * Found by trying, on a small asymmetric image, rather than trusting a table.
 */
async function orientationTransforms() {
  const transforms = {
    none: (s) => s,
    flop: (s) => s.flop(),
    flip: (s) => s.flip(),
    r90: (s) => s.rotate(90),
    r180: (s) => s.rotate(180),
    r270: (s) => s.rotate(270),
    transpose: (s) => s.rotate(90).flop(),
    transverse: (s) => s.rotate(270).flop(),
  };
  const w = 6;
  const h = 4;
  const upright = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) upright.fill(i * 10, i * 3, i * 3 + 3);
  const want = (
    await sharp(upright, { raw: { width: w, height: h, channels: 3 } })
      .greyscale()
      .raw()
      .toBuffer()
  ).toString("hex");
  const found = {};
  for (let o = 2; o <= 8; o++) {
    for (const [name, t] of Object.entries(transforms)) {
      const stored = await t(sharp(upright, { raw: { width: w, height: h, channels: 3 } }))
        .png()
        .toBuffer();
      const tagged = await sharp(stored).withMetadata({ orientation: o }).png().toBuffer();
      const back = await sharp(tagged).rotate().greyscale().raw().toBuffer();
      if (back.toString("hex") === want) {
        found[o] = t;
        break;
      }
    }
    if (!found[o]) throw new Error(`no transform found for EXIF orientation ${o}`);
  }
  return found;
}

/** Every version of one photo: [label, raster]. */
async function versions(file, orient) {
  const bytes = await readFile(file);
  const original = await raster(bytes);
  const { data, info } = await sharp(bytes)
    .rotate()
    .removeAlpha()
    .toColourspace("srgb")
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  const up = () => sharp(data, { raw: { width, height, channels: info.channels } });
  const out = [["original", { ...original, photoSize: Math.max(width, height) }]];
  for (const scale of [0.5, 0.25])
    out.push([`resize ${scale * 100}%`, await raster(await jpeg(up().resize(Math.max(1, Math.round(width * scale)))))]);
  for (const q of [95, 75, 50]) out.push([`jpeg q${q}`, await raster(await jpeg(up(), q))]);
  for (const [label, c, at] of CROPS) {
    const cw = Math.round(width * (1 - c));
    const ch = Math.round(height * (1 - c));
    const left = Math.round((width - cw) * at);
    const top = Math.round((height - ch) * at);
    out.push([label, await raster(await jpeg(up().extract({ left, top, width: cw, height: ch })))]);
  }
  for (const o of [3, 6, 8, 2, 5, 7]) {
    const stored = await jpeg(orient[o](up()));
    out.push([
      `exif orientation ${o}`,
      await raster(await sharp(stored).withMetadata({ orientation: o }).jpeg({ quality: 92 }).toBuffer()),
    ]);
  }
  for (const s of BLUR_SIGMAS) out.push([`blur sigma ${s}`, await raster(await jpeg(up().blur(s)))]);
  // (the same blur relative to the photo: what a thumbnail, or a viewer fitting the photo to a screen, sees)
  // (on a copy at most 1024 px long, area-averaged first: the same picture at thumbnail scale, made in a
  // fraction of the time a sigma of 40 px takes on 12 megapixels)
  const long = Math.max(width, height);
  const base =
    long > 1024
      ? await up()
          .resize({ width: 1024, height: 1024, fit: "inside", kernel: "linear" })
          .raw()
          .toBuffer({ resolveWithObject: true })
      : undefined;
  const small = () =>
    base ? sharp(base.data, { raw: { width: base.info.width, height: base.info.height, channels: base.info.channels } }) : up();
  for (const r of RELATIVE_BLURS)
    out.push([
      `blur sigma ${r}% of long edge`,
      await raster(await jpeg(small().blur(Math.max(0.3, (r / 100) * Math.min(long, 1024))))),
    ]);
  // (a blurred photo with sensor noise on top: noise must not pass for detail)
  const noisy = Buffer.from(await up().blur(4).raw().toBuffer());
  let seed = 12345;
  for (let i = 0; i < noisy.length; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    noisy[i] = Math.max(0, Math.min(255, noisy[i] + ((seed >>> 16) % 13) - 6));
  }
  out.push(["blur sigma 4 + noise", await raster(await jpeg(sharp(noisy, { raw: { width, height, channels: info.channels } })))]);
  for (const g of [...DARK_GAINS, ...BRIGHT_GAINS]) {
    const table = gainTable(g);
    const px = Buffer.from(data);
    for (let i = 0; i < px.length; i++) px[i] = table[px[i]];
    out.push([`exposure x${g}`, await raster(await jpeg(sharp(px, { raw: { width, height, channels: info.channels } })))]);
  }
  return out;
}

async function cached(file, orient) {
  const bytes = await readFile(file);
  const key = `v${VERSIONS_MADE}-${createHash("sha256").update(bytes).digest("hex").slice(0, 24)}`;
  const at = path.join(cacheDir, `${key}.json`);
  try {
    const saved = JSON.parse(await readFile(at, "utf8"));
    return saved.map(([label, r]) => [label, { ...r, gray: new Uint8Array(Buffer.from(r.gray, "base64")) }]);
  } catch {}
  const made = await versions(file, orient);
  await writeFile(at, JSON.stringify(made.map(([label, r]) => [label, { ...r, gray: Buffer.from(r.gray).toString("base64") }])));
  return made;
}

async function photosIn(folder) {
  const names = await readdir(folder, { recursive: true });
  return names
    .filter((n) => /\.(jpe?g|png)$/i.test(n))
    .sort()
    .map((n) => path.join(folder, n));
}

// ---- collect ----
await mkdir(cacheDir, { recursive: true });
const orient = await orientationTransforms();
const files = (await Promise.all(folders.map(photosIn))).flat();
const photos = []; // { file, versions: Map(label -> measures) }
const seen = new Map();
let unreadable = 0;
let sameDecode = 0;
let tooSmall = 0;
for (const file of files) {
  if (photos.length >= limit) break;
  let made;
  try {
    made = await cached(file, orient);
  } catch {
    unreadable++;
    continue;
  }
  const [, original] = made[0];
  if (Math.max(original.width, original.height) < 64) {
    tooSmall++;
    continue;
  }
  const key = createHash("sha256").update(original.gray).digest("hex");
  if (seen.has(key)) {
    sameDecode++;
    continue;
  }
  seen.set(key, file);
  const measured = new Map(made.map(([label, r]) => [label, measurePicture(r.gray, r.width, r.height)]));
  photos.push({ file, size: original.photoSize, versions: measured });
  if (photos.length % 25 === 0) console.error(`${photos.length} photos measured`);
}

// ---- report ----
const pct = (n, d) => (d ? `${((100 * n) / d).toFixed(1)}% (${n}/${d})` : "n/a");
const labels = [...photos[0].versions.keys()];
const orig = (p) => p.versions.get("original");
console.log(`\n## Corpus\n\n${files.length} files; ${photos.length} distinct photos measured`);
console.log(`(${unreadable} unreadable, ${sameDecode} with the small decode of an earlier file, ${tooSmall} under 64 px)`);
const small = photos.filter((p) => p.size < 256).length;
console.log(`${small} of them smaller than 256 px on their long edge (their raster is their own size)`);

// reuse: copies
console.log(`\n## Reuse (hash distance <= ${T.REUSE_MAX_DISTANCE})\n`);
console.log("| version | found | largest distance | photos flat (skipped) |\n| --- | --- | --- | --- |");
const copyLabels = labels.filter((l) => /resize|jpeg|crop|orientation|blur sigma [12]$/.test(l));
let largestCopy = 0;
for (const label of copyLabels) {
  let found = 0;
  let max = 0;
  let n = 0;
  let flat = 0;
  for (const p of photos) {
    if (orig(p).flat) {
      flat++;
      continue;
    }
    const d = hashDistance(orig(p).hash, p.versions.get(label).hash);
    n++;
    max = Math.max(max, d);
    if (d <= T.REUSE_MAX_DISTANCE) found++;
  }
  if (!/blur/.test(label)) largestCopy = Math.max(largestCopy, max);
  console.log(`| ${label} | ${pct(found, n)} | ${max} | ${flat} |`);
}
// reuse: distinct photos
const usable = photos.filter((p) => !orig(p).flat);
const pairs = [];
for (let i = 0; i < usable.length; i++)
  for (let j = i + 1; j < usable.length; j++) pairs.push([hashDistance(orig(usable[i]).hash, orig(usable[j]).hash), i, j]);
pairs.sort((a, b) => a[0] - b[0]);
const wrong = pairs.filter(([d]) => d <= T.REUSE_MAX_DISTANCE).length;
console.log(`\ndistinct photos (not flat): ${usable.length}, pairs: ${pairs.length}`);
console.log(`pairs of distinct photos within the distance: ${pct(wrong, pairs.length)}`);
console.log(`largest distance between a photo and a copy (resize, re-encode, crop, orientation): ${largestCopy}`);
console.log("closest pairs of distinct files (look at them: a burst or a re-saved file is the same picture):");
for (const [d, i, j] of pairs.slice(0, 12))
  console.log(`  ${d}  ${path.relative(process.cwd(), usable[i].file)}  ${path.relative(process.cwd(), usable[j].file)}`);
const histogram = new Map();
for (const [d] of pairs) histogram.set(d, (histogram.get(d) ?? 0) + 1);
console.log(`pairs by distance, up to 24: ${[...Array(25).keys()].map((d) => `${d}:${histogram.get(d) ?? 0}`).join(" ")}`);
console.log(`flat photos (skipped by reuse): ${photos.length - usable.length}`);

// blur
console.log(`\n## Blur (sharpness < ${T.BLUR_MIN_SHARPNESS})\n`);
console.log("| version | flagged | median sharpness |\n| --- | --- | --- |");
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
};
const blurLabels = [...BLUR_SIGMAS.map((s) => `blur sigma ${s}`), ...RELATIVE_BLURS.map((r) => `blur sigma ${r}% of long edge`)];
for (const label of ["original", "jpeg q50", "resize 25%", ...blurLabels, "blur sigma 4 + noise"]) {
  const values = photos.map((p) => p.versions.get(label).sharpness);
  const flagged = values.filter((v) => v < T.BLUR_MIN_SHARPNESS).length;
  console.log(`| ${label} | ${pct(flagged, values.length)} | ${median(values).toFixed(3)} |`);
}
const bySize = (lo, hi) => photos.filter((p) => p.size >= lo && p.size < hi);
for (const [lo, hi] of [
  [0, 1024],
  [1024, 2560],
  [2560, 1e9],
]) {
  const group = bySize(lo, hi);
  const row = ["original", ...blurLabels].map((label) => {
    const flagged = group.filter((p) => p.versions.get(label).sharpness < T.BLUR_MIN_SHARPNESS).length;
    return `${label}: ${pct(flagged, group.length)}`;
  });
  console.log(`long edge ${lo}-${hi === 1e9 ? "" : hi} px: ${row.join("; ")}`);
}
console.log("sharpest-looking originals flagged:");
for (const p of photos.filter((p) => orig(p).sharpness < T.BLUR_MIN_SHARPNESS).slice(0, 10))
  console.log(`  ${orig(p).sharpness.toFixed(3)}  ${path.relative(process.cwd(), p.file)}`);

// exposure
const isDark = (m) => m.exposure.dark >= T.DARK_FRACTION;
const isBright = (m) => m.exposure.bright >= T.BRIGHT_FRACTION;
console.log(
  `\n## Exposure (dark: >= ${T.DARK_FRACTION} of pixels <= 16; overexposed: >= ${T.BRIGHT_FRACTION} of pixels >= 240)\n`,
);
console.log("| version | flagged dark | flagged overexposed | median mean |\n| --- | --- | --- | --- |");
for (const label of ["original", ...DARK_GAINS.map((g) => `exposure x${g}`), ...BRIGHT_GAINS.map((g) => `exposure x${g}`)]) {
  const ms = photos.map((p) => p.versions.get(label));
  console.log(
    `| ${label} | ${pct(ms.filter(isDark).length, ms.length)} | ${pct(ms.filter(isBright).length, ms.length)} | ${median(ms.map((m) => m.exposure.mean)).toFixed(0)} |`,
  );
}
