// Issue 26 item 4: the photo checks on watch --http's status page, in headless Chromium. A real status
// server on 127.0.0.1 serves a status that carries the checks' counts (since start and of the last pass,
// per check and outcome) and the newest findings; the page draws them from /events as text, links a
// finding's archive to its review page, leaves the section out for a status without them (an earlier
// version's), and survives a malformed one.

import path from "node:path";
import type { Browser, Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WatchStatus } from "../../src/core/types.js";
import type { StatusServer } from "../../src/serve/server.js";
import { launchChromium, SCREENSHOTS, seriousA11yViolations } from "../browser.js";
import { put, workspace } from "../helpers.js";
import { scene } from "../scene.js";
import { quietStatus, serveLiveStatus, Watcher } from "../watcher.js";

const HOSTILE = `<img src=x onerror="window.__pwned=1">`;
const ARCHIVE = "batch-20261205T190000Z-0003.zip";

const base: WatchStatus = {
  ...quietStatus({ staging: "/staging", out: "/out" }),
  recentArchives: [
    {
      archive: ARCHIVE,
      at: new Date().toISOString(),
      workOrders: ["WO_7"],
      photos: 3,
      bytes: 30_000,
      sha256: "ab".repeat(32),
      review: ARCHIVE.replace(/\.zip$/, ".html"),
    },
  ],
};

const photoChecks = {
  warned: 5,
  refused: 1,
  byCode: { W_PHOTO_REUSED: 3, E_PHOTO_REUSED: 1, W_PHOTO_BLURRY: 2, W_PHOTO_DARK: 1 },
  lastPass: { warned: 1, refused: 1, byCode: { W_PHOTO_REUSED: 1, E_PHOTO_REUSED: 1 } },
  recent: [
    {
      at: new Date().toISOString(),
      code: "E_PHOTO_REUSED",
      message: "WO_8/pole-1.jpg: the same picture as WO_7/meter-1.jpg in an earlier archive",
      workOrder: "WO_8",
      entry: "WO_8/pole-1.jpg",
      archive: null,
    },
    {
      at: new Date().toISOString(),
      code: "W_PHOTO_BLURRY",
      message: "WO_7/meter-2.jpg: too little detail to be judged",
      workOrder: "WO_7",
      entry: "WO_7/meter-2.jpg",
      archive: ARCHIVE,
    },
    { at: new Date().toISOString(), code: "W_PHOTO_DARK", message: HOSTILE, workOrder: HOSTILE, archive: `${HOSTILE}.zip` },
  ],
};

/** (an earlier version's status has no photoChecks; a damaged one anything) */
type AnyStatus = Omit<WatchStatus, "photoChecks"> & { photoChecks?: unknown };
let setStatus: (next: AnyStatus) => void;

let browser: Browser;
let server: StatusServer;

beforeAll(async () => {
  browser = await launchChromium();
  const live = await serveLiveStatus<AnyStatus>({ ...base, photoChecks });
  server = live.server;
  setStatus = live.set;
});

afterAll(async () => {
  await server?.close();
  await browser?.close();
});

async function open(width = 1280): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const tab = await context.newPage();
  await tab.goto(server.url);
  await expect.poll(() => tab.locator("#status").textContent()).toBe("idle");
  return tab;
}

const rows = (tab: Page, under: string) =>
  tab
    .locator(`${under} tbody tr`)
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));

describe("the photo checks on the status page (Chromium)", () => {
  it("counts per check and outcome, since start and in the last pass", async () => {
    setStatus({ ...base, photoChecks });
    const tab = await open();
    const section = tab.locator("#checks-section");
    await expect.poll(() => section.isVisible()).toBe(true);
    expect(await section.locator("p").first().textContent()).toBe(
      "Since watch started: 5 photos warned of, 1 work order refused; in the last pass: 1 warned of, 1 refused.",
    );
    expect(await rows(tab, "#checks .wide:first-of-type")).toEqual([
      ["re-used (reuse)", "3", "1", "1", "1"],
      ["blurry (blur)", "2", "0", "0", "0"],
      ["dark or over-exposed (exposure)", "1", "0", "0", "0"],
    ]);
    expect(await seriousA11yViolations(tab)).toEqual([]);
    await tab.context().close();
  });

  it("lists the newest findings with their work order and archive, linked to its review page, hostile text as text", async () => {
    setStatus({ ...base, photoChecks });
    const tab = await open();
    await expect.poll(() => tab.locator("#checks h3").textContent()).toBe("Latest findings");
    const found = await rows(tab, "#checks h3 + .wide");
    expect(found[0]).toEqual([
      "re-used E_PHOTO_REUSED refused",
      expect.stringMatching(/s ago$/),
      "WO_8WO_8/pole-1.jpg",
      "not packed",
      "WO_8/pole-1.jpg: the same picture as WO_7/meter-1.jpg in an earlier archive",
    ]);
    expect(found[1]![0]).toBe("blurry W_PHOTO_BLURRY warned");
    expect(found[1]![3]).toBe(ARCHIVE);
    const link = tab.locator("#checks h3 + .wide tbody tr").nth(1).locator("a");
    expect(await link.getAttribute("href")).toBe(`/review/${ARCHIVE.replace(/\.zip$/, ".html")}`);
    // the hostile finding is text: its word, its message and its names as given, nothing run
    expect(found[2]).toEqual(["dark W_PHOTO_DARK warned", expect.any(String), HOSTILE, `${HOSTILE}.zip`, HOSTILE]);
    expect(await tab.locator('img[src="x"]').count()).toBe(0);
    expect(await tab.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await tab.screenshot({ path: path.join(SCREENSHOTS, "status-checks.png"), fullPage: true });
    // at 640 px too, with no sideways scroll
    const narrow = await open(640);
    await expect.poll(() => narrow.locator("#checks-section").isVisible()).toBe(true);
    expect(await narrow.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(640);
    await narrow.context().close();
    await tab.context().close();
  });

  it("follows the status as it changes (server-sent events)", async () => {
    setStatus({ ...base, photoChecks });
    const tab = await open();
    await expect.poll(() => tab.locator("#checks-section").isVisible()).toBe(true);
    setStatus({
      ...base,
      photoChecks: { ...photoChecks, byCode: { ...photoChecks.byCode, W_PHOTO_BLURRY: 5, E_PHOTO_BLURRY: 2 } },
    });
    await expect
      .poll(async () => (await rows(tab, "#checks .wide:first-of-type"))[1])
      .toEqual(["blurry (blur)", "5", "2", "0", "0"]);
    await tab.context().close();
  });

  it("leaves the section out for a status without photo checks (an earlier version's), and draws the rest", async () => {
    const { photoChecks: _, ...older } = base;
    setStatus(older);
    const tab = await open();
    await expect.poll(() => tab.locator("#archives").textContent()).toContain(ARCHIVE);
    expect(await tab.locator("#checks-section").isHidden()).toBe(true);
    await tab.context().close();
  });

  it("draws a malformed one as nothing flagged instead of breaking the page", async () => {
    setStatus({
      ...base,
      photoChecks: { byCode: { W_PHOTO_REUSED: "lots", W_PHOTO_BLURRY: null }, recent: [7, { code: 1 }, null] },
    });
    const tab = await open();
    await expect.poll(() => tab.locator("#checks-section").isVisible()).toBe(true);
    expect(await rows(tab, "#checks .wide:first-of-type")).toEqual([
      ["re-used (reuse)", "0", "0", "0", "0"],
      ["blurry (blur)", "0", "0", "0", "0"],
    ]);
    expect(await tab.locator("#checks").textContent()).toContain("No photo was flagged yet.");
    expect(await tab.locator("#archives").textContent()).toContain(ARCHIVE);
    await tab.context().close();
  });
});

describe("a real watch --http (the checks of wip/checkwire)", () => {
  it("counts a re-used and a dark photo of the second pass, and lists them with their work order and archive", async () => {
    const ws = await workspace();
    const watcher = new Watcher([ws.staging, "--out", ws.out, "--settle", "1s", "--http", "127.0.0.1:0"]);
    try {
      await watcher.until("started", (w) => w.events.some((e) => e.event === "started"));
      const url = String((watcher.events.find((e) => e.event === "started") as unknown as { url: string }).url);
      await put(ws.staging, "WO_A/meter-1.jpg", scene(1));
      await put(ws.staging, "WO_A/meter-2.jpg", scene(2));
      await watcher.until("WO_A packed", (w) => w.packedIds().includes("WO_A"));
      await put(ws.staging, "WO_B/meter-1.jpg", scene(1)); // WO_A's meter-1.jpg again
      await put(ws.staging, "WO_B/meter-2.jpg", scene(3));
      await put(
        ws.staging,
        "WO_B/meter-3.jpg",
        sharp({ create: { width: 640, height: 480, channels: 3, background: "#030303" } })
          .jpeg()
          .toBuffer(),
      );
      await watcher.until("WO_B packed", (w) => w.packedIds().includes("WO_B"));
      const archive = watcher.events.find((e) => e.event === "packed" && e.workOrders?.includes("WO_B"))!.archive!;
      const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await tab.goto(url);
      await expect
        .poll(() => tab.locator("#checks-section p").first().textContent())
        .toBe("Since watch started: 2 photos warned of, 0 work orders refused; in the last pass: 2 warned of, 0 refused.");
      const found = await rows(tab, "#checks h3 + .wide");
      expect(found.map((r) => [r[0], r[2], r[3]])).toEqual(
        expect.arrayContaining([
          ["re-used W_PHOTO_REUSED warned", "WO_BWO_B/meter-1.jpg", path.basename(archive)],
          ["dark W_PHOTO_DARK warned", "WO_BWO_B/meter-3.jpg", path.basename(archive)],
        ]),
      );
      expect(found).toHaveLength(2);
      // the archive links to its review page, which shows the badge
      await tab.locator("#checks h3 + .wide a").first().click();
      await expect.poll(() => tab.locator("section.wo figure .flag").count()).toBeGreaterThanOrEqual(2);
      // a third pass with nothing flagged: the last pass counts start again, the session's stay
      await put(ws.staging, "WO_C/meter-1.jpg", scene(5));
      await put(ws.staging, "WO_C/meter-2.jpg", scene(6));
      await watcher.until("WO_C packed", (w) => w.packedIds().includes("WO_C"));
      await tab.goto(url);
      await expect
        .poll(() => tab.locator("#checks-section p").first().textContent())
        .toBe("Since watch started: 2 photos warned of, 0 work orders refused; in the last pass: 0 warned of, 0 refused.");
      expect(await rows(tab, "#checks h3 + .wide")).toHaveLength(2);
      await tab.close();
    } finally {
      await watcher.stop();
    }
  });
});
