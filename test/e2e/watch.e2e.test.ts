import { open, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { archivesIn, FIXTURES, noiseJpeg, put, readZip, sha256, waitFor, waitForPartialArchive, workspace } from "../helpers.js";
import { Watcher } from "../watcher.js";

const jpeg = (colour: string, size = 48) =>
  sharp({ create: { width: size, height: size, channels: 3, background: colour } })
    .jpeg()
    .toBuffer();

/** Every work-order folder across every archive in out, with how often it was packed. */
async function packedCounts(out: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const zip of await archivesIn(out)) {
    for (const id of new Set((await readZip(zip)).map((e) => e.name.split("/")[0]!))) counts[id] = (counts[id] ?? 0) + 1;
  }
  return counts;
}

describe("wopack watch (§4, §8)", () => {
  it("packs a 6 MB photo written in small chunks over seconds only once it is complete", async () => {
    const ws = await workspace();
    const raw = Buffer.alloc(2000 * 1600 * 3);
    let x = 2463534242;
    for (let i = 0; i < raw.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      raw[i] = x & 255; // xorshift noise: JPEG cannot compress it much
    }
    const photo = await sharp(raw, { raw: { width: 2000, height: 1600, channels: 3 } })
      .jpeg({ quality: 100, chromaSubsampling: "4:4:4" })
      .toBuffer();
    expect(photo.length).toBeGreaterThan(6_000_000);
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "1500ms", "--max-image-size", "20MB"]);
    try {
      await w.until("started", (x) => x.events.some((e) => e.event === "started"));
      await put(ws.staging, "WO_slow/meter/photo.jpg", Buffer.alloc(0));
      const fh = await open(path.join(ws.staging, "WO_slow/meter/photo.jpg"), "a");
      const chunk = 96 * 1024;
      for (let at = 0; at < photo.length; at += chunk) {
        await fh.write(photo.subarray(at, at + chunk));
        await new Promise((r) => setTimeout(r, 40)); // a slow copy: about 3 s for the whole file
      }
      await fh.close();
      await w.until("WO_slow packed", (x) => x.packedIds().includes("WO_slow"));
      expect(w.events.filter((e) => e.event === "refused")).toEqual([]);
      const [zip] = await archivesIn(ws.out);
      const entry = (await readZip(zip!)).find((e) => e.name === "WO_slow/meter-0.jpg")!;
      expect(sha256(entry.data)).toBe(sha256(photo));
      expect(await readdir(path.join(ws.dir, "processed"))).toEqual(["WO_slow"]);
    } finally {
      await w.stop();
    }
  });

  it("packs 500 photos copied in a burst, none missing; temp names never trigger anything", async () => {
    const ws = await workspace();
    const photo = await jpeg("#246");
    await put(ws.staging, "WO_temp/meter/a.jpg.part", "partial");
    await put(ws.staging, "WO_temp/meter/b.jpg.crdownload", "partial");
    await put(ws.staging, "WO_temp/.syncthing.c.jpg.tmp", "partial");
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "1s"]);
    try {
      await w.until("started", (x) => x.events.some((e) => e.event === "started"));
      await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          put(ws.staging, `WO_${String(Math.floor(i / 10)).padStart(3, "0")}/meter/p${i % 10}.jpg`, photo),
        ),
      );
      await w.until("50 work orders packed", (x) => x.packedIds().length === 50);
      const entries = (await Promise.all((await archivesIn(ws.out)).map(readZip))).flat();
      expect(entries.filter((e) => e.name.endsWith(".jpg"))).toHaveLength(500);
      // the temp-only work order was never ready, packed or refused, and its files are where they were
      expect(w.events.filter((e) => e.workOrder === "WO_temp" || e.workOrders?.includes("WO_temp"))).toEqual([]);
      expect((await readdir(path.join(ws.staging, "WO_temp/meter"))).sort()).toEqual(["a.jpg.part", "b.jpg.crdownload"]);
    } finally {
      await w.stop();
    }
  });

  it("a copy that trickles in without pause does not hold back a work order that has settled", async () => {
    const ws = await workspace();
    const photo = await jpeg("#642");
    await put(ws.staging, "WO_done/meter/a.jpg", photo);
    // (settled after 2 s of quiet: with both cores busy, this test's own writes once paused over 500 ms, and the
    // trickled work order rightly settled and was packed)
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "2s"]);
    let copying = true;
    let n = 0;
    // a file every 30 ms into another work order: file events far closer together than any debounce
    const trickle = (async () => {
      while (copying && n < 1000) {
        await put(ws.staging, `WO_busy/meter/p${n++}.jpg`, photo);
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    try {
      await w.until("WO_done packed", (x) => x.packedIds().includes("WO_done"), 20_000);
      expect(copying).toBe(true); // packed while the copy was still going on
      expect(w.packedIds()).not.toContain("WO_busy");
    } finally {
      copying = false;
      await trickle;
      await w.stop();
    }
  });

  it("moves refused work orders to --failed-to with <id>.errors.json; photos added later form a new submission", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_bad/meter/a.jpg", "not a photo");
    await put(ws.staging, "WO_1/meter/a.jpg", jpeg("#800"));
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "500ms"]);
    try {
      await w.until("both handled", (x) => x.packedIds().includes("WO_1") && x.events.some((e) => e.event === "refused"));
      const refused = w.events.find((e) => e.event === "refused")!;
      expect(refused.message).toContain("E_NOT_AN_IMAGE");
      expect(refused.movedTo).toBe(path.join(ws.dir, "failed", "WO_bad"));
      const errors = JSON.parse(await readFile(path.join(ws.dir, "failed", "WO_bad.errors.json"), "utf8"));
      expect(errors.problems[0]).toMatchObject({ code: "E_NOT_AN_IMAGE", path: "WO_bad/meter/a.jpg" });
      expect(await readFile(path.join(ws.dir, "failed", "WO_bad/meter/a.jpg"), "utf8")).toBe("not a photo");

      await put(ws.staging, "WO_1/meter/late.jpg", jpeg("#080"));
      await w.until("WO_1 packed again", (x) => x.packedIds().filter((id) => id === "WO_1").length === 2);
      expect((await readdir(path.join(ws.dir, "processed"))).sort()).toEqual(["WO_1", "WO_1.2"]);
      expect(await readdir(ws.staging)).toEqual([]);
    } finally {
      await w.stop();
    }
  });

  it("with --ready-marker, packs a work order only once the marker is there (and never packs the marker)", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", jpeg("#123"));
    await put(ws.staging, "WO_2/meter/a.jpg", jpeg("#321"));
    await put(ws.staging, "WO_2/.ready", "");
    const w = new Watcher([ws.staging, "--out", ws.out, "--ready-marker", ".ready"]);
    try {
      await w.until("WO_2 packed", (x) => x.packedIds().includes("WO_2"));
      expect(w.packedIds()).toEqual(["WO_2"]);
      const names = (await readZip((await archivesIn(ws.out))[0]!)).map((e) => e.name);
      expect(names).toEqual(["WO_2/metadata.json", "WO_2/meter-0.jpg"]);
      await writeFile(path.join(ws.staging, "WO_1/.ready"), "");
      await w.until("WO_1 packed", (x) => x.packedIds().includes("WO_1"));
    } finally {
      await w.stop();
    }
  });

  // (retried once: it stalled once in a clean-clone run under load — no archive within 60 s — and could not
  // be reproduced in 16 runs since; its waits now fail with watch's events, to find the cause)
  it("--batch-window puts work orders that become ready within it into one archive; --poll works without events", {
    retry: 1,
    timeout: 180_000,
  }, async () => {
    const ws = await workspace();
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "300ms", "--batch-window", "2s", "--poll", "100ms"]);
    try {
      await w.until("started", (x) => x.events.some((e) => e.event === "started"), 45_000);
      await put(ws.staging, "WO_1/meter/a.jpg", jpeg("#111"));
      await new Promise((r) => setTimeout(r, 600));
      await put(ws.staging, "WO_2/meter/a.jpg", jpeg("#222"));
      // (deadlines that fail inside the test's own time, so that a failure shows the events and stderr)
      await w.until("both packed", (x) => x.packedIds().length === 2, 45_000);
      const packed = w.events.filter((e) => e.event === "packed");
      expect(packed).toHaveLength(1);
      expect(packed[0]!.workOrders).toEqual(["WO_1", "WO_2"]);
    } finally {
      await w.stop();
    }
  });

  it("keeps a health file fresh for monitoring, and logs one JSON line per event", async () => {
    const ws = await workspace();
    const health = path.join(ws.dir, "health.json");
    await put(ws.staging, "WO_1/meter/a.jpg", jpeg("#456"));
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "200ms", "--health-file", health]);
    try {
      await w.until("packed", (x) => x.packedIds().includes("WO_1"));
      await waitFor(
        async () => JSON.parse(await readFile(health, "utf8").catch(() => "{}")).packed === 1,
        "health file to count it",
      );
      const h = JSON.parse(await readFile(health, "utf8"));
      expect(h).toMatchObject({ pid: w.child.pid, status: expect.stringMatching(/idle|packing/), packed: 1, refused: 0 });
      expect(Date.now() - Date.parse(h.at)).toBeLessThan(30_000);
      expect(w.events.map((e) => e.event)).toEqual(expect.arrayContaining(["started", "ready", "packed"]));
    } finally {
      const { code } = await w.stop();
      expect(code).toBe(0);
    }
    expect(JSON.parse(await readFile(health, "utf8")).status).toBe("stopped");
  });
});

describe("watch across crashes and stops (§8)", () => {
  async function staging(count: number, photo?: Buffer) {
    const ws = await workspace();
    const data = photo ?? (await jpeg("#abc"));
    for (let i = 0; i < count; i++) await put(ws.staging, `WO_${String(i).padStart(3, "0")}/meter/a.jpg`, data);
    return ws;
  }

  const ids = (n: number) => Array.from({ length: n }, (_, i) => `WO_${String(i).padStart(3, "0")}`);

  async function restartAndFinish(ws: Awaited<ReturnType<typeof staging>>, n: number) {
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "200ms"]);
    try {
      await waitFor(async () => (await readdir(ws.staging)).length === 0, "the restarted watch to pack everything", 60_000);
      await waitFor(async () => Object.keys(await packedCounts(ws.out)).length === n, "all archives to be there");
    } finally {
      await w.stop();
    }
    expect(await packedCounts(ws.out)).toEqual(Object.fromEntries(ids(n).map((id) => [id, 1])));
    expect((await readdir(path.join(ws.dir, "processed"))).sort()).toEqual(ids(n));
    expect(await readdir(path.join(ws.out, ".wopack", "tmp"))).toEqual([]);
  }

  for (const point of ["before-publish", "after-publish", "after-ledger"]) {
    it(`SIGKILL at ${point}, then a restart: nothing lost, nothing packed twice`, async () => {
      const ws = await staging(3);
      const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "200ms"], { WOPACK_FAULT: point });
      expect((await w.exited).signal).toBe("SIGKILL");
      await restartAndFinish(ws, 3);
    });
  }

  it("SIGKILL while converting, then a restart: nothing lost, nothing packed twice", async () => {
    const ws = await workspace();
    const heic = await readFile(path.join(FIXTURES, "quad.heic"));
    for (let i = 0; i < 6; i++)
      for (let p = 0; p < 8; p++) await put(ws.staging, `WO_${String(i).padStart(3, "0")}/meter/p${p}.heic`, heic);
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "200ms"]);
    await w.until("ready", (x) => x.events.some((e) => e.event === "ready"));
    w.child.kill("SIGKILL");
    await w.exited;
    await restartAndFinish(ws, 6);
  });

  it("SIGKILL while writing, then a restart: nothing lost, nothing packed twice", async () => {
    const ws = await staging(8, await noiseJpeg(1200, 1000, 1, 100)); // an archive of ~28 MB, killed at 10
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "200ms"]);
    const _tmp = path.join(ws.out, ".wopack", "tmp");
    await waitForPartialArchive(ws.out, 10_000_000);
    w.child.kill("SIGKILL");
    await w.exited;
    expect(await archivesIn(ws.out)).toEqual([]);
    await restartAndFinish(ws, 8);
  });

  it("SIGTERM while writing: exits within 10 s, rolls the archive back, and a restart finishes the job", async () => {
    const ws = await staging(8, await noiseJpeg(1200, 1000, 1, 100));
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "200ms"]);
    const tmp = path.join(ws.out, ".wopack", "tmp");
    await waitForPartialArchive(ws.out, 10_000_000);
    const stopped = Date.now();
    const { code } = await w.stop("SIGTERM");
    expect(Date.now() - stopped).toBeLessThan(10_000);
    expect(code).toBe(130);
    expect(await archivesIn(ws.out)).toEqual([]);
    expect(await readdir(tmp)).toEqual([]);
    expect((await readdir(ws.staging)).length).toBe(8);
    await restartAndFinish(ws, 8);
  });
});
