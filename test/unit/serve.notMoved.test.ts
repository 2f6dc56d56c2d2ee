// Archives uploaded but waiting in --out for the folder --uploaded-to names (a disk not mounted): /healthz
// says "attention" (200: a restart mounts no disk; not ok: they pile up in --out) and names the first; a
// watch that is unhealthy for another reason stays unhealthy; /metrics counts them exactly as /healthz does.
import { describe, expect, it } from "vitest";
import type { UploadsStatus, WatchStatus } from "../../src/core/types.js";
import { WatchMetrics } from "../../src/serve/metrics.js";
import { healthOf } from "../../src/serve/server.js";

const NOW = Date.parse("2026-12-06T04:00:00Z");
const at = (s: number) => new Date(NOW + s * 1000).toISOString();
const waits = (archive: string) => ({ archive, to: "/mnt/sent", reason: "it does not exist (mount or create it)", at: at(-600) });
const stuck = { archive: "x.zip", batchId: "batch-x", reason: "wrong bytes", at: at(-900) };

function status(over: Partial<UploadsStatus>, watch: Partial<WatchStatus> = {}): WatchStatus {
  const uploads: UploadsStatus = {
    ...{ uploaded: 0, failed: 0, queued: 0, stopped: null, sending: null, retrying: [], attention: [], notMoved: [] },
    ...over,
  };
  return { staging: "/s", status: "idle", lastScanAt: at(-10), lastError: null, waiting: [], uploads, ...watch } as WatchStatus;
}

const gauge = async (s: WatchStatus) =>
  Number(/^wopack_uploads_not_moved (\d+)$/m.exec(await new WatchMetrics(() => s).text())?.[1]);

describe("archives uploaded, not moved to --uploaded-to", () => {
  const rows: { name: string; s: WatchStatus; ok: boolean; attention: boolean; reason: RegExp; count: number }[] = [
    { name: "none", s: status({}), ok: true, attention: false, reason: /^idle$/, count: 0 },
    {
      name: "one",
      s: status({ notMoved: [waits("a.zip")] }),
      ok: true,
      attention: true,
      reason: /^uploaded, not moved to \/mnt\/sent: a\.zip: it does not exist \(mount or create it\); idle$/,
      count: 1,
    },
    {
      name: "three",
      s: status({ notMoved: [waits("a.zip"), waits("b.zip"), waits("c.zip")] }),
      ok: true,
      attention: true,
      reason: /^uploaded, not moved to \/mnt\/sent: a\.zip \(and 2 more\): /,
      count: 3,
    },
    {
      name: "beside an archive needing attention: both said",
      s: status({ notMoved: [waits("a.zip")], attention: [stuck] }),
      ok: true,
      attention: true,
      reason: /^needs attention: x\.zip \(batch batch-x\); uploaded, not moved to \/mnt\/sent: a\.zip: .*; idle$/,
      count: 1,
    },
    {
      name: "a watch whose passes fail: unhealthy wins",
      s: status({ notMoved: [waits("a.zip")] }, { status: "error", lastError: { at: at(-1), code: "E_X", message: "boom" } }),
      ok: false,
      attention: false,
      reason: /^E_X: boom$/,
      count: 1,
    },
  ];
  for (const r of rows)
    it(`${r.name}: /healthz and /metrics`, async () => {
      const h = healthOf(r.s, true, NOW, 180_000);
      expect(h.ok).toBe(r.ok);
      expect(h.attention === true).toBe(r.attention);
      expect(h.reason).toMatch(r.reason);
      expect(await gauge(r.s)).toBe(r.count);
    });
});
