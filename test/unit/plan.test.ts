import { describe, expect, it } from "vitest";
import { fingerprintOf } from "../../src/plan/group.js";
import { NOW, plan, staging } from "../plan-builders.js";

const names = (p: ReturnType<typeof plan>, id: string) =>
  p.ready.find((w) => w.id === id)!.photos.map((ph) => `${ph.taskGroup}-${ph.n} <- ${ph.source}`);
const codes = (p: ReturnType<typeof plan>, id: string) => p.refused.find((w) => w.id === id)?.problems.map((x) => x.code);

describe("task groups (§3)", () => {
  it("takes the sub-folder name, else the file stem without -N", () => {
    const p = plan({ "WO_1/meter_reading/IMG_1.jpg": {}, "WO_1/cabinet_front-3.jpg": {} });
    expect(names(p, "WO_1")).toEqual([
      "cabinet_front-3 <- WO_1/cabinet_front-3.jpg",
      "meter_reading-4 <- WO_1/meter_reading/IMG_1.jpg",
    ]);
  });

  it("maps human folder names through aliases", () => {
    const p = plan({ "WO_1/Meter photos/a.jpg": {} }, { aliases: { "Meter photos": "meter_reading" } });
    expect(names(p, "WO_1")).toEqual(["meter_reading-0 <- WO_1/Meter photos/a.jpg"]);
  });

  it("refuses a name outside the rule instead of rewriting it, with a hint", () => {
    const p = plan({ "WO_1/Meter photo 1/a.jpg": {}, "WO_2/IMG 0042.jpg": {} });
    expect(codes(p, "WO_1")).toEqual(["E_TASK_GROUP_NAME"]);
    expect(codes(p, "WO_2")).toEqual(["E_TASK_GROUP_NAME"]);
    expect(p.refused[0]!.problems[0]!.hint).toMatch(/aliases/);
  });

  it("falls back to defaultTaskGroup for loose files with unusable stems, not for folders", () => {
    const p = plan({ "WO_1/IMG 0042.jpg": {}, "WO_2/Bad folder/a.jpg": {} }, { defaultTaskGroup: "general" });
    expect(names(p, "WO_1")).toEqual(["general-0 <- WO_1/IMG 0042.jpg"]);
    expect(codes(p, "WO_2")).toEqual(["E_TASK_GROUP_NAME"]);
  });

  it("refuses groups not in taskGroups and suggests the nearest", () => {
    const p = plan({ "WO_1/meter_readng/a.jpg": {} }, { taskGroups: ["meter_reading", "cabinet_front"] });
    const problem = p.refused[0]!.problems[0]!;
    expect(problem.code).toBe("E_TASK_GROUP_UNKNOWN");
    expect(problem.hint).toContain('"meter_reading"');
  });
});

describe("ordering and numbering (§5)", () => {
  it("keeps explicit -N and numbers the rest in capture order after the largest", () => {
    const p = plan({
      "WO_1/cabinet-2.jpg": {},
      "WO_1/meter/late.jpg": { date: "2024:05:01 10:00:02" },
      "WO_1/meter/early.jpg": { date: "2024:05:01 10:00:01" },
      "WO_1/overview.png": { type: "png", date: "2024:05:01 09:00:00" },
    });
    expect(names(p, "WO_1")).toEqual([
      "cabinet-2 <- WO_1/cabinet-2.jpg",
      "overview-3 <- WO_1/overview.png",
      "meter-4 <- WO_1/meter/early.jpg",
      "meter-5 <- WO_1/meter/late.jpg",
    ]);
  });

  it("starts at 0 without explicit numbers, uses mtime without EXIF, then natural sort", () => {
    const p = plan({
      "WO_1/g/IMG_10.jpg": { mtime: NOW - 5000 },
      "WO_1/g/IMG_9.jpg": { mtime: NOW - 5000 },
      "WO_1/g/IMG_1.jpg": { mtime: NOW - 9000 },
    });
    expect(names(p, "WO_1")).toEqual(["g-0 <- WO_1/g/IMG_1.jpg", "g-1 <- WO_1/g/IMG_9.jpg", "g-2 <- WO_1/g/IMG_10.jpg"]);
  });

  it("refuses two photos asking for the same number, naming both", () => {
    const p = plan({ "WO_1/a-1.jpg": {}, "WO_1/b-1.jpg": {} });
    const problem = p.refused[0]!.problems[0]!;
    expect(problem.code).toBe("E_ORDER_DUPLICATE");
    expect(problem.message).toContain("WO_1/a-1.jpg");
    expect(problem.message).toContain("WO_1/b-1.jpg");
  });

  it("does not read camera names in task-group folders as order requests", () => {
    const p = plan({ "WO_1/meter/IMG-2024-0001.jpg": {}, "WO_1/meter/meter-7.jpg": {} });
    expect(names(p, "WO_1")).toEqual(["meter-7 <- WO_1/meter/meter-7.jpg", "meter-8 <- WO_1/meter/IMG-2024-0001.jpg"]);
  });

  it("is deterministic: the same input in another order gives the same plan", () => {
    const files = { "WO_1/a/x.jpg": {}, "WO_1/a/y.jpg": {}, "WO_1/b-0.jpg": {}, "WO_2/c.jpg": {} };
    const reversed = Object.fromEntries(Object.entries(files).reverse());
    expect(plan(reversed)).toEqual(plan(files));
  });
});

describe("what is packed, ignored or refused (§3)", () => {
  it("ignores junk and partial downloads silently", () => {
    const p = plan({
      "WO_1/a.jpg": {},
      "WO_1/.DS_Store": { type: null },
      "WO_1/Thumbs.db": { type: null },
      "WO_1/desktop.ini": { type: null },
      "WO_1/__MACOSX/._a.jpg": { type: null },
      "WO_1/b.jpg.part": { type: null },
      "WO_1/c.crdownload": { type: null },
      "WO_1/d.tmp": { type: null },
      "WO_1/~$doc.docx": { type: null },
      "WO_1/.syncthing.e.jpg.tmp": { type: null },
    });
    expect(p.refused).toEqual([]);
    expect(p.ready[0]!.sources).toEqual(["WO_1/a.jpg"]);
  });

  it("refuses a non-image, a text named .jpg, an empty file and a symlink out, listing every problem", () => {
    const p = plan({
      "WO_1/notes.txt": { type: null },
      "WO_1/fake.jpg": { type: null },
      "WO_1/empty.jpg": { size: 0 },
      "WO_1/link.jpg": { kind: "symlink-outside" },
      "WO_1/ok.jpg": {},
    });
    expect(codes(p, "WO_1")!.sort()).toEqual(["E_EMPTY_FILE", "E_NOT_AN_IMAGE", "E_NOT_AN_IMAGE", "E_SYMLINK_OUTSIDE"]);
  });

  it("refuses a work-order id with spaces, and other work orders go on", () => {
    const p = plan({ "WO 7/a.jpg": {}, "WO_8/a.jpg": {} });
    expect(codes(p, "WO 7")).toEqual(["E_WORK_ORDER_ID"]);
    expect(p.ready.map((w) => w.id)).toEqual(["WO_8"]);
  });

  it("requires metadata.json and parameters.json to be JSON objects", () => {
    const p = plan({
      "WO_1/a.jpg": {},
      "WO_1/metadata.json": { json: [1, 2] },
      "WO_2/a.jpg": {},
      "WO_2/metadata.json": { json: { site: "x" } },
    });
    expect(codes(p, "WO_1")).toEqual(["E_METADATA_NOT_OBJECT"]);
    expect(p.ready[0]!.metadata).toEqual({ site: "x" });
  });

  it("refuses photos nested deeper than one task-group folder", () => {
    expect(codes(plan({ "WO_1/g/sub/a.jpg": {} }), "WO_1")).toEqual(["E_NESTED_FOLDER"]);
  });
});

describe("root files (§3)", () => {
  it("joins <id>__<group>[-N].<ext> to its work order, with or without a folder", () => {
    const p = plan({ "WO_1/a/x.jpg": {}, "WO_1__meter_reading-2.heic": { type: "heic" }, "WO_9__cabinet.jpg": {} });
    expect(names(p, "WO_1")).toEqual(["meter_reading-2 <- WO_1__meter_reading-2.heic", "a-3 <- WO_1/a/x.jpg"]);
    expect(names(p, "WO_9")).toEqual(["cabinet-0 <- WO_9__cabinet.jpg"]);
  });

  it("warns about a root file that names no work order, and packs the rest", () => {
    const p = plan({ "random.jpg": {}, "WO_1/a.jpg": {} });
    expect(p.warnings.map((w) => w.code)).toEqual(["W_ROOT_FILE_UNMATCHED"]);
    expect(p.ready.map((w) => w.id)).toEqual(["WO_1"]);
  });

  it("uses rootFilePattern when configured", () => {
    const p = plan(
      { "job-4711_meter_01.jpg": {} },
      { rootFilePattern: "^job-(?<workOrder>\\d+)_(?<taskGroup>[a-z]+)_(?<n>\\d+)\\." },
    );
    expect(names(p, "4711")).toEqual(["meter-1 <- job-4711_meter_01.jpg"]);
  });
});

describe("readiness and the ledger", () => {
  it("leaves a work order that changed within the settle time pending", () => {
    const p = plan({ "WO_1/a.jpg": { mtime: NOW - 1000 }, "WO_2/a.jpg": {} }, {}, { settleMs: 10_000 });
    expect(p.pending.map((w) => w.id)).toEqual(["WO_1"]);
    expect(p.ready.map((w) => w.id)).toEqual(["WO_2"]);
  });

  it("a partial download still being written keeps its work order pending", () => {
    const p = plan({ "WO_1/a.jpg": {}, "WO_1/b.jpg.part": { type: null, mtime: NOW - 500 } }, {}, { settleMs: 10_000 });
    expect(p.pending.map((w) => w.id)).toEqual(["WO_1"]);
  });

  it("with a ready marker, packs only work orders that hold it, and never packs the marker", () => {
    const p = plan({ "WO_1/a.jpg": {}, "WO_1/READY": { type: null }, "WO_2/a.jpg": {} }, {}, { readyMarker: "READY" });
    expect(p.ready.map((w) => w.id)).toEqual(["WO_1"]);
    expect(p.ready[0]!.sources).toEqual(["WO_1/a.jpg"]);
    expect(p.pending.map((w) => w.id)).toEqual(["WO_2"]);
  });

  it("a hidden ready marker (.ready) counts too", () => {
    const p = plan({ "WO_1/a.jpg": {}, "WO_1/.ready": { type: null }, "WO_2/a.jpg": {} }, {}, { readyMarker: ".ready" });
    expect(p.ready.map((w) => w.id)).toEqual(["WO_1"]);
    expect(p.pending).toEqual([{ id: "WO_2", reason: "no .ready marker yet" }]);
  });

  it("skips a work order committed with the same content; packs it again when it changed or with repack", () => {
    const files = { "WO_1/a.jpg": {} };
    const { scan } = staging(files);
    const ledger = new Map([["WO_1", fingerprintOf(scan.entries)]]);
    expect(plan(files, {}, {}, ledger).alreadyPacked.map((w) => w.id)).toEqual(["WO_1"]);
    expect(plan(files, {}, { repack: true }, ledger).ready.map((w) => w.id)).toEqual(["WO_1"]);
    expect(plan({ ...files, "WO_1/b.jpg": {} }, {}, {}, ledger).ready.map((w) => w.id)).toEqual(["WO_1"]);
  });
});
