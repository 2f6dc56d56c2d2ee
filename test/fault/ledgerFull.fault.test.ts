// A disk that fills at every point of a commit (SPEC §8, §9): whatever step runs out of space, exit 3 tells the
// truth about what was committed. Before, a disk full at the ledger append (the archive already renamed into
// place) said "archive ... is committed, but recording it in the ledger failed" and then "nothing was committed",
// and --json's `committed` was empty.
import { spawnSync } from "node:child_process";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { archivesIn, noiseJpeg, put, wopack, workspace } from "../helpers.js";

const PAGE = 4096;
const blocks = (n: number) => Math.ceil(n / PAGE) * PAGE;

describe("a disk full during a commit", () => {
  it("at every 4 KiB step of free space: exit 3 lists exactly the archives in place, and a rerun packs each work order once", async (ctx) => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", noiseJpeg(640, 480, 1, 90));
    await put(ws.staging, "WO_2/meter/b.jpg", noiseJpeg(640, 480, 2, 90));
    const roomy = `${ws.out}-roomy`;
    expect((await wopack(["pack", ws.staging, "--out", roomy, "--no-review"])).code).toBe(0);
    const [archive] = await archivesIn(roomy);
    const needed = blocks((await stat(archive!)).size) + blocks((await stat(`${archive}.report.json`)).size);
    await mkdir(ws.out);
    if (
      spawnSync("mount", ["-t", "tmpfs", "-o", `size=${Math.ceil((needed + 256 * 1024) / 1024)}k`, "tmpfs", ws.out]).status !== 0
    )
      ctx.skip();
    try {
      const free = () => {
        const df = spawnSync("df", ["-B1", "--output=avail", ws.out], { encoding: "utf8" }).stdout.trim().split("\n");
        return Number(df[df.length - 1]);
      };
      let inPlaceFailures = 0;
      let nothingFailures = 0;
      for (let left = needed - 2 * PAGE; left <= needed + 8 * PAGE; left += PAGE) {
        for (const f of await readdir(ws.out)) await rm(path.join(ws.out, f), { recursive: true, force: true });
        const fill = path.join(ws.out, "fill");
        await writeFile(fill, Buffer.alloc(Math.max(0, free() - left)));
        const run = await wopack(["pack", ws.staging, "--out", ws.out, "--no-review", "--json"]);
        if (run.code === 0) continue;
        expect(run.code, run.stderr).toBe(3);
        expect(run.stderr).toContain("E_IO_ENOSPC");
        const placed = (await archivesIn(ws.out)).map((a) => path.basename(a));
        const told = (JSON.parse(run.stdout) as { committed: { archive: string }[] }).committed.map((c) => c.archive);
        expect(told, `${left} bytes left: ${run.stderr}`).toEqual(placed);
        if (placed.length) {
          inPlaceFailures++;
          // (--json: the log stays JSON, its error line says what was committed before the failure)
          expect(errorLine(run.stderr).committed.map((c) => path.basename(c.path))).toEqual(placed);
          // freed: the next run records it (recovery) and packs nothing twice
          await rm(fill);
          const again = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
          expect(again.code, again.stderr).toBe(0);
          expect(JSON.parse(again.stdout).packed).toEqual([]);
          expect(await archivesIn(ws.out)).toHaveLength(1);
        } else {
          nothingFailures++;
          expect(errorLine(run.stderr).committed).toEqual([]);
        }
      }
      // the scan crossed both kinds of failure (else it showed nothing)
      expect([inPlaceFailures > 0, nothingFailures > 0]).toEqual([true, true]);
    } finally {
      spawnSync("umount", [ws.out]);
    }
  }, 180_000);
});

/** The last line of a --json run's stderr: its error, as a log line. */
function errorLine(stderr: string): { code: string; committed: { path: string }[] } {
  const last = stderr.trim().split("\n").at(-1) ?? "";
  const line = JSON.parse(last) as { event?: string; code: string; committed: { path: string }[] };
  expect(line.event, last).toBe("error");
  return line;
}
