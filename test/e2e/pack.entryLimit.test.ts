// An archive never holds more entries than validate and review accept (MAX_ARCHIVE_ENTRIES, 100,000): pack
// starts a new archive first, as it does for --max-archive-size. The limit is made 7 here (vi.mock) so that a
// few real photos reach it; validate, run in the same process, is held to the same 7.
import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { pack, validate } from "../../src/index.js";
import { archivesIn, noiseJpeg, put, readZip, workspace } from "../helpers.js";

vi.mock("../../src/spec/entryCount.js", async (original) => ({
  ...(await original<typeof import("../../src/spec/entryCount.js")>()),
  MAX_ARCHIVE_ENTRIES: 7,
}));

describe("the entries an archive may hold", () => {
  it("packs work orders of 3 photos (4 entries) one an archive at a limit of 7, and each archive validates", async () => {
    const ws = await workspace();
    const photo = await noiseJpeg(64, 48, 1);
    for (const wo of ["WO_A", "WO_B", "WO_C"])
      for (let i = 0; i < 3; i++) await put(ws.staging, `${wo}/meter/p${i}.jpg`, await noiseJpeg(64, 48, i + wo.charCodeAt(3)));
    // two of 1 photo (2 entries each): they share an archive with nothing over 7
    await put(ws.staging, "WO_D/meter/p.jpg", photo);
    await put(ws.staging, "WO_E/meter/p.jpg", await noiseJpeg(64, 48, 9));
    const config = parseConfig({ images: { checks: { duplicate: { action: "off" }, reuse: { action: "off" } } } });
    const result = await pack({ staging: ws.staging, out: ws.out, config, concurrency: 1 });
    expect(result.refused).toEqual([]);
    expect(result.packed.map((w) => w.id).sort()).toEqual(["WO_A", "WO_B", "WO_C", "WO_D", "WO_E"]);
    const zips = await archivesIn(ws.out);
    const counts = await Promise.all(zips.map(async (z) => (await readZip(z)).length));
    expect(Math.max(...counts)).toBeLessThanOrEqual(7);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(3 * 4 + 2 * 2);
    // in id order: WO_A, WO_B alone (4 + 4 > 7); WO_D joins WO_C (6 entries); WO_E starts a fourth (6 + 2 > 7)
    expect(zips.length).toBe(4);
    for (const zip of zips) expect((await validate(zip, { config })).problems, zip).toEqual([]);
  });
});
