// Issue 26 item 4: the status page's photo checks, read from the status tolerantly: an earlier version's
// status has none (null: the page leaves the section out), and a malformed count or finding counts as
// nothing instead of breaking the page's script.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HealthFile, STATUS_FINDINGS } from "../../src/run/health.js";
import { EVENT_FINDINGS, photoChecksView } from "../../src/serve/checkCounts.js";

describe("the status's photo checks as the page draws them", () => {
  it("is null for a status without them (an earlier version's health file)", () => {
    expect(photoChecksView({ status: "idle" })).toBeNull();
    for (const odd of [null, 3, "x", [1, 2]]) expect(photoChecksView({ photoChecks: odd })).toBeNull();
  });

  it("gives a row per check in the config's order, its findings by outcome, since start and in the last pass", () => {
    const view = photoChecksView({
      photoChecks: {
        warned: 5,
        refused: 1,
        byCode: { W_PHOTO_BLURRY: 2, W_PHOTO_REUSED: 3, E_PHOTO_REUSED: 1, W_PHOTO_DARK: 1, W_PHOTO_OVEREXPOSED: 1, W_OTHER: 4 },
        lastPass: { warned: 1, refused: 1, byCode: { W_PHOTO_REUSED: 1, E_PHOTO_REUSED: 1 } },
        recent: [
          { at: "2026-12-05T19:00:00Z", code: "E_PHOTO_REUSED", message: "m1", workOrder: "WO_1", archive: null },
          {
            at: "2026-12-05T18:00:00Z",
            code: "W_PHOTO_BLURRY",
            message: "m2",
            workOrder: "WO_2",
            entry: "WO_2/a-1.jpg",
            archive: "b.zip",
          },
        ],
      },
    });
    expect(view!.total).toEqual({ warned: 5, refused: 1 });
    expect(view!.lastPass).toEqual({ warned: 1, refused: 1 });
    expect(view!.rows).toEqual([
      { check: "reuse", word: "re-used", total: { warned: 3, refused: 1 }, lastPass: { warned: 1, refused: 1 } },
      { check: "blur", word: "blurry", total: { warned: 2, refused: 0 }, lastPass: { warned: 0, refused: 0 } },
      { check: "exposure", word: "dark or over-exposed", total: { warned: 2, refused: 0 }, lastPass: { warned: 0, refused: 0 } },
    ]);
    expect(view!.recent.map((f) => [f.word, f.outcome, f.entry, f.archive])).toEqual([
      ["re-used", "refused", null, null],
      ["blurry", "warned", "WO_2/a-1.jpg", "b.zip"],
    ]);
  });

  it("reads the first version's status too (counts by code, no last pass, no findings)", () => {
    const view = photoChecksView({ photoChecks: { warned: 2, refused: 0, byCode: { W_PHOTO_DARK: 2 } } })!;
    expect(view.total).toEqual({ warned: 2, refused: 0 });
    expect(view.lastPass).toEqual({ warned: 0, refused: 0 });
    expect(view.rows.map((r) => [r.check, r.total.warned])).toEqual([["exposure", 2]]);
    expect(view.recent).toEqual([]);
  });

  it(`keeps the newest ${EVENT_FINDINGS} findings and says how many more`, () => {
    const recent = Array.from({ length: EVENT_FINDINGS + 5 }, (_, i) => ({
      code: "W_PHOTO_DARK",
      message: `m${i}`,
      workOrder: "W",
    }));
    const view = photoChecksView({ photoChecks: { recent } })!;
    expect(view.recent.map((f) => f.message)).toEqual(recent.slice(0, EVENT_FINDINGS).map((f) => f.message));
    expect(view.moreRecent).toBe(5);
  });

  it("never throws, and gives only whole non-negative counts and strings, whatever the status holds", () => {
    fc.assert(
      fc.property(fc.anything(), (given) => {
        const view = photoChecksView({ photoChecks: given });
        if (!view) return;
        for (const r of view.rows)
          for (const n of [r.total.warned, r.total.refused, r.lastPass.warned, r.lastPass.refused])
            expect(Number.isInteger(n) && n >= 0).toBe(true);
        for (const f of view.recent) {
          expect(typeof f.code === "string" && typeof f.message === "string" && typeof f.workOrder === "string").toBe(true);
          expect(["warned", "refused"]).toContain(f.outcome);
        }
      }),
      { numRuns: 500 },
    );
    // and the shapes near the expected one
    const near = fc.record({
      warned: fc.anything(),
      byCode: fc.dictionary(fc.constantFrom("W_PHOTO_DARK", "E_PHOTO_REUSED", "W_PHOTO_OLD", "X"), fc.anything()),
      recent: fc.array(fc.record({ code: fc.anything(), at: fc.anything(), message: fc.anything(), workOrder: fc.anything() })),
    });
    fc.assert(
      fc.property(near, (given) => {
        const view = photoChecksView({ photoChecks: given })!;
        // (the three codes are three checks; "X" is none)
        expect(view.rows.length).toBe(Object.keys(given.byCode).filter((c) => c !== "X").length);
        expect(view.recent.length).toBe(Math.min(EVENT_FINDINGS, given.recent.filter((f) => typeof f.code === "string").length));
      }),
    );
  });
});

describe("the health file's photo checks (HealthFile)", () => {
  it("counts photos warned of and work orders refused, since start and in the pass, and keeps the newest findings", () => {
    const at = new Date("2026-12-05T20:00:00Z");
    const h = new HealthFile(
      undefined,
      { staging: "/s", out: "/o", failedTo: null },
      () => at,
      () => undefined,
    );
    const entry = (name: string, checks?: { code: string; message: string }[]) => ({
      entry: `WO_1/${name}`,
      source: `WO_1/${name}`,
      bytes: 1,
      ...(checks ? { checks } : {}),
    });
    const report = {
      archive: "a.zip",
      path: "/o/a.zip",
      sha256: "00",
      bytes: 1,
      createdAt: at.toISOString(),
      refused: [],
      warnings: [],
      workOrders: [
        {
          id: "WO_1",
          fingerprint: "f",
          archive: "a.zip",
          warnings: [],
          entries: [
            entry("a-1.jpg", [
              { code: "W_PHOTO_DARK", message: "dark" },
              { code: "W_PHOTO_BLURRY", message: "soft" },
            ]),
            entry("a-2.jpg"),
            entry("a-3.jpg", [{ code: "W_PHOTO_REUSED", message: "again" }]),
          ],
        },
      ],
    };
    h.passStarted();
    h.archived(report);
    h.refusedOne(
      {
        id: "WO_2",
        problems: [
          { code: "E_PHOTO_REUSED", message: "packed before", hint: "h", path: "WO_2/x-1.jpg" },
          { code: "E_METADATA_MISSING", message: "no site", hint: "h" },
        ],
      },
      null,
    );
    const c = h.state.photoChecks;
    expect([c.warned, c.refused, c.byCode]).toEqual([
      2,
      1,
      { W_PHOTO_DARK: 1, W_PHOTO_BLURRY: 1, W_PHOTO_REUSED: 1, E_PHOTO_REUSED: 1 },
    ]);
    expect(c.lastPass).toEqual({ warned: 2, refused: 1, byCode: c.byCode });
    expect(c.recent.map((f) => [f.code, f.workOrder, f.entry, f.archive])).toEqual([
      ["E_PHOTO_REUSED", "WO_2", "WO_2/x-1.jpg", null],
      ["W_PHOTO_REUSED", "WO_1", "WO_1/a-3.jpg", "a.zip"],
      ["W_PHOTO_DARK", "WO_1", "WO_1/a-1.jpg", "a.zip"],
      ["W_PHOTO_BLURRY", "WO_1", "WO_1/a-1.jpg", "a.zip"],
    ]);
    // the next pass starts its own counts; the session's and the findings stay
    h.passStarted();
    expect(h.state.photoChecks.lastPass).toEqual({ warned: 0, refused: 0, byCode: {} });
    expect(h.state.photoChecks.warned).toBe(2);
    // the page's view of it
    const view = photoChecksView(h.state)!;
    expect(view.rows.map((r) => [r.check, r.total, r.lastPass])).toEqual([
      ["reuse", { warned: 1, refused: 1 }, { warned: 0, refused: 0 }],
      ["blur", { warned: 1, refused: 0 }, { warned: 0, refused: 0 }],
      ["exposure", { warned: 1, refused: 0 }, { warned: 0, refused: 0 }],
    ]);
    // at most STATUS_FINDINGS kept
    for (let i = 0; i < STATUS_FINDINGS; i++) h.archived(report);
    expect(h.state.photoChecks.recent).toHaveLength(STATUS_FINDINGS);
  });
});
