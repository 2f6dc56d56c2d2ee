// The archive splitting policy, pure: work-order sizes in, which ones share an archive out.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ArchiveLimits, overArchiveSize, startsNewArchive } from "../../src/archive/batching.js";

/** The writer's use of the policy, over sizes only: one archive per inner array (indices). */
function split(sizes: number[], limits: ArchiveLimits, overhead = 22): number[][] {
  const archives: number[][] = [];
  let open: { workOrders: number; bytes: number } | undefined;
  sizes.forEach((bytes, i) => {
    if (startsNewArchive(open, bytes, limits)) open = undefined;
    if (!open) {
      open = { workOrders: 0, bytes: overhead };
      archives.push([]);
    }
    archives.at(-1)!.push(i);
    open.workOrders++;
    open.bytes += bytes;
  });
  return archives;
}

describe("splitting work orders into archives", () => {
  it.each([
    ["no limits: one archive", [5, 5, 5], {}, [[0, 1, 2]]],
    ["--max-work-orders 2", [5, 5, 5], { maxWorkOrders: 2 }, [[0, 1], [2]]],
    [
      "--max-archive-size: the archive closes before it would pass the limit",
      [40, 40, 40],
      { maxArchiveSize: 110 },
      [[0, 1], [2]],
    ],
    [
      "a work order alone over the size limit gets an archive of its own",
      [10, 500, 10],
      { maxArchiveSize: 100 },
      [[0], [1], [2]],
    ],
    ["exactly at the limit fits", [39, 39], { maxArchiveSize: 100 }, [[0, 1]]],
    ["both limits: the first reached wins", [10, 10, 10, 90], { maxWorkOrders: 3, maxArchiveSize: 100 }, [[0, 1, 2], [3]]],
  ] as const)("%s", (_title, sizes, limits, expected) => {
    expect(split([...sizes], limits)).toEqual(expected);
  });

  it("keeps order, loses nothing, and every archive with two or more work orders keeps within both limits", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1000 }), { maxLength: 40 }),
        fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
        fc.option(fc.integer({ min: 50, max: 3000 }), { nil: undefined }),
        (sizes, maxWorkOrders, maxArchiveSize) => {
          const archives = split(sizes, { maxWorkOrders, maxArchiveSize });
          expect(archives.flat()).toEqual(sizes.map((_, i) => i));
          for (const a of archives) {
            expect(a.length).toBeGreaterThan(0);
            if (maxWorkOrders !== undefined) expect(a.length).toBeLessThanOrEqual(maxWorkOrders);
            if (maxArchiveSize !== undefined && a.length > 1)
              expect(22 + a.reduce((n, i) => n + sizes[i]!, 0)).toBeLessThanOrEqual(maxArchiveSize);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("warns about a work order alone over --max-archive-size, and only then", () => {
    expect(overArchiveSize("WO_1", 101, { maxArchiveSize: 100 })).toMatchObject({ code: "W_WORK_ORDER_OVER_ARCHIVE_SIZE" });
    expect(overArchiveSize("WO_1", 100, { maxArchiveSize: 100 })).toBeUndefined();
    expect(overArchiveSize("WO_1", 1e12, {})).toBeUndefined();
  });
});
