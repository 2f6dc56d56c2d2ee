// The watch status word (issue 24 §4): what the page, /state.json and the health file say between passes,
// and the staging warnings the status keeps.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { WatchStatus } from "../../src/core/types.js";
import { HealthFile, restingStatus, STATUS_WARNINGS } from "../../src/run/health.js";

const sending = { archive: "a.zip", since: "", lastProgressAt: "" };
const uploads = (busy: boolean) =>
  ({
    uploaded: 0,
    failed: 0,
    queued: 0,
    sending: busy ? sending : null,
    retrying: [],
    stopped: null,
    attention: [],
  }) as WatchStatus["uploads"];
const waiting = (reasons: string[]) => reasons.map((reason, i) => ({ id: `WO_${i}`, reason, readyAt: null }));

describe("restingStatus", () => {
  it.each([
    ["nothing", null, [], false, "idle"],
    ["uploads on, nothing sent", uploads(false), [], false, "idle"],
    ["a work order settling", null, ["settling"], false, "settling"],
    ["one settling, one without its marker", null, ["no .ready marker yet", "settling"], false, "settling"],
    ["a marker missing", null, ["no .ready marker yet"], false, "waiting"],
    ["the batch window open", null, ["batch window"], true, "waiting"],
    ["the batch window open, nothing listed", null, [], true, "waiting"],
    ["an upload in flight, a work order settling", uploads(true), ["settling"], false, "uploading"],
  ] as const)("%s: %s", (_, up, reasons, windowOpen, word) => {
    expect(restingStatus({ uploads: up, waiting: waiting([...reasons]) }, windowOpen)).toBe(word);
  });

  it("is idle only when nothing waits, settles or is sent, for any mix", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.constantFrom("settling", "no .ready marker yet", "batch window")),
        fc.boolean(),
        (busy, reasons, windowOpen) => {
          const word = restingStatus({ uploads: uploads(busy), waiting: waiting(reasons) }, windowOpen);
          expect(word === "idle").toBe(!busy && reasons.length === 0 && !windowOpen);
          expect(word === "uploading").toBe(busy);
          expect(word === "settling").toBe(!busy && reasons.includes("settling"));
        },
      ),
    );
  });
});

describe("HealthFile.warned", () => {
  it("keeps each distinct warning once, the newest first, at most STATUS_WARNINGS", () => {
    const health = new HealthFile(
      undefined,
      { staging: "/s", out: "/o", failedTo: "/f" },
      () => new Date(0),
      () => undefined,
    );
    const w = (i: number) => ({
      code: "W_ROOT_FILE_UNMATCHED",
      message: `x${i}.txt: names no work order`,
      hint: "move it",
      path: `x${i}.txt`,
    });
    health.warned(w(1));
    health.warned(w(2));
    health.warned(w(1));
    expect(health.state.warnings.map((x) => x.path)).toEqual(["x1.txt", "x2.txt"]);
    for (let i = 3; i < 30; i++) health.warned(w(i));
    expect(health.state.warnings).toHaveLength(STATUS_WARNINGS);
    expect(health.state.warnings[0]?.path).toBe("x29.txt");
  });
});
