// §5: what put each photo in capture order (the review page and the report say it).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Member } from "../../src/plan/group.js";
import { assignNumbers, type Numbered } from "../../src/plan/numbering.js";

function member(rel: string, mtimeMs: number): Member {
  return { entry: { rel, abs: `/s/${rel}`, kind: "file", size: 1, mtimeMs }, inner: rel.slice(rel.indexOf("/") + 1) };
}

describe("assignNumbers: capturedFrom", () => {
  it("is exif with a capture date, file with only a file time, name for an explicit -N or without either", () => {
    const photos: Numbered[] = [
      { n: -1, source: "WO/a.jpg", captureDate: "2024:03:04 05:06:07" },
      { n: -1, source: "WO/b.jpg" },
      { n: -1, source: "WO/c-0.jpg", captureDate: "2024:03:04 05:06:07" },
      { n: -1, source: "WO/d.jpg" },
    ];
    const members = [member("WO/a.jpg", 1), member("WO/b.jpg", Date.UTC(2025, 5, 7, 8, 9, 10)), member("WO/c-0.jpg", 1)];
    expect(assignNumbers(photos, [{ photo: photos[2]!, n: 0 }], members)).toEqual([]);
    expect(photos.map((p) => [p.source, p.capturedFrom, p.fileTime])).toEqual([
      ["WO/a.jpg", "exif", undefined],
      ["WO/b.jpg", "file", "2025-06-07T08:09:10.000Z"],
      ["WO/c-0.jpg", "name", undefined],
      ["WO/d.jpg", "name", undefined],
    ]);
  });

  it("every numbered photo says what ordered it, and a file time only when that was it", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ exif: fc.boolean(), mtime: fc.option(fc.integer({ min: 0, max: 2e12 })), explicit: fc.boolean() }), {
          maxLength: 12,
        }),
        (specs) => {
          const photos: Numbered[] = specs.map((s, i) => ({
            n: -1,
            source: `WO/p${i}.jpg`,
            ...(s.exif ? { captureDate: "2024:01:02 03:04:05" } : {}),
          }));
          const members = specs.flatMap((s, i) => (s.mtime === null ? [] : [member(`WO/p${i}.jpg`, s.mtime)]));
          const requests = photos.flatMap((photo, i) => (specs[i]!.explicit ? [{ photo, n: 100 + i }] : []));
          assignNumbers(photos, requests, members);
          photos.forEach((p, i) => {
            const s = specs[i]!;
            const want = s.explicit ? "name" : s.exif ? "exif" : s.mtime !== null ? "file" : "name";
            expect(p.capturedFrom).toBe(want);
            expect(p.fileTime).toBe(want === "file" ? new Date(s.mtime!).toISOString() : undefined);
          });
        },
      ),
    );
  });
});
