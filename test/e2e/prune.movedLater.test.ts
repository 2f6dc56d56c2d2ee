// A work order packed without --move-to and moved there by a later run (already packed: only its move is
// done) is recorded in the ledger like a move made at its commit, so prune takes its processed folder once
// its archive is old, with the age of its commit (issue 21). A table: a work order's folder, a root photo.
import { readdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { pack } from "../../src/run/pack.js";
import { prune } from "../../src/run/prune.js";
import { put, solidJpeg, workspace } from "../helpers.js";

const DAY = 86_400_000;
const T0 = new Date("2026-03-01T00:00:00.000Z");
const NOW = new Date(T0.getTime() + 40 * DAY);

describe("a work order moved to --move-to by a later run than its commit", () => {
  for (const { name, source, folder } of [
    { name: "a work order's folder", source: "WO_1/meter/a.jpg", folder: "WO_1" },
    { name: "a root photo", source: "WO_2__meter-1.jpg", folder: "WO_2" },
  ])
    it(`${name}: prune takes its processed folder, as old as its commit`, async () => {
      const ws = await workspace();
      const processed = path.join(ws.dir, "processed");
      const config = parseConfig({});
      await put(ws.staging, source, solidJpeg());
      const first = await pack({ staging: ws.staging, out: ws.out, config, now: () => T0 });
      expect(first.archives).toHaveLength(1);
      const later = await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config, now: () => NOW });
      expect(later.alreadyPacked.map((w) => w.id)).toEqual([folder]);
      expect(await readdir(processed)).toEqual([folder]);

      const result = await prune({ out: ws.out, olderThanMs: 30 * DAY, processed, delete: true, env: {}, now: () => NOW });
      expect(result.kept).toEqual([]);
      expect(result.pruned.find((p) => p.path === path.join(processed, folder))?.committedAt).toBe(T0.toISOString());
      expect(await readdir(processed)).toEqual([]);
    });
});
