// A work order moved file by file copies its metadata.json and parameters.json into the target (what stays
// in staging still needs them). A link standing at that name in the target (a shared processed/ folder) is
// replaced, never written through nor taken for the copy: issue 21, as copySynced does for every other copy.
import { lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { moveItem } from "../../src/commit/moves.js";
import type { FileStamp, MoveItem } from "../../src/core/types.js";
import { tempDir } from "../helpers.js";

async function stampOf(folder: string, rel: string): Promise<FileStamp> {
  const st = await stat(path.join(folder, rel));
  return { rel, size: st.size, mtimeMs: st.mtimeMs };
}

const names = ["metadata.json", "parameters.json"] as const;
/** what the link in the target points at: another file, a file with the same bytes, nothing yet */
const victims = ["other bytes", "same bytes", "dangling"] as const;

describe("copying metadata.json / parameters.json into a move's target (§8 --move-to)", () => {
  for (const name of names)
    for (const victim of victims)
      it(`${name}: a link in the target to ${victim} is replaced by the file, its target untouched`, async () => {
        const dir = await tempDir("wopack-describes-");
        const from = path.join(dir, "staging", "WO_1");
        const to = path.join(dir, "processed", "WO_1");
        const outside = path.join(dir, "elsewhere", name);
        await mkdir(from, { recursive: true });
        await mkdir(to, { recursive: true });
        await mkdir(path.dirname(outside), { recursive: true });
        await writeFile(path.join(from, "a.jpg"), "photo");
        await writeFile(path.join(from, name), '{"packed":true}');
        const item: MoveItem = { from, to, packed: [await stampOf(from, "a.jpg"), await stampOf(from, name)], alongside: [] };
        await writeFile(path.join(from, "late.jpg"), "came after packing"); // so the folder moves file by file
        if (victim !== "dangling") await writeFile(outside, victim === "same bytes" ? '{"packed":true}' : "not yours");
        await symlink(outside, path.join(to, name));

        expect(await moveItem(item)).toEqual([path.join(from, "late.jpg")]);

        const st = await lstat(path.join(to, name));
        expect(
          st.isFile(),
          `${name} in the target is the file, not the link to ${await readlink(path.join(to, name)).catch(() => "")}`,
        ).toBe(true);
        expect(await readFile(path.join(to, name), "utf8")).toBe('{"packed":true}');
        expect(await readFile(path.join(from, name), "utf8")).toBe('{"packed":true}');
        if (victim === "dangling") expect(await lstat(outside).catch(() => undefined)).toBeUndefined();
        else expect(await readFile(outside, "utf8")).toBe(victim === "same bytes" ? '{"packed":true}' : "not yours");
      });
});
