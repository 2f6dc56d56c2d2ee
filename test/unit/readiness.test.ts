// Watch mode's readiness, pure: in-memory scans and a clock that the test moves. No files, no sleeps.
import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { groupStaging } from "../../src/plan/group.js";
import { Readiness } from "../../src/plan/readiness.js";
import { PassScheduler } from "../../src/run/scheduler.js";
import { type FileSpec, NOW, staging } from "../plan-builders.js";

const groups = (files: Record<string, FileSpec>) => groupStaging(staging(files).scan, parseConfig({})).groups;

describe("Readiness", () => {
  it("a work order is ready once a scan sees it unchanged for settleMs, and offered once", () => {
    const r = new Readiness(30_000, undefined);
    const files = { "WO_1/meter/a.jpg": {} };
    const first = r.update(groups(files), NOW);
    expect([...first.ready.keys()]).toEqual([]);
    expect(first.waiting.get("WO_1")).toEqual({ reason: "settling", readyAt: NOW + 30_000 });
    expect(first.nextCheck).toBe(NOW + 30_000);
    expect(r.update(groups(files), NOW + 29_999).ready.size).toBe(0);
    const ready = r.update(groups(files), NOW + 30_000).ready;
    expect([...ready.keys()]).toEqual(["WO_1"]);
    r.markHandled("WO_1", ready.get("WO_1")!);
    expect(r.update(groups(files), NOW + 60_000).ready.size).toBe(0);
  });

  it("any change (a file growing, a new file, a *.part being written) starts the wait again", () => {
    const r = new Readiness(10_000, undefined);
    r.update(groups({ "WO_1/meter/a.jpg": { size: 100 } }), NOW);
    const grown = r.update(groups({ "WO_1/meter/a.jpg": { size: 200 } }), NOW + 9_000);
    expect(grown.nextCheck).toBe(NOW + 19_000);
    const partial = { "WO_1/meter/a.jpg": { size: 200 }, "WO_1/meter/b.jpg.part": {} };
    expect(r.update(groups(partial), NOW + 19_000).ready.size).toBe(0);
    expect(r.update(groups(partial), NOW + 29_000).ready.size).toBe(1);
  });

  it("content handled once is offered again when it changes after that (a new submission)", () => {
    const r = new Readiness(0, undefined);
    const first = r.update(groups({ "WO_1/meter/a.jpg": {} }), NOW).ready;
    r.markHandled("WO_1", first.get("WO_1")!);
    const again = r.update(groups({ "WO_1/meter/a.jpg": {}, "WO_1/meter/b.jpg": {} }), NOW + 1).ready;
    expect([...again.keys()]).toEqual(["WO_1"]);
    expect(again.get("WO_1")).not.toBe(first.get("WO_1"));
  });

  it("with a ready marker, waits for it however long the folder has been still", () => {
    const r = new Readiness(0, ".ready");
    const without = r.update(groups({ "WO_1/meter/a.jpg": {} }), NOW + 3_600_000);
    expect(without.waiting.get("WO_1")).toEqual({ reason: "no .ready marker yet" });
    expect(without.nextCheck).toBeUndefined();
    expect([...r.update(groups({ "WO_1/meter/a.jpg": {}, "WO_1/.ready": {} }), NOW).ready.keys()]).toEqual(["WO_1"]);
  });

  it("forgets a work order that left staging, so one of the same id later is judged afresh", () => {
    const r = new Readiness(1_000, undefined);
    const files = { "WO_1/meter/a.jpg": {} };
    r.update(groups(files), NOW - 5_000);
    const ready = r.update(groups(files), NOW).ready;
    r.markHandled("WO_1", ready.get("WO_1")!);
    r.update([], NOW + 1); // moved away
    const back = r.update(groups(files), NOW + 2);
    // its wait starts again, and it is offered again
    expect(back.waiting.get("WO_1")).toEqual({ reason: "settling", readyAt: NOW + 2 + 1_000 });
    expect([...r.update(groups(files), NOW + 1_002).ready.keys()]).toEqual(["WO_1"]);
  });
});

describe("PassScheduler", () => {
  it("runs one pass at a time, and one more for requests made during it; the earliest timer wins", async () => {
    vi.useFakeTimers();
    try {
      let active = 0;
      let most = 0;
      let passes = 0;
      let release: () => void = () => {};
      const s = new PassScheduler(async () => {
        passes++;
        most = Math.max(most, ++active);
        await new Promise<void>((r) => {
          release = r;
        });
        active--;
      }, new AbortController().signal);
      const first = s.runNow();
      void s.runNow();
      void s.runNow(); // two requests while running: one more pass, not two
      release();
      await first;
      await vi.advanceTimersByTimeAsync(0);
      expect(passes).toBe(2);
      release();
      await vi.advanceTimersByTimeAsync(0);

      s.schedule(5_000);
      s.schedule(1_000); // sooner: replaces the later timer
      s.schedule(3_000); // later than the one due: ignored
      await vi.advanceTimersByTimeAsync(999);
      expect(passes).toBe(2);
      await vi.advanceTimersByTimeAsync(1);
      expect(passes).toBe(3);
      release();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(passes).toBe(3);
      expect(most).toBe(1);
      await s.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("schedules nothing once its signal is aborted", async () => {
    vi.useFakeTimers();
    try {
      const stop = new AbortController();
      let passes = 0;
      const s = new PassScheduler(async () => void passes++, stop.signal);
      stop.abort();
      s.schedule(10);
      await vi.advanceTimersByTimeAsync(100);
      expect(passes).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
