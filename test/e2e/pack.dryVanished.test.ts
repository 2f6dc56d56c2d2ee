// pack --dry-run --check-images reads every photo as a real run does. A photo moved away between the scan
// and that read: a real run refuses its work order with E_SOURCE_VANISHED; the dry run ignored it when the
// photo checks were off (checkPhotos dropped the vanished outcome). Both must say the same. The moment is
// made exact by a seam over node:fs/promises: the move happens right after the scan's open of the photo.
import { mkdirSync, renameSync } from "node:fs";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { pack } from "../../src/index.js";
import { noiseJpeg, put, workspace } from "../helpers.js";

let touch: { file: string; act: () => void } | undefined;

vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  const open = async (...a: Parameters<typeof fs.open>) => {
    const handle = await fs.open(...a);
    const t = touch;
    if (t && String(a[0]) === t.file) {
      touch = undefined;
      t.act();
    }
    return handle;
  };
  const wrapped = { ...fs, open };
  return { ...wrapped, default: wrapped };
});

const off = { action: "off" } as const;
const CHECKS = {
  "photo checks on": {},
  "photo checks off": { checks: { reuse: off, duplicate: off, blur: off, exposure: off } },
};

describe("a photo moved away after the scan: a dry run says what a real run does", () => {
  for (const [checksName, images] of Object.entries(CHECKS))
    for (const [what, goes] of [
      ["the photo", "WO_V1/meter/p.jpg"],
      ["its folder", "WO_V1"],
    ] as const)
      it(`${checksName}, ${what}: refused E_SOURCE_VANISHED, WO_V2 planned`, async () => {
        const ws = await workspace();
        const photo = await put(ws.staging, "WO_V1/meter/p.jpg", noiseJpeg(300, 200, 1));
        await put(ws.staging, "WO_V2/meter/x.jpg", noiseJpeg(200, 150, 2));
        const away = path.join(ws.dir, "away");
        touch = {
          file: photo,
          act: () => {
            mkdirSync(path.dirname(path.join(away, goes)), { recursive: true });
            renameSync(path.join(ws.staging, goes), path.join(away, goes));
          },
        };
        const config = parseConfig({ images });
        const result = await pack({ staging: ws.staging, config, dryRun: true, checkImages: true, concurrency: 1 });
        expect(touch, "the seam moved it").toBeUndefined();
        expect(result.planned?.map((w) => w.id)).toEqual(["WO_V2"]);
        expect(result.refused).toEqual([
          expect.objectContaining({
            id: "WO_V1",
            problems: [expect.objectContaining({ code: "E_SOURCE_VANISHED", path: "WO_V1/meter/p.jpg" })],
          }),
        ]);
      }, 60_000);
});
