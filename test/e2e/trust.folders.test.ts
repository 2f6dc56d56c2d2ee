// Operator mistakes with folders and --dry-run: refused before anything is touched.
import { existsSync } from "node:fs";
import { mkdir, readdir, symlink } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { checkFolders, isInside } from "../../src/run/folders.js";
import { archivesIn, put, snapshot, tempDir, wopack, workspace } from "../helpers.js";
import { Watcher } from "../watcher.js";

const segment = fc.stringMatching(/^[a-z0-9._-]{1,6}$/).filter((s) => s !== "." && s !== "..");
const absPath = fc.array(segment, { maxLength: 4 }).map((parts) => `/${parts.join("/")}`);

describe("which folder is inside which (§8)", () => {
  it("is decided by path components: / holds everything, /a/staging2 is not inside /a/staging", () => {
    fc.assert(
      fc.property(absPath, fc.array(segment, { maxLength: 3 }), segment, (parent, rest, sibling) => {
        expect(isInside(path.join(parent, ...rest), parent)).toBe(true);
        expect(isInside(parent, "/")).toBe(true);
        // a sibling sharing the name as a prefix is not inside
        if (parent !== "/") expect(isInside(`${parent}${sibling}`, parent)).toBe(false);
        expect(isInside(path.dirname(parent), parent)).toBe(parent === "/");
      }),
      { numRuns: 300 },
    );
  });

  it.for<[string, (d: string) => { staging: string; out?: string; moveTo?: string; failedTo?: string }, string | undefined]>([
    ["siblings", (d) => ({ staging: `${d}/staging`, out: `${d}/out`, moveTo: `${d}/done`, failedTo: `${d}/failed` }), undefined],
    [
      "--move-to and --failed-to the same folder",
      (d) => ({ staging: `${d}/s`, out: `${d}/o`, moveTo: `${d}/x`, failedTo: `${d}/x` }),
      undefined,
    ],
    ["out inside staging", (d) => ({ staging: `${d}/staging`, out: `${d}/staging/out` }), "E_OUT_IN_STAGING"],
    ["staging inside out", (d) => ({ staging: `${d}/out/staging`, out: `${d}/out` }), "E_OUT_IN_STAGING"],
    ["staging is /", (d) => ({ staging: "/", out: `${d}/out` }), "E_OUT_IN_STAGING"],
    [
      "--move-to inside <out>/.wopack",
      (d) => ({ staging: `${d}/s`, out: `${d}/out`, moveTo: `${d}/out/.wopack/tmp` }),
      "E_MOVE_TO_IN_OUT",
    ],
    [
      "--failed-to inside <out>",
      (d) => ({ staging: `${d}/s`, out: `${d}/out`, failedTo: `${d}/out/failed` }),
      "E_FAILED_TO_IN_OUT",
    ],
    [
      "--failed-to inside staging",
      (d) => ({ staging: `${d}/s`, out: `${d}/o`, failedTo: `${d}/s/failed` }),
      "E_FAILED_TO_IN_STAGING",
    ],
    ["--move-to is staging", (d) => ({ staging: `${d}/s`, out: `${d}/o`, moveTo: `${d}/s/` }), "E_MOVE_TO_IN_STAGING"],
    ["--out through a symlink into staging", (d) => ({ staging: `${d}/s`, out: `${d}/link-to-s/out` }), "E_OUT_IN_STAGING"],
    [
      "--move-to through a symlink into out",
      (d) => ({ staging: `${d}/s`, out: `${d}/o`, moveTo: `${d}/link-to-o/.wopack/x` }),
      "E_MOVE_TO_IN_OUT",
    ],
  ])("%s", async ([, make, code]) => {
    const dir = await tempDir("wopack-folders-");
    await mkdir(path.join(dir, "s"));
    await mkdir(path.join(dir, "o"));
    await symlink(path.join(dir, "s"), path.join(dir, "link-to-s"));
    await symlink(path.join(dir, "o"), path.join(dir, "link-to-o"));
    const check = checkFolders(make(dir));
    if (code) await expect(check).rejects.toMatchObject({ code, kind: "usage" });
    else await expect(check).resolves.toBeUndefined();
  });
});

describe("every command that writes checks its folders first (§8, §9)", () => {
  it("watch refuses --move-to inside <out>/.wopack and a symlinked --out into staging: exit 2, nothing written", async () => {
    const ws = await workspace();
    await put(
      ws.staging,
      "WO_1/a.jpg",
      sharp({ create: { width: 8, height: 8, channels: 3, background: "#000" } })
        .jpeg()
        .toBuffer(),
    );
    const before = await snapshot(ws.dir);
    const intoState = await wopack(["watch", ws.staging, "--out", ws.out, "--move-to", path.join(ws.out, ".wopack", "done")]);
    expect(intoState.code).toBe(2);
    expect(intoState.stderr).toContain("E_MOVE_TO_IN_OUT");
    await symlink(ws.staging, path.join(ws.dir, "link"));
    const linked = await wopack(["watch", ws.staging, "--out", path.join(ws.dir, "link", "outbox")]);
    expect(linked.code).toBe(2);
    expect(linked.stderr).toContain("E_OUT_IN_STAGING");
    expect(await snapshot(ws.dir)).toEqual({ ...before, link: `link:${ws.staging}` });
  });
});

describe("--dry-run is a true dry run wherever it is accepted (§4)", () => {
  it("watch --dry-run reports what it would pack, takes no lock, and writes and moves nothing", async () => {
    const ws = await workspace();
    await put(
      ws.staging,
      "WO_1/meter/a.jpg",
      sharp({ create: { width: 8, height: 8, channels: 3, background: "#f00" } })
        .jpeg()
        .toBuffer(),
    );
    await put(ws.staging, "WO_bad/notes.txt", "not a photo");
    const before = await snapshot(ws.dir);
    const watcher = new Watcher([ws.staging, "--out", ws.out, "--settle", "0", "--dry-run"]);
    try {
      await watcher.until("the plan for WO_1 and the refusal of WO_bad", (w) =>
        ["planned", "refused"].every((e) => w.events.some((x) => x.event === e)),
      );
      expect(watcher.events.find((e) => e.event === "planned")?.workOrder).toBe("WO_1");
      // a real run is not kept out by the dry one
      const real = await wopack(["pack", ws.staging, "--out", path.join(ws.dir, "real-out"), "--dry-run"]);
      expect(real.code).toBe(1);
    } finally {
      const { code } = await watcher.stop();
      expect(code).toBe(0);
    }
    expect(await snapshot(ws.dir)).toEqual(before);
    expect(existsSync(ws.out)).toBe(false);
    expect(existsSync(path.join(ws.dir, "processed"))).toBe(false);
  });

  it("init --dry-run prints the config and writes nothing; validate does not take --dry-run", async () => {
    const dir = await tempDir("wopack-init-");
    const run = await wopack(["init", dir, "--dry-run"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`would write ${path.join(dir, "wopack.config.json")}`);
    expect(run.stdout).toContain('"$schema"');
    expect(await readdir(dir)).toEqual([]);
    const validate = await wopack(["validate", dir, "--dry-run"]);
    expect(validate.code).toBe(2);
    expect(await archivesIn(dir)).toEqual([]);
  });
});
