// A move to another disk (--move-to, --failed-to, --uploaded-to: moveWhole) that fails half-way - the target
// disk fills at the first file, mid-way or at the last, or it is read-only - leaves nothing behind in the
// target (no hidden partial copy keeping a full disk full), every source byte in place, and the error named
// with its code; once there is room (or the disk is writable again) the next move finishes it, once.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rm, statfs, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { moveWhole } from "../../src/commit/moves.js";
import { archivesIn, noiseJpeg, put, snapshot, TinyDisks, tempDir, wopack } from "../helpers.js";

const MiB = 1 << 20;
let root: string;
const tiny = new TinyDisks();
let stagings = 0;

beforeAll(async () => {
  root = await tempDir("wopack-moves-halfway-");
});
afterEach(() => tiny.unmountAll());

/** Fills the disk but for `free` bytes. */
async function fillBut(disk: string, free: number): Promise<void> {
  const { bavail, bsize } = await statfs(disk);
  await writeFile(path.join(disk, "filler"), Buffer.alloc(Math.max(0, bavail * bsize - free)));
}

type Source = "file" | "folder";
interface Case {
  what: Source;
  fault: string;
  /** what the disk is made to refuse the copy with */
  code: "ENOSPC" | "EROFS";
  /** bytes left free on the target disk (a full disk) */
  free?: number;
}

// a file of 3 MiB; a folder of three 1 MiB photos (one in a sub-folder) and a small metadata.json
const cases: Case[] = [
  { what: "file", fault: "full at its first byte", code: "ENOSPC", free: 0 },
  { what: "file", fault: "full mid-way", code: "ENOSPC", free: 1.5 * MiB },
  { what: "file", fault: "full at its last bytes", code: "ENOSPC", free: 3 * MiB - 64 * 1024 },
  { what: "file", fault: "read-only", code: "EROFS" },
  { what: "folder", fault: "full at the first file", code: "ENOSPC", free: MiB / 2 },
  { what: "folder", fault: "full mid-way", code: "ENOSPC", free: 1.5 * MiB },
  { what: "folder", fault: "full at the last file", code: "ENOSPC", free: 2.5 * MiB },
  { what: "folder", fault: "read-only", code: "EROFS" },
];

async function source(dir: string, what: Source): Promise<string> {
  if (what === "file") return put(dir, "WO_1.jpg", randomBytes(3 * MiB));
  for (const rel of ["WO_1/a.jpg", "WO_1/meter/b.jpg", "WO_1/c.jpg"]) await put(dir, rel, randomBytes(MiB));
  await put(dir, "WO_1/metadata.json", JSON.stringify({ technician: "T-7" }));
  return path.join(dir, "WO_1");
}

const snap = async (p: string, what: Source) => (what === "file" ? snapshot(path.dirname(p)) : snapshot(p));
/** The files' content hashes by path (a copy keeps mtimes to the millisecond only). */
const contents = (s: Record<string, string>) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.split("@")[0]]));

describe("moveWhole to another disk that fails half-way", () => {
  it.for(cases)(
    "a $what, the target disk $fault: nothing left there, the source whole, $code; the next move finishes it once",
    async (c, ctx) => {
      const disk = await tiny.mount(root);
      if (!disk) return ctx.skip(); // (mount needs root)
      const staging = path.join(root, `staging-${stagings++}`);
      const from = await source(staging, c.what);
      const before = await snap(from, c.what);
      const target = path.join(disk, "processed");
      await mkdir(target);
      const to = path.join(target, path.basename(from));
      if (c.code === "EROFS") expect(spawnSync("mount", ["-o", "remount,ro", disk]).status).toBe(0);
      else await fillBut(disk, c.free!);

      const err = await moveWhole(from, to).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      );
      expect(err?.code, "the error carries its code").toBe(c.code);
      expect(err?.message).toContain(c.code);
      expect(await readdir(target), "nothing under the target's name, no partial copy").toEqual([]);
      expect(await snap(from, c.what), "every source byte in place").toEqual(before);

      if (c.code === "EROFS") expect(spawnSync("mount", ["-o", "remount,rw", disk]).status).toBe(0);
      else await rm(path.join(disk, "filler"));
      expect(await moveWhole(from, to)).toEqual([]);
      expect(await readdir(target), "moved once, nothing partial beside it").toEqual([path.basename(to)]);
      expect(contents(await snap(to, c.what))).toEqual(contents(before));
      expect(await readdir(staging), "nothing of it stays in staging").toEqual([]);
    },
  );
});

describe("pack --move-to a disk that fills mid-copy", () => {
  it("W_MOVE_FAILED names ENOSPC; nothing partial keeps the disk full; staging untouched; the next run moves it once", async (ctx) => {
    const disk = await tiny.mount(root);
    if (!disk) return ctx.skip();
    const staging = path.join(root, "pack", "staging");
    for (const [i, rel] of ["meter/a.jpg", "meter/b.jpg", "cabinet/c.jpg"].entries())
      await put(staging, `WO_1/${rel}`, noiseJpeg(900, 700, i + 1));
    const out = path.join(root, "pack", "out");
    const moveTo = path.join(disk, "processed");
    await mkdir(moveTo);
    await fillBut(disk, 256 * 1024);
    const before = await snapshot(staging);
    const args = ["pack", staging, "--out", out, "--move-to", moveTo];

    const full = await wopack(args);
    expect(full.code, full.stderr).not.toBe(0);
    expect(full.stderr).toMatch(/W_MOVE_FAILED: .*WO_1.*ENOSPC/);
    expect(await readdir(moveTo), "no partial copy left on the full disk").toEqual([]);
    expect(await snapshot(staging), "staging untouched").toEqual(before);

    await rm(path.join(disk, "filler"));
    const rerun = await wopack(args);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(await readdir(moveTo)).toEqual(["WO_1"]);
    expect(await readdir(staging)).toEqual([]);
    expect(await archivesIn(out), "packed once").toHaveLength(1);
  });
});
