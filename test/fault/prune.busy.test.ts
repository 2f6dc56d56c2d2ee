// `wopack prune --delete` when an item cannot be deleted (a busy mount point, a file bind-mounted over):
// before, the first failure ended the run as exit 70 "internal error (a bug)", after it had deleted some
// items and without saying which. Now each item that cannot be deleted is listed as failed (exit 3), the
// rest is deleted, and an archive that stays keeps its report (so that it stays known).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { pack } from "../../src/run/pack.js";
import { prune } from "../../src/run/prune.js";
import { put, solidJpeg, wopack, workspace } from "../helpers.js";

const DAY = 86_400_000;
const T0 = Date.parse("2026-03-01T00:00:00.000Z");

/** What is made busy: the archive itself (a file mounted over it), or a work order's folder in processed/. */
const CASES = ["archive", "processed folder", "both"] as const;

describe("prune --delete with an item that cannot be deleted", () => {
  it.for(CASES)("%s busy: the rest is deleted, the busy item is listed as failed, exit 3", async (busy, ctx) => {
    const ws = await workspace();
    const processed = path.join(ws.dir, "processed");
    await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg("#357"));
    await put(ws.staging, "WO_2/meter/a.jpg", solidJpeg("#a31"));
    // (one archive a work order, WO_1's first)
    const packed = await pack({
      staging: ws.staging,
      out: ws.out,
      moveTo: processed,
      config: parseConfig({}),
      now: () => new Date(T0),
      maxWorkOrders: 1,
    });
    expect(packed.archives.map((a) => a.workOrders.map((w) => w.id))).toEqual([["WO_1"], ["WO_2"]]);
    const archives = packed.archives.map((a) => a.path);
    expect(archives).toHaveLength(2);
    const [busyArchive, freeArchive] = archives as [string, string];
    const mounts: string[] = [];
    const mount = (args: string[], target: string) => {
      if (spawnSync("mount", [...args, target]).status !== 0) ctx.skip();
      mounts.push(target);
    };
    try {
      if (busy !== "processed folder") {
        const stand = path.join(ws.dir, "stand-in");
        await writeFile(stand, "x");
        mount(["--bind", stand], busyArchive);
      }
      const busyFolder = path.join(processed, "WO_1");
      if (busy !== "archive") mount(["-t", "tmpfs", "-o", "size=64k", "tmpfs"], busyFolder);
      const result = await prune({
        out: ws.out,
        olderThanMs: 30 * DAY,
        processed,
        delete: true,
        env: {},
        now: () => new Date(T0 + 40 * DAY),
      });
      const failed = result.failed.map((f) => f.path).sort();
      const expectedFailed = [...(busy !== "processed folder" ? [busyArchive] : []), ...(busy !== "archive" ? [busyFolder] : [])];
      expect(failed).toEqual(expectedFailed.sort());
      for (const f of result.failed) expect(f.reason).toMatch(/EBUSY/);
      // the other archive and folder went; a busy archive kept its report and page
      for (const gone of [freeArchive, `${freeArchive}.report.json`, path.join(processed, "WO_2")])
        expect(existsSync(gone), gone).toBe(false);
      if (busy !== "processed folder") {
        expect(existsSync(`${busyArchive}.report.json`)).toBe(true);
        expect(existsSync(busyArchive.replace(/\.zip$/, ".html"))).toBe(true);
      }
      for (const f of expectedFailed) expect(result.pruned.map((p) => p.path)).not.toContain(f);
      // the CLI says so, and exits 3 (not 70, "a bug")
      const run = await wopack(["prune", ws.out, "--older-than", "1s", "--processed", processed, "--delete"]);
      expect(run.code, run.stderr).toBe(3);
      for (const f of expectedFailed) expect(run.stdout).toContain(`failed  ${f}  (not deleted, or only in part:`);
    } finally {
      for (const m of mounts.reverse()) spawnSync("umount", [m]);
    }
  });
});
