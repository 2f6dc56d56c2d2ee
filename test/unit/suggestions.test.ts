// The name a refusal suggests is one the rules accept and that says something: a work-order id of
// another script or with accents got "_" or "WO__" ("Привет", "WO_ÄÖ"), a task group "Compteur_lectrique".
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isTaskGroupName, isWorkOrderId } from "../../src/spec/names.js";
import { badTaskGroupName, badWorkOrderId } from "../../src/spec/problems.js";

const suggested = (hint: string) => /e\.g\.,? (?:to )?"([^"]*)"/.exec(hint)?.[1];

const CASES: [string, string][] = [
  ["WO 123", "WO_123"],
  ["WO_ÄÖ", "WO_AO"],
  ["Привет", "WO_123456"],
  ["Café-Nº7", "Cafe-No7"],
  ["  WO:1  ", "WO_1"],
  ["工单 42", "42"],
  ["_", "WO_123456"],
];

describe("suggested names", () => {
  it.each(CASES)("work order %j -> %j", (id, want) => {
    expect(suggested(badWorkOrderId(id, id).hint)).toBe(want);
  });

  it("any id: the suggestion is a valid id holding a letter or digit, and keeps every ASCII letter and digit of it", () => {
    const piece = fc.oneof(
      fc.string({ unit: "grapheme" }),
      fc.constantFrom("Ä", "é", "ñ", "ß", "ø", "Ω", "ж", "日", " ", "\u202e", "\u0000", "-", "_", "WO", "7"),
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 8 }).map((p) => p.join("")),
        (id) => {
          fc.pre(!isWorkOrderId(id));
          const s = suggested(badWorkOrderId(id, "x").hint);
          expect(s).toBeDefined();
          expect(isWorkOrderId(s!)).toBe(true);
          expect(s).toMatch(/[A-Za-z0-9]/);
          const kept = id.replace(/[^A-Za-z0-9]/g, "").slice(0, 100);
          if (id.length <= 100) expect(isSubsequence(kept, s!), `${kept} in ${s}`).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("any task group: the suggestion is a valid task group name holding a letter or digit", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (name) => {
        fc.pre(!isTaskGroupName(name));
        const s = suggested(badTaskGroupName("x", name).hint);
        expect(isTaskGroupName(s!)).toBe(true);
        expect(s).toMatch(/[A-Za-z0-9]/);
      }),
      { numRuns: 2000 },
    );
    expect(suggested(badTaskGroupName("x", "Compteur électrique").hint)).toBe("Compteur_electrique");
  });
});

function isSubsequence(part: string, whole: string): boolean {
  let at = 0;
  for (const c of whole) if (c === part[at]) at++;
  return at === part.length;
}
