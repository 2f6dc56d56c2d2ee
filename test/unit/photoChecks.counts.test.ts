// Where the photo checks are counted for people watching a running watch: /metrics'
// wopack_photo_checks_total{check,outcome} and the status's photoChecks (health file, /state.json, page).
import { describe, expect, it } from "vitest";
import type { ArchiveReport, PackedEntry } from "../../src/core/types.js";
import { packedEvent, refusedEvent } from "../../src/run/events.js";
import { HealthFile } from "../../src/run/health.js";
import { WatchMetrics } from "../../src/serve/metrics.js";

const entry = (name: string, codes: string[]): PackedEntry => ({
  entry: `WO_1/${name}`,
  source: `WO_1/${name}`,
  bytes: 1,
  ...(codes.length ? { checks: codes.map((code) => ({ code, message: `${name}: ${code}` })) } : {}),
});

const report: ArchiveReport = {
  archive: "batch-1.zip",
  path: "/o/batch-1.zip",
  sha256: "0".repeat(64),
  bytes: 10,
  createdAt: new Date(0).toISOString(),
  workOrders: [
    {
      id: "WO_1",
      fingerprint: "f",
      archive: "batch-1.zip",
      entries: [entry("a-0.jpg", ["W_PHOTO_REUSED", "W_PHOTO_BLURRY"]), entry("b-1.jpg", []), entry("c-2.jpg", ["W_PHOTO_DARK"])],
      warnings: [],
    },
  ],
  refused: [],
  warnings: [],
  photoChecks: { reuse: { passed: 2, warned: 1 }, blur: { passed: 1, warned: 1 }, exposure: { passed: 2, warned: 1 } },
};

const refused = {
  id: "WO_2",
  sources: ["WO_2/x.jpg"],
  problems: [
    { code: "E_PHOTO_REUSED", message: "x", hint: "h", path: "WO_2/x.jpg" },
    { code: "E_PHOTO_OVEREXPOSED", message: "y", hint: "h", path: "WO_2/y.jpg" },
    { code: "E_IMAGE_DAMAGED", message: "z", hint: "h" },
  ],
};

describe("photo check counts", () => {
  it("/metrics: passed and warned per check from each archive, refused per E_PHOTO_* problem", async () => {
    const health = new HealthFile(
      undefined,
      { staging: "/s", out: "/o", failedTo: null },
      () => new Date(0),
      () => undefined,
    );
    const metrics = new WatchMetrics(() => health.state);
    metrics.onEvent(packedEvent(report));
    metrics.onEvent(refusedEvent(refused));
    const lines = (await metrics.text()).split("\n").filter((l) => l.startsWith("wopack_photo_checks_total{"));
    expect(lines.sort()).toEqual(
      [
        'wopack_photo_checks_total{check="reuse",outcome="passed"} 2',
        'wopack_photo_checks_total{check="reuse",outcome="warned"} 1',
        'wopack_photo_checks_total{check="blur",outcome="passed"} 1',
        'wopack_photo_checks_total{check="blur",outcome="warned"} 1',
        'wopack_photo_checks_total{check="exposure",outcome="passed"} 2',
        'wopack_photo_checks_total{check="exposure",outcome="warned"} 1',
        'wopack_photo_checks_total{check="reuse",outcome="refused"} 1',
        'wopack_photo_checks_total{check="exposure",outcome="refused"} 1',
      ].sort(),
    );
  });

  it("status: photos warned of, work orders refused, and each code", () => {
    const health = new HealthFile(
      undefined,
      { staging: "/s", out: "/o", failedTo: null },
      () => new Date(0),
      () => undefined,
    );
    // (lastPass and recent, for the status page: test/unit/status.checks.test.ts)
    const counts = () => {
      const { warned, refused, byCode } = health.state.photoChecks;
      return { warned, refused, byCode };
    };
    expect(counts()).toEqual({ warned: 0, refused: 0, byCode: {} });
    health.archived(report);
    health.refusedOne(refused, null);
    health.refusedOne({ id: "WO_3", problems: [{ code: "E_IMAGE_DAMAGED", message: "z", hint: "h" }] }, null);
    expect(counts()).toEqual({
      warned: 2,
      refused: 1,
      byCode: { W_PHOTO_REUSED: 1, W_PHOTO_BLURRY: 1, W_PHOTO_DARK: 1, E_PHOTO_REUSED: 1, E_PHOTO_OVEREXPOSED: 1 },
    });
  });
});
