// SPEC §15: only packed photos enter the index of packed pictures. A work order judged by the photo checks
// and then dropped while its archive was written (its photo moved away: E_SOURCE_VANISHED, or pending in
// watch) is packed nowhere: a later work order with the same picture is not a reuse of it, and the index
// kept in the outbox does not hold it. The moment is made exact by a seam over node:fs/promises (as in
// pack.vanishedStep): the move happens right before the archive writer's open of the photo.
import { mkdirSync, renameSync } from "node:fs";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { nativeBinding } from "../../src/convert/heicDecoder.js";
import { pack } from "../../src/index.js";
import { archivesIn, noiseJpeg, put, readZip, workspace } from "../helpers.js";

let touch: { file: string; nth: number; calls: number; act: () => void } | undefined;

vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  const open = async (...a: Parameters<typeof fs.open>) => {
    const t = touch;
    if (t && String(a[0]) === t.file && ++t.calls === t.nth) {
      touch = undefined;
      t.act();
    }
    return fs.open(...a);
  };
  const wrapped = { ...fs, open };
  return { ...wrapped, default: wrapped };
});

describe("a work order judged by the photo checks, then dropped while written", () => {
  for (const action of ["warn", "refuse"] as const)
    it(`reuse "${action}", the same photo in a later work order: that one is packed clean; the next run sees it only`, async () => {
      const ws = await workspace();
      const bytes = await noiseJpeg(1000, 800, 1); // over 1 MB: the writer opens it by path
      const photo = await put(ws.staging, "WO_V1/meter/p.jpg", bytes);
      await put(ws.staging, "WO_V2/meter/p.jpg", bytes);
      const away = path.join(ws.dir, "away");
      const reuse = { action, maxDistance: 6 };
      const config = parseConfig({ images: { maxImageSize: "20MB", checks: { reuse, duplicate: { action: "off" } } } });
      // opens of WO_V1's photo: the scan's (unless the binding reads its head), the checks', then the writer's
      touch = {
        file: photo,
        nth: nativeBinding()?.readHead ? 2 : 3,
        calls: 0,
        act: () => {
          mkdirSync(away);
          renameSync(path.join(ws.staging, "WO_V1"), path.join(away, "WO_V1"));
        },
      };
      const result = await pack({ staging: ws.staging, out: ws.out, config, concurrency: 1, maxWorkOrders: 1 });
      expect(touch, "the seam moved it").toBeUndefined();
      expect(result.refused.map((r) => [r.id, r.problems.map((p) => p.code)])).toEqual([["WO_V1", ["E_SOURCE_VANISHED"]]]);
      expect(result.packed.map((w) => w.id)).toEqual(["WO_V2"]);
      const v2 = result.packed[0]!;
      expect(v2.entries.flatMap((e) => e.checks ?? []).map((f) => f.code)).not.toContain("W_PHOTO_REUSED");
      expect(v2.warnings.map((w) => w.code)).not.toContain("W_PHOTO_REUSED");
      const [zip, ...more] = await archivesIn(ws.out);
      expect(more).toEqual([]);
      expect((await readZip(zip!)).map((e) => e.name).sort()).toEqual(["WO_V2/metadata.json", "WO_V2/meter-0.jpg"]);

      // the next run: WO_V1 back, a reuse of WO_V2 (what was packed), never of itself
      renameSync(path.join(away, "WO_V1"), path.join(ws.staging, "WO_V1"));
      const again = await pack({ staging: ws.staging, out: ws.out, config: parseConfig({ images: { maxImageSize: "20MB" } }) });
      expect(again.packed.map((w) => w.id)).toEqual(["WO_V1"]);
      const findings = again.packed[0]!.entries.flatMap((e) => e.checks ?? []).filter((f) => f.code === "W_PHOTO_REUSED");
      expect(findings.map((f) => f.earlier?.workOrder)).toEqual(["WO_V2"]);
    }, 60_000);
});
