// watch.prune with `processed` on a disk that is not mounted (its mount point an empty folder, though the
// ledger records the work orders --move-to moved there): watch's own prune says W_PRUNE_PROCESSED_EMPTY as
// `wopack prune` does, in its log and on its status, rather than dropping it.
import { spawnSync } from "node:child_process";
import { mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { WatchEvent, WatchStatus } from "../../src/core/types.js";
import { watch } from "../../src/run/watch.js";
import { noiseJpeg, put, tempDir, waitFor, wopack, workspace } from "../helpers.js";

const mounted: string[] = [];
const run = (args: string[]) => spawnSync(args[0]!, args.slice(1)).status === 0;
afterAll(() => {
  for (const d of mounted.reverse()) spawnSync("umount", [d]);
});

describe("watch.prune, --processed on an unmounted disk's mount point", () => {
  it("logs W_PRUNE_PROCESSED_EMPTY with its hint, and the status keeps it", async () => {
    const ws = await workspace();
    const disk = path.join(await tempDir("wopack-watch-prune-unmounted-"), "processed");
    await mkdir(disk);
    expect(run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", disk]), "mount a tmpfs").toBe(true);
    mounted.push(disk);
    for (const id of ["WO_1", "WO_2"]) await put(ws.staging, `${id}/meter/p0.jpg`, await noiseJpeg(300, 200, 5, 100));
    const packed = await wopack(["pack", ws.staging, "--out", ws.out, "--move-to", disk]);
    expect(packed.code, packed.stderr).toBe(0);
    expect(run(["umount", disk]), "the disk goes away").toBe(true);
    mounted.pop();
    expect(await readdir(disk)).toEqual([]);

    const events: WatchEvent[] = [];
    const stop = new AbortController();
    const running = watch({
      staging: ws.staging,
      out: ws.out,
      config: parseConfig({ watch: { prune: { olderThan: "30d", every: "1h", processed: disk } } }),
      signal: stop.signal,
      onEvent: (e) => events.push(e),
    });
    const health = path.join(ws.out, ".wopack", "health.json");
    const status = async () => JSON.parse(await readFile(health, "utf8").catch(() => "{}")) as Partial<WatchStatus>;
    try {
      // (the health file is written once the prune is over, its warnings told)
      await waitFor(async () => Boolean((await status()).prune?.lastAt), "a prune", 60_000);
    } finally {
      stop.abort();
      await running;
    }
    const told = events.filter((e) => e.event === "warning" && e.code === "W_PRUNE_PROCESSED_EMPTY");
    expect(told.map((e) => e.message)).toEqual([
      expect.stringMatching(
        new RegExp(`^W_PRUNE_PROCESSED_EMPTY: --processed ${disk} is empty, but the ledger records 2 folders .*\\(hint: mount`),
      ),
    ]);
    expect((await status()).warnings).toEqual([
      expect.objectContaining({ code: "W_PRUNE_PROCESSED_EMPTY", path: disk, hint: expect.stringMatching(/^mount/) }),
    ]);
  }, 120_000);
});
