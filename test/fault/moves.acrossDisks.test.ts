// pack --move-to on another file system (a tmpfs here) copies the work order's folder whole, then removes
// the original. Traced with strace: every file and folder of the copy, and the entry that names it, reach
// the disk (fsync) before the first source file is removed. Killed mid-copy (kill -9): nothing shows under
// the folder's name in the target, staging is untouched, and the next run finishes the move, once.
import { spawnSync } from "node:child_process";
import { mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archivesIn, BIN, noiseJpeg, put, snapshot, tempDir, wopack } from "../helpers.js";

const PHOTOS = ["meter/a.jpg", "meter/b.jpg", "cabinet/c.jpg"];
let root: string;
let disk: string | undefined;
const hasStrace = spawnSync("strace", ["-V"]).status === 0;

beforeAll(async () => {
  root = await tempDir("wopack-moves-disks-");
  await mkdir(path.join(root, "disk"));
  if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=32m", "tmpfs", path.join(root, "disk")]).status === 0)
    disk = path.join(root, "disk");
});
afterAll(() => {
  if (disk) spawnSync("umount", [disk]);
});

async function staged(name: string): Promise<{ staging: string; out: string; moveTo: string }> {
  const staging = path.join(root, name, "staging");
  for (const [i, rel] of PHOTOS.entries()) await put(staging, `WO_1/${rel}`, noiseJpeg(300, 200, i + 1));
  return { staging, out: path.join(root, name, "out"), moveTo: path.join(disk!, name, "processed") };
}

/** The files' content hashes under a folder, by path (mtimes aside: the test compares across a move). */
async function contents(dir: string): Promise<Record<string, string>> {
  const s = await snapshot(dir);
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.split("@")[0]!]));
}

type Event = { call: string; paths: string[] };

/** strace -y's lines, in the order the calls ended (unlink and rmdir: began), with their paths resolved. */
function parseTrace(text: string): Event[] {
  const events: Event[] = [];
  const pending = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, rest] = m as unknown as [string, string, string];
    let call: string;
    let args: string;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest);
    if (resumed) {
      call = resumed[1]!;
      args = (pending.get(pid) ?? "") + resumed[2]!;
      pending.delete(pid);
      if (/^(unlink|rmdir)/.test(call)) continue; // (counted when it began)
    } else {
      const start = /^(\w+)\((.*)$/.exec(rest);
      if (!start) continue;
      [, call, args] = start as unknown as [string, string, string];
      if (rest.endsWith("<unfinished ...>")) {
        pending.set(pid, args.replace(/ <unfinished \.\.\.>$/, ""));
        if (!/^(unlink|rmdir)/.test(call)) continue;
      }
    }
    if (/= -1 /.test(args)) continue; // failed calls change nothing
    // arguments: fds shown as N</path>, strings as "..."; a string after a dirfd is relative to it
    const tokens = [...args.matchAll(/(?:-?\d+|AT_FDCWD)<([^>]*)>|AT_FDCWD|"((?:[^"\\]|\\.)*)"/g)];
    const paths: string[] = [];
    let dir: string | undefined;
    for (const t of tokens) {
      if (t[1] !== undefined) {
        dir = t[1];
        if (/^f(data)?sync$/.test(call)) paths.push(t[1]);
      } else if (t[2] !== undefined) {
        paths.push(dir && !t[2].startsWith("/") ? path.join(dir, t[2]) : t[2]);
        dir = undefined;
      } else dir = undefined;
    }
    events.push({ call, paths });
  }
  return events;
}

/** `p` as named after the renames in `events` (a path under a renamed folder follows it). */
function renamedThrough(p: string, events: Event[]): string {
  for (const e of events) {
    if (!e.call.startsWith("rename")) continue;
    const [from, to] = e.paths as [string, string];
    if (p === from || p.startsWith(`${from}/`)) p = to + p.slice(from.length);
  }
  return p;
}

describe("pack --move-to another file system", () => {
  it.skipIf(!hasStrace)(
    "every file and folder copied, and the folder's entry, are fsynced before any source is removed",
    async (ctx) => {
      if (!disk) return ctx.skip();
      const ws = await staged("traced");
      const before = await contents(path.join(ws.staging, "WO_1"));
      const trace = path.join(root, "traced", "strace.txt");
      const calls = "fsync,fdatasync,rename,renameat,renameat2,unlink,unlinkat,rmdir,mkdir,mkdirat";
      const run = spawnSync(
        "strace",
        [
          "-f",
          "-qq",
          "-y",
          "-o",
          trace,
          "-e",
          `trace=${calls}`,
          process.execPath,
          BIN,
          "pack",
          ws.staging,
          "--out",
          ws.out,
          "--move-to",
          ws.moveTo,
        ],
        { env: { ...process.env, NO_COLOR: "1" }, encoding: "utf8" },
      );
      expect(run.status, run.stderr).toBe(0);
      const target = path.join(ws.moveTo, "WO_1");
      expect(await contents(target)).toEqual(before);
      expect(await readdir(ws.staging)).toEqual([]);

      const events = parseTrace(await readFile(trace, "utf8"));
      const source = path.join(ws.staging, "WO_1");
      const gone = events.findIndex(
        (e) => /^(unlink|rmdir)/.test(e.call) && e.paths.some((p) => p.startsWith(`${source}/`) || p === source),
      );
      expect(gone, "the source is removed").toBeGreaterThan(0);
      const beforeGone = events.slice(0, gone);
      const synced = new Set(
        beforeGone.flatMap((e, i) =>
          /^f(data)?sync$/.test(e.call) ? [renamedThrough(e.paths[0]!, beforeGone.slice(i + 1))] : [],
        ),
      );
      const copied = [target, ...Object.keys(before).map((rel) => path.join(target, rel.replace(/\/$/, "")))];
      expect(
        copied.filter((p) => !synced.has(p)),
        "copied but not fsynced before the source went",
      ).toEqual([]);
      // the folder's own entry in its parent: that parent is fsynced after the entry was made
      const made = beforeGone.map((e) => /^(rename|mkdir)/.test(e.call) && e.paths.at(-1) === target).lastIndexOf(true);
      expect(made, "the folder is named in the target").toBeGreaterThanOrEqual(0);
      const parentSynced = beforeGone.slice(made + 1).some((e) => /^f(data)?sync$/.test(e.call) && e.paths[0] === ws.moveTo);
      expect(parentSynced, `${ws.moveTo} fsynced after WO_1 was named in it`).toBe(true);
    },
    60_000,
  );

  for (const late of [false, true])
    it(`killed mid-copy${late ? ", a photo added before the rerun" : ""}: nothing under the folder's name, staging untouched; the next run finishes the move`, async (ctx) => {
      if (!disk) return ctx.skip();
      const ws = await staged(late ? "killed-late" : "killed");
      const before = await snapshot(ws.staging);
      const photos = await contents(path.join(ws.staging, "WO_1"));
      const args = ["pack", ws.staging, "--out", ws.out, "--move-to", ws.moveTo];
      const crashed = await wopack(args, { env: { WOPACK_FAULT: "copy-partial" } });
      expect(crashed.signal, "killed while copying to the other disk").toBe("SIGKILL");
      expect(await snapshot(ws.staging), "staging untouched").toEqual(before);
      const there = await readdir(ws.moveTo).catch(() => []);
      expect(
        there.filter((n) => !n.startsWith(".")),
        "nothing under a name a reader waits for",
      ).toEqual([]);
      // a photo that came later keeps the folder from moving whole: the recovery moves it file by file
      if (late) await put(ws.staging, "WO_1/meter/late.jpg", noiseJpeg(300, 200, 9));

      const rerun = await wopack(args);
      expect(rerun.code, rerun.stderr).toBe(0);
      const names = await readdir(ws.moveTo);
      expect(
        names.filter((n) => n.startsWith(".")),
        "nothing the cut copy left",
      ).toEqual([]);
      expect(await contents(path.join(ws.moveTo, "WO_1"))).toEqual(photos);
      if (late) return; // (the late photo is a new submission of WO_1, packed and moved on its own)
      expect(names).toEqual(["WO_1"]);
      expect(await readdir(ws.staging)).toEqual([]);
      expect(await archivesIn(ws.out), "packed once").toHaveLength(1);
    });
});
