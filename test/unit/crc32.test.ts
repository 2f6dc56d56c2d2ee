// The CRC-32 every zip entry is written and read back with (src/core/crc32.ts) is zlib's, to the bit: the native
// binding's folding code (native/crc32.c, 64 and 16 bytes at a time, the rest by table) and its tables alone,
// on data of every length around the places where one way hands over to the other, at every alignment, from
// any starting CRC, and taken in pieces.
import { createRequire } from "node:module";
import { crc32 as zlibCrc32 } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { crc32 } from "../../src/core/crc32.js";

type Binding = { crc32(data: Uint8Array, crc?: number): number; folds(on?: boolean): boolean };
let binding: Binding | undefined;
try {
  binding = createRequire(import.meta.url)("../../native/build/Release/wopack_crc.node") as Binding;
} catch {
  binding = undefined; // not built: src/core/crc32.ts is zlib's own
}

/** Bytes at an offset into a larger buffer (folding loads unaligned 16-byte words), of lengths near 16 and 64. */
const views = fc
  .record({
    length: fc.oneof(
      fc.integer({ min: 0, max: 200 }),
      fc.tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: -17, max: 17 })).map(([k, d]) => 64 * k + d),
      fc.integer({ min: 200, max: 70_000 }),
    ),
    offset: fc.integer({ min: 0, max: 31 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    fill: fc.constantFrom("random", "zeros", "ones"),
  })
  .map(({ length, offset, seed, fill }) => {
    const n = Math.max(0, length);
    const whole = new Uint8Array(n + offset + 7);
    let x = seed;
    for (let i = 0; i < whole.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      whole[i] = fill === "zeros" ? 0 : fill === "ones" ? 0xff : x & 0xff;
    }
    return whole.subarray(offset, offset + n);
  });

const start = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1 }));

describe("crc32", () => {
  afterAll(() => binding?.folds(true));

  it("is zlib's, whole or in pieces, from any starting CRC", () => {
    fc.assert(
      fc.property(views, start, fc.array(fc.nat(), { maxLength: 4 }), (data, from, cuts) => {
        const want = zlibCrc32(data, from);
        expect(crc32(data, from)).toBe(want);
        const at = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
        let crc = from;
        let last = 0;
        for (const cut of [...at, data.length]) {
          crc = crc32(data.subarray(last, cut), crc);
          last = cut;
        }
        expect(crc).toBe(want);
      }),
      { numRuns: 600 },
    );
  });

  it.skipIf(!binding)("gives the same numbers with and without the folding code", () => {
    const b = binding!;
    fc.assert(
      fc.property(views, start, (data, from) => {
        b.folds(false);
        const byTable = b.crc32(data, from);
        b.folds(true);
        expect(b.crc32(data, from)).toBe(byTable);
        expect(byTable).toBe(zlibCrc32(data, from));
      }),
      { numRuns: 300 },
    );
  });

  it.skipIf(!binding)("refuses what is not bytes", () => {
    const b = binding!;
    expect(() => b.crc32("text" as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => b.crc32(new Uint16Array(4) as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => b.crc32(new Uint8Array(4), "1" as unknown as number)).toThrow(TypeError);
  });
});
