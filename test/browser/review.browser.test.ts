// Issue 12 §2: the review page written beside each archive, opened in a real browser (headless Chromium):
// what it shows matches the archive, hostile names and metadata stay text, it needs no network, and an
// accessibility check finds nothing serious. Screenshots go to test-output/screenshots.
import { copyFile, readFile, rm, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Browser } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEntryName } from "../../src/spec/images.js";
import { launchChromium, PICTURE, SCREENSHOTS, seriousA11yViolations, shownJpeg, shownWidths } from "../browser.js";
import { archivesIn, copyFixtureTree, execFileP, put, ROOT, readZip, tempDir, wopack, workspace } from "../helpers.js";

const HOSTILE_META = "<script>window.__pwned=1</script>";
const HOSTILE_ATTR = `"><img src=x onerror="window.__pwned=2">`;
const HOSTILE_FILE = `"><img src=x onerror=window.__pwned=3>.jpg`;
const HOSTILE_ID = "<img src=x onerror=window.__pwned=4>";

const LONG_NAME = "substation_transformer_cabinet_northeast_corner_overview.jpg";
const TAKEN = "2024:03:04 05:06:07";
/** the file time of the photo without EXIF */
const FILE_TIME = new Date("2025-06-07T08:09:10Z");

async function photo(
  colour: string,
  orientation?: number,
  format: "jpeg" | "png" | "webp" = "jpeg",
  taken?: string,
): Promise<Buffer> {
  const img = sharp({ create: { width: 640, height: 480, channels: 3, background: colour } }).composite([
    { input: Buffer.from('<svg width="160" height="60"><rect width="160" height="60" fill="#222"/></svg>'), top: 20, left: 20 },
  ]);
  if (format === "png") return img.png().toBuffer();
  if (format === "webp") return img.webp().toBuffer();
  return img
    .jpeg({ quality: 85 })
    .withExif({ IFD0: { Make: "Test" }, ...(taken ? { IFD2: { DateTimeOriginal: taken } } : {}) })
    .withMetadata(orientation ? { orientation } : {})
    .toBuffer();
}

/** The archive's image entries of one work order, in processing order (by -N). */
function processing(entries: string[], id: string): string[] {
  return entries
    .filter((e) => e.startsWith(`${id}/`) && parseEntryName(e.slice(id.length + 1)))
    .map((e) => e.slice(id.length + 1))
    .sort((a, b) => parseEntryName(a)!.n! - parseEntryName(b)!.n!);
}

/**
 * A photo's card by (part of) its entry name or source: not a card whose earlier photo (a re-used one's,
 * beside it) or badge's message names it.
 */
function photoCard(tab: import("playwright-core").Page, name: string) {
  return tab.locator("section.wo figure", { has: tab.locator(".entry, dl > dd", { hasText: name }) });
}

let browser: Browser;
let ws: { dir: string; staging: string; out: string };
let archive: string;
let page: string;

beforeAll(async () => {
  browser = await launchChromium();
  ws = await workspace();
  const s = ws.staging;
  await put(s, "WO_A/metadata.json", JSON.stringify({ site: HOSTILE_META, note: HOSTILE_ATTR }));
  await put(s, "WO_A/cabinet_front-0.jpg", photo("#d8c090"));
  await put(s, "WO_A/meter_reading/one.jpg", photo("#90b0e0", 6));
  await put(s, `WO_A/meter_reading/${HOSTILE_FILE}`, photo("#a0e0a0"));
  await put(s, "WO_A/cabinet_inside.png", photo("#e0a0c0", undefined, "png"));
  await put(s, "WO_A/pole_top.webp", photo("#c0c0f0", undefined, "webp"));
  // a long path, to wrap at "/" and "_" only; taken at TAKEN (EXIF)
  await put(s, `WO_A/meter_reading/${LONG_NAME}`, photo("#e0e090", undefined, "jpeg", TAKEN));
  await utimes(path.join(s, "WO_A/cabinet_inside.png"), FILE_TIME, FILE_TIME);
  // a stray root file: the run's warning, not this archive's
  await put(s, "stray-notes.jpg", photo("#808080"));
  // numbers sort as numbers: 2 before 10
  await put(s, "WO_B/metadata.json", JSON.stringify({ site: "Depot 4" }));
  await put(s, "WO_B/cabinet-10.jpg", photo("#aa7755"));
  await put(s, "WO_B/cabinet-2.jpg", photo("#5577aa"));
  await put(s, "WO_B/meter-1.jpg", photo("#77aa55"));
  // refused in the same run: an id outside the rule, and a photo whose pixel data is cut short
  await put(s, `${HOSTILE_ID}/meter.jpg`, photo("#999999"));
  const good = await photo("#336699");
  await put(s, "WO_BAD/meter-1.jpg", Buffer.concat([good.subarray(0, Math.floor(good.length * 0.5)), Buffer.from([0xff, 0xd9])]));
  await put(s, "WO_BAD/meter-2.jpg", good);
  await writeFile(
    path.join(ws.dir, "wopack.config.json"),
    JSON.stringify({
      metadata: { fields: { site: { type: "text", required: true }, note: { type: "text" }, technician: { type: "text" } } },
    }),
  );
  const run = await wopack(["pack", ws.staging, "--out", ws.out], { cwd: ws.dir });
  expect(run.code, run.stderr + run.stdout).toBe(1); // two work orders refused
  const archives = await archivesIn(ws.out);
  expect(archives).toHaveLength(1);
  archive = archives[0]!;
  page = archive.replace(/\.zip$/, ".html");
  expect(run.stdout).toContain(`review: ${page}`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

describe("the review page in Chromium", () => {
  it("shows every photo of the archive in processing order, with thumbnails that load, and no network", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const tab = await context.newPage();
    const requests: string[] = [];
    tab.on("request", (r) => requests.push(r.url()));
    await tab.goto(`file://${page}`);
    const entries = (await readZip(archive)).map((e) => e.name);
    const ids = [...new Set(entries.map((e) => e.split("/")[0]!))].sort();
    expect(await tab.locator("section.wo h2").allTextContents()).toEqual(ids.map((id) => `Work order ${id}`));
    for (const [i, id] of ids.entries()) {
      const shown = await tab.locator("section.wo").nth(i).locator(".entry").allTextContents();
      expect(shown).toEqual(processing(entries, id));
    }
    expect(processing(entries, "WO_B")).toEqual(["meter-1.jpg", "cabinet-2.jpg", "cabinet-10.jpg"]);
    // every packed photo has a thumbnail, decoded by the browser
    const images = tab.locator(`section.wo .zoom ${PICTURE}`); // (a re-used photo's earlier one is beside it: not counted)
    expect(await images.count()).toBe(entries.filter((e) => parseEntryName(e.split("/")[1]!)).length);
    const widths = await shownWidths(images);
    expect(widths.every((w) => w > 0)).toBe(true);
    // the photo with EXIF orientation 6 is shown upright (portrait) and says so
    const turned = photoCard(tab, "one.jpg");
    const box = await sharp(await shownJpeg(turned.locator(`.zoom ${PICTURE}`))).metadata();
    expect(box.height).toBeGreaterThan(box.width);
    await expect.poll(() => turned.textContent()).toMatch(/Orientation6: turned 90° clockwise/);
    // what was converted and what was copied
    await expect.poll(() => photoCard(tab, "pole_top.webp").textContent()).toMatch(/Convertedwebp converted/);
    await expect.poll(() => photoCard(tab, "cabinet_front-0.jpg").textContent()).toMatch(/Copiedbyte for byte/);
    // refused work orders, each with its problems
    const refused = await tab.locator("article.refused").allTextContents();
    expect(refused.join("\n")).toContain("E_IMAGE_DAMAGED");
    expect(refused.join("\n")).toContain("E_WORK_ORDER_ID");
    expect(requests.every((u) => u.startsWith("file://") || u.startsWith("data:"))).toBe(true);
    await tab.screenshot({ path: path.join(SCREENSHOTS, "review.png") });
    await context.close();
  });

  it("keeps hostile names and metadata as text: nothing runs, even with the page's CSP bypassed", async () => {
    const context = await browser.newContext({ bypassCSP: true, javaScriptEnabled: true });
    const tab = await context.newPage();
    const dialogs: string[] = [];
    tab.on("dialog", async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    await tab.goto(`file://${page}`);
    expect(await tab.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    const text = (await tab.locator("body").textContent()) ?? "";
    for (const s of [HOSTILE_META, HOSTILE_ATTR, HOSTILE_FILE, HOSTILE_ID]) expect(text).toContain(s);
    // no element came from the hostile strings
    expect(await tab.locator("script").count()).toBe(0);
    expect(await tab.locator('img[src="x"]').count()).toBe(0);
    await context.close();
  });

  it("marks required metadata, highlights what is missing, and has no serious accessibility problem", async () => {
    const context = await browser.newContext({ bypassCSP: true });
    const tab = await context.newPage();
    await tab.goto(`file://${page}`);
    const woA = tab.locator("section.wo").first();
    expect(await woA.locator("tr", { hasText: "site" }).locator("abbr[title=required]").count()).toBe(1);
    // technician is configured but WO_A has none: shown as absent
    expect(await woA.locator("tr.absent", { hasText: "technician" }).count()).toBe(1);
    expect(await seriousA11yViolations(tab)).toEqual([]);
    // and with a photo's larger view open
    await tab.goto(`file://${page}#photo-1`);
    expect(await tab.locator("#photo-1").evaluate((li) => getComputedStyle(li).position)).toBe("fixed");
    expect(await seriousA11yViolations(tab)).toEqual([]);
    await context.close();
  });

  it("reflows at 200 % zoom, works from the keyboard, in dark mode and in print", async () => {
    // 200 % zoom of a 1280 px window: 640 CSS px, with no sideways scrolling
    const context = await browser.newContext({ viewport: { width: 640, height: 800 }, deviceScaleFactor: 2 });
    const tab = await context.newPage();
    await tab.goto(`file://${page}`);
    expect(await tab.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(640);
    await tab.keyboard.press("Tab");
    expect(await tab.evaluate(() => document.activeElement?.textContent)).toBe("Skip to the work orders");
    await tab.keyboard.press("Tab");
    const focused = await tab.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      return { tag: el.tagName, outline: getComputedStyle(el).outlineStyle };
    });
    expect(focused).toEqual({ tag: "A", outline: "solid" });
    await context.close();

    const dark = await browser.newContext({ colorScheme: "dark", viewport: { width: 1280, height: 900 } });
    const darkTab = await dark.newPage();
    await darkTab.goto(`file://${page}`);
    const bg = await darkTab.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe("rgb(22, 22, 22)");
    await darkTab.screenshot({ path: path.join(SCREENSHOTS, "review-dark.png") });
    await darkTab.emulateMedia({ media: "print", colorScheme: "dark" });
    expect(await darkTab.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe("rgb(255, 255, 255)");
    expect(await darkTab.locator("nav").isVisible()).toBe(false);
    await dark.close();
  });
});

describe("the review page reads well (issue 24)", () => {
  /** Text nodes of the card's path texts that lie on more than one line: a word broken in its middle. */
  async function brokenWords(tab: import("playwright-core").Page, name: string): Promise<string[]> {
    return photoCard(tab, name).evaluate((figure) => {
      const broken: string[] = [];
      const texts = [figure.querySelector(".entry"), ...figure.querySelectorAll("dd")];
      for (const el of texts) {
        if (!el) continue;
        const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let node = walk.nextNode(); node; node = walk.nextNode()) {
          // each word on its own (a space may wrap; a word may not)
          const text = node.textContent ?? "";
          let at = 0;
          for (const word of text.split(" ")) {
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + word.length);
            at += word.length + 1;
            const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
            if (lines.size > 1) broken.push(word);
          }
        }
      }
      return broken;
    });
  }

  for (const width of [1280, 640, 360]) {
    it(`wraps a long path only at "/" and "_", with no sideways scroll, at ${width} px`, async () => {
      const context = await browser.newContext({ viewport: { width, height: 900 } });
      const tab = await context.newPage();
      await tab.goto(`file://${page}`);
      expect(await tab.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      const card = photoCard(tab, LONG_NAME);
      const source = card.locator("dt:text-is('Source') + dd");
      expect(await source.textContent()).toBe(`WO_A/meter_reading/${LONG_NAME}`);
      // the path does not fit on one line of a card, so it wraps: between its words, never inside one
      const lines = await source.evaluate((e) =>
        Math.round(e.getBoundingClientRect().height / Number.parseFloat(getComputedStyle(e).lineHeight)),
      );
      expect(lines).toBeGreaterThan(1);
      expect(await brokenWords(tab, LONG_NAME)).toEqual([]);
      await source.scrollIntoViewIfNeeded();
      if (width !== 360) await tab.screenshot({ path: path.join(SCREENSHOTS, `review-${width}.png`), fullPage: false });
      await context.close();
    });
  }

  it("shows any photo larger with no script (:target), and closes it again", async () => {
    for (const width of [1280, 640]) {
      const context = await browser.newContext({ viewport: { width, height: 900 }, javaScriptEnabled: false });
      const tab = await context.newPage();
      await tab.goto(`file://${page}`);
      const card = tab.locator("section.wo li", { has: tab.locator(".entry", { hasText: /^cabinet_front-0\.jpg$/ }) });
      const img = card.locator(`.zoom ${PICTURE}`);
      const small = (await img.boundingBox())!;
      expect(await card.locator(".close").isVisible()).toBe(false);
      await card.locator("a.zoom").click();
      await expect.poll(() => tab.url()).toMatch(/#photo-\d+$/);
      expect(await card.evaluate((li) => getComputedStyle(li).position)).toBe("fixed");
      const large = (await img.boundingBox())!;
      expect(large.width).toBeGreaterThan(small.width * 1.5);
      expect(large.x).toBeGreaterThanOrEqual(0);
      expect(large.x + large.width).toBeLessThanOrEqual(width);
      expect(await card.locator(".close").isVisible()).toBe(true);
      expect(await tab.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
      await tab.screenshot({ path: path.join(SCREENSHOTS, `review-larger-${width}.png`) });
      await card.locator(".close").click();
      await expect.poll(() => tab.url()).toMatch(/#card-\d+$/);
      expect(await card.evaluate((li) => getComputedStyle(li).position)).toBe("static");
      await context.close();
    }
  });

  it("says where each capture time comes from: EXIF, the file time, or the name", async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`file://${page}`);
    const captured = (name: string) => photoCard(tab, name).locator("dt:text-is('Captured') + dd").textContent();
    expect(await captured(LONG_NAME)).toBe("2024-03-04 05:06:07 (EXIF)");
    expect(await captured("cabinet_inside")).toBe("2025-06-07 08:09:10 UTC (file time)");
    // an explicit -N: its place comes from its name
    expect(await captured("cabinet_front-0.jpg")).toBe("not known (ordered by its name)");
    // the report says it too
    const report = JSON.parse(await readFile(`${archive}.report.json`, "utf8"));
    const entries = report.workOrders.flatMap(
      (wo: { entries: { source: string; capturedFrom?: string; fileTime?: string }[] }) => wo.entries,
    );
    expect(entries.find((e: { source: string }) => e.source.endsWith(LONG_NAME))).toMatchObject({
      capturedFrom: "exif",
      captured: TAKEN,
    });
    expect(entries.find((e: { source: string }) => e.source.endsWith("cabinet_inside.png"))).toMatchObject({
      capturedFrom: "file",
      fileTime: FILE_TIME.toISOString(),
    });
    await context.close();
  });

  it("keeps what was noticed in the staging folder apart from the archive's warnings", async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`file://${page}`);
    const staging = tab.locator("#staging + p + ul.problems");
    expect(await staging.textContent()).toContain("W_ROOT_FILE_UNMATCHED");
    expect(await staging.textContent()).toContain("stray-notes.jpg");
    // not among the archive's warnings, nor any work order's
    const warnings = tab.locator("h3:text-is('Warnings') + ul.problems");
    if (await warnings.count()) expect(await warnings.textContent()).not.toContain("W_ROOT_FILE_UNMATCHED");
    expect(await tab.locator("section.wo").allTextContents()).not.toContain(expect.stringContaining("stray-notes"));
    expect(await tab.locator(".summary").textContent()).toContain("Noticed in staging1");
    await context.close();
  });
});

describe("the sample's review page (the README's picture)", () => {
  it("shows the sample's nine photos, converted HEIC, WebP and TIFF included", async () => {
    const sample = await workspace();
    await copyFixtureTree(path.join(ROOT, "sample-input"), sample.staging);
    const run = await wopack(["pack", sample.staging, "--out", sample.out]);
    expect(run.code, run.stderr).toBe(0);
    const [zip] = await archivesIn(sample.out);
    const context = await browser.newContext({ viewport: { width: 1100, height: 1000 } });
    const tab = await context.newPage();
    await tab.goto(`file://${zip!.replace(/\.zip$/, ".html")}`);
    const widths = await shownWidths(tab.locator(`section.wo .zoom ${PICTURE}`));
    expect(widths).toHaveLength(9);
    expect(widths.every((w) => w > 0)).toBe(true);
    await tab.screenshot({ path: path.join(SCREENSHOTS, "review-sample.png") });
    await context.close();
  });
});

describe("wopack review", () => {
  it("makes the page again from the zip alone, and for a zip another tool made", async () => {
    const copy = await tempDir("wopack-review-");
    const zip = path.join(copy, path.basename(archive));
    await copyFile(archive, zip);
    const run = await wopack(["review", zip]);
    expect(run.code, run.stderr).toBe(0);
    const html = await readFile(zip.replace(/\.zip$/, ".html"), "utf8");
    expect(html).toContain("report was not found");
    const context = await browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`file://${zip.replace(/\.zip$/, ".html")}`);
    const entries = (await readZip(archive)).map((e) => e.name);
    expect(await tab.locator(".entry").allTextContents()).toEqual(
      [...new Set(entries.map((e) => e.split("/")[0]!))].sort().flatMap((id) => processing(entries, id)),
    );
    expect(await tab.locator(PICTURE).count()).toBe(entries.filter((e) => parseEntryName(e.split("/")[1]!)).length);
    // sizes come from decoding: the turned photo's
    expect(await tab.locator("figure", { hasText: "meter_reading" }).first().textContent()).toMatch(/Pixels\d+ × \d+/);

    // someone else's zip, wrapped in a top folder, no report
    const other = await tempDir("wopack-other-");
    await put(other, "export/WO_9/meter-1.jpg", photo("#123456"));
    await put(other, "export/WO_9/metadata.json", JSON.stringify({ site: "x" }));
    await execFileP("zip", ["-qr", "theirs.zip", "export"], { cwd: other });
    const theirs = await wopack(["review", other, "--json"]);
    expect(theirs.code, theirs.stderr).toBe(0);
    expect(JSON.parse(theirs.stdout).written).toMatchObject([{ workOrders: 1, photos: 1 }]);
    await tab.goto(`file://${path.join(other, "theirs.html")}`);
    expect(await tab.locator(".entry").allTextContents()).toEqual(["meter-1.jpg"]);
    await context.close();
    await rm(copy, { recursive: true, force: true });
  });

  it("says which archive it could not review, and exits 1", async () => {
    const dir = await tempDir("wopack-notzip-");
    await put(dir, "broken.zip", "not a zip");
    const run = await wopack(["review", path.join(dir, "broken.zip")]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/E_REVIEW_FAILED .*broken\.zip/);
  });
});
