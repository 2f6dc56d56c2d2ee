// pack --shard k/n hashes each id as spelled (its assignment is pinned: test/e2e/shard.test.ts), so two ids
// that differ only in letter case (WO_1, wo_1) may fall to different shards, each with its own ledger. The
// case-twin check (E_WORK_ORDER_ID_CASE) must still see the twin: in the staging folder (another shard's part)
// and in the sibling outboxes' ledgers. Generated: case spellings of a few ids that fall to different shards.
import { readdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { pack } from "../../src/index.js";
import { codeUnitOrder } from "../../src/spec/names.js";
import { shardOf } from "../../src/spec/shard.js";
import { archivesIn, noiseJpeg, put, readZip, tempDir } from "../helpers.js";

/** Each letter of `base` upper or lower case, by the bits of `mask`. */
function spelling(base: string, mask: number): string {
  return [...base].map((c, i) => (mask & (1 << i) ? c.toUpperCase() : c)).join("");
}

/** For each base and shard count, the first two spellings that fall to different shards. */
const PAIRS = ["wo_1", "site-7", "abc", "wo_10"].flatMap((base) =>
  [2, 3].flatMap((count) => {
    const all = [...new Set(Array.from({ length: 1 << base.length }, (_, m) => spelling(base, m)))];
    const first = all[0]!;
    const other = all.find((s) => shardOf(s, count) !== shardOf(first, count));
    return other ? [{ ids: [first, other].sort(codeUnitOrder) as [string, string], count }] : [];
  }),
);

const config = parseConfig({ images: { checks: { reuse: { action: "off" }, duplicate: { action: "off" } } } });

async function runShards(staging: string, outs: string[], order: number[]) {
  const results = [];
  for (const i of order) results[i] = await pack({ staging, out: outs[i]!, config, shard: { index: i, count: outs.length } });
  return results;
}

/** Which ids the archives in these outboxes hold, read with yauzl. */
async function packedIds(outs: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const out of outs)
    for (const zip of await archivesIn(out).catch(() => []))
      ids.push(...new Set((await readZip(zip)).map((e) => e.name.split("/")[0]!)));
  return ids.sort(codeUnitOrder);
}

describe("case twins that fall to different shards", () => {
  it("the table is not empty", () => expect(PAIRS.length).toBeGreaterThanOrEqual(6));

  for (const { ids, count } of PAIRS)
    for (const firstShard of ["the earlier's", "the later's"] as const)
      it(`${ids.join(" and ")} in one staging folder, ${count} shards, ${firstShard} shard first: only ${ids[0]} is packed`, async () => {
        const dir = await tempDir();
        const staging = path.join(dir, "staging");
        for (const [k, id] of ids.entries()) await put(staging, `${id}/meter/a.jpg`, noiseJpeg(64, 48, k + 1));
        const outs = Array.from({ length: count }, (_, i) => path.join(dir, `out-${i}`));
        const shards = ids.map((id) => shardOf(id, count));
        const order = firstShard === "the earlier's" ? shards : [...shards].reverse();
        const results = await runShards(
          staging,
          outs,
          [...order, ...outs.keys()].filter((i, k, a) => a.indexOf(i) === k),
        );
        expect(await packedIds(outs)).toEqual([ids[0]]);
        const refused = results.flatMap((r) => r.refused);
        expect(refused).toEqual([
          expect.objectContaining({ id: ids[1], problems: [expect.objectContaining({ code: "E_WORK_ORDER_ID_CASE" })] }),
        ]);
        expect(refused[0]!.problems[0]!.message).toContain(`"${ids[0]}"`);
      }, 30_000);

  for (const { ids, count } of PAIRS)
    for (const [packedFirst, later] of [ids, [...ids].reverse()] as const)
      it(`${packedFirst} packed by its shard on an earlier run, then ${later} staged (${count} shards): ${later} is refused naming it`, async () => {
        const dir = await tempDir();
        const staging = path.join(dir, "staging");
        const done = path.join(dir, "done");
        const outs = Array.from({ length: count }, (_, i) => path.join(dir, `out-${i}`));
        await put(staging, `${packedFirst}/meter/a.jpg`, noiseJpeg(64, 48, 1));
        const first = shardOf(packedFirst, count);
        const night1 = await pack({ staging, out: outs[first]!, moveTo: done, config, shard: { index: first, count } });
        expect(night1.packed.map((w) => w.id)).toEqual([packedFirst]);
        expect(await readdir(staging)).toEqual([]);
        await put(staging, `${later}/meter/a.jpg`, noiseJpeg(64, 48, 2));
        const mine = shardOf(later, count);
        const night2 = await pack({ staging, out: outs[mine]!, config, shard: { index: mine, count } });
        expect(night2.packed).toEqual([]);
        expect(night2.refused).toEqual([
          expect.objectContaining({
            id: later,
            problems: [
              expect.objectContaining({
                code: "E_WORK_ORDER_ID_CASE",
                message: expect.stringContaining(`"${packedFirst}", packed already in ${night1.archives[0]!.archive}`),
              }),
            ],
          }),
        ]);
        expect(await packedIds(outs)).toEqual([packedFirst]);
      }, 30_000);
});
