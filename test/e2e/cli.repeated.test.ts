// A flag that takes one value given twice is a usage error (exit 2) naming both values, before anything is
// written or sent: yargs made it a list, and a path flag crashed on it (exit 70, "a bug").
import { cp, readdir } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT, tempDir, wopack } from "../helpers.js";

let dir: string;
beforeAll(async () => {
  dir = await tempDir("wopack-repeated-");
  await cp(path.join(ROOT, "sample-input"), path.join(dir, "S"), { recursive: true });
});

describe("a one-value flag given twice", () => {
  const rows: { what: string; args: (d: string) => string[]; flag: string }[] = [
    { what: "pack --out", args: (d) => ["pack", `${d}/S`, "--out", `${d}/A`, "--out", `${d}/B`], flag: "out" },
    {
      what: "pack --move-to",
      args: (d) => ["pack", `${d}/S`, "--out", `${d}/O`, "--move-to", `${d}/P1`, "--move-to", `${d}/P2`],
      flag: "move-to",
    },
    {
      what: "pack --on-archive",
      args: (d) => ["pack", `${d}/S`, "--out", `${d}/O`, "--on-archive", "true", "--on-archive", "false"],
      flag: "on-archive",
    },
    {
      what: "upload --uploaded-to",
      args: (d) => ["upload", `${d}/O`, "--uploaded-to", `${d}/U1`, "--uploaded-to", `${d}/U2`],
      flag: "uploaded-to",
    },
    {
      what: "status --config",
      args: (d) => ["status", `${d}/O`, "--config", `${d}/a.json`, "--config", `${d}/b.json`],
      flag: "config",
    },
    { what: "watch --out", args: (d) => ["watch", `${d}/S`, "--out", `${d}/O`, "--out", `${d}/O2`], flag: "out" },
  ];
  for (const row of rows)
    it(`${row.what}: E_USAGE naming both values, exit 2, nothing written`, async () => {
      const r = await wopack(row.args(dir), { env: { WOPACK_API_URL: "http://127.0.0.1:9", WOPACK_API_KEY: "wk_x" } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`E_USAGE: --${row.flag} is given 2 times \\(".+", ".+"\\); it takes one value`));
      expect((await readdir(dir)).sort(), "nothing made").toEqual(["S"]);
    });

  it("a credential in a value given twice is not shown", async () => {
    const hook = (n: number) => `curl -T https://ops:Pa55wOrd${n}@example.test/up?token=ToKeN${n}`;
    const r = await wopack(["pack", `${dir}/S`, "--out", `${dir}/O`, "--on-archive", hook(1), "--on-archive", hook(2)]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/E_USAGE: --on-archive is given 2 times/);
    expect(r.stderr).not.toMatch(/Pa55wOrd|ToKeN/);
  });
});
