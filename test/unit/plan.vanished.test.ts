// A file that vanished between the scan and the reading of its facts (scan.ts marks it): pack refuses its
// work order with E_SOURCE_VANISHED naming the file (SPEC §9); watch leaves it pending, judged again once
// it settles. Every kind of member (photo in a task-group folder, loose photo, metadata.json, a root file).
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { planPack } from "../../src/plan/plan.js";
import { NOW, plan, staging } from "../plan-builders.js";

const FILES = {
  "WO_1/meter/a.jpg": {},
  "WO_1/cabinet_front.jpg": {},
  "WO_1/metadata.json": { json: {} },
  "WO_1__meter-7.jpg": {},
  "WO_2/meter/b.jpg": {},
};
const MEMBERS = ["WO_1/meter/a.jpg", "WO_1/cabinet_front.jpg", "WO_1/metadata.json", "WO_1__meter-7.jpg"];

function planWith(gone: string, vanishedWaits: boolean) {
  const { scan, facts } = staging(FILES);
  facts.set(gone, { type: null, readError: "ENOENT", vanished: true });
  return planPack({
    scan,
    facts,
    config: parseConfig({}),
    ledger: new Map(),
    options: { now: NOW, settleMs: 0, repack: false, vanishedWaits },
  });
}

describe("plan: a member that vanished while its facts were read", () => {
  it("nothing vanished: both work orders ready (the table's baseline)", () => {
    expect(plan(FILES).ready.map((w) => w.id)).toEqual(["WO_1", "WO_2"]);
  });
  for (const gone of MEMBERS) {
    it(`${gone}: pack refuses WO_1 naming it; the other work order is ready`, () => {
      const p = planWith(gone, false);
      expect(p.pending).toEqual([]);
      expect(p.ready.map((w) => w.id)).toEqual(["WO_2"]);
      expect(p.refused).toEqual([
        expect.objectContaining({ id: "WO_1", problems: [expect.objectContaining({ code: "E_SOURCE_VANISHED", path: gone })] }),
      ]);
    });
    it(`${gone}: watch leaves WO_1 pending, saying why`, () => {
      const p = planWith(gone, true);
      expect(p.refused).toEqual([]);
      expect(p.pending).toEqual([{ id: "WO_1", reason: expect.stringContaining(`${gone} was moved or removed`) }]);
    });
  }
});
