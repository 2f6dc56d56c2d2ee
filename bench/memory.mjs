#!/usr/bin/env node
// Peak RSS of `wopack pack` over 2,000 photos (200 work orders x 10): JPEG passthrough, PNG passthrough,
// HEIC, WebP and TIFF conversions. Run: npm run bench:memory
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";

const root = path.resolve(import.meta.dirname, "..");
const workOrders = Number(process.env.WORK_ORDERS ?? 200);
const dir = mkdtempSync(path.join(tmpdir(), "wopack-mem-"));
const staging = path.join(dir, "staging");

async function photo(seed, format) {
  const w = 1600,
    h = 1200;
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < raw.length; i++)
    raw[i] = (((i % (w * 3)) * 255) / (w * 3) + ((Math.imul(i + seed, 2654435761) >>> 28) & 15)) & 255;
  const s = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
  return format === "png"
    ? s.png().toBuffer()
    : format === "webp"
      ? s.webp().toBuffer()
      : format === "tiff"
        ? s.tiff({ compression: "jpeg" }).toBuffer()
        : s.jpeg({ quality: 90 }).toBuffer();
}

const kinds = {
  jpeg: await photo(1, "jpeg"),
  png: await photo(2, "png"),
  webp: await photo(3, "webp"),
  tiff: await photo(4, "tiff"),
};
const heic = readFileSync(path.join(root, "test/fixtures/quad.heic"));
let bytes = 0;
for (let w = 0; w < workOrders; w++) {
  const wo = path.join(staging, `WO_${String(w).padStart(5, "0")}`, "meter_reading");
  mkdirSync(wo, { recursive: true });
  for (let p = 0; p < 10; p++) {
    const [ext, data] =
      p < 6
        ? ["jpg", kinds.jpeg]
        : p === 6
          ? ["png", kinds.png]
          : p === 7
            ? ["webp", kinds.webp]
            : p === 8
              ? ["tif", kinds.tiff]
              : ["heic", heic];
    writeFileSync(path.join(wo, `IMG_${p}.${ext}`), data);
    bytes += data.length;
  }
}
console.log(`staged ${workOrders * 10} photos, ${(bytes / 1e6).toFixed(0)} MB, in ${staging}`);
const started = Date.now();
const run = spawnSync(
  "/usr/bin/time",
  ["-v", process.execPath, path.join(root, "bin/wopack.js"), "pack", staging, "--out", path.join(dir, "out"), "--quiet"],
  { encoding: "utf8" },
);
const seconds = (Date.now() - started) / 1000;
const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(run.stderr)?.[1];
if (run.status !== 0 || !rss) {
  console.error(run.stdout, run.stderr);
  process.exit(1);
}
const zips = execFileSync("sh", ["-c", `ls -l ${path.join(dir, "out")}/*.zip`], { encoding: "utf8" });
console.log(zips.trim());
console.log(`packed ${workOrders * 10} photos in ${seconds.toFixed(1)} s; peak RSS ${(Number(rss) / 1024).toFixed(0)} MB`);
rmSync(dir, { recursive: true, force: true });
