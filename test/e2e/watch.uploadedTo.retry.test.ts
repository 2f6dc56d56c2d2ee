// watch --upload --uploaded-to: a move that fails for any reason (here a full disk) is shown and tried again
// while the watch runs; and a move is local: it never waits for a pause the platform asked the uploads for.
import { spawnSync } from "node:child_process";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { WatchStatus } from "../../src/core/types.js";
import { BoundDisk, committedOutbox, noiseJpeg, tempDir, waitFor, wopack } from "../helpers.js";
import { UploadServer } from "../upload-server.js";
import { Watcher } from "../watcher.js";

const KEY = "wk_watch_move_retry";
let server: UploadServer;
let root: string;
let watcher: Watcher | undefined;
const disks: BoundDisk[] = [];

// (a refused move tried again every 0.5 s instead of 5 s; the Retry-After is waited as sent)
const env = () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY, WOPACK_TEST_TIME_SCALE: "0.1" });
const zips = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith(".zip")).sort();

beforeAll(async () => {
  server = await new UploadServer(KEY).start();
  root = await tempDir("wopack-watch-move-retry-");
});
afterEach(async () => {
  if (watcher && watcher.child.exitCode === null && watcher.child.signalCode === null) watcher.child.kill("SIGKILL");
  await watcher?.exited;
  watcher = undefined;
  server.faults = {};
  for (const d of disks.splice(0)) d.unmountAll();
});
afterAll(() => server.stop());

function watch(ws: { staging: string; out: string }, sent: string): Watcher {
  watcher = new Watcher(
    [ws.staging, "--out", ws.out, "--upload", "--uploaded-to", sent, "--http", "127.0.0.1:0", "--settle", "0"],
    env(),
  );
  return watcher;
}

describe("watch --upload --uploaded-to: moves tried again", () => {
  it("a full disk: listed with its code and reason, /healthz attention; moved by the running watch once there is room", async (ctx) => {
    const d = await BoundDisk.mount(await tempDir("wopack-full-"));
    if (!d) return ctx.skip();
    disks.push(d);
    const sent = path.join(d.disk, "sent");
    await mkdir(sent);
    spawnSync("dd", ["if=/dev/zero", `of=${path.join(d.disk, "filler")}`, "bs=64k"]);
    const ws = await committedOutbox(1, 1, await noiseJpeg(300, 200, 31, 100));
    const [archive] = await zips(ws.out);
    const w = watch(ws, sent);
    const state = () => w.json<WatchStatus>("/state.json");
    await waitFor(async () => (await state()).uploads?.notMoved?.length === 1, "the failed move listed", 30_000);
    expect((await state()).uploads?.notMoved).toEqual([
      { archive, to: sent, code: "W_UPLOADED_NOT_MOVED", reason: expect.stringContaining("ENOSPC"), at: expect.any(String) },
    ]);
    expect((await w.json<{ status: string }>("/healthz")).status).toBe("attention");
    expect(await w.gauge("wopack_uploads_not_moved")).toBe(1);
    expect(await readdir(sent), "nothing partial on the full disk").toEqual([]);

    await rm(path.join(d.disk, "filler"));
    await waitFor(async () => (await state()).uploads?.notMoved?.length === 0, "moved by the running watch", 20_000);
    expect(await zips(sent)).toEqual([archive]);
    expect(await zips(ws.out)).toEqual([]);
    expect((await w.json<{ status: string }>("/healthz")).status).toBe("ok");
    expect((await w.stop()).code).toBe(0);
  }, 120_000);

  it("its review page refused by a name taken there after the archive went: listed, /healthz attention; moved once the name is free", async () => {
    const ws = await committedOutbox(1, 1, await noiseJpeg(300, 200, 33, 100));
    const [archive] = await zips(ws.out);
    const page = archive!.replace(/\.zip$/, ".html");
    const sent = await tempDir("wopack-page-taken-");
    await writeFile(path.join(sent, page), "someone else's\n");
    const w = watch(ws, sent);
    const state = () => w.json<WatchStatus>("/state.json");
    await waitFor(async () => (await state()).uploads?.notMoved?.length === 1, "the refused page's move listed", 30_000);
    expect((await state()).uploads?.notMoved?.[0]).toMatchObject({ archive, to: sent, code: "E_UPLOADED_TO_NAME_TAKEN" });
    expect(await zips(sent), "the archive went first").toEqual([archive]);
    expect((await w.json<{ status: string }>("/healthz")).status).toBe("attention");
    expect(await w.gauge("wopack_uploads_not_moved")).toBe(1);

    await rm(path.join(sent, page));
    await waitFor(async () => (await state()).uploads?.notMoved?.length === 0, "the page moved by the running watch", 20_000);
    expect((await readdir(sent)).sort()).toEqual([archive, `${archive}.report.json`, page].sort());
    expect((await w.json<{ status: string }>("/healthz")).status).toBe("ok");
    expect((await w.stop()).code).toBe(0);
  }, 120_000);

  it("the uploads paused an hour by a 503 + Retry-After: a disk mounted again meanwhile is moved to within the retry interval", async (ctx) => {
    const d = await BoundDisk.mount(root);
    if (!d) return ctx.skip();
    disks.push(d);
    const { disk, sent } = d;
    expect(d.bind()).toBe(true);
    const ws = await committedOutbox(4, 1, await noiseJpeg(300, 200, 32, 100));
    const [first, second] = await zips(ws.out);
    expect((await wopack(["upload", ws.out, first!, "--uploaded-to", sent], { env: env() })).code).toBe(0);
    expect(d.unbind(), "the disk goes away").toBe(true);
    const refused = await wopack(["upload", ws.out, second!, "--uploaded-to", sent], { env: env() });
    expect(refused.stdout, "uploaded, waiting in --out for its disk").toContain("E_UPLOADED_TO_NOT_THE_SAME");

    // the next archive meets a 503 asking for an hour, and the last one waits out that hour in the queue
    server.faults.busy = { count: 1, retryAfter: 3600 };
    const w = watch(ws, sent);
    const state = () => w.json<WatchStatus>("/state.json");
    await waitFor(async () => (await state()).uploads?.pausedUntil != null, "the uploads paused, as the platform asked", 45_000);
    expect(Date.parse((await state()).uploads!.pausedUntil!) - Date.now()).toBeGreaterThan(30 * 60_000);
    expect((await state()).uploads?.notMoved?.map((n) => n.archive)).toEqual([second]);

    expect(d.bind(), "the disk is back").toBe(true);
    await waitFor(async () => (await state()).uploads?.notMoved?.length === 0, "moved while the uploads wait", 15_000);
    expect(await zips(disk)).toEqual([first, second]);
    expect(await zips(ws.out)).not.toContain(second);
    expect((await state()).uploads?.pausedUntil, "still waiting as asked").not.toBeNull();
    expect((await w.stop()).code).toBe(0);
  }, 120_000);
});
