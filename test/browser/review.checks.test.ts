// Issue 26 item 4: the photo checks' findings on the review page, in headless Chromium. Two real nights
// are packed into one outbox; the second night's report is given findings (as the checks write them:
// PackedEntry.checks) and `wopack review` makes its page again from the zip and that report. The page must
// show a badge on each flagged photo that a screen reader announces with its message, a summary whose
// links reach the photos, the earlier photo beside a re-used one (read from the first night's archive)
// with its names, a plain sentence when the earlier archive is gone, and every hostile name as text.
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ArchiveReport, PhotoFinding } from "../../src/core/types.js";
import { launchChromium, PICTURE, SCREENSHOTS, seriousA11yViolations, shownJpeg, shownWidths } from "../browser.js";
import { archivesIn, put, tempDir, wopack } from "../helpers.js";
import { scene } from "../scene.js";

const HOSTILE_MESSAGE = `<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">`;
const HOSTILE_WO = `"><img src=x onerror=window.__pwned=3>`;
const HOSTILE_ARCHIVE = `<img src=x onerror=window.__pwned=4>.zip`;
const GONE_ARCHIVE = "batch-20200101T000000Z-0001.zip";

let browser: Browser;
let dir: string;
let out: string;
let first: string;
let second: string;
let page: string;

/** Adds findings to entries of an archive's report (as the checks would have), then remakes its page. */
async function withFindings(zip: string, findings: Record<string, PhotoFinding[]>): Promise<string> {
  const reportFile = `${zip}.report.json`;
  const report = JSON.parse(await readFile(reportFile, "utf8")) as ArchiveReport;
  // (these findings only: the pipeline's own, on these generated photos, are replaced)
  const own = (w: { code: string }) => !w.code.startsWith("W_PHOTO_");
  for (const wo of report.workOrders) {
    for (const e of wo.entries) {
      if (findings[e.entry]) e.checks = findings[e.entry];
      else delete e.checks;
    }
    wo.warnings = wo.warnings.filter(own);
  }
  report.warnings = report.warnings.filter(own);
  await writeFile(reportFile, JSON.stringify(report, null, 2));
  const run = await wopack(["review", zip]);
  expect(run.code, run.stderr + run.stdout).toBe(0);
  return zip.replace(/\.zip$/, ".html");
}

function findingsOfNightTwo(earlierArchive: string): Record<string, PhotoFinding[]> {
  return {
    "WO_NEW/meter-1.jpg": [
      {
        code: "W_PHOTO_REUSED",
        message: "WO_NEW/meter-1.jpg: the same picture as WO_OLD/meter-1.jpg, packed before",
        earlier: { workOrder: "WO_OLD", entry: "WO_OLD/meter-1.jpg", archive: earlierArchive, distance: 0, exact: true },
      },
    ],
    "WO_NEW/meter-3.jpg": [
      {
        code: "W_PHOTO_DUPLICATE",
        message: "WO_NEW/meter-3.jpg: the same picture as meter-2.jpg",
        earlier: { workOrder: "WO_NEW", entry: "WO_NEW/meter-2.jpg", archive: path.basename(second), distance: 0, exact: true },
      },
      { code: "W_PHOTO_BLURRY", message: "WO_NEW/meter-3.jpg: too little detail to be judged" },
    ],
    "WO_NEW/meter-4.jpg": [
      {
        code: "W_PHOTO_REUSED",
        message: "WO_NEW/meter-4.jpg: re-used from a night long gone",
        earlier: { workOrder: "WO_ANCIENT", entry: "WO_ANCIENT/pole-1.jpg", archive: GONE_ARCHIVE, distance: 4, exact: false },
      },
    ],
    "WO_NEW/meter-5.jpg": [
      { code: "W_PHOTO_DARK", message: HOSTILE_MESSAGE },
      {
        code: "W_PHOTO_REUSED",
        message: HOSTILE_MESSAGE,
        earlier: { workOrder: HOSTILE_WO, entry: `${HOSTILE_WO}/x-1.jpg`, archive: HOSTILE_ARCHIVE, distance: 1, exact: false },
      },
    ],
  };
}

beforeAll(async () => {
  browser = await launchChromium();
  dir = await tempDir("wopack-checks-");
  out = path.join(dir, "out");
  // night one: WO_OLD
  await put(dir, "night1/WO_OLD/meter-1.jpg", scene(11));
  const one = await wopack(["pack", path.join(dir, "night1"), "--out", out]);
  expect(one.code, one.stderr).toBe(0);
  first = (await archivesIn(out))[0]!;
  // night two: WO_NEW, whose first photo is night one's again
  await put(dir, "night2/WO_NEW/meter-1.jpg", scene(11));
  await put(dir, "night2/WO_NEW/meter-2.jpg", scene(12));
  await put(dir, "night2/WO_NEW/meter-3.jpg", scene(12));
  await put(dir, "night2/WO_NEW/meter-4.jpg", scene(13));
  await put(dir, "night2/WO_NEW/meter-5.jpg", scene(15));
  await put(dir, "night2/WO_NEW/meter-6.jpg", scene(14));
  const two = await wopack(["pack", path.join(dir, "night2"), "--out", out]);
  expect(two.code, two.stderr).toBe(0);
  second = (await archivesIn(out)).find((a) => a !== first)!;
  page = await withFindings(second, findingsOfNightTwo(path.basename(first)));
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

async function open(url: string, options: Parameters<Browser["newContext"]>[0] = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const tab = await context.newPage();
  await tab.goto(url);
  return tab;
}

/** A photo's card by its entry's name (exactly: the text of its .entry, which may hold <wbr>). */
const card = (tab: Page, name: string) =>
  tab.locator("section.wo figure", {
    has: tab.locator(".entry", { hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) }),
  });

describe("the photo checks on the review page (Chromium)", () => {
  it("puts a badge on each flagged photo, in words, whose message shows on hover and focus and is announced", async () => {
    const tab = await open(`file://${page}`);
    const words = async (name: string) => (await card(tab, name).locator(".flag").allTextContents()).map((t) => t.split(":")[0]);
    expect(await words("meter-1.jpg")).toEqual(["⚠ re-used"]);
    expect(await words("meter-3.jpg")).toEqual(["⚠ duplicate", "⚠ blurry"]);
    expect(await words("meter-5.jpg")).toEqual(["⚠ re-used", "⚠ dark"]);
    expect(await words("meter-6.jpg")).toEqual([]);
    // the word is text (readable without colour), and the message is in the accessibility tree
    const badge = card(tab, "meter-3.jpg").locator(".flag").nth(1);
    const announced = await card(tab, "meter-3.jpg").locator(".flags").ariaSnapshot();
    expect(announced).toMatch(
      /- listitem:\n\s+- text: "blurry ?: WO_NEW\/meter-3.jpg: too little detail to be judged"\n\s+- code: W_PHOTO_BLURRY/,
    );
    // hidden from sight until hovered or focused; then within the page (no sideways scroll)
    const tip = badge.locator(".tip");
    expect((await tip.boundingBox())!.width).toBeLessThanOrEqual(1);
    await badge.hover();
    await expect.poll(async () => (await tip.boundingBox())!.width).toBeGreaterThan(50);
    await tab.mouse.move(0, 0);
    await expect.poll(async () => (await tip.boundingBox())!.width).toBeLessThanOrEqual(1);
    await badge.focus();
    await expect.poll(async () => (await tip.boundingBox())!.width).toBeGreaterThan(50);
    expect(await tip.isVisible()).toBe(true);
    await tab.screenshot({ path: path.join(SCREENSHOTS, "review-checks.png") });
    await tab.context().close();
  });

  it("says at the top how many photos need a look, and its links go to them", async () => {
    const tab = await open(`file://${page}`, { viewport: { width: 1280, height: 700 } });
    expect(await tab.locator("#look").textContent()).toBe("4 photos need a look: 3 re-used, 1 duplicate, 1 blurry, 1 dark");
    const links = tab.locator("ul.look a");
    expect(await links.allTextContents()).toEqual([
      "WO_NEW/meter-1.jpg",
      "WO_NEW/meter-4.jpg",
      "WO_NEW/meter-5.jpg",
      "WO_NEW/meter-3.jpg",
      "WO_NEW/meter-3.jpg",
      "WO_NEW/meter-5.jpg",
    ]);
    for (const i of [1, 3]) {
      const link = links.nth(i);
      const name = (await link.textContent())!.split("/")[1]!;
      await link.click();
      const target = await tab.evaluate(() => location.hash);
      const figure = tab.locator(`figure${target}`);
      expect(await figure.locator(".entry").textContent()).toBe(name);
      await expect.poll(() => figure.evaluate((f) => f.getBoundingClientRect().top)).toBeLessThan(700);
      expect(await figure.evaluate((f) => f.getBoundingClientRect().bottom)).toBeGreaterThan(0);
    }
    // the duplicate links to its other entry on the same page
    await card(tab, "meter-3.jpg").locator(".dup a").click();
    const target = await tab.evaluate(() => location.hash);
    expect(await tab.locator(`figure${target} .entry`).textContent()).toBe("meter-2.jpg");
    await tab.context().close();
  });

  it("shows the earlier photo beside a re-used one, read from the earlier archive, with its work order, entry and archive", async () => {
    const tab = await open(`file://${page}`);
    const reused = card(tab, "meter-1.jpg");
    const earlier = reused.locator("figure.earlier");
    const img = earlier.locator(PICTURE);
    expect((await shownWidths(img))[0]).toBeGreaterThan(0);
    // (its text for those who do not see it: an <img>'s alt, an SVG's aria-label)
    const named = earlier.getByRole("img", {
      name: `The earlier photo: meter-1.jpg of work order WO_OLD in ${path.basename(first)}`,
      exact: true,
    });
    expect(await named.count()).toBe(1);
    expect(await earlier.locator("figcaption").textContent()).toBe(
      `Earlier (the same file): meter-1.jpg of work order WO_OLD in ${path.basename(first)}`,
    );
    // beside it: on the same row, to its right
    const own = (await reused.locator(`.zoom ${PICTURE}`).boundingBox())!;
    const other = (await img.boundingBox())!;
    expect(other.x).toBeGreaterThanOrEqual(own.x + own.width);
    expect(Math.abs(other.y - own.y)).toBeLessThan(own.height);
    // the same picture: its pixels match the photo's own thumbnail
    const pixels = async (loc: typeof img) => {
      return sharp(await shownJpeg(loc))
        .resize(8, 8, { fit: "fill" })
        .raw()
        .toBuffer();
    };
    const [a, b] = [await pixels(reused.locator(`.zoom ${PICTURE}`)), await pixels(img)];
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThan(24);
    // its archive's review page is beside this one: linked
    expect(await earlier.locator("a").getAttribute("href")).toBe(path.basename(first).replace(/\.zip$/, ".html"));
    expect(await seriousA11yViolations(tab)).toEqual([]);
    await tab.context().close();
  });

  it("says plainly when the earlier archive is gone, naming it, its work order and entry", async () => {
    const tab = await open(`file://${page}`);
    const caption = await card(tab, "meter-4.jpg").locator("figure.earlier figcaption").textContent();
    expect(caption).toBe(
      `Earlier (the same picture): pole-1.jpg of work order WO_ANCIENT in ${GONE_ARCHIVE}` +
        `${GONE_ARCHIVE} is not in ${out} nor in an outbox beside it (pruned, moved, or another machine's).`,
    );
    expect(await card(tab, "meter-4.jpg").locator("figure.earlier [role=img]").getAttribute("aria-label")).toBe(
      `The earlier photo, not shown: pole-1.jpg of work order WO_ANCIENT in ${GONE_ARCHIVE}`,
    );
    await tab.context().close();
  });

  it("keeps hostile messages and names as text: nothing runs, even with the CSP bypassed", async () => {
    const tab = await open(`file://${page}`, { bypassCSP: true });
    const dialogs: string[] = [];
    tab.on("dialog", async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    await tab.reload();
    expect(await tab.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    expect(await tab.locator("script").count()).toBe(0);
    expect(await tab.locator('img[src="x"]').count()).toBe(0);
    const hostile = card(tab, "meter-5.jpg");
    expect(await hostile.locator(".tip").first().textContent()).toBe(`: ${HOSTILE_MESSAGE} W_PHOTO_REUSED`);
    expect(await hostile.locator("figure.earlier figcaption").textContent()).toContain(
      `of work order ${HOSTILE_WO} in ${HOSTILE_ARCHIVE}`,
    );
    await tab.context().close();
  });

  it("fits at 360 px with a badge's message open", async () => {
    const tab = await open(`file://${page}`, { viewport: { width: 360, height: 800 } });
    for (const name of ["meter-1.jpg", "meter-5.jpg"]) {
      const badge = card(tab, name).locator(".flag").last();
      await badge.focus();
      expect(await tab.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    }
    await tab.context().close();
  });
});

describe("where the earlier archive went", () => {
  it("finds it in a sibling outbox (another shard's), and says so when it was pruned from the outbox", async () => {
    const sibling = path.join(dir, "out-s1");
    await mkdir(sibling);
    const name = path.basename(first);
    await rename(first, path.join(sibling, name));
    let tab = await open(`file://${await withFindings(second, findingsOfNightTwo(name))}`);
    const earlier = card(tab, "meter-1.jpg").locator("figure.earlier");
    expect((await shownWidths(earlier.locator(PICTURE)))[0]).toBeGreaterThan(0);
    // (not linked: its page is not beside this one)
    expect(await earlier.locator("a").count()).toBe(0);
    await tab.context().close();

    await rm(path.join(sibling, name));
    tab = await open(`file://${await withFindings(second, findingsOfNightTwo(name))}`);
    expect(await card(tab, "meter-1.jpg").locator("figure.earlier .why").textContent()).toBe(
      `${name} is no longer in ${out} (pruned or removed).`,
    );
    await tab.context().close();
  });
});

describe("the real pipeline (the checks of wip/checkwire): pack writes the page with the findings", () => {
  it("two nights: a photo packed again for another work order, a duplicate and a dark one, as pack's own page shows them", async () => {
    const ws = await tempDir("wopack-checks-real-");
    const outbox = path.join(ws, "out");
    await put(ws, "night1/WO_OLD/meter-1.jpg", scene(1));
    await put(ws, "night1/WO_OLD/meter-2.jpg", scene(2));
    const one = await wopack(["pack", path.join(ws, "night1"), "--out", outbox]);
    expect(one.code, one.stderr).toBe(0);
    const [old] = await archivesIn(outbox);
    await put(ws, "night2/WO_NEW/meter-1.jpg", scene(1)); // night one's WO_OLD/meter-1.jpg again
    await put(ws, "night2/WO_NEW/meter-2.jpg", scene(3));
    await put(
      ws,
      "night2/WO_NEW/meter-3.jpg",
      sharp({ create: { width: 640, height: 480, channels: 3, background: "#040404" } })
        .jpeg()
        .toBuffer(),
    );
    await put(ws, "night2/WO_DUP/pole-1.jpg", scene(4));
    await put(ws, "night2/WO_DUP/pole-2.jpg", scene(4));
    const two = await wopack(["pack", path.join(ws, "night2"), "--out", outbox]);
    expect(two.code, two.stderr).toBe(0);
    const zip = (await archivesIn(outbox)).find((a) => a !== old)!;
    const tab = await open(`file://${zip.replace(/\.zip$/, ".html")}`);
    const words = async (name: string) =>
      (await card(tab, name).locator(".flag").allTextContents()).map((t) => t.split(":")[0]!.replace("⚠ ", ""));
    expect(await words("meter-1.jpg")).toEqual(["re-used"]);
    expect(await words("meter-2.jpg")).toEqual([]);
    expect(await words("meter-3.jpg")).toContain("dark");
    expect(await words("pole-2.jpg")).toEqual(["duplicate"]);
    expect(await tab.locator("#look").textContent()).toMatch(/^3 photos need a look: 1 re-used, 1 duplicate, .*1 dark/);
    // the earlier photo beside the re-used one, decoded from night one's archive, with its names
    const earlier = card(tab, "meter-1.jpg").locator("figure.earlier");
    expect((await shownWidths(earlier.locator(PICTURE)))[0]).toBeGreaterThan(0);
    const caption = (await earlier.locator("figcaption").textContent())!;
    expect(caption).toMatch(/^Earlier \(the same (file|picture)\): meter-1\.jpg of work order WO_OLD in /);
    expect(caption.endsWith(path.basename(old!))).toBe(true);
    // the duplicate links to the other entry of its work order
    await card(tab, "pole-2.jpg").locator(".dup a").click();
    const target = await tab.evaluate(() => location.hash);
    expect(await tab.locator(`figure${target} .entry`).textContent()).toBe("pole-1.jpg");
    // the findings are badges, not listed again as warnings
    expect(await tab.locator("ul.problems").allTextContents()).not.toContain(expect.stringContaining("W_PHOTO_"));
    await tab.screenshot({ path: path.join(SCREENSHOTS, "review-checks-real.png"), fullPage: true });
    await tab.context().close();
  });
});
