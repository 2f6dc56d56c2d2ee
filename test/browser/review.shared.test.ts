// A picture shown on many cards of a review page (a re-used photo's earlier picture, the same picture packed
// again and again) is written into the page once, and every card still shows it. Two real nights: night one
// packs pictures A and B; night two packs A on five photos in three work orders and B on two, plus a photo
// of its own. The page is counted (each picture's base64 occurs once) and opened in headless Chromium with
// scripts off: later cards refer back to the first (SVG <use>, no CSS content, which only Chromium draws on an
// <img>), and each re-used photo's earlier picture and its own thumbnail are drawn, and are the right one.
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, PICTURE, shownJpeg } from "../browser.js";
import { archivesIn, put, tempDir, wopack } from "../helpers.js";
import { scene } from "../scene.js";

let browser: Browser;
let page: string;
let html: string;
let pictureA: Buffer;
let pictureB: Buffer;

const REUSING_A = ["WO_N1/a-1.jpg", "WO_N1/a-2.jpg", "WO_N2/a-1.jpg", "WO_N3/a-1.jpg", "WO_N3/a-2.jpg"];
const REUSING_B = ["WO_N4/b-1.jpg", "WO_N4/b-2.jpg"];

beforeAll(async () => {
  browser = await launchChromium();
  const dir = await tempDir("wopack-shared-");
  const out = path.join(dir, "out");
  pictureA = await scene(21);
  pictureB = await scene(22);
  await put(dir, "night1/WO_OLD_A/meter-1.jpg", pictureA);
  await put(dir, "night1/WO_OLD_B/meter-1.jpg", pictureB);
  const one = await wopack(["pack", path.join(dir, "night1"), "--out", out]);
  expect(one.code, one.stderr).toBe(0);
  const first = (await archivesIn(out))[0]!;
  for (const entry of REUSING_A) await put(dir, `night2/${entry}`, pictureA);
  for (const entry of REUSING_B) await put(dir, `night2/${entry}`, pictureB);
  await put(dir, "night2/WO_N5/c-1.jpg", scene(23));
  const two = await wopack(["pack", path.join(dir, "night2"), "--out", out]);
  expect(two.code, two.stderr).toBe(0);
  const second = (await archivesIn(out)).find((a) => a !== first)!;
  page = second.replace(/\.zip$/, ".html");
  html = await readFile(page, "utf8");
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

/** A card of the page by its work order and photo name (as the entry "WO/name" of the staging above). */
function card(tab: Page, entry: string): Locator {
  const [wo, name] = entry.split("/");
  return tab
    .locator("section.wo", { has: tab.locator("h2", { hasText: `Work order ${wo}` }) })
    .locator("figure[id^=card-]", { has: tab.locator(".entry", { hasText: new RegExp(`^${name!.replace(".", "\\.")}$`) }) });
}

/** An 8×8 sample of a picture, to tell A from B. */
async function sample(image: Buffer): Promise<number[]> {
  return [...(await sharp(image).resize(8, 8, { fit: "fill" }).removeAlpha().raw().toBuffer())];
}
const distance = (a: number[], b: number[]) => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;

describe("a picture on many cards of the review page", () => {
  it("is written into the page once", () => {
    const pictures = html.match(/data:image\/jpeg;base64,[A-Za-z0-9+/=]+/g) ?? [];
    // A (its earlier and its own thumbnails), B (likewise) and c-1's: each distinct thumbnail once
    expect(pictures.length).toBeGreaterThanOrEqual(3);
    expect(pictures.length).toBeLessThanOrEqual(5);
    for (const p of pictures) expect(html.split(p).length - 1, "occurrences of one thumbnail").toBe(1);
    expect(new Set(pictures).size).toBe(pictures.length);
  });

  it("draws it on a later card by a reference back to an earlier one, never by CSS content", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const tab = await context.newPage();
    await tab.goto(`file://${page}`);
    // (the page as Chromium's HTML parser built it)
    const found = await tab.evaluate(() => {
      const href = (e: Element) => e.getAttribute("href") ?? e.getAttributeNS("http://www.w3.org/1999/xlink", "href") ?? "";
      const uses = [...document.querySelectorAll("use")].map((use) => {
        const ref = href(use);
        const target = ref.startsWith("#") ? document.getElementById(ref.slice(1)) : null;
        const before = !!target && (target.compareDocumentPosition(use) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0;
        return { ref, target: target?.localName, before };
      });
      const contents = [...document.querySelectorAll("*")]
        .map((e) => `${e.localName}: ${getComputedStyle(e).content}`)
        .filter((c) => !/: (normal|none)$/.test(c));
      return { uses, contents };
    });
    expect(found.contents).toEqual([]);
    expect(html).not.toMatch(/(^|[^-\w])content\s*:/);
    // A on ten pictures and B on four, each held by one <image>: the others are <use>s
    expect(found.uses.length).toBeGreaterThanOrEqual(10);
    for (const use of found.uses) expect(use, use.ref).toEqual({ ref: use.ref, target: "image", before: true });
    await context.close();
  });

  it("still shows, with scripts off, each re-used photo's earlier picture and its own thumbnail, the right one on each card", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    const tab = await context.newPage();
    await tab.goto(`file://${page}`);
    const [a, b] = [await sample(pictureA), await sample(pictureB)];
    for (const [entries, right, wrong] of [
      [REUSING_A, a, b],
      [REUSING_B, b, a],
    ] as const)
      for (const entry of entries) {
        const shown = card(tab, entry);
        expect(await shown.count(), entry).toBe(1);
        for (const img of [shown.locator(`figure.earlier ${PICTURE}`), shown.locator(`.zoom ${PICTURE}`)]) {
          const jpeg = await shownJpeg(img);
          expect((await sharp(jpeg).metadata()).width, entry).toBeGreaterThan(0);
          const box = (await img.boundingBox())!;
          expect(box.width * box.height, entry).toBeGreaterThan(1000);
          // what is drawn on the screen, not only what the markup names
          const drawn = await sample(await img.screenshot());
          expect(distance(drawn, right), entry).toBeLessThan(distance(drawn, wrong));
          expect(distance(drawn, right), entry).toBeLessThan(20);
        }
      }
    await context.close();
  });
});
