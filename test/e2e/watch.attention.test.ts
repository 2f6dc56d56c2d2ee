// Issue 21: an archive that needs attention (the platform keeps a batch with the wrong bytes and will not delete
// it), with a watch --upload running on its outbox: /healthz, /state.json and /metrics say so; the operator
// deletes the batch and runs `wopack upload <out> <archive> --attention-cleared` beside the watch, which only
// journals the clearing (the watch holds --out, and it alone sends): the watch sends the archive, once.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readUploads } from "../../src/commit/uploads.js";
import type { WatchStatus } from "../../src/core/types.js";
import { committedOutbox, noiseJpeg, sha256, waitFor, wopack } from "../helpers.js";
import { UploadServer } from "../upload-server.js";
import { Watcher } from "../watcher.js";

const KEY = "wk_live_attention_beside_watch_51c2";
let server: UploadServer;
let watcher: Watcher | undefined;
beforeEach(async () => {
  server = await new UploadServer(KEY).start();
});
afterEach(async () => {
  if (watcher && watcher.child.exitCode === null && watcher.child.signalCode === null) watcher.child.kill("SIGKILL");
  await watcher?.exited;
  watcher = undefined;
  await server.stop();
});
const env = () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY });

describe("an archive needing attention while watch --upload runs", () => {
  it("is said by /healthz, /state.json and /metrics; --attention-cleared beside the watch hands it to the watch, which sends it once", async () => {
    const ws = await committedOutbox(2, 1, await noiseJpeg(500, 400, 5, 100));
    server.faults = { corruptAt: 100, objectDigests: "crc32c", refuseDelete: 405 };
    const r = await wopack(["upload", ws.out, "--json"], { env: env() });
    expect(r.code, r.stderr).toBe(1);
    const outcomes = JSON.parse(r.stdout).uploads as { archive: string; result: string }[];
    expect(outcomes.map((o) => o.result)).toEqual(["attention", "attention"]);
    server.faults = {};
    const journal = await readUploads(ws.out);
    const [a, b] = outcomes.map((o) => ({ archive: o.archive, batchId: journal.archives.get(o.archive)!.attention!.batchId }));

    watcher = new Watcher([ws.staging, "--out", ws.out, "--upload", "--http", "127.0.0.1:0"], env());
    const w = watcher;
    const healthz = () => w.json<{ status: string; reason: string }>("/healthz");
    const state = () => w.json<WatchStatus>("/state.json");
    const gauge = () => w.gauge("wopack_uploads_attention");

    await waitFor(async () => (await state()).lastScanAt !== null, "a scan");
    const h = await healthz();
    expect(h.status).toBe("attention");
    expect(h.reason).toMatch(
      new RegExp(`^needs attention: ${a!.archive.replace(".", "\\.")} \\(batch ${a!.batchId}\\) \\(and 1 more\\); `),
    );
    expect((await state()).uploads?.attention).toEqual([expect.objectContaining(a), expect.objectContaining(b)]);
    expect(await gauge()).toBe(2);

    // the operator deletes the first archive's batch on the platform, and says so beside the running watch
    server.batches.get(a!.batchId)!.deleted = true;
    const cleared = await wopack(["upload", ws.out, a!.archive, "--attention-cleared", "--json"], { env: env() });
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(JSON.parse(cleared.stdout).uploads).toEqual([expect.objectContaining({ archive: a!.archive, result: "cleared" })]);
    await w.until("the watch sends it", (x) => x.events.some((e) => e.event === "uploaded" && e.archive === a!.archive), 30_000);
    await waitFor(async () => (await state()).uploads?.attention.length === 1, "one left needing attention");
    expect((await state()).uploads?.attention).toEqual([expect.objectContaining(b)]);
    expect(await gauge()).toBe(1);
    expect((await healthz()).reason).toMatch(new RegExp(`^needs attention: ${b!.archive.replace(".", "\\.")} `));
    expect((await w.stop()).code).toBe(0);

    // accepted once, byte for byte (the deleted batch aside); the other still not sent again
    const accepted = server
      .accepted()
      .get(a!.archive.replace(/\.zip$/, ""))!
      .filter((x) => x.id !== a!.batchId);
    expect(accepted).toHaveLength(1);
    expect(server.received(accepted[0]!.id).sha256).toBe(sha256(await readFile(path.join(ws.out, a!.archive))));
    expect(
      server
        .accepted()
        .get(b!.archive.replace(/\.zip$/, ""))!
        .map((x) => x.id),
    ).toEqual([b!.batchId]);
    expect(server.violations).toEqual([]);
  }, 120_000);
});
