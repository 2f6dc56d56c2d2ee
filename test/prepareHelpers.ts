// What the tests of the copy path (prepare.oneRead, prepare.oneCall) share: a planned work order of JPEGs,
// and a prepared work order as it is written (its problems, or its entries read back from a real zip).
import { readFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { writeZip } from "../src/archive/write.js";
import type { PlannedWorkOrder } from "../src/plan/plan.js";
import type { Prepared } from "../src/prepare/prepare.js";
import { noiseJpeg, readZip } from "./helpers.js";

/** Work order WO_1 of these JPEGs in `dir` (`size`: what the scan saw). */
export function plannedJpegs(dir: string, files: { name: string; size: number }[]): PlannedWorkOrder {
  return {
    id: "WO_1",
    sources: files.map((f) => f.name),
    fingerprint: "x",
    stamps: {} as never,
    metadata: {},
    warnings: [],
    photos: files.map((f, n) => ({
      source: f.name,
      abs: path.join(dir, f.name),
      type: "jpeg",
      size: f.size,
      taskGroup: "meter",
      n,
      ext: "jpg",
    })),
  };
}

/**
 * A prepared work order as it is written: its problems (by code and file: a message that quotes libvips may hold
 * words of another photo decoded at the same time, its error buffer being the process's), or its entries,
 * report, warnings and thumbnails, the archive read back; with `photos`, the checks' measures and SHA-256 too.
 */
export async function writtenOutcome(prepared: Prepared | object, dir: string, name: string, options: { photos?: boolean } = {}) {
  if ("problems" in prepared)
    return {
      problems: (prepared as { problems: { code: string; path?: string }[] }).problems.map(({ code, path }) => ({ code, path })),
    };
  if (!("entries" in prepared)) return prepared;
  const p = prepared as Prepared;
  const zip = path.join(dir, `${name}.zip`);
  await writeZip(zip, p.entries);
  // (bytes as base64 text: toEqual walks a Buffer index by index, which was most of these tests' CPU)
  const thumbs = await Promise.all(
    [...p.thumbs].map(async ([entry, t]) => [entry, (typeof t === "string" ? await readFile(t) : t).toString("base64")] as const),
  );
  return {
    entries: p.entries.map((e) => ({ name: e.name, size: e.size, crc32: e.crc32, trimmed: e.trimmed ?? 0 })),
    zip: (await readZip(zip)).map((e) => ({ name: e.name, data: e.data.toString("base64") })),
    report: p.report,
    warnings: p.warnings,
    thumbs: new Map(thumbs),
    ...(options.photos ? { photos: p.photos.map(({ entry, measures, sha256 }) => ({ entry, measures, sha256 })) } : {}),
  };
}

/** JPEGs of several shapes: EXIF orientation 6, greyscale, progressive, odd size at 4:4:4, from one noise photo. */
export async function jpegShapes(): Promise<Buffer[]> {
  const noise = await noiseJpeg(320, 240, 3, 90);
  return [
    noise,
    await sharp(noise)
      .withExif({ IFD0: { Orientation: "6", Make: "Cam" } })
      .jpeg({ quality: 80 })
      .toBuffer(),
    await sharp(noise).greyscale().jpeg({ quality: 85 }).toBuffer(),
    await sharp(noise).jpeg({ quality: 85, progressive: true }).toBuffer(),
    await sharp(noise).resize(97, 61).jpeg({ quality: 70, chromaSubsampling: "4:4:4" }).toBuffer(),
  ];
}
