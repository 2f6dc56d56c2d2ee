// `prune --processed` deletes only in the folders --move-to moved into, judged by what a folder is (its
// device and inode), not by its name nor its path's last component: a copy of processed/ elsewhere, however
// reached (a linked parent, a bind mount), is refused with a code; the real folder reached through a linked
// parent is pruned by its real path, never through the link (issue 21). A table of how --processed is given.
import { execFileSync } from "node:child_process";
import { cp, mkdir, readdir, symlink, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appendLedger } from "../../src/commit/ledger.js";
import { pruneHeld } from "../../src/run/prune.js";
import { tempDir } from "../helpers.js";

const MTIME_S = 1_700_000_000;
const at = "2026-01-02T00:00:00.000Z";
const now = () => new Date("2026-12-01T00:00:00Z");
const root = process.getuid?.() === 0;

interface Setup {
  real: string;
  copy: string;
  dir: string;
}

const ROWS: { name: string; given: (s: Setup) => Promise<string>; deletes: boolean; bind?: true }[] = [
  { name: "the folder --move-to moved into", given: async (s) => s.real, deletes: true },
  {
    name: "the real folder through a linked parent",
    given: async (s) => {
      await symlink(path.dirname(s.real), path.join(s.dir, "via"));
      return path.join(s.dir, "via", "processed");
    },
    deletes: true,
  },
  { name: "a copy of it elsewhere (cp -a)", given: async (s) => s.copy, deletes: false },
  {
    name: "a copy through a linked parent",
    given: async (s) => {
      await symlink(path.dirname(s.copy), path.join(s.dir, "via"));
      return path.join(s.dir, "via", "processed");
    },
    deletes: false,
  },
  {
    name: "a bind mount of a copy",
    given: async (s) => bind(s.copy, path.join(s.dir, "bound")),
    deletes: false,
    bind: true,
  },
  {
    name: "a bind mount of the real folder",
    given: async (s) => bind(s.real, path.join(s.dir, "bound")),
    deletes: true,
    bind: true,
  },
];

const mounted: string[] = [];
async function bind(from: string, to: string): Promise<string> {
  await mkdir(to);
  execFileSync("mount", ["--bind", from, to]);
  mounted.push(to);
  return to;
}

describe("prune --processed deletes only in the folders --move-to moved into", () => {
  for (const row of ROWS)
    it.skipIf(row.bind && !root)(`${row.name}: ${row.deletes ? "pruned by its real path" : "refused"}`, async () => {
      const dir = await tempDir("wopack-identity-");
      const out = path.join(dir, "out");
      const real = path.join(dir, "real", "processed");
      const copy = path.join(dir, "backup", "processed");
      await mkdir(path.join(out, ".wopack", "tmp"), { recursive: true });
      await mkdir(path.join(real, "WO_1"), { recursive: true });
      await writeFile(path.join(real, "WO_1", "a.jpg"), "photo");
      await utimes(path.join(real, "WO_1", "a.jpg"), MTIME_S, MTIME_S);
      await cp(real, copy, { recursive: true, preserveTimestamps: true });
      const stamp = { rel: "a.jpg", size: 5, mtimeMs: MTIME_S * 1000 };
      const moves = [{ from: path.join(dir, "staging", "WO_1"), to: path.join(real, "WO_1"), packed: [stamp], alongside: [] }];
      await appendLedger(out, [{ type: "commit", id: "WO_1", fingerprint: "f", archive: "a1.zip", at, moves, moved: true }]);
      try {
        const processed = await row.given({ real, copy, dir });
        const result = await pruneHeld({ out, olderThanMs: 1, processed, delete: true, env: {}, now });
        if (row.deletes) {
          expect(result.pruned.map((p) => p.path)).toEqual([path.join(row.bind ? processed : real, "WO_1")]);
          expect(await readdir(real)).toEqual([]);
        } else {
          expect(result.pruned).toEqual([]);
          expect(result.kept).toEqual([
            { path: expect.stringMatching(/WO_1$/), code: "E_PRUNE_NOT_MOVED_HERE", reason: expect.stringContaining(real) },
          ]);
          expect(await readdir(real)).toEqual(["WO_1"]);
        }
        expect(await readdir(path.join(copy, "WO_1"))).toEqual(["a.jpg"]);
      } finally {
        while (mounted.length) execFileSync("umount", [mounted.pop()!]);
      }
    });
});
