// pack reads files' facts while the staging folder is still being listed (run/pack.ts): scanStaging tells
// `onEntry` of every entry the scan holds, the same entry, in the same order, and of nothing else, whatever
// the folder holds (links inside and out, links to folders, FIFOs, hidden and junk folders, names that sort
// apart in code units and locale order), and whether or not anyone listens.
import { execFileSync } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ScannedEntry, scanStaging } from "../../src/scan/scan.js";
import { tempDir } from "../helpers.js";

const KINDS = ["file", "link-in", "link-out", "link-dir", "fifo", "hidden-dir", "junk-dir", "nested"] as const;

const stagings = fc.array(
  fc.record({
    wo: fc.constantFrom("WO_1", "WO_2", "wo_10", "Ä_3"),
    name: fc.constantFrom("a.jpg", "B.JPG", "c d.png", "é.heic", "z.json", "_x.jpg"),
    kind: fc.constantFrom(...KINDS),
  }),
  { minLength: 1, maxLength: 12 },
);

async function build(items: { wo: string; name: string; kind: (typeof KINDS)[number] }[]): Promise<string> {
  const root = await tempDir("wopack-scan-");
  const outside = await tempDir("wopack-outside-");
  await writeFile(path.join(outside, "o.jpg"), "outside");
  for (const { wo, name, kind } of items) {
    const dir = path.join(root, wo);
    await mkdir(dir, { recursive: true });
    const at = path.join(dir, name);
    if (kind === "file") await writeFile(at, name, { flag: "wx" }).catch(() => undefined); // (never into a FIFO made before)
    if (kind === "link-in")
      await writeFile(path.join(root, "in.jpg"), "in").then(() => symlink(path.join(root, "in.jpg"), at).catch(() => undefined));
    if (kind === "link-out") await symlink(path.join(outside, "o.jpg"), at).catch(() => undefined);
    if (kind === "link-dir") await symlink(outside, at).catch(() => undefined);
    if (kind === "fifo") {
      try {
        execFileSync("mkfifo", [at], { stdio: "ignore" });
      } catch {
        // (already there)
      }
    }
    if (kind === "hidden-dir")
      await mkdir(path.join(dir, ".hidden"), { recursive: true }).then(() => writeFile(path.join(dir, ".hidden", name), "h"));
    if (kind === "junk-dir")
      await mkdir(path.join(dir, "__MACOSX"), { recursive: true }).then(() => writeFile(path.join(dir, "__MACOSX", name), "j"));
    if (kind === "nested")
      await mkdir(path.join(dir, "sub"), { recursive: true }).then(() => writeFile(path.join(dir, "sub", name), "n"));
  }
  return root;
}

describe("scanStaging's onEntry", () => {
  it("is told of exactly the scan's entries, in order, and the scan is the same without it", async () => {
    await fc.assert(
      fc.asyncProperty(stagings, async (items) => {
        const root = await build(items);
        const told: ScannedEntry[] = [];
        const scan = await scanStaging(root, (e) => told.push(e));
        expect(told).toEqual(scan.entries);
        for (const [i, e] of told.entries()) expect(e).toBe(scan.entries[i]);
        expect(await scanStaging(root)).toEqual(scan);
      }),
      { numRuns: 40 },
    );
  });
});
