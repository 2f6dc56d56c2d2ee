// SPEC §9, issue 21: a work order's folder (or one photo) moved away at any step after the scan costs that work
// order alone. pack refuses it with E_SOURCE_VANISHED naming the photo (exit 1), watch leaves it pending; the
// other work order is committed and unzip agrees; no source is lost. A move that once reached the archive
// writer failed the whole run (E_IO_ENOENT, exit 3), and one during the pixel check of a photo over 1 MB said
// E_IMAGE_DAMAGED. The moment is made exact by a seam over node:fs/promises: the move happens right before or
// right after the run's nth open (or stat) of the photo, which the table names by what reads it then.
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync } from "node:fs";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { systemClock } from "../../src/core/clock.js";
import { type PackResult, silentLogger } from "../../src/core/types.js";
import { pack } from "../../src/index.js";
import { packOnce } from "../../src/run/pack.js";
import { openOutput } from "../../src/run/session.js";
import { archivesIn, madeOnce, noiseJpeg, noiseRaw, put, readZip, snapshot, workspace } from "../helpers.js";

interface Touch {
  op: "open" | "stat";
  file: string;
  nth: number;
  when: "before" | "after";
  act: () => void;
  calls: number;
  ran: boolean;
}
let touch: Touch | undefined;

function seam(op: Touch["op"], when: Touch["when"], file: unknown): void {
  const t = touch;
  if (!t || t.ran || t.op !== op || t.file !== String(file)) return;
  if (when === "before") t.calls++;
  if (t.calls !== t.nth || t.when !== when) return;
  t.ran = true;
  t.act();
}

vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  const wrap =
    <A extends unknown[], R>(op: Touch["op"], f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      seam(op, "before", a[0]);
      const r = await f(...a);
      seam(op, "after", a[0]);
      return r;
    };
  const wrapped = { ...fs, open: wrap("open", fs.open), stat: wrap("stat", fs.stat) };
  return { ...wrapped, default: wrapped };
});

// (a small JPEG's checks open it in the binding, which reads and decodes it in one call: an open too)
vi.mock("../../src/convert/heicDecoder.js", async (original) => {
  const real = await original<typeof import("../../src/convert/heicDecoder.js")>();
  return {
    ...real,
    nativeBinding: () => {
      const b = real.nativeBinding();
      const read = b?.readThumbnail;
      if (!b || !read) return b;
      return {
        thumbnail: b.thumbnail,
        measure: b.measure,
        optimise: b.optimise,
        readThumbnail: async (...a: Parameters<typeof read>) => {
          seam("open", "before", a[0]);
          const r = await read(...a);
          seam("open", "after", a[0]);
          return r;
        },
      };
    },
  };
});

// (the writer stats the photos it wrote from memory in batches, in the binding when it is built: a stat each)
vi.mock("../../src/core/native.js", async (original) => {
  const real = await original<typeof import("../../src/core/native.js")>();
  return {
    ...real,
    nativeStatMany: () => {
      const statMany = real.nativeStatMany();
      if (!statMany) return statMany;
      return async (paths: string, into: Float64Array) => {
        for (const p of paths.split("\0")) seam("stat", "before", p);
        await statMany(paths, into);
        for (const p of paths.split("\0")) seam("stat", "after", p);
      };
    },
  };
});

/** A photo copied as is: over 1 MB (its ends read, its pixels and its copy read from its path) or small (read whole). */
const KINDS = {
  "JPEG over 1 MB": { name: "p.jpg", bytes: () => noiseJpeg(1000, 800, 1), writerReads: "open" },
  "PNG over 1 MB": { name: "p.png", bytes: noisePng, writerReads: "open" },
  "JPEG read whole": { name: "p.jpg", bytes: () => noiseJpeg(300, 200, 2), writerReads: "stat" },
} as const;

/**
 * Where the move happens: right after or before a read of the photo. The scan opens it first, its checks
 * second (its ends; a photo over 1 MB is then decoded from its path; a small JPEG is read and decoded by
 * the binding in one call); the archive writer opens it to copy
 * it, or stats it (one read whole is written from memory, if unchanged; with others, in one call).
 */
const STEPS = {
  "scan done, before prepare": { read: "scan", when: "after" },
  "during the pixel check": { read: "checks", when: "after" },
  "during archive writing": { read: "writer", when: "before" },
  "before moving sources": { read: "writer", when: "after" },
} as const;

function readOf(read: "scan" | "checks" | "writer", writerReads: "open" | "stat"): Pick<Touch, "op" | "nth"> {
  if (read !== "writer") return { op: "open", nth: read === "scan" ? 1 : 2 };
  return writerReads === "open" ? { op: "open", nth: 3 } : { op: "stat", nth: 1 };
}

const GOES = ["WO_V1", "WO_V1/meter/"] as const;

const MODES = ["pack", "watch"] as const;

/** The photo checks (SPEC §15) read the photo too (E_INTERNAL, once, when it had gone): on, as by default, or off. */
const CHECKS = ["on", "off"] as const;

describe("a source moved away at each step after the scan", () => {
  for (const [kindName, kind] of Object.entries(KINDS))
    for (const [stepName, step] of Object.entries(STEPS))
      for (const goes of GOES)
        for (const mode of MODES)
          for (const checks of stepName === "during the pixel check" ? CHECKS : CHECKS.slice(0, 1)) {
            const what = goes === "WO_V1" ? "its folder" : "the photo";
            const packedAnyway = stepName === "before moving sources";
            it(`${mode}, ${kindName}, ${what} moved ${stepName}${checks === "on" ? "" : " (photo checks off)"}: ${packedAnyway ? "packed as read" : mode === "pack" ? "refused E_SOURCE_VANISHED" : "pending"}, WO_V2 packed`, async () => {
              const ws = await workspace();
              const rel = `WO_V1/meter/${kind.name}`;
              const photo = await put(ws.staging, rel, kind.bytes());
              await put(ws.staging, "WO_V2/meter/x.jpg", noiseJpeg(200, 150, 3));
              const done = path.join(ws.dir, "done");
              const away = path.join(ws.dir, "away");
              const gone = goes === "WO_V1" ? goes : rel;
              const before = await snapshot(ws.staging);
              touch = {
                ...readOf(step.read, kind.writerReads),
                when: step.when,
                file: photo,
                calls: 0,
                ran: false,
                act: () => {
                  mkdirSync(path.dirname(path.join(away, gone)), { recursive: true });
                  renameSync(path.join(ws.staging, gone), path.join(away, gone));
                },
              };
              const result = await run(mode, checks, ws.staging, ws.out, done);
              expect(touch.ran, "the seam moved it").toBe(true);
              touch = undefined;
              const [zip, ...more] = await archivesIn(ws.out);
              expect(more).toEqual([]);
              execFileSync("unzip", ["-tq", zip!]);
              const names = (await readZip(zip!)).map((e) => e.name).sort();
              const ext = path.extname(kind.name);
              if (packedAnyway) {
                expect(result.packed.map((w) => w.id)).toEqual(["WO_V1", "WO_V2"]);
                expect([result.refused, result.pending]).toEqual([[], []]);
                expect(names).toEqual(["WO_V1/metadata.json", `WO_V1/meter-0${ext}`, "WO_V2/metadata.json", "WO_V2/meter-0.jpg"]);
              } else {
                expect(result.packed.map((w) => w.id)).toEqual(["WO_V2"]);
                expect(names).toEqual(["WO_V2/metadata.json", "WO_V2/meter-0.jpg"]);
                if (mode === "pack") {
                  expect(result.pending).toEqual([]);
                  expect(result.refused).toEqual([
                    expect.objectContaining({
                      id: "WO_V1",
                      problems: [
                        expect.objectContaining({
                          code: "E_SOURCE_VANISHED",
                          path: rel,
                          message: expect.stringContaining("moved or removed while work order WO_V1 was packed"),
                        }),
                      ],
                    }),
                  ]);
                } else {
                  expect(result.refused).toEqual([]);
                  expect(result.pending).toEqual([{ id: "WO_V1", reason: expect.stringContaining("moved or removed") }]);
                }
              }
              // no source lost: each is where it was, where packed ones go, or where it was moved to
              const after = { ...(await snapshot(ws.staging)), ...(await snapshot(done)), ...(await snapshot(away)) };
              for (const [p, v] of Object.entries(before)) if (!p.endsWith("/")) expect(after[p], p).toBe(v);
            }, 60_000);
          }
});

// parameters.json is read once its work order's photos are prepared: moved away while they are, it is the
// same kind of thing as a photo moved away (it was E_UNREADABLE, and watch sent the work order to --failed-to).
describe("parameters.json moved away while its work order's photos are checked", () => {
  for (const mode of MODES)
    it(`${mode}: ${mode === "pack" ? "refused E_SOURCE_VANISHED naming it" : "pending"}, WO_V2 packed`, async () => {
      const ws = await workspace();
      const photo = await put(ws.staging, "WO_V1/meter/p.jpg", noiseJpeg(300, 200, 2));
      await put(ws.staging, "WO_V1/parameters.json", '{"threshold": 3}');
      await put(ws.staging, "WO_V2/meter/x.jpg", noiseJpeg(200, 150, 3));
      const away = path.join(ws.dir, "away");
      touch = {
        ...readOf("checks", "stat"),
        when: "after",
        file: photo,
        calls: 0,
        ran: false,
        act: () => {
          mkdirSync(away);
          renameSync(path.join(ws.staging, "WO_V1/parameters.json"), path.join(away, "parameters.json"));
        },
      };
      const result = await run(mode, "on", ws.staging, ws.out, path.join(ws.dir, "done"));
      expect(touch.ran, "the seam moved it").toBe(true);
      touch = undefined;
      expect(result.packed.map((w) => w.id)).toEqual(["WO_V2"]);
      if (mode === "pack") {
        expect(result.pending).toEqual([]);
        expect(result.refused).toEqual([
          expect.objectContaining({
            id: "WO_V1",
            problems: [expect.objectContaining({ code: "E_SOURCE_VANISHED", path: "WO_V1/parameters.json" })],
          }),
        ]);
      } else {
        expect(result.refused).toEqual([]);
        expect(result.pending).toEqual([
          { id: "WO_V1", reason: expect.stringContaining("WO_V1/parameters.json was moved or removed") },
        ]);
      }
    }, 60_000);
});

async function run(
  mode: (typeof MODES)[number],
  checks: (typeof CHECKS)[number],
  staging: string,
  out: string,
  moveTo: string,
): Promise<PackResult> {
  const off = { action: "off" } as const;
  const images = { maxImageSize: "20MB", ...(checks === "off" ? { checks: { reuse: off, duplicate: off } } : {}) };
  const options = { staging, out, moveTo, config: parseConfig({ images }), concurrency: 1 };
  if (mode === "pack") return pack(options);
  // (watch's pass: the same pipeline, with a vanished source left waiting)
  const session = await openOutput(out, silentLogger, systemClock);
  try {
    return await packOnce({ ...options, vanishedWaits: true });
  } finally {
    await session.release();
  }
}

function noisePng(): Promise<Buffer> {
  return madeOnce("noise.png 700 600", async () => {
    const { default: sharp } = await import("sharp");
    const [width, height] = [700, 600];
    return sharp(noiseRaw(width, height, 88172645), { raw: { width, height, channels: 3 } })
      .png()
      .toBuffer();
  });
}
