// SPEC §9: a source that vanishes while `pack` runs (its work order's folder removed, or one of its files,
// between the scan and the moment it is read) refuses that work order with a code that says so (exit 1),
// never "pending" as if it were still being copied; the other work orders are packed, and unzip agrees.
// (watch, which judges a folder again once it settles, keeps such a work order waiting: watch.md.)
import { execFileSync } from "node:child_process";
import { rm } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { pack } from "../../src/index.js";
import { archivesIn, put, readZip, solidJpeg, workspace } from "../helpers.js";

// What goes, once the first photo of the run is done: the work order's whole folder, one of its photos
// (copied as is, or converted). The first work order holds more photos than the run prepares ahead, so
// WO_Z's photos are still to be read. (Its metadata.json, read whole with the scan, is the neighbour that
// stays packed: the archive holds what was read.)
const GONE = ["WO_Z", "WO_Z/meter/a.jpg", "WO_Z/meter/b.png", "WO_Z/metadata.json"] as const;

describe("pack: a source removed while the run goes on", () => {
  for (const gone of GONE) {
    const read = gone.endsWith(".json");
    it(`${gone} removed mid-run: ${read ? "WO_Z packed with what was read" : "WO_Z refused with E_SOURCE_VANISHED naming it"}, never pending`, async () => {
      const ws = await workspace();
      const jpeg = await solidJpeg("#468", 64, 48);
      for (let i = 0; i < 80; i++) await put(ws.staging, `WO_A/meter/p${String(i).padStart(2, "0")}.jpg`, jpeg);
      await put(ws.staging, "WO_Z/meter/a.jpg", jpeg);
      await put(ws.staging, "WO_Z/meter/b.png", await sharpPng());
      await put(ws.staging, "WO_Z/metadata.json", '{"site": "north"}');
      let removed = false;
      const result = await pack({
        staging: ws.staging,
        out: ws.out,
        config: parseConfig({ images: { checks: { reuse: { action: "off" }, duplicate: { action: "off" } } } }),
        concurrency: 1,
        onProgress: () => {
          if (removed) return;
          removed = true;
          return void rm(path.join(ws.staging, gone), { recursive: true });
        },
      });
      expect(removed).toBe(true);
      expect(result.pending, "nothing left waiting as if still copied").toEqual([]);
      const [zip] = await archivesIn(ws.out);
      execFileSync("unzip", ["-tq", zip!]);
      const inZip = (await readZip(zip!)).filter((e) => e.name.startsWith("WO_Z/")).map((e) => e.name);
      if (read) {
        expect(result.packed.map((w) => w.id)).toEqual(["WO_A", "WO_Z"]);
        expect(inZip.sort()).toEqual(["WO_Z/metadata.json", "WO_Z/meter-0.jpg", "WO_Z/meter-1.png"]);
        return;
      }
      expect(result.packed.map((w) => w.id)).toEqual(["WO_A"]);
      expect(result.refused).toEqual([
        expect.objectContaining({
          id: "WO_Z",
          problems: [
            expect.objectContaining({
              code: "E_SOURCE_VANISHED",
              path: expect.stringMatching(/^WO_Z\/meter\//),
              message: expect.stringContaining("moved or removed while work order WO_Z was packed"),
            }),
          ],
        }),
      ]);
      expect(inZip).toEqual([]);
    }, 60_000);
  }
});

async function sharpPng(): Promise<Buffer> {
  const { default: sharp } = await import("sharp");
  return sharp({ create: { width: 40, height: 30, channels: 3, background: "#a52" } })
    .png()
    .toBuffer();
}
