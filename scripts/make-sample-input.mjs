#!/usr/bin/env node
// Regenerates sample-input/: a realistic staging folder. Needs heif-enc (libheif-examples) and exiftool.
// The output is committed; run this only to change it.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import sharp from "sharp";

const root = path.resolve(process.argv[2] ?? "sample-input");
rmSync(root, { recursive: true, force: true });

/** A photo-like scene; each label lays out its own equipment, so no two sample photos are one picture. */
function scene(label, hue, width = 1200, height = 900) {
  let seed = [...label].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
  const r = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const horizon = 0.45 + r() * 0.3;
  const box = { x: 0.1 + r() * 0.5, y: 0.1 + r() * 0.3, w: 0.15 + r() * 0.3, h: 0.2 + r() * 0.4 };
  const extras = Array.from({ length: 3 + Math.floor(r() * 4) }, () => {
    const [x, y, s] = [r() * width, r() * height, (0.04 + r() * 0.12) * width];
    const shade = Math.floor(r() * 200);
    return r() < 0.5
      ? `<rect x="${x}" y="${y}" width="${s}" height="${s * (0.3 + r())}" fill="rgb(${shade},${shade},${shade})"/>`
      : `<line x1="${x}" y1="${y}" x2="${r() * width}" y2="${r() * height}" stroke="rgb(${shade},${shade},${shade})" stroke-width="${4 + r() * 10}"/>`;
  });
  const dial = {
    x: (box.x + box.w / 2) * width,
    y: (box.y + box.h / 3) * height,
    r: Math.min(box.w * width, box.h * height) * 0.25,
  };
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="sky" x1="0" y1="0" x2="${r()}" y2="1">
      <stop offset="0" stop-color="hsl(${hue},60%,75%)"/><stop offset="1" stop-color="hsl(${hue},40%,92%)"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#sky)"/>
    <rect y="${height * horizon}" width="100%" height="${height * (1 - horizon)}" fill="hsl(${(hue + 90) % 360},35%,35%)"/>
    ${extras.join("\n    ")}
    <rect x="${width * box.x}" y="${height * box.y}" width="${width * box.w}" height="${height * box.h}" rx="12" fill="#8a8f94" stroke="#333" stroke-width="6"/>
    <circle cx="${dial.x}" cy="${dial.y}" r="${dial.r}" fill="#f4f4ee" stroke="#222" stroke-width="5"/>
    <line x1="${dial.x}" y1="${dial.y}" x2="${dial.x + dial.r * 0.6}" y2="${dial.y - dial.r * 0.6}" stroke="#c00" stroke-width="6"/>
    <rect x="20" y="20" width="${14 * label.length + 20}" height="44" fill="#000" opacity="0.5"/>
  </svg>`;
  return sharp(Buffer.from(svg));
}

function exif(file, ...args) {
  execFileSync("exiftool", ["-q", "-overwrite_original", ...args, file]);
}

async function write(rel, make) {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  await make(file);
  return file;
}

const heic = async (file, label, hue, date) => {
  const png = file + ".src.png";
  await scene(label, hue).png().toFile(png);
  execFileSync("heif-enc", ["-q", "60", "-o", file, png]);
  rmSync(png);
  exif(file, `-DateTimeOriginal=${date}`, "-Make=Apple", "-Model=iPhone 13");
};

// WO_100231: an iPhone HEIC and a sideways JPEG in a task-group folder, loose PNG and an explicit -0.
await write("WO_100231/meter_reading/IMG_4501.HEIC", (f) => heic(f, "meter", 200, "2026:11:20 09:14:03"));
await write("WO_100231/meter_reading/IMG_4502.jpg", async (f) => {
  // Stored landscape, shown portrait: EXIF orientation 6 (rotate 90° clockwise to view).
  await scene("meter 2", 210, 1200, 900).jpeg({ quality: 85 }).toFile(f);
  exif(f, "-Orientation#=6", "-DateTimeOriginal=2026:11:20 09:15:40", "-Make=Samsung");
});
await write("WO_100231/cabinet_front.png", async (f) => {
  await scene("cabinet", 30, 800, 600).png().toFile(f);
  exif(f, "-DateTimeOriginal=2026:11:20 09:18:30");
});
await write("WO_100231/cabinet_front-0.jpeg", async (f) => {
  await scene("cabinet wide", 40).jpeg({ quality: 85 }).toFile(f);
  exif(f, "-DateTimeOriginal=2026:11:20 09:20:00");
});
writeFileSync(
  path.join(root, "WO_100231/metadata.json"),
  JSON.stringify({ site: "Substation 12", technician: "R. Alvarez" }, null, 2) + "\n",
);
writeFileSync(path.join(root, "WO_100231/.DS_Store"), Buffer.alloc(6148));

// WO_100232: WebP and TIFF from a tablet, plus Windows junk.
await write("WO_100232/pole_top.webp", async (f) => {
  await scene("pole top", 120).webp({ quality: 80 }).toFile(f);
  exif(f, "-DateTimeOriginal=2026:11:19 16:40:12");
});
await write("WO_100232/pole_base.tiff", async (f) => {
  await scene("pole base", 140, 900, 700).tiff({ compression: "lzw" }).toFile(f);
  exif(f, "-DateTimeOriginal=2026:11:19 16:42:57");
});
writeFileSync(path.join(root, "WO_100232/Thumbs.db"), Buffer.alloc(1024));
writeFileSync(path.join(root, "WO_100232/~$report.docx"), "lock file of an open Word document\n");

// WO_100233: a task-group folder and a loose HEIC at the staging root that names its work order.
await write("WO_100233/cabinet_inside/DSC_0012.jpg", async (f) => {
  await scene("cabinet inside", 300).jpeg({ quality: 85 }).toFile(f);
  exif(f, "-DateTimeOriginal=2026:11:21 14:02:11");
});
// GIF carries no EXIF date: it is ordered by file time, after the dated photos.
await write("WO_100233/cabinet_inside/DSC_0013.gif", (f) => scene("cabinet inside 2", 320, 600, 450).gif().toFile(f));
await write("WO_100233__meter_reading-5.heic", (f) => heic(f, "meter 5", 250, "2026:11:21 13:58:00"));
writeFileSync(path.join(root, ".DS_Store"), Buffer.alloc(6148));
console.log(`wrote ${root}`);
