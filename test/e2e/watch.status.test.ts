// Issue 24 §4: the status word of a real `wopack watch`, read from /state.json: `waiting` while a work
// order has no ready marker yet, then `waiting` while the batch window is open (each named in `waiting`),
// and nextScanAt no later than the window's end.
import sharp from "sharp";
import { afterEach, expect, it } from "vitest";
import type { WatchStatus } from "../../src/core/types.js";
import { put, waitFor, workspace } from "../helpers.js";
import { Watcher } from "../watcher.js";

let watcher: Watcher | undefined;
afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
});

const state = async (base: string) => (await (await fetch(`${base}/state.json`)).json()) as WatchStatus;

it("says waiting for a ready marker, then for the batch window, with when the next scan is due", async () => {
  const ws = await workspace();
  const args = [ws.staging, "--out", ws.out, "--settle", "0s", "--ready-marker", ".ready", "--batch-window", "1h"];
  watcher = new Watcher([...args, "--http", "127.0.0.1:0"]);
  await watcher.until("started", (w) => w.events.some((e) => e.event === "started"));
  const base = String((watcher.events.find((e) => e.event === "started") as unknown as { url: string }).url);
  await waitFor(async () => (await state(base)).status === "idle", "status idle");

  const photo = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#446688" } })
    .jpeg()
    .toBuffer();
  await put(ws.staging, "WO_MARK/meter-1.jpg", photo);
  await waitFor(async () => (await state(base)).status === "waiting", "status waiting (marker)");
  expect((await state(base)).waiting).toEqual([{ id: "WO_MARK", reason: "no .ready marker yet", readyAt: null }]);

  await put(ws.staging, "WO_MARK/.ready", "");
  await waitFor(async () => (await state(base)).waiting.some((x) => x.reason === "batch window"), "waiting for the window");
  const s = await state(base);
  expect(s.status).toBe("waiting");
  const [entry] = s.waiting;
  expect(entry).toMatchObject({ id: "WO_MARK", reason: "batch window" });
  expect(Date.parse(entry!.readyAt!)).toBeGreaterThan(Date.now() + 30 * 60_000);
  // the next scan is due within the 60 s safety rescan, long before the window closes
  expect(Date.parse(s.nextScanAt!)).toBeLessThanOrEqual(Date.parse(s.lastScanAt!) + 60_000);
  expect(watcher.packedIds()).toEqual([]);
}, 90_000);
