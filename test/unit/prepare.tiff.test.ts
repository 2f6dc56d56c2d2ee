// prepare converts a TIFF from its open file (not read whole first): a TIFF that is moved or removed while
// it waits for its conversion leaves its work order pending in watch (as a file that vanishes before it is read
// does) and refused as vanished in pack, never refused as undecodable; one that stays is packed.
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HeicDecoder } from "../../src/convert/heicTypes.js";
import { PixelBudget } from "../../src/convert/pixelBudget.js";
import { silentLogger } from "../../src/core/types.js";
import type { PlannedWorkOrder } from "../../src/plan/plan.js";
import { prepareWorkOrder } from "../../src/prepare/prepare.js";
import type { PrepareContext } from "../../src/prepare/prepareContext.js";

const NO_HEIC = { name: "none", decode: () => Promise.reject(new Error("not a HEIC")) } as unknown as HeicDecoder;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "wopack-prepare-tiff-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tiffWorkOrder(name: string): Promise<PlannedWorkOrder> {
  const abs = path.join(dir, name);
  const tiff = await sharp({ create: { width: 600, height: 400, channels: 3, background: "#468" } })
    .composite([{ input: Buffer.from([200, 40, 40]), raw: { width: 1, height: 1, channels: 3 }, tile: true, blend: "add" }])
    .tiff({ compression: "lzw" })
    .toBuffer();
  await writeFile(abs, tiff);
  return {
    id: "WO_1",
    folder: "WO_1",
    sources: [`WO_1/${name}`],
    fingerprint: "x",
    stamps: {} as PlannedWorkOrder["stamps"],
    photos: [{ source: `WO_1/${name}`, abs, type: "tiff", size: tiff.length, taskGroup: "scan", n: 0, ext: "jpg" }],
    metadata: {},
    warnings: [],
  };
}

function context(budget: PixelBudget, vanishedWaits = true): PrepareContext {
  return {
    vanishedWaits,
    images: { quality: 90, maxImageSize: 5e6, maxPixels: 1e8, stripGps: false, verify: "pixels", budget },
    omitEmptyMetadata: false,
    thumbs: false,
    heic: NO_HEIC,
    photoLimit: pLimit(2),
    progress: { photosDone: 0, photosTotal: 1, bytesDone: 0 },
    log: silentLogger,
  };
}

/** Runs `during` while the TIFF's conversion waits for its pixels (the budget held), then lets it go. */
async function prepareWhileHeld(wo: PlannedWorkOrder, during: () => Promise<void>, vanishedWaits = true) {
  const budget = new PixelBudget(1e6);
  let release!: () => void;
  const held = budget.run(1e6, () => new Promise<void>((r) => (release = r)));
  const preparing = prepareWorkOrder(wo, context(budget, vanishedWaits), null);
  for (const deadline = Date.now() + 10_000; budget.queued === 0; ) {
    if (Date.now() > deadline) throw new Error("the conversion never asked for its pixels");
    await new Promise((r) => setTimeout(r, 5));
  }
  await during();
  release();
  await held;
  return preparing;
}

describe("prepare: a TIFF converted from its open file", () => {
  it("removed while it waits for its conversion: watch leaves the work order pending, not refused", async () => {
    const wo = await tiffWorkOrder("gone.tif");
    const outcome = await prepareWhileHeld(wo, () => unlink(wo.photos[0]!.abs));
    expect(outcome).toEqual({ id: "WO_1", reason: expect.stringContaining("WO_1/gone.tif was moved or removed") });
  });

  it("removed while it waits for its conversion: pack refuses the work order, saying it vanished (SPEC §9)", async () => {
    const wo = await tiffWorkOrder("gone2.tif");
    const outcome = await prepareWhileHeld(wo, () => unlink(wo.photos[0]!.abs), false);
    expect(outcome).toMatchObject({ id: "WO_1", problems: [{ code: "E_SOURCE_VANISHED", path: "WO_1/gone2.tif" }] });
  });

  it("still there: converted as before", async () => {
    const wo = await tiffWorkOrder("kept.tif");
    const outcome = await prepareWhileHeld(wo, async () => {});
    expect("entries" in outcome && outcome.report.map((r) => [r.entry, r.handling])).toEqual([["WO_1/scan-0.jpg", "converted"]]);
  });
});
