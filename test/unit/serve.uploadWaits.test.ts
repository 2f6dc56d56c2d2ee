// One truth about uploads waiting to be tried again: the archive being sent while a request of it waits
// (a 429's Retry-After, a 5xx: tried again inside the same upload) counts as waiting on /metrics exactly as
// /healthz and the status page (its "A request failed … trying again" line) say it; so do failed ones.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { UploadsStatus, WatchStatus } from "../../src/core/types.js";
import { WatchMetrics } from "../../src/serve/metrics.js";
import { healthOf } from "../../src/serve/server.js";

const NOW = Date.parse("2026-12-06T04:00:00Z");
const at = (s: number) => new Date(NOW + s * 1000).toISOString();

const sending = fc.option(
  fc.record({
    archive: fc.constantFrom("a.zip", "b.zip"),
    since: fc.constant(at(-60)),
    lastProgressAt: fc.constant(at(-5)),
    waiting: fc.option(
      fc.record({
        reason: fc.constantFrom("HTTP 429", "HTTP 503", "ECONNRESET"),
        nextTryAt: fc.integer({ min: 1, max: 3600 }).map(at),
      }),
    ),
  }),
);
const retrying = fc.uniqueArray(
  fc.record({
    archive: fc.constantFrom("c.zip", "d.zip", "e.zip"),
    attempts: fc.integer({ min: 1, max: 9 }),
    nextAttemptAt: fc.integer({ min: 1, max: 7200 }).map(at),
    platformAsked: fc.boolean(),
    lastError: fc.record({ code: fc.constant("E_UPLOAD_GAVE_UP"), message: fc.constant("503") }),
  }),
  { selector: (r) => r.archive, maxLength: 3 },
);
const uploads = fc.record({ sending, retrying }).map(
  (u): UploadsStatus => ({
    uploaded: 0,
    failed: 0,
    queued: 0,
    stopped: null,
    attention: [],
    sending: u.sending,
    retrying: u.retrying,
  }),
);

const status = (u: UploadsStatus) =>
  ({
    staging: "/s",
    status: u.sending ? "uploading" : "idle",
    lastScanAt: at(-10),
    lastError: null,
    waiting: [],
    uploads: u,
  }) as unknown as WatchStatus;

async function retryingGauge(s: WatchStatus): Promise<number> {
  const text = await new WatchMetrics(() => s).text();
  return Number(/^wopack_uploads\{state="retrying"\} (\d+)$/m.exec(text)?.[1]);
}

describe("waiting to retry: /metrics, /healthz and the status page agree", () => {
  it("an upload whose request waits (Retry-After) counts as retrying on /metrics, as /healthz says it waits", async () => {
    const u: UploadsStatus = {
      ...{ uploaded: 0, failed: 0, queued: 0, stopped: null, retrying: [], attention: [] },
      sending: { archive: "a.zip", since: at(-60), lastProgressAt: at(-5), waiting: { reason: "HTTP 429", nextTryAt: at(30) } },
    };
    expect(healthOf(status(u), true, NOW, 180_000).reason).toMatch(/uploading a\.zip: waiting to retry at .* after HTTP 429/);
    expect(await retryingGauge(status(u))).toBe(1);
  });

  it("generated: the gauge counts what the page shows waiting; /healthz says 'waiting to retry' exactly when it is > 0", async () => {
    await fc.assert(
      fc.asyncProperty(uploads, async (u) => {
        const s = status(u);
        // what the status page lists: the sending archive's "trying again" line, and a row per failed archive
        const shown = (u.sending?.waiting ? 1 : 0) + u.retrying.length;
        expect(await retryingGauge(s)).toBe(shown);
        const h = healthOf(s, true, NOW, 180_000);
        expect(h.ok).toBe(true);
        // while one is being sent, /healthz speaks of that one (and says it waits if it does)
        const waits = u.sending ? Boolean(u.sending.waiting) : shown > 0;
        expect(/waiting to retry/.test(h.reason), h.reason).toBe(waits);
      }),
      { numRuns: 200 },
    );
  });
});

describe("the queue waiting for the platform's Retry-After", () => {
  it("/healthz says until when, with or without archives waiting to retry", () => {
    for (const retrying of [
      [],
      [
        {
          archive: "c.zip",
          attempts: 1,
          nextAttemptAt: at(600),
          platformAsked: true,
          lastError: { code: "E_UPLOAD_GAVE_UP", message: "429" },
        },
      ],
    ]) {
      const u: UploadsStatus = {
        ...{ uploaded: 0, failed: 1, queued: 1, stopped: null, attention: [], sending: null, retrying },
        pausedUntil: at(600),
      };
      const h = healthOf(status(u), true, NOW, 180_000);
      expect(h.ok).toBe(true);
      expect(h.reason).toContain(`waiting until ${at(600)}, as the platform asked (Retry-After)`);
    }
  });
});

describe("/metrics shows the queue's Retry-After pause", () => {
  const paused = async (u: UploadsStatus) =>
    /^wopack_upload_paused_until_seconds (\S+)$/m.exec(await new WatchMetrics(() => status(u)).text())?.[1];
  const idle: UploadsStatus = { uploaded: 0, failed: 1, queued: 1, stopped: null, attention: [], sending: null, retrying: [] };

  it("until when, as a Unix time, while /healthz says it waits; 0 once the pause is over", async () => {
    const u: UploadsStatus = { ...idle, pausedUntil: at(600) };
    expect(healthOf(status(u), true, NOW, 180_000).reason).toContain(`waiting until ${at(600)}`);
    expect(Number(await paused(u))).toBe((NOW + 600_000) / 1000);
    // (one registry, scraped again after the pause: the gauge does not keep the old time)
    let s = status(u);
    const metrics = new WatchMetrics(() => s);
    await metrics.text();
    s = status({ ...idle, pausedUntil: null });
    expect(/^wopack_upload_paused_until_seconds (\S+)$/m.exec(await metrics.text())?.[1]).toBe("0");
  });
});
