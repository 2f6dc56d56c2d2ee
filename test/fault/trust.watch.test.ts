// watch mode: what monitoring reads is really written, and a ready marker is acted on at once.
import { spawnSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { put, waitFor, workspace } from "../helpers.js";
import { Watcher } from "../watcher.js";

const photo = () =>
  sharp({ create: { width: 16, height: 16, channels: 3, background: "#a55" } })
    .jpeg()
    .toBuffer();

describe("watch (§4)", () => {
  it("writes its health file where --health-file says, on another file system too", async (ctx) => {
    const ws = await workspace();
    const monitoring = path.join(ws.dir, "monitoring");
    await mkdir(monitoring);
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", monitoring]).status !== 0) ctx.skip();
    const health = path.join(monitoring, "wopack.json");
    const watcher = new Watcher([ws.staging, "--out", ws.out, "--health-file", health, "--settle", "0"]);
    try {
      await waitFor(
        async () => JSON.parse(await readFile(health, "utf8").catch(() => "{}")).status === "idle",
        "the health file",
      );
      expect(watcher.events.filter((e) => e.event === "error")).toEqual([]);
    } finally {
      await watcher.stop();
      spawnSync("umount", [monitoring]);
    }
  });

  it("a hidden ready marker (.ready) is seen within a second of its creation, not at the next safety rescan", async () => {
    const ws = await workspace();
    const watcher = new Watcher([ws.staging, "--out", ws.out, "--ready-marker", ".ready"]);
    try {
      await watcher.until("started", (w) => w.events.some((e) => e.event === "started"));
      await put(ws.staging, "WO_1/meter/a.jpg", photo());
      // the photo's own event has been handled: WO_1 waits for its marker
      await new Promise((r) => setTimeout(r, 1500));
      expect(watcher.packedIds()).toEqual([]);
      const markedAt = Date.now();
      await writeFile(path.join(ws.staging, "WO_1", ".ready"), "");
      await watcher.until("WO_1 packed", (w) => w.packedIds().includes("WO_1"), 10_000);
      expect(Date.now() - markedAt).toBeLessThan(5_000);
    } finally {
      await watcher.stop();
    }
  });
});
