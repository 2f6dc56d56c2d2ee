// Calibrates the photo checks' thresholds (SPEC §15) on real camera photos and degradations of them.
//
//   npm run build && node bench/calibrate-checks.mjs <folder of photos> [<folder> ...] [--cache DIR] [--limit N]
//     [--cached-only: measure only the photos whose versions are in the cache already]
//     [--decoder wopack: make the small decodes with the pipeline's checkPixels (native binding for JPEG)
//      instead of sharp's resize, where this build's checkPixels gives the greyscale picture]
//     [--measures native: measure with the native binding's measure() (native/measures.c, what a pack uses
//      for JPEGs) instead of dist/checks/measures.js, and count the rasters where the two differ at all]
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
const cachedOnly = args.includes("--cached-only") && args.splice(args.indexOf("--cached-only"), 1);
/** sharp: the decode the calibration was specified with; wopack: the pipeline's own (checkPixels' greyscale) */
const decoder = option("--decoder", "sharp");
/** js: dist/checks/measures.js; native: the binding's measure() (native/measures.c), compared with js */
const measuresBy = option("--measures", "js");
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
const pipeline = decoder === "wopack" ? await import("../dist/convert/pixels.js") : undefined;
if (pipeline) {
  const probe = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#468" } })
    .jpeg()
    .toBuffer();
  if (!(await pipeline.checkPixels("probe", probe, "gray")).thumb?.gray) {
    console.error("--decoder wopack: this build's checkPixels gives no greyscale picture (it needs the photo checks' wiring)");
    process.exit(2);
  }
}

const native = measuresBy === "native" ? (await import("../dist/convert/heicDecoder.js")).nativeBinding() : undefined;
if (measuresBy === "native" && !native?.measure) {
  console.error("--measures native: this build's native binding has no measure() (npm run install rebuilds it)");
  process.exit(2);
}
const measuresText = (m) => JSON.stringify({ ...m, hash: m.hash.toString(16) });
/** rasters measured, and those whose native measures differ from the JS ones in any bit (--measures native) */
const agreement = { rasters: 0, differ: 0 };
const measureOf = (r) => {
  const js = measurePicture(r.gray, r.width, r.height);
  if (!native) return js;
  const ours = native.measure(r.gray, r.width, r.height);
  agreement.rasters++;
  if (measuresText(ours) !== measuresText(js)) agreement.differ++;
  return ours;
};

async function raster(input) {
  if (pipeline) {
    const verdict = await pipeline.checkPixels("calibration", input, "gray");
    const gray = verdict.thumb?.gray;
    if (!gray) throw new Error("--decoder wopack: this build's checkPixels gives no greyscale picture");
    return { gray: gray.data, width: gray.width, height: gray.height };
  }
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
    for (const t of Object.values(transforms)) {
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
  const key = `v${VERSIONS_MADE}-${decoder}-${createHash("sha256").update(bytes).digest("hex").slice(0, 24)}`;
  const at = path.join(cacheDir, `${key}.json`);
  try {
    const saved = JSON.parse(await readFile(at, "utf8"));
    return saved.map(([label, r]) => [label, { ...r, gray: new Uint8Array(Buffer.from(r.gray, "base64")) }]);
  } catch {}
  if (cachedOnly) return undefined;
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

/** The picture averaged over a 32 x 32 grid (whole pixels; for telling re-saved copies apart only). */
function grid32(r) {
  const out = new Float64Array(1024);
  const n = new Float64Array(1024);
  for (let y = 0; y < r.height; y++)
    for (let x = 0; x < r.width; x++) {
      const k = Math.floor((y * 32) / r.height) * 32 + Math.floor((x * 32) / r.width);
      out[k] += r.gray[y * r.width + x];
      n[k]++;
    }
  return out.map((v, k) => v / n[k]);
}

/** Files that hold the same picture (re-saved, EXIF variants): grids within this mean difference. */
const SAME_PICTURE_MAD = 3;

// ---- collect ----
await mkdir(cacheDir, { recursive: true });
const orient = await orientationTransforms();
const files = (await Promise.all(folders.map(photosIn))).flat();
const photos = []; // { file, size, grid, versions: Map(label -> measures) }
let unreadable = 0;
let tooSmall = 0;
const merged = []; // [file, the earlier file that holds the same picture]
for (const file of files) {
  if (photos.length >= limit) break;
  let made;
  try {
    made = await cached(file, orient);
  } catch {
    unreadable++;
    continue;
  }
  if (!made) continue;
  const [, original] = made[0];
  if (Math.max(original.width, original.height) < 64) {
    tooSmall++;
    continue;
  }
  // the same picture as an earlier file: not a distinct photo (its pair would be a true match)
  const grid = grid32(original);
  const same = photos.find((p) => {
    let sum = 0;
    for (let k = 0; k < 1024; k++) sum += Math.abs(p.grid[k] - grid[k]);
    return sum / 1024 <= SAME_PICTURE_MAD;
  });
  if (same) {
    merged.push([file, same.file]);
    continue;
  }
  const measured = new Map(made.map(([label, r]) => [label, measureOf(r)]));
  photos.push({ file, size: original.photoSize, grid, raster: original, versions: measured });
  if (photos.length % 50 === 0) console.error(`${photos.length} photos measured`);
}

// ---- report ----
if (!photos.length) {
  console.error(`no photo measured in ${folders.join(", ")} (${unreadable} unreadable)`);
  process.exit(1);
}
const rel = (f) => path.relative(process.cwd(), f);
const pct = (n, d) => (d ? `${((100 * n) / d).toFixed(1)}% (${n}/${d})` : "n/a");
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const labels = [...photos[0].versions.keys()];
const orig = (p) => p.versions.get("original");
const at = (p, label) => p.versions.get(label);
console.log(`## Corpus\n\n${files.length} files; ${photos.length} distinct pictures measured.`);
if (native)
  console.log(
    `Measured by the native binding (native/measures.c): ${agreement.rasters} rasters, ${agreement.differ} of them measured differently by checks/measures.ts in any bit.`,
  );
console.log(
  `Left out: ${unreadable} unreadable, ${tooSmall} under 64 px, ${merged.length} holding the same picture as an earlier file (32 x 32 grids within ${SAME_PICTURE_MAD} grey levels: re-saved or EXIF variants).`,
);
const bands = [
  [0, 256],
  [256, 1024],
  [1024, 2560],
  [2560, 1e9],
];
console.log(
  `Long edge: ${bands.map(([lo, hi]) => `${lo}-${hi === 1e9 ? "" : hi} px: ${photos.filter((p) => p.size >= lo && p.size < hi).length}`).join(", ")}.`,
);

// reuse
const usable = photos.filter((p) => !orig(p).flat);
const copyLabels = labels.filter((l) => /resize|jpeg|crop|orientation/.test(l));
console.log(`\n## Reuse (hash distance <= ${T.REUSE_MAX_DISTANCE})\n`);
console.log(
  `${photos.length - usable.length} flat pictures (skipped by reuse): ${
    photos
      .filter((p) => orig(p).flat)
      .map((p) => rel(p.file))
      .join(", ") || "none"
  }\n`,
);
console.log("| copy | found | median distance | largest distance |\n| --- | --- | --- | --- |");
for (const label of copyLabels) {
  const ds = usable.map((p) => hashDistance(orig(p).hash, at(p, label).hash));
  console.log(
    `| ${label} | ${pct(ds.filter((d) => d <= T.REUSE_MAX_DISTANCE).length, ds.length)} | ${median(ds)} | ${Math.max(...ds)} |`,
  );
}
const pairs = [];
for (let i = 0; i < usable.length; i++)
  for (let j = i + 1; j < usable.length; j++) pairs.push([hashDistance(orig(usable[i]).hash, orig(usable[j]).hash), i, j]);
pairs.sort((a, b) => a[0] - b[0]);
const histogram = new Map();
for (const [d] of pairs) histogram.set(d, (histogram.get(d) ?? 0) + 1);
console.log(`\nDistinct pictures: ${usable.length}, pairs: ${pairs.length}; smallest distance between two: ${pairs[0]?.[0]}.`);
console.log(`Pairs by distance (0-24): ${[...Array(25).keys()].map((d) => `${d}:${histogram.get(d) ?? 0}`).join(" ")}`);
console.log(
  "Pairs within the distance, and the next closest (look at them: a re-shoot of one scene seconds apart, or HDR on and off, is nearly one picture):",
);
const shown = Math.max(5, pairs.findIndex(([d]) => d > T.REUSE_MAX_DISTANCE) + 3);
for (const [d, i, j] of pairs.slice(0, Math.min(shown, 30)))
  console.log(`  ${d}  ${rel(usable[i].file)}  ${rel(usable[j].file)}`);
console.log(
  "\n| max distance | copies found (resize, re-encode, 2-5% centred crop, orientation) | 5% corner crop found | distinct pairs within |\n| --- | --- | --- | --- |",
);
const easy = copyLabels.filter((l) => !/corner/.test(l));
for (const t of [6, 8, 10, 12, 14, 16]) {
  let found = 0;
  let all = 0;
  for (const p of usable)
    for (const l of easy) {
      all++;
      if (hashDistance(orig(p).hash, at(p, l).hash) <= t) found++;
    }
  const corner = usable.filter((p) => hashDistance(orig(p).hash, at(p, "crop 5% one corner").hash) <= t).length;
  console.log(
    `| ${t} | ${pct(found, all)} | ${pct(corner, usable.length)} | ${pct(pairs.filter(([d]) => d <= t).length, pairs.length)} |`,
  );
}

// blur
const blurLabels = labels.filter((l) => /^blur/.test(l));
console.log(`\n## Blur (sharpness < ${T.BLUR_MIN_SHARPNESS})\n`);
const blurRow = (group, label, t = T.BLUR_MIN_SHARPNESS) =>
  pct(group.filter((p) => at(p, label).sharpness < t).length, group.length);
const big = photos.filter((p) => p.size >= 1024);
console.log(`| version | flagged, all | flagged, long edge >= 1024 px | median sharpness |\n| --- | --- | --- | --- |`);
for (const label of ["original", "jpeg q50", "resize 25%", ...blurLabels])
  console.log(
    `| ${label} | ${blurRow(photos, label)} | ${blurRow(big, label)} | ${median(photos.map((p) => at(p, label).sharpness)).toFixed(2)} |`,
  );
console.log(
  "\n| threshold | originals flagged | blur 0.5% of long edge flagged | blur 1% flagged | blur sigma 8 flagged |\n| --- | --- | --- | --- | --- |",
);
for (const t of [0.4, 0.45, 0.5, 0.55, 0.6])
  console.log(
    `| ${t} | ${blurRow(photos, "original", t)} | ${blurRow(photos, "blur sigma 0.5% of long edge", t)} | ${blurRow(photos, "blur sigma 1% of long edge", t)} | ${blurRow(photos, "blur sigma 8", t)} |`,
  );
console.log("Originals flagged:");
for (const p of photos.filter((p) => orig(p).sharpness < T.BLUR_MIN_SHARPNESS))
  console.log(`  ${orig(p).sharpness.toFixed(2)}  ${rel(p.file)}`);

// exposure
const exposureLabels = ["original", ...labels.filter((l) => /^exposure/.test(l))];
const judge = (over) => ({ ...T.EXPOSURE_DEFAULTS, ...over });
console.log(
  `\n## Exposure (dark: >= ${T.DARK_FRACTION} of pixels at luma <= 16, or the brightest 1 % at luma <= ${T.DARK_MAX_HIGHLIGHT}; overexposed: >= ${T.BRIGHT_FRACTION} of pixels at luma >= 240)\n`,
);
console.log("Exposure steps act in linear light, as a camera's exposure does (x0.05: 4.3 stops under).\n");
console.log(
  "| version | flagged dark | flagged overexposed | median mean | median dark | median highlight | median bright |\n| --- | --- | --- | --- | --- | --- | --- |",
);
for (const label of exposureLabels) {
  const ms = photos.map((p) => at(p, label));
  const med = (k) => median(ms.map((m) => m.exposure[k]));
  console.log(
    `| ${label} | ${pct(ms.filter((m) => T.isDark(m.exposure)).length, ms.length)} | ${pct(ms.filter((m) => T.isOverexposed(m.exposure)).length, ms.length)} | ${med("mean").toFixed(0)} | ${med("dark").toFixed(2)} | ${med("highlight")} | ${med("bright").toFixed(2)} |`,
  );
}
const count = (label, f) => pct(photos.filter((p) => f(at(p, label).exposure)).length, photos.length);
console.log("\n| highlight at most | originals dark | x0.1 dark | x0.05 dark |\n| --- | --- | --- | --- |");
for (const h of [48, 56, 64, 72, 80]) {
  const f = (e) => T.isDark(e, judge({ darkMaxHighlight: h }));
  console.log(`| ${h} | ${count("original", f)} | ${count("exposure x0.1", f)} | ${count("exposure x0.05", f)} |`);
}
console.log(
  "\n| bright fraction at least | originals overexposed | x10 overexposed | x20 overexposed |\n| --- | --- | --- | --- |",
);
for (const b of [0.5, 0.6, 0.7, 0.8, 0.9]) {
  const f = (e) => T.isOverexposed(e, judge({ brightFraction: b }));
  console.log(`| ${b} | ${count("original", f)} | ${count("exposure x10", f)} | ${count("exposure x20", f)} |`);
}
console.log("Originals flagged, or nearly:");
for (const p of photos) {
  const e = orig(p).exposure;
  if (e.dark >= 0.5 || e.bright >= 0.5 || e.highlight <= 80)
    console.log(`  dark ${e.dark.toFixed(2)}, highlight ${e.highlight}, bright ${e.bright.toFixed(2)}: ${rel(p.file)}`);
}

// cost
const full = photos.map((p) => p.raster).filter((r) => Math.max(r.width, r.height) === 256);
const cpu = (f) => {
  for (let i = 0; i < 3; i++) for (const r of full) f(r);
  const start = process.cpuUsage();
  let runs = 0;
  while (runs < 3000)
    for (const r of full) {
      f(r);
      runs++;
    }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / runs;
};
let sink = 0;
const measureCost = cpu((r) => measurePicture(r.gray, r.width, r.height));
const nativeCost = native ? cpu((r) => native.measure(r.gray, r.width, r.height)) : undefined;
const sumCost = cpu((r) => {
  let s = 0;
  for (let i = 0; i < r.gray.length; i++) s += r.gray[i];
  sink += s;
});
console.log(
  `\n## Cost\n\nmeasurePicture on the ${full.length} rasters of 256 px: ${measureCost.toFixed(0)} µs of CPU each${nativeCost === undefined ? "" : `, the native binding's measure() ${nativeCost.toFixed(0)} µs`}; one plain pass summing the same pixels: ${sumCost.toFixed(0)} µs (same run, ${os.loadavg()[0].toFixed(1)} load on ${os.cpus().length} cores).${sink < 0 ? "" : ""}`,
);
