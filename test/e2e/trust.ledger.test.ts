// The ledger survives damage: any line torn or garbled, the commits it held come back from the reports,
// so that no work order is sent twice or skipped.
import { appendFile, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { pack } from "../../src/run/pack.js";
import { archivesIn, put, readZip, wopack, workspace } from "../helpers.js";

/** pack in this process (a CLI start per case would make the table slow), with the ledger's warnings */
const packNow = (ws: { staging: string; out: string }) => pack({ staging: ws.staging, out: ws.out, config: parseConfig({}) });

const photo = () =>
  sharp({ create: { width: 16, height: 16, channels: 3, background: "#5a5" } })
    .jpeg()
    .toBuffer();

/** Three nights: WO_0..2, then WO_3..4, then WO_0 again with a new photo (a new submission). */
async function threeNights() {
  const ws = await workspace();
  for (const id of ["WO_0", "WO_1", "WO_2"]) await put(ws.staging, `${id}/meter/a.jpg`, photo());
  expect((await wopack(["pack", ws.staging, "--out", ws.out])).code).toBe(0);
  for (const id of ["WO_3", "WO_4"]) await put(ws.staging, `${id}/meter/a.jpg`, photo());
  expect((await wopack(["pack", ws.staging, "--out", ws.out])).code).toBe(0);
  await put(ws.staging, "WO_0/meter/b.jpg", photo());
  expect((await wopack(["pack", ws.staging, "--out", ws.out])).code).toBe(0);
  return ws;
}

async function packedCounts(out: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const zip of await archivesIn(out))
    for (const id of new Set((await readZip(zip)).map((e) => e.name.split("/")[0]!))) counts[id] = (counts[id] ?? 0) + 1;
  return counts;
}

describe("a damaged ledger (§8)", () => {
  it("any one line garbled or torn: the rerun names it, restores it from the reports, and packs nothing again", async () => {
    const ws = await threeNights();
    const ledger = path.join(ws.out, ".wopack", "ledger.jsonl");
    const pristine = await readFile(ledger, "utf8");
    const lines = pristine.split("\n").filter(Boolean);
    expect(lines).toHaveLength(6); // one commit record per work order and night
    const expected = await packedCounts(ws.out);
    expect(expected).toEqual({ WO_0: 2, WO_1: 1, WO_2: 1, WO_3: 1, WO_4: 1 });

    const damages: [string, (l: string[], i: number) => string][] = [
      ["garbled", (l, i) => l.map((x, j) => (j === i ? x.replace(/"id"/, '"\u0000d') : x)).join("\n") + "\n"],
      ["half a line", (l, i) => l.map((x, j) => (j === i ? x.slice(0, x.length / 2) : x)).join("\n") + "\n"],
      [
        "torn at the end",
        (l, i) =>
          l
            .slice(0, i + 1)
            .join("\n")
            .slice(0, -10) +
          "\n" +
          l.slice(i + 1).join("\n"),
      ],
    ];
    for (const [how, damage] of damages) {
      for (let i = 0; i < lines.length; i++) {
        await writeFile(ledger, damage(lines, i));
        const result = await packNow(ws);
        expect(
          result.packed,
          `${how} line ${i + 1}: ${JSON.stringify(result.warnings)} ${await readFile(ledger, "utf8")}`,
        ).toEqual([]);
        expect(result.refused).toEqual([]);
        expect(result.alreadyPacked).toHaveLength(5);
        expect(result.warnings.map((w) => w.code)).toEqual(["W_LEDGER_DAMAGED"]);
        expect(result.warnings[0]!.message).toContain(`line ${i + 1} `);
        // rewritten clean: the next run has nothing to say
        const text = await readFile(ledger, "utf8");
        for (const l of text.split("\n").filter(Boolean)) JSON.parse(l);
        const again = await packNow(ws);
        expect(again.warnings).toEqual([]);
        expect(again.packed).toEqual([]);
        await writeFile(ledger, pristine);
      }
    }
    expect(await packedCounts(ws.out)).toEqual(expected);
  });

  it("a commit lost with its line is restored as the latest one, so a changed work order is still packed once", async () => {
    const ws = await threeNights();
    const ledger = path.join(ws.out, ".wopack", "ledger.jsonl");
    // the last line (WO_0's second submission) lost: WO_0 must not be packed a third time
    const lines = (await readFile(ledger, "utf8")).split("\n").filter(Boolean);
    await writeFile(ledger, lines.slice(0, -1).join("\n") + "\n{garbage\n");
    await appendFile(ledger, "");
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    expect(JSON.parse(run.stdout).packed).toEqual([]);
    // and a real change after that is packed, once
    await put(ws.staging, "WO_0/meter/c.jpg", photo());
    const changed = JSON.parse((await wopack(["pack", ws.staging, "--out", ws.out, "--json"])).stdout);
    expect(changed.packed.map((w: { id: string }) => w.id)).toEqual(["WO_0"]);
  });

  // the bug's neighbours: any number of commits in one second, split runs among them (several archives a run)
  it.for<[number, number | undefined]>([
    [2, undefined],
    [4, undefined],
    [3, 1],
  ])("%i runs committing in the same second (--max-work-orders %s) keep every report", async ([runs, maxWorkOrders]) => {
    const ws = await workspace();
    const now = () => new Date("2026-12-01T22:00:00Z");
    const expected: string[][] = [];
    for (let r = 0; r < runs; r++) {
      const ids = maxWorkOrders ? [`WO_${r}a`, `WO_${r}b`] : [`WO_${r}`];
      for (const id of ids) await put(ws.staging, `${id}/meter/a.jpg`, photo());
      await pack({ staging: ws.staging, out: ws.out, config: parseConfig({}), now, maxWorkOrders });
      expected.push(...(maxWorkOrders ? ids.map((id) => [id]) : [ids]));
    }
    const zips = await archivesIn(ws.out);
    expect(zips.map((z) => path.basename(z))).toEqual(expected.map((_, i) => `batch-20261201T220000Z-${i + 1}.zip`));
    for (const [i, zip] of zips.entries()) {
      const report = JSON.parse(await readFile(`${zip}.report.json`, "utf8"));
      expect(report.workOrders.map((w: { id: string }) => w.id)).toEqual(expected[i]);
      expect((await readZip(zip)).map((e) => e.name.split("/")[0])).toContain(expected[i]![0]);
    }
  });
});
