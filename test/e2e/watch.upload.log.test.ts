// watch --upload tells each upload once: the "uploaded" event (with its archive and batch id), not that
// and the sender's own log line of the same words beside it (two lines for one upload, in text and JSON);
// and while the platform is out, /healthz and /state.json say that a request is waiting to be tried again
// (they said "uploading" for up to the 30 minutes an archive's requests are retried).
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WatchStatus } from "../../src/core/types.js";
import { BIN, noiseJpeg, put, waitFor, workspace } from "../helpers.js";
import { UploadServer } from "../upload-server.js";
import { type Event, Watcher } from "../watcher.js";

const KEY = "wk_live_9c2f1e77d0aa41b3";
let server: UploadServer;
beforeAll(async () => {
  server = await new UploadServer(KEY).start();
});
afterAll(() => server.stop());

describe("watch --upload: one line per upload", () => {
  it.each([["text"], ["json"]] as const)("--log-format %s", async (format) => {
    const ws = await workspace();
    for (let i = 0; i < 2; i++) await put(ws.staging, `WO_${i}/meter/a.jpg`, noiseJpeg(200, 150, i + 7));
    const child = spawn(
      process.execPath,
      [BIN, "watch", ws.staging, "--out", ws.out, "--settle", "0", "--batch-window", "1s", "--upload", "--log-format", format],
      {
        env: { ...process.env, NO_COLOR: "1", WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exited = new Promise((resolve) => child.on("close", resolve));
    try {
      await waitFor(() => /uploaded batch-/.test(output), `an upload; output: ${output}`, 60_000);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    const lines = output.split("\n").filter((l) => /uploaded batch-\S+\.zip \(batch /.test(l));
    expect(lines, output).toHaveLength(1);
    if (format === "json") expect(JSON.parse(lines[0]!).event).toBe("uploaded");
  });
});

describe("watch --upload while the platform is out", () => {
  // a 503 answer, and no answer at all (the connection reset): each a pause told on the status
  it.each([
    ["503", { unavailable: 1_000 }, /HTTP 503/],
    ["connection reset", { resetEveryBytes: 1 }, /ECONNRESET|socket hang up|closed before/],
  ] as const)(
    "%s: /healthz and /state.json say it waits to try again, and why; cleared once answered",
    async (_name, faults, why) => {
      const ws = await workspace();
      await put(ws.staging, "WO_1/meter/a.jpg", noiseJpeg(300, 200, 5));
      server.faults = { ...faults };
      const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "0", "--upload", "--http", "127.0.0.1:0"], {
        WOPACK_API_URL: server.base,
        WOPACK_API_KEY: KEY,
      });
      try {
        await w.until("started", (x) => x.events.some((e) => e.event === "started"));
        const base = String((w.events.find((e) => e.event === "started") as Event & { url: string }).url);
        const state = async () => (await (await fetch(`${base}/state.json`)).json()) as WatchStatus;
        let seen: WatchStatus | undefined;
        await waitFor(
          async () => {
            seen = await state();
            return Boolean(seen.uploads?.sending?.waiting);
          },
          "a retry shown in /state.json",
          60_000,
        );
        const waiting = seen!.uploads!.sending!.waiting!;
        expect(waiting.reason).toMatch(why);
        expect(Date.parse(waiting.nextTryAt)).toBeGreaterThan(Date.parse(seen!.uploads!.sending!.since));
        const health = await fetch(`${base}/healthz`);
        // an outage is waited out (200), but said
        expect(health.status).toBe(200);
        expect(((await health.json()) as { reason: string }).reason).toMatch(
          /^uploading batch-\S+\.zip: waiting to retry at \S+ after /,
        );
        const page = await (await fetch(`${base}/status.js`)).text();
        expect(page).toContain('"A request failed ("');
        server.faults = {};
        await w.until("uploaded", (x) => x.events.some((e) => e.event === "uploaded"));
        const after = await state();
        expect(after.uploads?.sending ?? null).toBeNull();
        expect(after.uploads?.uploaded).toBe(1);
      } finally {
        server.faults = {};
        await w.stop();
      }
    },
  );
});
