// Issue 24: watch (and pack --move-to) say at start where packed and refused folders go, and warn when
// such a folder cannot be written or is not on the staging folder's file system (moves become copies).
import { spawnSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { put, solidJpeg, wopack, workspace } from "../helpers.js";
import { Watcher } from "../watcher.js";

describe("where work orders go, said at start", () => {
  it("watch names both folders; a read-only one and one on another file system are warned about, once each", async (ctx) => {
    const ws = await workspace();
    const readOnly = path.join(ws.dir, "ro");
    const elsewhere = path.join(ws.dir, "other-disk");
    await mkdir(readOnly);
    await mkdir(elsewhere);
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", readOnly]).status !== 0) return ctx.skip();
    spawnSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", elsewhere]);
    const failedTo = path.join(readOnly, "failed");
    const moveTo = path.join(elsewhere, "processed");
    const w = new Watcher([ws.staging, "--out", ws.out, "--move-to", moveTo, "--failed-to", failedTo, "--settle", "0"]);
    try {
      await w.until("started", (x) => x.events.some((e) => e.event === "started"));
      const started = w.events.find((e) => e.event === "started")!;
      expect(started.message).toContain(`packed work orders go to ${moveTo}, refused ones to ${failedTo}`);
      await w.until("two warnings", (x) => x.events.filter((e) => e.event === "warning").length >= 2);
      const warnings = w.events.filter((e) => e.event === "warning").map((e) => e.message);
      expect(warnings.filter((m) => m.startsWith("W_FOLDER_NOT_WRITABLE: --failed-to"))).toHaveLength(1);
      expect(warnings.filter((m) => m.startsWith("W_FOLDER_NOT_BESIDE_STAGING: --move-to"))).toHaveLength(1);
      // and the defaults, beside staging and writable, are named with nothing to warn about
    } finally {
      await w.stop();
      spawnSync("umount", [readOnly]);
      spawnSync("umount", [elsewhere]);
    }
    const quiet = new Watcher([ws.staging, "--out", `${ws.out}-2`, "--settle", "0"]);
    try {
      await quiet.until("started", (x) => x.events.some((e) => e.event === "started"));
      const started = quiet.events.find((e) => e.event === "started")!;
      const parent = path.dirname(ws.staging);
      expect(started.message).toContain(
        `packed work orders go to ${path.join(parent, "processed")}, refused ones to ${path.join(parent, "failed")}`,
      );
      await quiet.until("a first pass", (x) => x.events.length >= 1);
      expect(quiet.events.filter((e) => e.event === "warning")).toEqual([]);
    } finally {
      await quiet.stop();
    }
  });

  it("pack --move-to says where packed folders go, and warns once when it cannot write there", async (ctx) => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg());
    const readOnly = path.join(ws.dir, "ro");
    await mkdir(readOnly);
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", readOnly]).status !== 0) return ctx.skip();
    try {
      const run = await wopack(["pack", ws.staging, "--out", ws.out, "--move-to", path.join(readOnly, "done")]);
      expect(run.stderr).toContain(`packed work orders go to ${path.join(readOnly, "done")}`);
      expect(run.stderr.match(/W_FOLDER_NOT_WRITABLE/g)).toHaveLength(1);
    } finally {
      spawnSync("umount", [readOnly]);
    }
  });

  // a read-only staging folder: each packed work order's move then failed (W_MOVE_FAILED), with no word at start
  for (const [command, warned] of [
    ["watch", true],
    ["pack --move-to", true],
    ["pack", false],
  ] as const)
    it(`${command} on a read-only staging folder: ${warned ? "warned" : "nothing said"} at start`, async (ctx) => {
      const ws = await workspace();
      const staging = path.join(ws.dir, "share");
      await mkdir(staging);
      if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", staging]).status !== 0) return ctx.skip();
      try {
        await put(staging, "WO_1/meter/a.jpg", solidJpeg());
        spawnSync("mount", ["-o", "remount,ro", staging]);
        const warning = `W_FOLDER_NOT_WRITABLE: the staging folder ${staging} cannot be written (EROFS)`;
        if (command === "watch") {
          const w = new Watcher([staging, "--out", ws.out, "--settle", "0"]);
          try {
            await w.until("packed", (x) => x.events.some((e) => e.event === "packed"));
            const warnings = w.events.filter((e) => e.event === "warning").map((e) => e.message);
            expect(warnings.filter((m) => m.startsWith(warning))).toHaveLength(1);
            // said before anything was packed
            expect(w.events.findIndex((e) => e.message.startsWith(warning))).toBeLessThan(
              w.events.findIndex((e) => e.event === "packed"),
            );
          } finally {
            await w.stop();
          }
        } else {
          const args = [
            "pack",
            staging,
            "--out",
            ws.out,
            ...(command === "pack" ? [] : ["--move-to", path.join(ws.dir, "done")]),
          ];
          const run = await wopack(args);
          expect(run.stdout + run.stderr).toMatch(/packed 1 work order/);
          expect(run.stderr.split(warning).length - 1, run.stderr).toBe(warned ? 1 : 0);
        }
      } finally {
        spawnSync("umount", [staging]);
      }
    });
});
