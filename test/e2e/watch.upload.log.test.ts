// watch --upload tells each upload once: the "uploaded" event (with its archive and batch id), not that
// and the sender's own log line of the same words beside it (two lines for one upload, in text and JSON).
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, noiseJpeg, put, waitFor, workspace } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

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
