// Work-order ids that differ only in letter case (WO-1a, WO-1A, wo-1A, …) share one folder in an archive
// unzipped on Windows or macOS. SPEC is silent on case; wopack refuses every twin after the first in
// code-unit order with E_WORK_ORDER_ID_CASE naming the earlier id, and never merges or drops a photo.
// Generated: case variants of a few ids, as folders or root files, some not ready yet.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { caseTwins, codeUnitOrder } from "../../src/spec/names.js";
import { type FileSpec, NOW, plan } from "../plan-builders.js";

const BASES = ["wo-1a", "site_b7", "x"];
/** one spelling of a base id: each letter upper or lower case */
const spelling = fc
  .tuple(fc.constantFrom(...BASES), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }))
  .map(([b, up]) => [...b].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(""));

describe("ids that differ only in case", () => {
  it("caseTwins: every id after the first of its case-folded class, with that first one (table)", () => {
    expect(caseTwins(["WO-1a", "WO-1A", "wo-1a", "WO-2"])).toEqual(
      new Map([
        ["WO-1a", "WO-1A"],
        ["wo-1a", "WO-1A"],
      ]),
    );
    expect(caseTwins(["a", "b", "A_", "a-"])).toEqual(new Map());
  });

  it("generated: one of each class is planned, every other is refused naming it; no photo lost", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ id: spelling, root: fc.boolean(), settling: fc.boolean() }), {
          selector: (w) => w.id,
          minLength: 1,
          maxLength: 7,
        }),
        (wos) => {
          const files: Record<string, FileSpec> = {};
          for (const w of wos) {
            const rel = w.root ? `${w.id}__meter.jpg` : `${w.id}/meter/a.jpg`;
            files[rel] = { mtime: w.settling ? NOW - 1_000 : NOW - 3_600_000 };
          }
          const p = plan(files, {}, { settleMs: 60_000 });
          const ids = wos.map((w) => w.id).sort(codeUnitOrder);
          const firstOfClass = new Map<string, string>();
          for (const id of ids) if (!firstOfClass.has(id.toLowerCase())) firstOfClass.set(id.toLowerCase(), id);
          const settling = new Set(wos.filter((w) => w.settling).map((w) => w.id));
          for (const id of ids) {
            const first = firstOfClass.get(id.toLowerCase())!;
            const where = settling.has(id) ? "pending" : id === first ? "ready" : "refused";
            expect(
              p.pending.some((x) => x.id === id),
              `${id} pending`,
            ).toBe(where === "pending");
            expect(
              p.ready.some((x) => x.id === id),
              `${id} ready`,
            ).toBe(where === "ready");
            const refused = p.refused.find((x) => x.id === id);
            expect(Boolean(refused), `${id} refused`).toBe(where === "refused");
            if (refused) {
              expect(refused.problems).toEqual([
                expect.objectContaining({ code: "E_WORK_ORDER_ID_CASE", message: expect.stringContaining(`"${first}"`) }),
              ]);
              expect(refused.sources, "its photo stays named in the refusal, not dropped").toHaveLength(1);
            }
          }
          // what is packed never holds two folders that one case-insensitive unzip would merge
          const packed = p.ready.map((w) => w.id.toLowerCase());
          expect(new Set(packed).size).toBe(packed.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
