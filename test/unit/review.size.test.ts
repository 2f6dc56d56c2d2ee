// The review page's size in bytes is grouped as `toLocaleString("en")` groups it, without setting up ICU.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { groupDigits } from "../../src/review/render.js";

describe("the review page's size in bytes", () => {
  it("is grouped by thousands exactly as toLocaleString('en') groups it", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), (n) => {
        expect(groupDigits(n)).toBe(n.toLocaleString("en"));
      }),
      { numRuns: 2000 },
    );
    for (const n of [0, 999, 1000, 999_999, 1_000_000, 91_357_044, Number.MAX_SAFE_INTEGER])
      expect(groupDigits(n)).toBe(n.toLocaleString("en"));
  });
});
