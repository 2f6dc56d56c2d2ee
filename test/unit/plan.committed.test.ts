// What the planner is told of earlier runs (PlanInput.committed: each work order's last archive, and the
// batch the platform keeps of it when its upload needs attention).
import { describe, expect, it } from "vitest";
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
