// watch --upload --uploaded-to a folder that is not there (a disk not mounted): the archive is uploaded and
// waits in --out for its folder; the log says so (it said only "uploaded", and the move was never told).
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { noiseJpeg, put, workspace } from "../helpers.js";
import { UploadServer } from "../upload-server.js";
import { Watcher } from "../watcher.js";

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
    const args = [ws.staging, "--out", ws.out, "--settle", "0", "--batch-window", "1s", "--upload", "--uploaded-to", sent];
    const w = new Watcher(args, { WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY });
    const told = (x: Watcher) => x.events.find((e) => /E_UPLOADED_TO_MISSING/.test(e.message))?.message ?? "";
    try {
      await w.until("an upload", (x) => x.events.some((e) => /uploaded batch-/.test(e.message)));
      await w.until("the move refused, told", (x) => told(x) !== "", 5_000);
    } finally {
      await w.stop();
    }
    expect(told(w)).toMatch(
      new RegExp(`E_UPLOADED_TO_MISSING: batch-\\S+\\.zip: uploaded, but --uploaded-to ${sent} does not exist`),
    );
  }, 90_000);
});
