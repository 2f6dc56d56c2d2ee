// overlappingEntries against the plain O(n²) rule: an entry covers at least its 30-byte local header and its
// compressed data; two entries whose spans share a byte overlap, and no others do.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { overlappingEntries, type Span } from "../../src/archive/overlaps.js";

const span = (e: Span): [number, number] => [
  e.relativeOffsetOfLocalHeader,
  e.relativeOffsetOfLocalHeader + 30 + e.compressedSize,
];
const share = (a: Span, b: Span): boolean => span(a)[0] < span(b)[1] && span(b)[0] < span(a)[1];

describe("overlappingEntries", () => {
  it("flags exactly the entries that share a byte with another, each with one it shares with", () => {
    // small offsets and sizes so that overlaps, touching spans and equal offsets all come up often
    const entry = fc.record({ relativeOffsetOfLocalHeader: fc.nat(400), compressedSize: fc.nat(100) });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), (entries) => {
        const found = overlappingEntries(entries);
        for (const e of entries) {
          const expected = entries.some((f) => f !== e && share(e, f));
          expect(found.has(e)).toBe(expected);
          if (expected) expect(share(e, found.get(e)!)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("entries laid end to end, as every zip tool writes them, do not overlap", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ gap: fc.nat(50), compressedSize: fc.nat(1 << 20) })), (layout) => {
        let at = 0;
        const entries = layout.map(({ gap, compressedSize }) => {
          const e = { relativeOffsetOfLocalHeader: at, compressedSize };
          at += 30 + gap + compressedSize;
          return e;
        });
        expect(overlappingEntries(entries).size).toBe(0);
      }),
    );
  });
});
