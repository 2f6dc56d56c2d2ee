// Issue 12 §3: watch --http. The live status page in Chromium (it updates as a work order waits, then is
// packed, and links to the review page), /metrics read by a Prometheus text-format parser, /healthz
// flipping to 503 while the staging folder is gone, and a server that only reads: traversal is 404,
// writes are 405, strangers' Host headers are refused.

import { rename } from "node:fs/promises";
import { request } from "node:http";
import path from "node:path";
// (the package ships no types: what the test reads of its output is declared here)
// @ts-expect-error
import parse from "parse-prometheus-text-format";
import type { Browser } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WatchStatus } from "../../src/core/types.js";
import { parseListen } from "../../src/serve/listen.js";
import { healthOf } from "../../src/serve/server.js";
import { launchChromium, SCREENSHOTS, seriousA11yViolations } from "../browser.js";
import { put, waitFor, workspace } from "../helpers.js";
import { Watcher } from "../watcher.js";

/** A GET (or another method) with the path sent exactly as given: fetch would normalise "..". */
function raw(base: string, rawPath: string, options: { method?: string; host?: string } = {}) {
  const url = new URL(base);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: rawPath,
          method: options.method ?? "GET",
          headers: options.host ? { host: options.host } : {},
        },
        (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      );
      req.on("error", reject);
      req.end();
    },
  );
}

/**
 * Table cells' words that the layout broke inside: a new line between two letters or digits ("Whe|n",
 * "WO_20|0103") inside one text node (the page's <wbr> after "/", "_" and "-" starts a new one). Read from the rendered text's line rectangles in Chromium.
 */
function unbrokenWords(tab: import("playwright-core").Page): Promise<string[]> {
  return tab.evaluate(() => {
    const bad: string[] = [];
    for (const cell of document.querySelectorAll("th, td")) {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      let lastTop: number | undefined;
      let before = "";
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = n.textContent ?? "";
        before = ""; // (a new text node: after a <wbr> or an element, where a break is offered)
        for (let i = 0; i < text.length; i++) {
          const range = document.createRange();
          range.setStart(n, i);
          range.setEnd(n, i + 1);
          const rect = range.getClientRects()[0];
          if (!rect || /\s/.test(text[i]!)) {
            before = text[i]!;
            continue;
          }
          if (lastTop !== undefined && rect.top > lastTop + 2 && /\w/.test(before) && /\w/.test(text[i]!))
            bad.push(`${cell.textContent}: broken before "${text.slice(i, i + 8)}"`);
          lastTop = rect.top;
          before = text[i]!;
        }
      }
    }
    return bad;
  });
}

const jpeg = (colour: string) =>
  sharp({ create: { width: 320, height: 240, channels: 3, background: colour } })
    .jpeg()
    .toBuffer();

let browser: Browser;
let ws: { dir: string; staging: string; out: string };
let watcher: Watcher;
let base: string;
let gate: string;

beforeAll(async () => {
  browser = await launchChromium();
  ws = await workspace();
  // the --on-archive command holds the pass (packing) until the test opens the gate: the page is seen packing
  gate = path.join(ws.dir, "gate");
  const hook = await put(
    ws.dir,
    "hook.mjs",
    `import { existsSync } from "node:fs";
const until = Date.now() + 60000;
const timer = setInterval(() => { if (existsSync(${JSON.stringify(gate)}) || Date.now() > until) { clearInterval(timer); } }, 20);
`,
  );
  const onArchive = `${process.execPath} ${hook}`;
  watcher = new Watcher([ws.staging, "--out", ws.out, "--settle", "4s", "--http", "127.0.0.1:0", "--on-archive", onArchive]);
  await watcher.until("started", (w) => w.events.some((e) => e.event === "started"));
  base = String((watcher.events.find((e) => e.event === "started") as unknown as { url: string }).url);
  expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
}, 60_000);

afterAll(async () => {
  await watcher?.stop();
  await browser?.close();
});

describe("watch --http", () => {
  it("shows a work order settling, then packing, then packed with a link to its review page, live", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const tab = await context.newPage();
    await tab.goto(`${base}/`);
    await expect.poll(() => tab.locator("#status").textContent()).toBe("idle");
    // every word the badge shows from here on, in order
    await tab.evaluate(() => {
      const badge = document.getElementById("status")!;
      const seen: string[] = [];
      (window as unknown as { seen: string[] }).seen = seen;
      new MutationObserver(() => {
        if (seen.at(-1) !== badge.textContent) seen.push(badge.textContent ?? "");
      }).observe(badge, { childList: true, characterData: true, subtree: true });
    });
    // the next scan is due within the 60 s safety rescan, and the page counts down to it
    expect(await tab.locator("#folders").textContent()).toMatch(/next scan (in \d+ s|now) \(last \d+ s ago\)/);
    // (the photos made first, then the files written together: under load, making one between the writes
    // let WO_BAD settle a pass after WO_LIVE)
    const [blue, brown] = await Promise.all([jpeg("#336699"), jpeg("#996633")]);
    await Promise.all([
      put(ws.staging, "stray_notes_2026/readme.txt".replace("/", "-"), "a file at the staging root"),
      put(ws.staging, "WO_LIVE/meter-1.jpg", blue),
      put(ws.staging, "WO_LIVE/cabinet-2.jpg", brown),
      put(ws.staging, "WO_BAD/meter-1.jpg", "this is a text file, not a photo"),
    ]);
    // settling: the page says so without being reloaded, in the badge and in the table
    await expect.poll(() => tab.locator("#waiting").textContent(), { timeout: 15_000 }).toMatch(/WO_LIVE.*settling/);
    await expect.poll(() => tab.locator("#status").textContent()).toBe("settling");
    await tab.screenshot({ path: path.join(SCREENSHOTS, "status-waiting.png") });
    await expect.poll(() => tab.locator("#status").textContent(), { timeout: 30_000 }).toBe("packing");
    await put(ws.dir, "gate", "");
    const link = tab.locator("#archives a");
    await expect.poll(() => link.count(), { timeout: 30_000 }).toBe(1);
    expect(await tab.locator("#archives").textContent()).toContain("WO_LIVE");
    await expect.poll(() => tab.locator("#refused").textContent(), { timeout: 30_000 }).toMatch(/WO_BAD.*E_NOT_AN_IMAGE/);
    await expect.poll(() => tab.locator("#status").textContent()).toBe("idle");
    const seen = await tab.evaluate(() => (window as unknown as { seen: string[] }).seen);
    // settling, packing, then idle; a machine so loaded that the two work orders settled a pass apart shows the
    // badge go round again, in the same words
    expect(seen.slice(seen.indexOf("settling")).join(" ")).toMatch(/^settling packing ((idle|settling|packing) )*idle$/);
    // where the refused folder went, and the stray root file's warning
    const failed = path.join(ws.dir, "failed");
    expect(await tab.locator("#failed-to").textContent()).toContain(failed);
    expect(await tab.locator("#refused").textContent()).toContain(path.join(failed, "WO_BAD.errors.json"));
    await expect
      .poll(() => tab.locator("#warnings").textContent())
      .toMatch(/W_ROOT_FILE_UNMATCHED.*stray_notes_2026-readme\.txt/);
    expect(await tab.locator("#totals").textContent()).toMatch(/1 work order packed, 1 refused, 1 archive\b/);
    await tab.screenshot({ path: path.join(SCREENSHOTS, "status.png"), fullPage: true });
    expect(await unbrokenWords(tab)).toEqual([]);
    await tab.setViewportSize({ width: 640, height: 900 });
    await tab.screenshot({ path: path.join(SCREENSHOTS, "status-640.png"), fullPage: true });
    expect(await unbrokenWords(tab)).toEqual([]);
    // the review page, served from --out under its own CSP
    await link.click();
    await expect.poll(() => tab.locator("section.wo .entry").allTextContents()).toEqual(["meter-1.jpg", "cabinet-2.jpg"]);
    await context.close();
  });

  it("has no serious accessibility problem", async () => {
    const context = await browser.newContext({ bypassCSP: true });
    const tab = await context.newPage();
    await tab.goto(`${base}/`);
    await expect.poll(() => tab.locator("#status").textContent()).not.toBe("connecting…");
    expect(await seriousA11yViolations(tab)).toEqual([]);
    await context.close();
  });

  it("serves /metrics in Prometheus text format", async () => {
    await watcher.until("WO_LIVE packed", (w) => w.packedIds().includes("WO_LIVE"));
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = (
      parse as (text: string) => { name: string; type: string; metrics: { value?: string; labels?: Record<string, string> }[] }[]
    )(await res.text());
    const value = (name: string, labels: Record<string, string> = {}) => {
      const family = families.find((f) => f.name === name);
      const m = family?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
      return m?.value === undefined ? undefined : Number(m.value);
    };
    expect(value("wopack_photos_packed_total")).toBe(2);
    expect(value("wopack_work_orders_total", { result: "packed" })).toBe(1);
    expect(value("wopack_work_orders_total", { result: "refused" })).toBe(1);
    expect(value("wopack_archives_total")).toBe(1);
    expect(value("wopack_bytes_written_total")).toBeGreaterThan(0);
    expect(value("wopack_queue_depth")).toBe(0);
    expect(value("wopack_up")).toBe(1);
    expect(value("wopack_last_scan_timestamp_seconds")! * 1000).toBeGreaterThan(Date.now() - 120_000);
    const histogram = families.find((f) => f.name === "wopack_archive_duration_seconds");
    expect(histogram?.type).toBe("HISTOGRAM");
    // prom-client's process metrics come along
    expect(families.some((f) => f.name === "process_resident_memory_bytes")).toBe(true);
  });

  it("answers /healthz 503 while the staging folder is gone, and 200 once it is back", async () => {
    const ok = await fetch(`${base}/healthz`);
    expect(ok.status).toBe(200);
    const away = `${ws.staging}.unmounted`;
    await rename(ws.staging, away);
    try {
      await waitFor(async () => (await fetch(`${base}/healthz`)).status === 503, "/healthz 503");
      const body = await (await fetch(`${base}/healthz`)).json();
      expect(body).toEqual({ status: "unhealthy", reason: expect.stringMatching(/staging/) });
    } finally {
      await rename(away, ws.staging);
    }
    await waitFor(async () => (await fetch(`${base}/healthz`)).status === 200, "/healthz 200 again", 60_000);
  }, 90_000);

  it("only reads: traversal is 404, writes are 405, no CORS, strict headers, foreign Host refused", async () => {
    for (const p of [
      "/review/../../../../etc/passwd",
      "/review/..%2F..%2F..%2Fetc%2Fpasswd",
      "/review/%2e%2e/%2e%2e/etc/passwd",
      "/review/.wopack/health.json",
      "/review/..",
      "/review/x.zip",
      "//etc/passwd",
      "/../etc/passwd",
      "/state.json/../../etc/passwd",
    ]) {
      const res = await raw(base, p);
      expect(res.status, p).toBe(404);
      expect(res.body).not.toContain("root:");
    }
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const res = await raw(base, "/", { method });
      expect(res.status, method).toBe(405);
    }
    const page = await raw(base, "/");
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    expect(page.headers["content-security-policy"]).toMatch(/default-src 'none'; script-src 'self'/);
    expect(page.headers["access-control-allow-origin"]).toBeUndefined();
    expect((await raw(base, "/", { host: "attacker.example:80" })).status).toBe(421);
  });

  it("after a restart shows the archives and refusals the ledger and the reports know", async () => {
    await watcher.stop();
    watcher = new Watcher([ws.staging, "--out", ws.out, "--settle", "4s", "--http", "127.0.0.1:0"]);
    await watcher.until("started", (w) => w.events.some((e) => e.event === "started"));
    base = String((watcher.events.find((e) => e.event === "started") as unknown as { url: string }).url);
    const context = await browser.newContext({ viewport: { width: 640, height: 900 } });
    const tab = await context.newPage();
    await tab.goto(`${base}/`);
    await expect.poll(() => tab.locator("#archives a").count()).toBe(1);
    expect(await tab.locator("#archives").textContent()).toContain("WO_LIVE");
    expect(await tab.locator("#refused").textContent()).toMatch(/WO_BAD.*E_NOT_AN_IMAGE/);
    expect(await tab.locator("#refused").textContent()).toContain(path.join(ws.dir, "failed", "WO_BAD.errors.json"));
    // the session's own counts start again
    expect(await tab.locator("#totals").textContent()).toMatch(/0 work orders packed, 0 refused, 0 archives/);
    await tab.screenshot({ path: path.join(SCREENSHOTS, "status-restarted-640.png"), fullPage: true });
    expect(await unbrokenWords(tab)).toEqual([]);
    await context.close();
  });
});

describe("the pieces, alone", () => {
  it("reads --http values: a port alone is loopback", () => {
    expect(parseListen("9464")).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parseListen("0.0.0.0:9464")).toEqual({ host: "0.0.0.0", port: 9464 });
    expect(parseListen("[::1]:9464")).toEqual({ host: "::1", port: 9464 });
    expect(parseListen("localhost:80")).toEqual({ host: "localhost", port: 80 });
    for (const bad of ["", "x", "1.2.3.4:", ":::", "9464:", "99999", "host:99999"]) expect(parseListen(bad), bad).toBeUndefined();
  });

  it("judges health from the status: missing staging, failing passes, stale scans, long passes", () => {
    const now = Date.parse("2026-12-02T12:00:00Z");
    const s = (over: Partial<WatchStatus>): WatchStatus =>
      ({ staging: "/s", status: "idle", lastScanAt: "2026-12-02T11:59:30Z", lastError: null, ...over }) as WatchStatus;
    expect(healthOf(s({}), true, now, 180_000).ok).toBe(true);
    expect(healthOf(s({}), false, now, 180_000)).toEqual({ ok: false, reason: "the staging folder /s is not reachable" });
    expect(healthOf(s({ status: "error", lastError: { at: "", code: "E_IO", message: "gone" } }), true, now, 180_000)).toEqual({
      ok: false,
      reason: "E_IO: gone",
    });
    expect(healthOf(s({ lastScanAt: "2026-12-02T11:50:00Z" }), true, now, 180_000).ok).toBe(false);
    // a long pass scans nothing until it ends, and is alive
    expect(healthOf(s({ status: "packing", lastScanAt: "2026-12-02T11:00:00Z" }), true, now, 180_000).ok).toBe(true);
  });
});
