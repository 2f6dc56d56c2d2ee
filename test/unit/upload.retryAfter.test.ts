// Issue 21: a failure the platform asked to wait out (Retry-After longer than the time left for the archive)
// is tried again by a running sender after the pause it asked for, capped at the backoff's maximum, never
// after the sender's own shorter backoff; and what is waited for says that the platform asked for it.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { Sender } from "../../src/run/upload.js";
import type { Api } from "../../src/upload/protocol.js";
import { scratchDirs } from "../scratch.js";

const scratch = scratchDirs();

const NOW = Date.parse("2026-12-06T09:00:00Z");

/** A platform that makes batches, and answers every session request 429 with this Retry-After (or a bare 503). */
function throttling(retryAfterMs: number | undefined): Api {
  return {
    createBatch: async () => ({ ok: true, value: { batchId: "b1", uploadUrl: "http://127.0.0.1:9/upload/s1" } }),
    batchStatus: async () => ({ ok: true, value: { status: "waiting_upload" } }),
    deleteBatch: async () => ({ ok: true, value: undefined }),
    putChunk: async () => ({ ok: false, kind: "retry", detail: "HTTP 429" }),
    querySession: async () => ({
      ok: false,
      kind: "retry",
      detail: retryAfterMs === undefined ? "HTTP 503" : "HTTP 429",
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    }),
  };
}

async function failOnce(retryAfterMs: number | undefined, policy: { firstMs: number; maxMs: number }) {
  const out = await scratch("wopack-retryafter-");
  const zip = path.join(out, "a.zip");
  await writeFile(zip, Buffer.alloc(10));
  const config = parseConfig({ upload: { url: "http://127.0.0.1:9/v0.2", maxElapsed: "1s", retries: 3 } });
  const sender = await Sender.open(
    out,
    { config, api: throttling(retryAfterMs), now: () => new Date(NOW), sleep: async () => undefined },
    { url: "http://127.0.0.1:9/v0.2", key: "k" },
  );
  sender.retryFailed(policy);
  sender.enqueue({ name: "a.zip", path: zip, sha256: "0".repeat(64), bytes: 10 });
  const [outcome] = await sender.drain();
  const retry = sender.retrying.get("a.zip");
  sender.retryFailed({ firstMs: 0, maxMs: 0 });
  (sender as unknown as { cancelRetries(): void }).cancelRetries();
  return { outcome, retry };
}

describe("a running sender honours the platform's Retry-After", () => {
  it("generated: the next try is after max(backoff, Retry-After capped at the backoff's maximum), and says who asked", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.integer({ min: 2_000, max: 3_600_000 }), { nil: undefined }),
        fc.integer({ min: 1_000, max: 60_000 }),
        fc.integer({ min: 60_000, max: 6 * 3_600_000 }),
        async (retryAfterMs, firstMs, maxMs) => {
          const { outcome, retry } = await failOnce(retryAfterMs, { firstMs, maxMs });
          expect(outcome?.result).toBe("failed");
          expect(outcome?.retryAfterMs).toBe(retryAfterMs);
          const asked = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, maxMs);
          expect(retry?.nextAt).toBe(NOW + Math.max(firstMs, asked));
          expect(retry?.platformAsked).toBe(asked > firstMs);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("the whole queue waits for the platform's Retry-After", () => {
  it("generated: after a 429 asking for a long wait, the next archive is not sent before it (capped at the backoff's maximum)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2_000, max: 3_600_000 }),
        fc.integer({ min: 60_000, max: 6 * 3_600_000 }),
        async (retryAfterMs, maxMs) => {
          const out = await scratch("wopack-queuewait-");
          const events: string[] = [];
          const api = throttling(retryAfterMs);
          const create = api.createBatch;
          api.createBatch = (f) => {
            events.push(`create ${f}`);
            return create(f);
          };
          const config = parseConfig({ upload: { url: "http://127.0.0.1:9/v0.2", maxElapsed: "1s", retries: 3 } });
          const sender = await Sender.open(
            out,
            {
              config,
              api,
              now: () => new Date(NOW),
              sleep: async (ms) => {
                events.push(`sleep ${ms}`);
              },
            },
            { url: "http://127.0.0.1:9/v0.2", key: "k" },
          );
          const paused: (number | undefined)[] = [];
          sender.onPause = (until) => paused.push(until);
          sender.retryFailed({ firstMs: 1_000, maxMs });
          for (const name of ["a", "b"]) {
            await writeFile(path.join(out, `${name}.zip`), Buffer.alloc(10));
            sender.enqueue({ name: `${name}.zip`, path: path.join(out, `${name}.zip`), sha256: "0".repeat(64), bytes: 10 });
          }
          await sender.drain();
          (sender as unknown as { cancelRetries(): void }).cancelRetries();
          const asked = Math.min(retryAfterMs, maxMs);
          expect(events.slice(0, 3)).toEqual(["create a", `sleep ${asked}`, "create b"]);
          expect(paused.slice(0, 2)).toEqual([NOW + asked, undefined]);
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe("the queue's wait for the platform is what it asked, whatever the wall clock does", () => {
  it("generated: the clock set back after a Retry-After does not stretch the wait past it", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2_000, max: 3_600_000 }),
        fc.integer({ min: 1_000, max: 30 * 86_400_000 }),
        async (retryAfterMs, back) => {
          const out = await scratch("wopack-clockback-");
          let clock = NOW;
          const slept: number[] = [];
          const config = parseConfig({ upload: { url: "http://127.0.0.1:9/v0.2", maxElapsed: "1s", retries: 3 } });
          const sender = await Sender.open(
            out,
            { config, api: throttling(retryAfterMs), now: () => new Date(clock), sleep: async (ms) => void slept.push(ms) },
            { url: "http://127.0.0.1:9/v0.2", key: "k" },
          );
          // the clock is set back (NTP, an operator) as soon as the pause is set
          sender.onPause = (until) => {
            if (until !== undefined) clock -= back;
          };
          sender.retryFailed({ firstMs: 1_000, maxMs: 6 * 3_600_000 });
          for (const name of ["a", "b"]) {
            await writeFile(path.join(out, `${name}.zip`), Buffer.alloc(10));
            sender.enqueue({ name: `${name}.zip`, path: path.join(out, `${name}.zip`), sha256: "0".repeat(64), bytes: 10 });
          }
          await sender.drain();
          (sender as unknown as { cancelRetries(): void }).cancelRetries();
          expect(slept[0]).toBe(retryAfterMs);
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe("a run that does not wait (wopack upload, pack --upload) sends nothing more once the platform asked to wait", () => {
  it("generated: after a Retry-After longer than an archive's time left, the rest of the queue is held back, said so", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.integer({ min: 2_000, max: 3_600_000 }), { nil: undefined }),
        fc.integer({ min: 2, max: 5 }),
        async (retryAfterMs, n) => {
          const out = await scratch("wopack-heldback-");
          const created: string[] = [];
          const api = throttling(retryAfterMs);
          const create = api.createBatch;
          api.createBatch = (f) => {
            created.push(f);
            return create(f);
          };
          const config = parseConfig({ upload: { url: "http://127.0.0.1:9/v0.2", maxElapsed: "1s", retries: 3 } });
          const sender = await Sender.open(
            out,
            { config, api, now: () => new Date(NOW), sleep: async () => undefined },
            { url: "http://127.0.0.1:9/v0.2", key: "k" },
          );
          const names = Array.from({ length: n }, (_, i) => `a${i}.zip`);
          for (const name of names) {
            await writeFile(path.join(out, name), Buffer.alloc(10));
            sender.enqueue({ name, path: path.join(out, name), sha256: "0".repeat(64), bytes: 10 });
          }
          const outcomes = await sender.drain();
          expect(outcomes.map((o) => o.archive)).toEqual(names);
          expect(outcomes.every((o) => o.result === "failed")).toBe(true);
          if (retryAfterMs === undefined) {
            // (its own backoff ran out, not a wait the platform asked for: each archive is tried)
            expect(created).toHaveLength(n);
            expect(outcomes.filter((o) => o.problem?.code === "E_UPLOAD_HELD_BACK")).toEqual([]);
            return;
          }
          expect(created).toHaveLength(1);
          expect(outcomes[0]?.problem?.code).toBe("E_UPLOAD_GAVE_UP");
          for (const o of outcomes.slice(1)) {
            expect(o.problem?.code).toBe("E_UPLOAD_HELD_BACK");
            expect(o.problem?.message).toContain(`${o.archive}: not sent by this run`);
            expect(o.problem?.message).toContain(`while ${names[0]} was sent`);
            expect(o.retryAfterMs).toBe(retryAfterMs);
          }
        },
      ),
      { numRuns: 20 },
    );
  });
});
