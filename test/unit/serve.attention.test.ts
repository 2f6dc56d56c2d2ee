// Issue 21: an archive that needs attention (E_UPLOAD_ATTENTION: the platform keeps a batch that may hold part
// of it) is said by every face of a running watch: /healthz ("attention", naming it; 200, since a restart does
// not deal with a batch on the platform), /state.json (the archive and its batch) and /metrics (a gauge).
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UploadsStatus, WatchStatus } from "../../src/core/types.js";
import type { StatusServer } from "../../src/serve/server.js";
import { quietStatus, serveStatus } from "../watcher.js";

const NOW = Date.now();
const at = (s: number) => new Date(NOW + s * 1000).toISOString();

const attention = fc.uniqueArray(
  fc.record({
    archive: fc.constantFrom("batch-1.zip", "batch-2.zip", "batch-3.zip"),
    batchId: fc.uuid(),
    reason: fc.constantFrom("deleting the batch was refused (HTTP 405)", "the platform's MD5 differs"),
    at: fc.integer({ min: -7200, max: 0 }).map(at),
  }),
  { selector: (a) => a.archive, maxLength: 3 },
);
const others = fc.record({
  sending: fc.option(fc.constant({ archive: "batch-9.zip", since: at(-60), lastProgressAt: at(-1) })),
  retrying: fc.boolean().map((some): UploadsStatus["retrying"] =>
    some
      ? [
          {
            archive: "batch-8.zip",
            attempts: 1,
            nextAttemptAt: at(60),
            platformAsked: false,
            lastError: { code: "E_UPLOAD_GAVE_UP", message: "503" },
          },
        ]
      : [],
  ),
  stopped: fc.option(fc.constant({ at: at(-5), code: "E_UPLOAD_CREDENTIALS", message: "refused" })),
});

let current: WatchStatus;
let server: StatusServer;
beforeAll(async () => {
  current = quietStatus();
  server = await serveStatus(() => current);
});
afterAll(async () => {
  await server.close();
});

describe("archives needing attention, on /healthz, /state.json and /metrics", () => {
  it("generated: every face says the same archives; /healthz says 'attention' naming the first unless something worse is wrong", async () => {
    await fc.assert(
      fc.asyncProperty(attention, others, async (att, o) => {
        const uploads: UploadsStatus = { uploaded: 0, failed: 0, queued: 0, ...o, attention: att };
        current = { ...quietStatus(), lastScanAt: new Date().toISOString(), uploads };
        const h = await fetch(`${server.url}/healthz`);
        const body = (await h.json()) as { status: string; reason: string };
        if (o.stopped) {
          expect(h.status).toBe(503);
          expect(body.status).toBe("unhealthy");
        } else if (att.length) {
          expect(h.status).toBe(200);
          expect(body.status).toBe("attention");
          expect(body.reason).toContain(`needs attention: ${att[0]!.archive} (batch ${att[0]!.batchId})`);
          if (att.length > 1) expect(body.reason).toContain(`(and ${att.length - 1} more)`);
        } else {
          expect(h.status).toBe(200);
          expect(body.status).toBe("ok");
        }
        const state = (await (await fetch(`${server.url}/state.json`)).json()) as WatchStatus;
        expect(state.uploads?.attention).toEqual(att);
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        expect(Number(/^wopack_uploads_attention (\d+)$/m.exec(metrics)?.[1])).toBe(att.length);
      }),
      { numRuns: 40 },
    );
  });
});
