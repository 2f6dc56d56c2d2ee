// Issue 24: doctor judges the folders a service uses as pack would: an --out that does not exist yet is
// fine when pack can create it, and every ERROR carries the fix for that case, not a generic one.
import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { type DoctorCheck, doctor, folderFix } from "../../src/run/doctor.js";
import { tempDir, wopack } from "../helpers.js";

type Case = {
  name: string;
  /** makes the folders under `dir`; returns the staging and out paths to check */
  make: (dir: string) => Promise<{ staging?: string; out?: string }>;
  role: "staging folder" | "output folder";
  status: DoctorCheck["status"];
  detail: RegExp;
  fix?: RegExp;
  /** needs a read-only mount (skipped where mount is not allowed) */
  mount?: boolean;
};

const CASES: Case[] = [
  {
    name: "an existing writable output folder",
    make: async (d) => ({ out: await folder(d, "out") }),
    role: "output folder",
    status: "ok",
    detail: /readable and writable, on \w+/,
  },
  {
    name: "an output folder pack will create",
    make: async (d) => ({ out: path.join(d, "new-outbox") }),
    role: "output folder",
    status: "ok",
    detail: /does not exist yet; wopack creates it in .* \(writable, on \w+\)/,
  },
  {
    name: "an output folder three levels below what exists",
    make: async (d) => ({ out: path.join(d, "a", "b", "c") }),
    role: "output folder",
    status: "ok",
    detail: /does not exist yet; wopack creates it in /,
  },
  {
    name: "an output folder that is a file",
    make: async (d) => ({ out: await file(d, "out") }),
    role: "output folder",
    status: "error",
    detail: /a file, not a folder/,
    fix: /a file is in the way.*--out/,
  },
  {
    name: "an output folder under a file",
    make: async (d) => ({ out: path.join(await file(d, "blocker"), "out") }),
    role: "output folder",
    status: "error",
    detail: /ENOTDIR|is a file/,
    fix: /a file is in the way/,
  },
  {
    name: "an output folder on a read-only mount",
    make: async (d) => ({ out: await readOnly(d) }),
    role: "output folder",
    status: "error",
    detail: /cannot write \(EROFS\)/,
    fix: /read-only file system/,
    mount: true,
  },
  {
    name: "an output folder to be created on a read-only mount",
    make: async (d) => ({ out: path.join(await readOnly(d), "out") }),
    role: "output folder",
    status: "error",
    detail: /cannot be created in .*EROFS/,
    fix: /read-only file system/,
    mount: true,
  },
  // a nearly full disk said "ok" and the next archive then failed with exit 3
  {
    name: "an output folder on a nearly full disk",
    make: async (d) => ({ out: await smallDisk(d) }),
    role: "output folder",
    status: "warn",
    detail: /readable and writable, on tmpfs; nearly full: \d+\.\d MB free/,
    fix: /free space there \(wopack prune .*\), or choose an output folder on a disk with at least 1 GiB free/,
    mount: true,
  },
  {
    name: "an output folder to be created on a nearly full disk",
    make: async (d) => ({ out: path.join(await smallDisk(d), "outbox", "s0") }),
    role: "output folder",
    status: "warn",
    detail: /does not exist yet; wopack creates it in .* \(writable, on tmpfs\); nearly full: /,
    fix: /free space there/,
    mount: true,
  },
  {
    name: "a staging folder that is there",
    make: async (d) => ({ staging: await folder(d, "staging") }),
    role: "staging folder",
    status: "ok",
    detail: /readable and writable, on \w+/,
  },
  {
    // watch and pack --move-to move packed work orders out of it: it said "ok" and watch then failed each move
    name: "a staging folder on a read-only mount",
    make: async (d) => ({ staging: await readOnly(d) }),
    role: "staging folder",
    status: "warn",
    detail: /readable, but cannot be written \(EROFS\), on tmpfs: watch and pack --move-to cannot move/,
    fix: /read-only file system/,
    mount: true,
  },
  {
    name: "a staging folder that is not there",
    make: async (d) => ({ staging: path.join(d, "share") }),
    role: "staging folder",
    status: "error",
    detail: /ENOENT/,
    fix: /create it, or mount its share \(wopack never creates a staging folder\)/,
  },
  {
    name: "a staging folder that is a file",
    make: async (d) => ({ staging: await file(d, "staging") }),
    role: "staging folder",
    status: "error",
    detail: /a file, not a folder/,
    fix: /give the staging folder itself/,
  },
];

describe("wopack doctor: folders", () => {
  for (const c of CASES) {
    it(c.name, async (ctx) => {
      const dir = await tempDir();
      const mounts: string[] = [];
      readOnly = async (d) => {
        const ro = await folder(d, "ro");
        if (spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro]).status !== 0) ctx.skip();
        mounts.push(ro);
        return ro;
      };
      smallDisk = async (d) => {
        const small = await folder(d, "small");
        if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", small]).status !== 0) ctx.skip();
        mounts.push(small);
        return small;
      };
      try {
        const checks = await doctor(await c.make(dir));
        const check = checks.find((x) => x.what === c.role);
        expect(check?.status, check?.detail).toBe(c.status);
        expect(check?.detail).toMatch(c.detail);
        if (c.fix) expect(check?.fix).toMatch(c.fix);
        else expect(check?.fix).toBeUndefined();
        // doctor leaves nothing behind: no probe file, and no folder made for an --out to be created
        expect(spawnSync("find", [dir, "-name", ".wopack-doctor-*"]).stdout.toString()).toBe("");
        if (c.status === "ok" && /does not exist/.test(check!.detail))
          expect(spawnSync("ls", [path.join(dir, "a")]).status).not.toBe(0);
      } finally {
        for (const m of mounts) spawnSync("umount", [m]);
      }
    });
  }

  it("each reason a folder fails has its own fix, for either role", () => {
    const reasons = ["ENOENT", "EACCES", "EPERM", "EROFS", "ENOTDIR", "file", "ENOSPC", "ELOOP"];
    for (const role of ["staging folder", "output folder"] as const) {
      const fixes = reasons.map((r) => folderFix(role, r));
      // access problems share one fix, and so do the two ways a file is in the way; the rest each have their own
      expect(fixes[1]).toBe(fixes[2]);
      expect(fixes[4]).toBe(fixes[5]);
      expect(new Set(fixes).size).toBe(reasons.length - 2);
      expect(folderFix(role, "EACCES")).toMatch(role === "staging folder" ? /read access/ : /write access/);
    }
    // only a staging folder is never created by wopack
    expect(folderFix("staging folder", "ENOENT")).toMatch(/never creates a staging folder/);
    expect(folderFix("output folder", "ENOENT")).not.toMatch(/never creates/);
  });

  it("a setup script's doctor --out <new folder> exits 0 and creates nothing", async () => {
    const dir = await tempDir();
    const run = await wopack(["doctor", "--out", path.join(dir, "outbox")]);
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/ok {4}output folder: .*outbox: does not exist yet; wopack creates it in /);
    expect(spawnSync("ls", [path.join(dir, "outbox")]).status).not.toBe(0);
  });
});

let readOnly: (dir: string) => Promise<string>;
let smallDisk: (dir: string) => Promise<string>;

async function folder(dir: string, name: string): Promise<string> {
  const p = path.join(dir, name);
  await mkdir(p, { recursive: true });
  return p;
}

async function file(dir: string, name: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, "not a folder");
  return p;
}
