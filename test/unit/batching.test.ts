// The archive splitting policy, pure: work-order sizes in, which ones share an archive out.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ArchiveLimits, type OpenArchive, overArchiveSize, startsNewArchive } from "../../src/archive/batching.js";
import { MAX_ARCHIVE_ENTRIES } from "../../src/spec/entryCount.js";

/**
 * The writer's use of the policy: one archive per inner array (indices). Each work order's entries are its
 * photos and metadata.json (`entries`, or 4 each).
 */
function split(sizes: number[], limits: ArchiveLimits, overhead = 22, entries?: number[]): number[][] {
  const archives: number[][] = [];
  let open: OpenArchive | undefined;
  sizes.forEach((bytes, i) => {
    const next = { bytes, entries: entries?.[i] ?? 4 };
    if (startsNewArchive(open, next, limits)) open = undefined;
    if (!open) {
      open = { workOrders: 0, bytes: overhead, entries: 0 };
      archives.push([]);
    }
    archives.at(-1)!.push(i);
    open.workOrders++;
    open.bytes += bytes;
    open.entries += next.entries;
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

  it("never lets an archive hold more entries than validate and review accept (MAX_ARCHIVE_ENTRIES), whatever else is set", () => {
    // three work orders of 40,000 photos each (and metadata.json): two would be 80,002 entries, three 120,003
    const entries = [40_001, 40_001, 40_001];
    expect(split([1, 1, 1], {}, 22, entries)).toEqual([[0, 1], [2]]);
    expect(split([1, 1, 1], { maxArchiveSize: 1e12, maxWorkOrders: 1000 }, 22, entries)).toEqual([[0, 1], [2]]);
    // exactly at the limit fits; one entry more starts a new archive
    expect(split([1, 1], {}, 22, [MAX_ARCHIVE_ENTRIES - 10, 10])).toEqual([[0, 1]]);
    expect(split([1, 1], {}, 22, [MAX_ARCHIVE_ENTRIES - 10, 11])).toEqual([[0], [1]]);
    // a work order alone over the limit still gets an archive of its own (a work order never spans two)
    expect(split([1, 1, 1], {}, 22, [3, MAX_ARCHIVE_ENTRIES + 1, 3])).toEqual([[0], [1], [2]]);
  });

  it("keeps order, loses nothing, and every archive with two or more work orders keeps within both limits", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1000 }), { maxLength: 40 }),
        fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
        fc.option(fc.integer({ min: 50, max: 3000 }), { nil: undefined }),
        fc.option(fc.integer({ min: 2, max: 40 }), { nil: undefined }),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 40, maxLength: 40 }),
        (sizes, maxWorkOrders, maxArchiveSize, maxEntries, entries) => {
          const archives = split(sizes, { maxWorkOrders, maxArchiveSize, maxEntries }, 22, entries);
          expect(archives.flat()).toEqual(sizes.map((_, i) => i));
          for (const a of archives) {
            expect(a.length).toBeGreaterThan(0);
            if (maxWorkOrders !== undefined) expect(a.length).toBeLessThanOrEqual(maxWorkOrders);
            if (maxEntries !== undefined && a.length > 1)
              expect(a.reduce((n, i) => n + entries[i]!, 0)).toBeLessThanOrEqual(maxEntries);
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
