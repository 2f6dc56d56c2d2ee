// watch.prune that fails as a whole (here: the upload journal it must read is a folder, EISDIR): the status
// (health.json, /state.json, the page's Retention sentence) says the last prune failed, when and why, and
// shows no earlier run's counts as if they were this one's; a later prune that succeeds clears it.
// Each order: the first prune fails; one fails after a success; then one succeeds again.
import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { uploadsPath } from "../../src/commit/uploads.js";
import { parseConfig } from "../../src/config/load.js";
import type { WatchStatus } from "../../src/core/types.js";
import { watch } from "../../src/run/watch.js";
import { put, solidJpeg, waitFor, workspace } from "../helpers.js";

const HOUR = 3_600_000;
type Prune = NonNullable<WatchStatus["prune"]>;

describe("watch.prune failing: the status says so", () => {
  for (const order of [
    ["fail", "ok"],
    ["ok", "fail", "ok"],
    ["ok", "fail", "fail"],
  ] as const) {
    it(`prunes that go ${order.join(", ")}: each state tells that run's outcome`, async () => {
      const ws = await workspace();
      let offset = 0; // the watch's clock, moved on by a prune period to make the next one due
      const now = () => new Date(Date.now() + offset);
      const stop = new AbortController();
      const health = path.join(ws.out, ".wopack", "health.json");
      const prune = async (): Promise<Prune | undefined> => JSON.parse(await readFile(health, "utf8").catch(() => "{}")).prune;
      const journalBroken = async (broken: boolean) => {
        await rm(uploadsPath(ws.out), { recursive: true, force: true });
        if (broken) await mkdir(uploadsPath(ws.out), { recursive: true });
      };
      await mkdir(path.dirname(uploadsPath(ws.out)), { recursive: true });
      await journalBroken(order[0] === "fail");
      const running = watch({
        staging: ws.staging,
        out: ws.out,
        // a ready marker nobody writes: the passes only scan, so no pack of the work orders put to wake
        // the watch up runs between prunes (a pack under a loaded machine made the third prune late)
        config: parseConfig({ watch: { readyMarker: ".ready", prune: { olderThan: "30d", every: "1h" } } }),
        signal: stop.signal,
        now,
      });
      try {
        let lastAt: string | null = null;
        for (const [i, outcome] of order.entries()) {
          if (i > 0) {
            await journalBroken(outcome === "fail");
            offset += 2 * HOUR;
            await put(ws.staging, `WO_${i}/meter/a.jpg`, solidJpeg()); // a file event: a pass, and the prune now due
          }
          await waitFor(
            async () => {
              const p = await prune();
              return Boolean(p?.lastAt && p.lastAt !== lastAt);
            },
            `prune ${i + 1} (${outcome})`,
            90_000,
          );
          const p = (await prune())!;
          lastAt = p.lastAt;
          if (outcome === "fail") {
            expect(p.last, `prune ${i + 1}: no earlier run's counts`).toBeNull();
            expect(p.lastError).toEqual({ code: expect.stringMatching(/^E_/), message: expect.stringContaining("EISDIR") });
          } else {
            expect(p.last, `prune ${i + 1}`).toEqual({ pruned: 0, bytes: 0, kept: 0, failed: 0 });
            expect(p.lastError ?? null, `prune ${i + 1}`).toBeNull();
          }
          expect(Date.parse(p.nextAt!) - Date.parse(p.lastAt!)).toBe(HOUR);
        }
      } finally {
        stop.abort();
        await running;
      }
    }, 300_000);
  }
});
