// A work order leaving staging takes only what was packed: property-based over what happens to its folder
// between planning and the move (files added, replaced, touched, removed), on real files.
import { appendFile, mkdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { moveItem } from "../../src/commit/moves.js";
import type { FileStamp, MoveItem } from "../../src/core/types.js";
import { snapshot, tempDir } from "../helpers.js";

const fileName = fc.constantFrom(
  "a.jpg",
  "b.jpg",
  "meter/c.jpg",
  "meter/d.heic",
  "cabinet/e.png",
  "metadata.json",
  "parameters.json",
  ".DS_Store",
  ".ready",
);
type Change = { kind: "add" | "append" | "touch" | "remove"; file: string };
const change = fc.record({
  kind: fc.constantFrom<Change["kind"]>("add", "append", "touch", "remove"),
  file: fc.oneof(fileName, fc.constantFrom("meter/new.jpg", "late.jpg", "x.jpg.part", "sub/deeper/f.jpg")),
});

async function stampOf(folder: string, rel: string): Promise<FileStamp> {
  const st = await stat(path.join(folder, rel));
  return { rel, size: st.size, mtimeMs: st.mtimeMs };
}

describe("moving a packed work order (§8 --move-to)", () => {
  it("moves exactly the packed files that are unchanged; anything new or changed stays, nothing is lost, repeating it changes nothing", async () => {
    const root = await tempDir("wopack-moves-");
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fileName, { minLength: 1, maxLength: 9 }),
        fc.array(change, { maxLength: 5 }),
        async (files, changes) => {
          const dir = path.join(root, String(run++));
          const from = path.join(dir, "staging", "WO_1");
          const to = path.join(dir, "processed", "WO_1");
          for (const f of files) {
            await mkdir(path.dirname(path.join(from, f)), { recursive: true });
            await writeFile(path.join(from, f), `packed ${f}`);
          }
          const isJunk = (f: string) => path.basename(f).startsWith(".");
          const packed = await Promise.all(files.filter((f) => !isJunk(f)).map((f) => stampOf(from, f)));
          const alongside = await Promise.all(files.filter(isJunk).map((f) => stampOf(from, f)));
          const item: MoveItem = { from, to, packed, alongside };

          // what happens in the folder while the archive is written
          for (const c of changes) {
            const abs = path.join(from, c.file);
            await mkdir(path.dirname(abs), { recursive: true });
            if (c.kind === "add") await writeFile(abs, `new ${c.file}`);
            const present = await stat(abs).catch(() => undefined);
            if (c.kind === "append" && present) await appendFile(abs, "+");
            if (c.kind === "touch" && present) await utimes(abs, new Date(), new Date(Date.now() + 60_000));
            if (c.kind === "remove") await rm(abs, { force: true });
          }
          // packed and still as it was then (same size and modification time)
          const current = new Map<string, FileStamp | undefined>();
          for (const p of packed) current.set(p.rel, await stampOf(from, p.rel).catch(() => undefined));
          const unchanged = (rel: string) => {
            const p = packed.find((s) => s.rel === rel);
            const now = current.get(rel);
            return p !== undefined && now !== undefined && now.size === p.size && now.mtimeMs === p.mtimeMs;
          };
          const before = await snapshot(from);
          const left = await moveItem(item);
          const after = {
            from: await snapshot(from).catch((): Record<string, string> => ({})),
            to: await snapshot(to).catch((): Record<string, string> => ({})),
          };

          for (const rel of Object.keys(before).filter((r) => !r.endsWith("/"))) {
            const content = before[rel]!.split("@")[0];
            const inTo = after.to[rel]?.split("@")[0];
            const inFrom = after.from[rel]?.split("@")[0];
            // nothing is lost: every file is somewhere, with its content
            expect(inTo === content || inFrom === content, `${rel} lost`).toBe(true);
            if (unchanged(rel)) expect(inTo, `${rel} was packed and unchanged: it moves`).toBe(content);
            else if (!isJunk(rel) && !rel.endsWith(".part")) {
              // added or changed after packing: it stays in staging, and the move says so
              expect(inFrom, `${rel} is new or changed: it stays`).toBe(content);
              expect(left).toContain(path.join(from, rel));
            }
          }
          // the files that describe the work order stay for what is left behind
          const stayed = Object.keys(after.from).some((r) => !r.endsWith("/") && !isJunk(r));
          for (const json of ["metadata.json", "parameters.json"])
            if (stayed && unchanged(json)) expect(after.from[json]?.split("@")[0]).toBe(before[json]?.split("@")[0]);

          // recovery repeats an interrupted move: a second run changes nothing
          expect(await moveItem(item)).toEqual(left);
          expect(await snapshot(from).catch((): Record<string, string> => ({}))).toEqual(after.from);
          expect(await snapshot(to).catch((): Record<string, string> => ({}))).toEqual(after.to);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("an unchanged folder is renamed whole, junk and marker included", async () => {
    const dir = await tempDir("wopack-moves-");
    const from = path.join(dir, "staging", "WO_1");
    const to = path.join(dir, "processed", "WO_1");
    await mkdir(path.join(from, "meter"), { recursive: true });
    await writeFile(path.join(from, "meter", "a.jpg"), "a");
    await writeFile(path.join(from, ".ready"), "");
    const item: MoveItem = {
      from,
      to,
      packed: [await stampOf(from, "meter/a.jpg")],
      alongside: [await stampOf(from, ".ready")],
    };
    expect(await moveItem(item)).toEqual([]);
    await expect(stat(from)).rejects.toThrow();
    expect(await readFile(path.join(to, "meter", "a.jpg"), "utf8")).toBe("a");
    expect(await readFile(path.join(to, ".ready"), "utf8")).toBe("");
  });
});
