// Operator mistakes, odd files and busy folders: each refuses at most its own work order, never the night,
// and no photo leaves staging without being packed.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { pack } from "../../src/run/pack.js";
import { archivesIn, BIN, besidesPhotoChecks, noiseJpeg, put, readZip, snapshot, wopack, workspace } from "../helpers.js";

const smallJpeg = () =>
  sharp({ create: { width: 32, height: 24, channels: 3, background: "#4a8" } })
    .jpeg()
    .toBuffer();

/** work-order id -> how many archives hold it, across every archive in `out` */
async function packedCounts(out: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const zip of await archivesIn(out)) {
    const ids = new Set((await readZip(zip)).map((e) => e.name.split("/")[0]!));
    for (const id of ids) counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

describe("A photo is never moved without being packed (§8)", () => {
  it("a photo added while the archive is written stays in staging, and the next run packs it as a new submission", async () => {
    const ws = await workspace();
    const moveTo = path.join(ws.dir, "processed");
    const first = await noiseJpeg(300, 200, 1);
    const late = await noiseJpeg(300, 200, 2);
    await put(ws.staging, "WO_1/meter/a.jpg", first);
    await put(ws.staging, "WO_1/metadata.json", '{"site": "S1"}');
    await put(ws.staging, "WO_2/meter/a.jpg", first);
    let added = false;
    const result = await pack({
      staging: ws.staging,
      out: ws.out,
      moveTo,
      config: parseConfig({}),
      // WO_1's photo has just been checked; a technician's second photo lands before the archive is committed
      onProgress: async (p) => {
        if (p.lastPhoto === "WO_1/meter/a.jpg" && !added) {
          added = true;
          await put(ws.staging, "WO_1/meter/b.jpg", late);
        }
      },
    });
    expect(added).toBe(true);
    expect(result.packed.map((w) => w.id)).toEqual(["WO_1", "WO_2"]);
    expect(besidesPhotoChecks(result.warnings)).toEqual([
      expect.objectContaining({ code: "W_LEFT_IN_STAGING", path: "WO_1/meter/b.jpg" }),
    ]);
    const [zip] = await archivesIn(ws.out);
    expect((await readZip(zip!)).map((e) => e.name)).toEqual([
      "WO_1/metadata.json",
      "WO_1/meter-0.jpg",
      "WO_2/metadata.json",
      "WO_2/meter-0.jpg",
    ]);
    // what was packed moved; the late photo stayed, with the metadata it still needs
    expect(await readFile(path.join(moveTo, "WO_1/meter/a.jpg"))).toEqual(first);
    expect(existsSync(path.join(ws.staging, "WO_1/meter/a.jpg"))).toBe(false);
    expect(await readFile(path.join(ws.staging, "WO_1/meter/b.jpg"))).toEqual(late);
    expect(await readFile(path.join(ws.staging, "WO_1/metadata.json"), "utf8")).toBe('{"site": "S1"}');
    expect(existsSync(path.join(ws.staging, "WO_2"))).toBe(false);

    const rerun = await wopack(["pack", ws.staging, "--out", ws.out, "--move-to", moveTo]);
    expect(rerun.code, rerun.stderr).toBe(0);
    const zips = await archivesIn(ws.out);
    expect(zips).toHaveLength(2);
    const second = await readZip(zips[1]!);
    expect(second.map((e) => e.name)).toEqual(["WO_1/metadata.json", "WO_1/meter-0.jpg"]);
    expect(second[1]!.data).toEqual(late);
    expect(JSON.parse(second[0]!.data.toString())).toEqual({ site: "S1" });
    expect(await readdir(ws.staging)).toEqual([]);
    expect(await readdir(moveTo)).toEqual(["WO_1", "WO_1.2", "WO_2"]);
  });
});

describe("One bad thing refuses its own work order, never the night (§9)", () => {
  it("names from Object.prototype, a 100k-deep metadata.json, a 10-byte PNG: each refuses at most its own work order", async () => {
    const ws = await workspace();
    const jpeg = await smallJpeg();
    await put(ws.staging, "WO_ok/meter/a.jpg", jpeg);
    await put(ws.staging, "WO_names/toString.jpg", jpeg);
    await put(ws.staging, "WO_names/hasOwnProperty/a.jpg", jpeg);
    await put(ws.staging, "constructor/meter/a.jpg", jpeg);
    await put(ws.staging, "__proto__/meter/a.jpg", jpeg);
    await put(ws.staging, "WO_deep/meter/a.jpg", jpeg);
    await put(ws.staging, "WO_deep/metadata.json", `${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`);
    await put(ws.staging, "WO_tiny/meter/a.png", Buffer.from("\x89PNG\r\n\x1a\n\0\0", "latin1"));
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
    const result = JSON.parse(run.stdout);
    expect(result.packed.map((w: { id: string }) => w.id).sort()).toEqual(["WO_names", "WO_ok", "__proto__", "constructor"]);
    const codes = Object.fromEntries(
      result.refused.map((r: { id: string; problems: { code: string }[] }) => [r.id, r.problems.map((p) => p.code)]),
    );
    expect(codes).toEqual({ WO_deep: ["E_METADATA_NOT_OBJECT"], WO_tiny: ["E_IMAGE_TRUNCATED"] });
    const names = (await readZip((await archivesIn(ws.out))[0]!)).map((e) => e.name);
    // (numbered by file time, which two quick writes may share: the order is not what this test is about)
    expect(
      names
        .filter((n) => n.startsWith("WO_names/"))
        .map((n) => n.replace(/-\d+\.jpg$/, "-N.jpg"))
        .sort(),
    ).toEqual(["WO_names/hasOwnProperty-N.jpg", "WO_names/metadata.json", "WO_names/toString-N.jpg"]);
  });

  it("a sub-folder without read permission refuses its work order only (run as an unprivileged user)", async (ctx) => {
    const asNobody = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"];
    if (process.getuid?.() !== 0 || spawnSync("setpriv", [...asNobody, process.execPath, BIN, "--version"]).status !== 0)
      ctx.skip();
    const ws = await workspace();
    const jpeg = await smallJpeg();
    await put(ws.staging, "WO_ok/meter/a.jpg", jpeg);
    await put(ws.staging, "WO_locked/meter/a.jpg", jpeg);
    await put(ws.staging, "WO_locked/cabinet/b.jpg", jpeg);
    await chmod(path.join(ws.staging, "WO_locked/cabinet"), 0o700);
    await chmod(ws.dir, 0o777);
    const run = spawnSync("setpriv", [...asNobody, process.execPath, BIN, "pack", ws.staging, "--out", ws.out, "--json"], {
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result.packed.map((w: { id: string }) => w.id)).toEqual(["WO_ok"]);
    expect(result.refused).toEqual([
      expect.objectContaining({
        id: "WO_locked",
        problems: [expect.objectContaining({ code: "E_UNREADABLE", path: "WO_locked/cabinet/" })],
      }),
    ]);
  });

  it("files vanishing and appearing while the folder is scanned never stop a run", async () => {
    const ws = await workspace();
    const jpeg = await smallJpeg();
    for (let i = 0; i < 20; i++) await put(ws.staging, `WO_${i}/meter/a.jpg`, jpeg);
    // a busy hot folder: temp files and folders created and removed as fast as possible, in every work order
    const churn = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("fs"), p = require("path"); const root = ${JSON.stringify(ws.staging)};
         const end = Date.now() + 60000;
         for (let n = 0; Date.now() < end; n++) {
           const wo = p.join(root, "WO_" + (n % 20));
           try { fs.writeFileSync(p.join(wo, "t" + (n % 7) + ".tmp"), "x"); } catch {}
           try { fs.rmSync(p.join(wo, "t" + ((n + 3) % 7) + ".tmp"), { force: true }); } catch {}
           try { fs.mkdirSync(p.join(wo, "d" + (n % 5)), { recursive: true }); fs.rmSync(p.join(wo, "d" + ((n + 2) % 5)), { recursive: true, force: true }); } catch {}
         }`,
      ],
      { stdio: "ignore" },
    );
    try {
      for (let i = 0; i < 8; i++) {
        const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json", "--repack"]);
        expect(run.code, run.stderr).toBe(0);
        const result = JSON.parse(run.stdout);
        expect(result.refused).toEqual([]);
        expect(result.packed).toHaveLength(20);
      }
    } finally {
      churn.kill();
    }
  });
});

describe("Recovery skips what it cannot repair and never blocks new work (§8)", () => {
  it("a work-order folder that cannot be moved stays packed in staging; later runs pack new work and retry the move", async (ctx) => {
    const ws = await workspace();
    const moveTo = path.join(ws.dir, "processed");
    const jpeg = await smallJpeg();
    await put(ws.staging, "WO_1/meter/a.jpg", jpeg);
    await put(ws.staging, "WO_stuck/meter/a.jpg", jpeg);
    // a folder that is a mount point cannot be renamed (EBUSY), as some network shares behave
    const stuck = path.join(ws.staging, "WO_stuck");
    if (spawnSync("mount", ["--bind", stuck, stuck]).status !== 0) ctx.skip();
    try {
      const first = await wopack(["pack", ws.staging, "--out", ws.out, "--move-to", moveTo, "--json"]);
      expect(first.code, first.stderr).toBe(1);
      const r1 = JSON.parse(first.stdout);
      expect(r1.packed.map((w: { id: string }) => w.id)).toEqual(["WO_1", "WO_stuck"]);
      expect(r1.moveFailures).toEqual([expect.objectContaining({ code: "W_MOVE_FAILED", path: "WO_stuck" })]);
      expect(existsSync(path.join(moveTo, "WO_1"))).toBe(true);

      await put(ws.staging, "WO_new/meter/a.jpg", jpeg);
      const second = await wopack(["pack", ws.staging, "--out", ws.out, "--move-to", moveTo, "--json"]);
      expect(second.code, second.stderr).toBe(1);
      const r2 = JSON.parse(second.stdout);
      expect(r2.packed.map((w: { id: string }) => w.id)).toEqual(["WO_new"]);
      expect(r2.alreadyPacked).toEqual([{ id: "WO_stuck" }]);
      expect(r2.moveFailures.map((p: { path: string }) => p.path)).toEqual(["WO_stuck"]);
    } finally {
      spawnSync("umount", [stuck]);
    }
    const third = await wopack(["pack", ws.staging, "--out", ws.out, "--move-to", moveTo]);
    expect(third.code, third.stderr).toBe(0);
    expect(await readdir(ws.staging)).toEqual([]);
    expect((await readdir(moveTo)).sort()).toEqual(["WO_1", "WO_new", "WO_stuck"]);
    expect(await packedCounts(ws.out)).toEqual({ WO_1: 1, WO_new: 1, WO_stuck: 1 });
  });

  it("foreign, empty or unreadable *.zip.report.json files in --out are left alone with a warning; the run goes on", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", smallJpeg());
    await mkdir(ws.out, { recursive: true });
    await writeFile(path.join(ws.out, "batch-x.zip"), "not ours");
    await writeFile(path.join(ws.out, "batch-x.zip.report.json"), "");
    await writeFile(path.join(ws.out, "old.zip.report.json"), '{"hello": "world"}');
    await writeFile(path.join(ws.out, "other.zip.report.json"), '{"archive": "other.zip", "workOrders": [{"id": 1}]}');
    const before = await snapshot(ws.out);
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.packed.map((w: { id: string }) => w.id)).toEqual(["WO_1"]);
    expect(besidesPhotoChecks(result.warnings as { code: string; path: string }[]).map((w) => `${w.code} ${w.path}`)).toEqual([
      "W_RECOVERY_FOREIGN_REPORT batch-x.zip.report.json",
      "W_RECOVERY_FOREIGN_REPORT old.zip.report.json",
      "W_RECOVERY_FOREIGN_REPORT other.zip.report.json",
    ]);
    const after = await snapshot(ws.out);
    for (const [name, hash] of Object.entries(before)) expect(after[name], name).toBe(hash);
  });
});
