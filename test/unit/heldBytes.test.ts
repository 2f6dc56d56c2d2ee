// The bound on bytes held in memory, and the buffers photos are read into, used again once given back.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HeldBytes } from "../../src/prepare/heldBytes.js";

describe("HeldBytes", () => {
  it("hands each buffer to one holder at a time, large enough (within 16 KB)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ take: fc.integer({ min: 0, max: 300_000 }) }), fc.record({ giveBack: fc.nat() })), {
          maxLength: 100,
        }),
        (steps) => {
          const held = new HeldBytes(64 * 1024 * 1024);
          const inUse: Buffer[] = [];
          for (const step of steps) {
            if ("take" in step) {
              const b = held.buffer(step.take);
              expect(b.length).toBeGreaterThanOrEqual(step.take);
              expect(b.length).toBeLessThan(Math.max(1, step.take) + 16 * 1024);
              expect(inUse.includes(b)).toBe(false);
              inUse.push(b);
            } else if (inUse.length) {
              const [b] = inUse.splice(step.giveBack % inUse.length, 1) as [Buffer];
              held.recycle(b);
            }
          }
        },
      ),
      { numRuns: 200, seed: 25 },
    );
  });

  it("gives a buffer given back to the next photo of its size class, not a fresh one", () => {
    const held = new HeldBytes(1 << 30);
    const a = held.buffer(90_000);
    held.recycle(a);
    expect(held.buffer(95_000)).toBe(a);
    expect(held.buffer(95_000)).not.toBe(a);
    const many = Array.from({ length: 300 }, () => held.buffer(100_000));
    for (const b of many) held.recycle(b);
    // (16 MB of 112 KB buffers kept: the rest left to the GC)
    const again = new Set(Array.from({ length: 300 }, () => held.buffer(100_000)));
    expect(many.filter((b) => again.has(b)).length).toBe(Math.floor((16 * 1024 * 1024) / (112 * 1024)));
  });
});
