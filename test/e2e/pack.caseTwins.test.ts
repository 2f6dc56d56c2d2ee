// The real CLI on ids that differ only in letter case: pack refuses the later (E_WORK_ORDER_ID_CASE, exit 1)
// and its archive never holds two folders one case-insensitive unzip would merge; validate finds the same
// in someone else's zip (written by Python's zipfile).
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { archivesIn, put, readZip, solidJpeg, tempDir, wopack, workspace } from "../helpers.js";

describe("work-order ids that differ only in case", () => {
  for (const [what, files] of [
    ["two folders", ["WO-1a/meter/a.jpg", "WO-1A/meter/b.jpg"]],
    ["a folder and a root file", ["WO-1a/meter/a.jpg", "WO-1A__meter.jpg"]],
    ["three spellings", ["wo-1a/meter/a.jpg", "WO-1a/meter/b.jpg", "WO-1A/meter/c.jpg"]],
  ] as const) {
    it(`pack, ${what}: the first in code-unit order packed, each other refused naming it; exit 1`, async () => {
      const ws = await workspace();
      for (const f of files) await put(ws.staging, f, solidJpeg());
      await put(ws.staging, "WO-2/meter/d.jpg", solidJpeg("#a40"));
      const r = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
      expect(r.code, r.stderr).toBe(1);
      const result = JSON.parse(r.stdout);
      const ids = files.map((f) => f.split(/\/|__/)[0]!).sort();
      expect(result.packed.map((w: { id: string }) => w.id).sort()).toEqual([ids[0], "WO-2"]);
      expect(
        result.refused.map((w: { id: string; problems: { code: string; message: string }[] }) => [
          w.id,
          w.problems.map((p) => p.code),
        ]),
      ).toEqual(ids.slice(1).map((id) => [id, ["E_WORK_ORDER_ID_CASE"]]));
      const [zip] = await archivesIn(ws.out);
      execFileSync("unzip", ["-tq", zip!]);
      const names = (await readZip(zip!)).map((e) => e.name.toLowerCase());
      expect(new Set(names).size, "no two entries one case-insensitive unzip would merge").toBe(names.length);
    }, 60_000);
  }

  it("validate someone else's zip with WO-1a/ and WO-1A/: E_WORK_ORDER_ID_CASE, exit 1", async () => {
    const dir = await tempDir();
    const zip = path.join(dir, "twins.zip");
    const jpeg = (await solidJpeg()).toString("base64");
    const script = `import base64, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n in ("WO-1a/meter-0.jpg", "WO-1A/meter-0.jpg"): z.writestr(n, base64.b64decode(sys.argv[2]))`;
    execFileSync("python3", ["-c", script, zip, jpeg]);
    const r = await wopack(["validate", zip, "--json"]);
    expect(r.code, r.stderr).toBe(1);
    expect(JSON.parse(r.stdout).problems).toEqual([
      expect.objectContaining({ code: "E_WORK_ORDER_ID_CASE", path: "WO-1a/", message: expect.stringContaining('"WO-1A"') }),
    ]);
  }, 30_000);

  it("across runs: WO-1A after WO-1a was packed (and moved away) is refused by pack, pack --dry-run and validate --out, naming WO-1a and its archive", async () => {
    const ws = await workspace();
    const moveTo = path.join(ws.dir, "processed");
    await put(ws.staging, "WO-1a/meter/a.jpg", solidJpeg());
    const first = await wopack(["pack", ws.staging, "--out", ws.out, "--move-to", moveTo]);
    expect(first.code, first.stderr).toBe(0);
    const [archive] = (await archivesIn(ws.out)).map((a) => path.basename(a));
    await put(ws.staging, "WO-1A/meter/b.jpg", solidJpeg("#a40"));
    await put(ws.staging, "WO-2/meter/c.jpg", solidJpeg("#4a0"));
    const expected = [
      expect.objectContaining({
        code: "E_WORK_ORDER_ID_CASE",
        path: "WO-1A",
        message: expect.stringMatching(new RegExp(`"WO-1a", packed already in ${archive!.replace(/\./g, "\\.")}`)),
      }),
    ];
    const dry = await wopack(["pack", ws.staging, "--out", ws.out, "--dry-run", "--json"]);
    expect(JSON.parse(dry.stdout).refused.map((w: { id: string }) => w.id)).toEqual(["WO-1A"]);
    const checked = await wopack(["validate", ws.staging, "--out", ws.out, "--json"]);
    expect(checked.code, checked.stderr).toBe(1);
    expect(JSON.parse(checked.stdout).problems).toEqual(expected);

    const second = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    expect(second.code, second.stderr).toBe(1);
    const result = JSON.parse(second.stdout);
    expect(result.packed.map((w: { id: string }) => w.id)).toEqual(["WO-2"]);
    expect(result.refused).toEqual([expect.objectContaining({ id: "WO-1A", problems: expected })]);
    const zips = await archivesIn(ws.out);
    expect(zips).toHaveLength(2);
    const names = (await readZip(zips.find((z) => !z.endsWith(archive!))!)).map((e) => e.name);
    expect(
      names.filter((n) => n.toLowerCase().startsWith("wo-1a/")),
      "WO-1A not packed",
    ).toEqual([]);
  }, 60_000);
});
