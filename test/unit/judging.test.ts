// run/judging.ts: a reuse finding whose earlier work order was left out of the archive (one of its photos
// changed while it was written) is taken back, with its warning and count: that work order is packed
// nowhere, so the photo was not packed before. Found by a hostile tester: the warning named a work order
// that no archive held.
import { describe, expect, it } from "vitest";
import type { MeasuredPicture } from "../../src/checks/measures.js";
import { parseConfig } from "../../src/config/load.js";
import type { PackedEntry } from "../../src/core/types.js";
import type { Prepared } from "../../src/prepare/prepare.js";
import { PhotoChecks } from "../../src/run/judging.js";
import { scratchDirs } from "../scratch.js";

const scratch = scratchDirs();

const checks = parseConfig({}).images.checks;
const silent = { info() {}, warn() {}, error() {}, debug() {} } as never;

const measures = (hash: bigint): MeasuredPicture => ({
  hash,
  sharpness: 10 * checks.blur.minSharpness + 1,
  exposure: { mean: 120, dark: 0.02, bright: 0.02, highlight: 230 },
  flat: false,
});

/** A prepared work order of one photo with this picture hash. */
function prepared(id: string, hash: bigint): Prepared {
  const entry = `${id}/meter-0.jpg`;
  const report: PackedEntry = { entry, source: `${id}/IMG_1.jpg`, bytes: 1000 };
  return {
    wo: { id, metadata: {} },
    photos: [{ entry, source: report.source, measures: measures(hash) }],
    report: [report],
    warnings: [],
  } as unknown as Prepared;
}

async function pass() {
  const out = await scratch("wopack-judging-");
  const run = await PhotoChecks.open({
    checks,
    verify: "pixels",
    out,
    ledger: { archives: new Set() },
    siblings: false,
    now: () => new Date("2026-12-05T12:00:00Z"),
    log: silent,
  });
  return run!;
}

const HASH = 0x0123456789abcdefn;

describe("photo checks of a pass (run/judging.ts)", () => {
  it("a re-used picture whose earlier work order is in the same archive is named there, warned once", async () => {
    const run = await pass();
    const [a, b] = [prepared("WO_2", HASH), prepared("WO_3", HASH)];
    expect(run.judge(a)).toEqual([]);
    expect(run.judge(b)).toEqual([]);
    const counts = run.settle([a, b]);
    expect(b.report[0]!.checks?.map((f) => f.code)).toEqual(["W_PHOTO_REUSED"]);
    expect(b.warnings.map((w) => w.code)).toEqual(["W_PHOTO_REUSED"]);
    expect(b.warnings[0]!.message).toContain("in this archive");
    expect(counts?.reuse).toEqual({ passed: 1, warned: 1 });
    run.settle([a, b]); // (settled again: no second warning)
    expect(b.warnings).toHaveLength(1);
  });

  it("takes the finding back when its earlier work order was left out of the archive", async () => {
    const run = await pass();
    const [a, b] = [prepared("WO_2", HASH), prepared("WO_3", HASH)];
    run.judge(a);
    run.judge(b);
    run.settle([a, b]); // the batch as first written
    const counts = run.settle([b]); // written again without WO_2, whose photo changed meanwhile
    expect(b.report[0]!.checks).toBeUndefined();
    expect(b.warnings).toEqual([]);
    expect(counts?.reuse).toEqual({ passed: 1, warned: 0 });
  });

  it("names the archive of an earlier batch of the same run once it is committed", async () => {
    const run = await pass();
    const [a, b] = [prepared("WO_2", HASH), prepared("WO_3", HASH)];
    run.judge(a);
    run.settle([a]);
    run.committedAs([a], "batch-1.zip");
    run.judge(b);
    run.settle([b]);
    expect(b.report[0]!.checks?.[0]?.earlier?.archive).toBe("batch-1.zip");
    expect(b.warnings[0]!.message).toContain("in archive batch-1.zip");
  });
});
