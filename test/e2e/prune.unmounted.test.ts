// prune --processed given a disk's mount point while the disk is not mounted: an empty folder, though the
// ledger records the work orders --move-to moved there. Nothing to delete, and said so, not silence.
import { spawnSync } from "node:child_process";
import { mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { noiseJpeg, put, tempDir, wopack, workspace } from "../helpers.js";

const mounted: string[] = [];
const run = (args: string[]) => spawnSync(args[0]!, args.slice(1)).status === 0;
afterAll(() => {
  for (const d of mounted.reverse()) spawnSync("umount", [d]);
});

describe("prune --processed on an unmounted disk's mount point", () => {
  it("warns, naming the folder and how many recorded folders are not there, with a hint; --json carries it", async () => {
    const ws = await workspace();
    const disk = path.join(await tempDir("wopack-prune-unmounted-"), "processed");
    await mkdir(disk);
    expect(run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", disk]), "mount a tmpfs").toBe(true);
    mounted.push(disk);
    const photo = await noiseJpeg(300, 200, 3, 100);
    for (const id of ["WO_1", "WO_2"]) await put(ws.staging, `${id}/meter/p0.jpg`, photo);
    const packed = await wopack(["pack", ws.staging, "--out", ws.out, "--move-to", disk]);
    expect(packed.code, packed.stderr).toBe(0);
    expect((await readdir(disk)).sort()).toEqual(["WO_1", "WO_2"]);
    // the disk goes away: its mount point is an empty folder
    expect(run(["umount", disk])).toBe(true);
    mounted.pop();
    expect(await readdir(disk)).toEqual([]);

    const text = await wopack(["prune", ws.out, "--older-than", "1ms", "--processed", disk]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(
        `warning: W_PRUNE_PROCESSED_EMPTY  --processed ${disk} is empty, but the ledger records 2 folders .*moved there`,
      ),
    );
    expect(text.stdout).toMatch(/mount/);
    const json = await wopack(["prune", ws.out, "--older-than", "1ms", "--processed", disk, "--json"]);
    expect(JSON.parse(json.stdout).warnings).toEqual([
      expect.objectContaining({ code: "W_PRUNE_PROCESSED_EMPTY", path: disk, hint: expect.stringMatching(/mount/) }),
    ]);
  }, 60_000);

  it("an empty --processed that the ledger moved nothing into: no warning", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/p0.jpg", await noiseJpeg(300, 200, 4, 100));
    expect((await wopack(["pack", ws.staging, "--out", ws.out])).code).toBe(0);
    const empty = path.join(ws.dir, "processed");
    await mkdir(empty);
    const json = await wopack(["prune", ws.out, "--older-than", "1ms", "--processed", empty, "--json"]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).warnings ?? []).toEqual([]);
  }, 60_000);
});
