// watch --upload --uploaded-to a folder that is not there (a disk not mounted): the archive is uploaded and
// waits in --out for its folder; the log says so (it said only "uploaded", and the move was never told).
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, noiseJpeg, put, waitFor, workspace } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

const KEY = "wk_watch_uploaded_to";
let server: UploadServer;
beforeAll(async () => {
  server = await new UploadServer(KEY).start();
});
afterAll(() => server.stop());

describe("watch --upload --uploaded-to a missing folder", () => {
  it("logs E_UPLOADED_TO_MISSING, naming the archive and the folder", async () => {
    const ws = await workspace();
    const sent = path.join(ws.dir, "sent"); // (never made: wopack does not create it)
    await put(ws.staging, "WO_1/meter/a.jpg", noiseJpeg(200, 150, 11));
    const child = spawn(
      process.execPath,
      [BIN, "watch", ws.staging, "--out", ws.out, "--settle", "0", "--batch-window", "1s", "--upload", "--uploaded-to", sent],
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
      await waitFor(() => /E_UPLOADED_TO_MISSING/.test(output), `the move refused, told; output: ${output}`, 5_000);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    expect(output).toMatch(
      new RegExp(`E_UPLOADED_TO_MISSING: batch-\\S+\\.zip: uploaded, but --uploaded-to ${sent} does not exist`),
    );
  }, 90_000);
});
