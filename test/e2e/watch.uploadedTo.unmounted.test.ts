import { mkdir, readdir, rename } from "node:fs/promises";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { readUploads } from "../../src/commit/uploads.js";
import type { WatchStatus } from "../../src/core/types.js";
import { BoundDisk, committedOutbox, noiseJpeg, tempDir, waitFor, wopack } from "../helpers.js";
import { UploadServer } from "../upload-server.js";
import { Watcher } from "../watcher.js";

const KEY = "wk_watch_unmounted";
let server: UploadServer;
let root: string;
let watcher: Watcher | undefined;
const disks: BoundDisk[] = [];

// (a refused move tried again every 0.5 s instead of 5 s)
const env = () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY, WOPACK_TEST_TIME_SCALE: "0.1" });
const zips = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith(".zip")).sort();

beforeAll(async () => {
  server = await new UploadServer(KEY).start();
  root = await tempDir("wopack-watch-unmounted-");
});
afterEach(async () => {
  if (watcher && watcher.child.exitCode === null && watcher.child.signalCode === null) watcher.child.kill("SIGKILL");
  await watcher?.exited;
  watcher = undefined;
});
afterAll(async () => {
  await server.stop();
  for (const d of disks) d.unmountAll();
});

describe("watch --upload --uploaded-to a disk not mounted", () => {
  it("the status server says which archive waits for which folder and why; the watch moves it once the disk is back", async () => {
    const d = await BoundDisk.mount(root);
    expect(d, "mount a tmpfs").toBeDefined();
    disks.push(d!);
    const { disk, sent } = d!;
    expect(d!.bind()).toBe(true);
    const ws = await committedOutbox(2, 1, await noiseJpeg(300, 200, 9, 100));
    const [first, second] = await zips(ws.out);
    const one = await wopack(["upload", ws.out, first!, "--uploaded-to", sent], { env: env() });
    expect(one.code, one.stderr).toBe(0);
    expect(d!.unbind(), "the disk goes away").toBe(true);

    watcher = new Watcher(
      [ws.staging, "--out", ws.out, "--upload", "--uploaded-to", sent, "--http", "127.0.0.1:0", "--settle", "0"],
      env(),
    );
    const w = watcher;
    const healthz = () => w.json<{ status: string; reason: string }>("/healthz");
    const state = () => w.json<WatchStatus>("/state.json");
    const gauge = () => w.gauge("wopack_uploads_not_moved");

    await w.until("the second archive uploaded", (x) => x.events.some((e) => e.event === "uploaded" && e.archive === second));
    await waitFor(async () => (await state()).lastScanAt !== null, "a scan");
    const notMoved = (await state()).uploads?.notMoved;
    expect(notMoved).toEqual([
      {
        archive: second,
        to: sent,
        code: "E_UPLOADED_TO_NOT_THE_SAME",
        reason: expect.stringContaining("a disk not mounted there?"),
        at: expect.any(String),
      },
    ]);
    const h = await healthz();
    expect(h.status, "not healthy while archives pile up in --out: a person must mount the disk").toBe("attention");
    expect(h.reason).toMatch(new RegExp(`^uploaded, not moved to ${sent}: ${second!.replace(".", "\\.")}: .*a disk not mounted`));
    expect(await gauge()).toBe(1);
    expect(await readdir(sent), "nothing scattered onto the disk under the mount point").toEqual([]);

    // the disk is back: the running watch moves it, once, without being restarted or sending it again
    const requests = server.log.length;
    expect(d!.bind()).toBe(true);
    await waitFor(async () => (await state()).uploads?.notMoved?.length === 0, "the move done by the running watch", 20_000);
    expect(await zips(disk)).toEqual([first, second]);
    expect(await zips(ws.out)).toEqual([]);
    expect((await healthz()).status).toBe("ok");
    expect(await gauge()).toBe(0);
    const journal = await readUploads(ws.out);
    expect(journal.archives.get(second!)).toMatchObject({ movedTo: sent, moveRefused: undefined });
    expect(
      w.events.some((e) => e.message.includes(`moved ${second} to ${sent}`)),
      "the log says it",
    ).toBe(true);
    expect(server.log.length - requests, "nothing sent again").toBe(0);
    expect((await w.stop()).code).toBe(0);
  }, 120_000);

  // the folder missing (E_UPLOADED_TO_MISSING): made while the watch runs, the archive goes there; moved away
  // by hand instead, nothing waits any more (as `wopack status` says), and nothing is written in the folder
  for (const row of [
    { what: "the folder made", fix: async (_out: string, sent: string) => mkdir(sent), inSent: true },
    {
      what: "the archive moved away by hand",
      fix: async (out: string, _sent: string, archive: string) => {
        const away = await tempDir("wopack-by-hand-");
        for (const f of [archive, `${archive}.report.json`]) await rename(path.join(out, f), path.join(away, f));
      },
      inSent: false,
    },
  ])
    it(`missing, then ${row.what}: the status says it until then, and not after`, async () => {
      const ws = await committedOutbox(1, 1, await noiseJpeg(300, 200, 10, 100));
      const [archive] = await zips(ws.out);
      const sent = path.join(ws.dir, "sent");
      watcher = new Watcher(
        [ws.staging, "--out", ws.out, "--upload", "--uploaded-to", sent, "--http", "127.0.0.1:0", "--settle", "0"],
        env(),
      );
      const w = watcher;
      const state = () => w.json<WatchStatus>("/state.json");
      await waitFor(async () => (await state()).uploads?.notMoved?.length === 1, "the archive waiting for its folder", 30_000);
      expect((await state()).uploads?.notMoved).toEqual([
        {
          archive,
          to: sent,
          code: "E_UPLOADED_TO_MISSING",
          reason: expect.stringContaining("does not exist"),
          at: expect.any(String),
        },
      ]);
      await row.fix(ws.out, sent, archive!);
      await waitFor(async () => (await state()).uploads?.notMoved?.length === 0, `nothing waiting once ${row.what}`, 20_000);
      expect((await w.json<{ status: string }>("/healthz")).status).toBe("ok");
      expect(await zips(ws.out)).toEqual([]);
      if (row.inSent) expect(await zips(sent)).toEqual([archive]);
      else expect(await readdir(sent).catch(() => "none"), "never made").toBe("none");
      expect((await w.stop()).code).toBe(0);
    }, 120_000);

  it("a watch not given --uploaded-to (dropped on purpose): nothing waits for a folder, /healthz ok", async () => {
    const ws = await committedOutbox(1, 1, await noiseJpeg(300, 200, 12, 100));
    const sent = path.join(ws.dir, "sent");
    const r = await wopack(["upload", ws.out, "--uploaded-to", sent], { env: env() });
    expect(r.stdout, "a refusal journaled").toContain("E_UPLOADED_TO_MISSING");
    watcher = new Watcher([ws.staging, "--out", ws.out, "--upload", "--http", "127.0.0.1:0", "--settle", "0"], env());
    const w = watcher;
    const state = () => w.json<WatchStatus>("/state.json");
    await waitFor(async () => (await state()).lastScanAt !== null, "a scan");
    expect((await state()).uploads?.notMoved).toEqual([]);
    expect((await w.json<{ status: string }>("/healthz")).status).toBe("ok");
    expect((await w.stop()).code).toBe(0);
  }, 120_000);
});
