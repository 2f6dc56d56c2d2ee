// Issue 21 §13: /events is bounded. A real `watch --http` with a large status (refused work orders with
// many problems, many work orders waiting), one page that reads its events and 30 raw-socket clients that
// never read, while work orders are packed: watch's memory stays bounded, packing completes, the page gets
// the newest status, clients past the limit are told 503, and those that do not read are dropped.
// A HEAD /events (no body to read) holds no place: 16 of them locked the live page out for as long as
// their connections stayed open.
import { readFileSync } from "node:fs";
import { get } from "node:http";
import { connect, type Socket } from "node:net";
import sharp from "sharp";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_EVENT_CLIENTS } from "../../src/serve/server.js";
import { put, waitFor, workspace } from "../helpers.js";
import { quietStatus, serveStatus, Watcher } from "../watcher.js";

const MB = 1024 * 1024;
const long = (n: number, c: string) => c.repeat(n);

/** VmRSS of a process, in bytes. */
function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) * 1024;
}

const opened: Socket[] = [];
let watcher: Watcher | undefined;
afterEach(async () => {
  for (const s of opened) s.destroy();
  opened.length = 0;
  if (watcher && watcher.child.exitCode === null) watcher.child.kill("SIGKILL");
  await watcher?.exited;
});

describe("watch --http /events under clients that do not read", () => {
  it("memory stays bounded, packing completes, the page stays current, 503 past the limit, non-readers dropped", async () => {
    const ws = await workspace();
    // 20 refused work orders of 40 non-photos with long names (about 0.9 KB a problem): a status of ~1 MB
    for (let r = 0; r < 20; r++) {
      const id = `WO_BAD_${String(r).padStart(2, "0")}_${long(110, "b")}`;
      for (let f = 0; f < 40; f++) await put(ws.staging, `${id}/meter-${long(220, "x")}-${f}.jpg`, "not a photo");
      await put(ws.staging, `${id}/.ready`, "");
    }
    // 250 work orders waiting for their marker
    for (let i = 0; i < 250; i++) await put(ws.staging, `WO_WAIT_${String(i).padStart(3, "0")}_${long(110, "w")}/a.jpg`, "x");
    // what gets packed while the clients are connected: photos converted to JPEG (slow enough to watch); the
    // noise is made once and each photo shifts its red (making the noise was 7 of the test's 33 s)
    const [width, height] = [1400, 1000];
    const noise = sharp({
      create: { width, height, channels: 3, background: "#000", noise: { type: "gaussian", mean: 128, sigma: 50 } },
    })
      .raw()
      .toBuffer();
    const png = async (seed: number) => {
      const raw = Buffer.from(await noise);
      for (let i = 0; i < raw.length; i += 3) raw[i] = (raw[i]! + seed * 40) & 255;
      return sharp(raw, { raw: { width, height, channels: 3 } })
        .png({ compressionLevel: 1 })
        .toBuffer();
    };
    const good = ["WO_GOOD_1", "WO_GOOD_2", "WO_GOOD_3", "WO_GOOD_4"];
    for (const [g, id] of good.entries()) for (let p = 0; p < 8; p++) await put(ws.staging, `${id}/meter/p${p}.png`, png(g + p));

    // (a client that does not read is dropped after 3 s instead of 10: the page, which reads, keeps up within that)
    watcher = new Watcher([ws.staging, "--out", ws.out, "--ready-marker", ".ready", "--http", "127.0.0.1:0"], {
      WOPACK_TEST_TIME_SCALE: "0.3",
    });
    const w = watcher;
    await w.until("20 refused", (x) => x.events.filter((e) => e.event === "refused").length === 20, 120_000);
    const base = String((w.events.find((e) => e.event === "started") as unknown as { url: string }).url);
    const port = Number(new URL(base).port);
    const state = await (await fetch(`${base}/state.json`)).text();
    expect(state.length).toBeGreaterThan(750_000); // the whole status is large
    const pid = w.child.pid!;
    const start = rss(pid);

    // the page: reads every event
    let last: { packed: number; recentRefused: { moreProblems?: number }[] } | undefined;
    let events = 0;
    let largest = 0;
    const page = get({ host: "127.0.0.1", port, path: "/events", headers: { host: `127.0.0.1:${port}` } }, (res) => {
      let buffer = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        buffer += d;
        for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!message.startsWith("data: ")) continue;
          largest = Math.max(largest, message.length);
          last = JSON.parse(message.slice(6));
          events++;
        }
      });
    });
    page.on("error", () => undefined);
    await waitFor(() => events > 0, "the page's first event");

    // 30 raw clients: each sends its request, takes the first bytes (to see the status line) and never reads again
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const s = connect({ host: "127.0.0.1", port });
      opened.push(s);
      s.on("error", () => undefined);
      s.once("data", (d: Buffer) => {
        s.pause();
        statuses.push(Number(/^HTTP\/1\.1 (\d{3})/.exec(d.toString("latin1"))?.[1] ?? 0));
      });
      s.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    }
    await waitFor(() => statuses.length === 30, "every raw client's first answer");
    expect(statuses.filter((s) => s === 200)).toHaveLength(15); // 16 at most, the page among them
    expect(statuses.filter((s) => s === 503)).toHaveLength(15);

    // status changes from now on, so that the non-readers' socket buffers fill while the packing goes on (a file
    // added to a waiting work order: a scan, at most one a second, and an event); they are dropped 3 s after
    let churning = true;
    let more = 0;
    const churn = (async () => {
      while (churning) {
        await put(ws.staging, `WO_WAIT_${String(more++ % 250).padStart(3, "0")}_${long(110, "w")}/b.jpg`, "y");
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    // pack while they hang on; watch's memory is sampled all along (and the test stops at the first excess)
    let peak = start;
    let tooBig = false;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rss(pid));
        if (peak - start > 150 * MB) {
          tooBig = true;
          w.child.kill("SIGKILL");
        }
      } catch {
        // (the process is gone)
      }
    }, 100);
    try {
      for (const id of good) await put(ws.staging, `${id}/.ready`, "");
      await w.until("the good work orders packed", (x) => tooBig || good.every((id) => x.packedIds().includes(id)), 180_000);
      expect(tooBig, `watch grew from ${Math.round(start / MB)} MB past ${Math.round(peak / MB)} MB: killed`).toBe(false);
      // the page is current: it has seen the last archive
      await waitFor(() => last?.packed === 4, "the page to see every work order packed");
      // the clients that do not read are dropped once the socket stops taking their events
      const metric = async (name: string) => {
        const text = await (await fetch(`${base}/metrics`)).text();
        return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1]);
      };
      await waitFor(
        async () => (await metric("wopack_http_event_clients")) === 1,
        "the 15 clients that do not read to be dropped",
        120_000,
      );
      expect(await metric('wopack_http_event_clients_turned_away_total\\{why="not_reading"\\}')).toBe(15);
      expect(await metric('wopack_http_event_clients_turned_away_total\\{why="too_many"\\}')).toBe(15);
    } finally {
      clearInterval(sampler);
      churning = false;
      await churn;
    }
    expect(peak - start, `watch grew from ${Math.round(start / MB)} MB to ${Math.round(peak / MB)} MB`).toBeLessThan(150 * MB);
    // an event is what the page draws: the long lists are cut (the rest is counted, and in /state.json)
    expect(largest).toBeLessThan(400_000);
    expect(last!.recentRefused[0]!.moreProblems).toBe(30);
    page.destroy();
    expect((await w.stop()).code).toBe(0);
  }, 400_000);
});

describe("/events and the methods that are not GET", () => {
  it("HEAD /events is answered and ended, never holding one of the live pages' places; other methods are 405", async () => {
    const status = quietStatus();
    const server = await serveStatus(() => status);
    try {
      const port = Number(new URL(server.url).port);
      /** one request on a kept-alive socket; resolves with what came back once a whole answer (head, and body if any) is in */
      const ask = (method: string) =>
        new Promise<string>((resolve, reject) => {
          const s = connect({ host: "127.0.0.1", port });
          opened.push(s);
          let text = "";
          const late = setTimeout(() => reject(new Error(`${method} /events: no whole answer within 5 s (${text})`)), 5000);
          s.on("close", () => clearTimeout(late));
          s.on("error", reject);
          s.on("data", (d) => {
            text += d;
            const head = text.indexOf("\r\n\r\n");
            const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
            const chunkedEnd = /transfer-encoding: chunked/i.test(text) ? text.endsWith("0\r\n\r\n") : true;
            if (head >= 0 && chunkedEnd && (method === "HEAD" || text.length >= head + 4 + length)) {
              clearTimeout(late);
              resolve(text);
            }
          });
          s.write(`${method} /events HTTP/1.1\r\nHost: 127.0.0.1\r\n${method === "POST" ? "Content-Length: 0\r\n" : ""}\r\n`);
        });
      for (let i = 0; i < MAX_EVENT_CLIENTS + 4; i++) {
        const text = await ask("HEAD");
        expect(text).toMatch(/^HTTP\/1\.1 200 /);
        expect(text).toMatch(/content-type: text\/event-stream/i);
      }
      for (const method of ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
        expect(await ask(method)).toMatch(/^HTTP\/1\.1 405 [\s\S]*allow: GET, HEAD/i);
      // the live page still gets its stream: no place is held by the HEADs
      const live = await new Promise<number>((resolve, reject) => {
        const req = get(`${server.url}/events`, (res) => {
          resolve(res.statusCode ?? 0);
          res.destroy();
        });
        req.on("error", reject);
      });
      expect(live).toBe(200);
    } finally {
      await server.close();
    }
  });
});
