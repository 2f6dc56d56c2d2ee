// What the planner is told of earlier runs (PlanInput.committed: each work order's last archive, and the
// batch the platform keeps of it when its upload needs attention).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { codeUnitOrder } from "../../src/spec/names.js";
import { NOW, plan } from "../plan-builders.js";

const FILES = { "WO_1/meter/a.jpg": { mtime: NOW - 3_600_000 }, "WO_2/meter/a.jpg": { mtime: NOW - 3_600_000 } };
const fingerprints = () => new Map(plan(FILES).ready.map((wo) => [wo.id, wo.fingerprint]));

describe("--repack of a work order whose archive's upload needs attention", () => {
  it("is refused naming the archive and the batch; a work order without attention is repacked", () => {
    const committed = new Map([
      ["WO_1", { archive: "b-1.zip", attentionBatch: "batch-7" }],
      ["WO_2", { archive: "b-1.zip" }],
    ]);
    const p = plan(FILES, {}, { repack: true }, fingerprints(), committed);
    expect(p.ready.map((wo) => wo.id)).toEqual(["WO_2"]);
    expect(p.refused).toMatchObject([{ id: "WO_1", sources: ["WO_1/meter/a.jpg"] }]);
    const [problem] = p.refused[0]!.problems;
    expect(problem).toMatchObject({ code: "E_REPACK_UPLOAD_ATTENTION" });
    expect(problem!.message).toContain("b-1.zip");
    expect(problem!.message).toContain("batch-7");
    expect(problem!.hint).toContain("wopack upload <out> b-1.zip --attention-cleared");
  });

  it("without --repack it is already packed; with new content it is a new submission, packed", () => {
    const committed = new Map([["WO_1", { archive: "b-1.zip", attentionBatch: "batch-7" }]]);
    expect(plan(FILES, {}, {}, fingerprints(), committed).alreadyPacked.map((wo) => wo.id)).toEqual(["WO_1", "WO_2"]);
    const changed = new Map([...fingerprints(), ["WO_1", "an earlier content"]]);
    const p = plan(FILES, {}, { repack: true }, changed, committed);
    expect(p.ready.map((wo) => wo.id)).toEqual(["WO_1", "WO_2"]);
  });
});

describe("a work-order id that differs only in case from one an earlier run packed", () => {
  const ready = (id: string) => ({ [`${id}/meter/a.jpg`]: { mtime: NOW - 3_600_000 } });

  it("is refused naming the id packed and its archive; that spelling itself is packed as usual (table)", () => {
    const committed = new Map([["WO-1a", { archive: "b-1.zip" }]]);
    // WO-1A comes first in code-unit order, but WO-1a is the spelling the platform has
    const p = plan({ ...ready("WO-1A"), ...ready("WO-1a"), ...ready("WO-2") }, {}, {}, new Map(), committed);
    expect(p.ready.map((wo) => wo.id).sort()).toEqual(["WO-1a", "WO-2"]);
    expect(p.refused.map((wo) => wo.id)).toEqual(["WO-1A"]);
    const [problem] = p.refused[0]!.problems;
    expect(problem).toMatchObject({ code: "E_WORK_ORDER_ID_CASE" });
    expect(problem!.message).toContain('"WO-1a"');
    expect(problem!.message).toContain("b-1.zip");
  });

  it("generated: only the packed spelling of a case class is ever planned", () => {
    const spelling = fc
      .tuple(fc.constantFrom("wo-1a", "x_b"), fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }))
      .map(([b, up]) => [...b].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(""));
    fc.assert(
      fc.property(
        fc.uniqueArray(spelling, { minLength: 1, maxLength: 3 }),
        fc.uniqueArray(spelling, { minLength: 1, maxLength: 5 }),
        (packedIds, stagedIds) => {
          const committed = new Map(packedIds.map((id, i) => [id, { archive: `b-${i}.zip` }]));
          const files = Object.assign({}, ...stagedIds.map(ready));
          const p = plan(files, {}, {}, new Map(), committed);
          const keep = new Map<string, string>();
          for (const id of [...packedIds].sort(codeUnitOrder)) if (!keep.has(id.toLowerCase())) keep.set(id.toLowerCase(), id);
          for (const id of [...stagedIds].sort(codeUnitOrder)) if (!keep.has(id.toLowerCase())) keep.set(id.toLowerCase(), id);
          expect(p.ready.map((wo) => wo.id).sort(codeUnitOrder)).toEqual(
            stagedIds.filter((id) => keep.get(id.toLowerCase()) === id).sort(codeUnitOrder),
          );
          for (const wo of p.refused) {
            const kept = keep.get(wo.id.toLowerCase())!;
            expect(wo.problems).toEqual([
              expect.objectContaining({ code: "E_WORK_ORDER_ID_CASE", message: expect.stringContaining(`"${kept}"`) }),
            ]);
            if (committed.has(kept)) expect(wo.problems[0]!.message).toContain(committed.get(kept)!.archive);
          }
          expect(p.ready.length + p.refused.length).toBe(stagedIds.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
