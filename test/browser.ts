// Headless Chromium (Debian's package) driven by playwright-core, for tests of the pages wopack writes
// and serves. `.ci/run` installs chromium; without it these tests fail and say how to get it.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { ROOT } from "./helpers.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Where screenshots go: the test output folder (the README's pictures are copied from there). */
export const SCREENSHOTS = path.join(ROOT, "test-output", "screenshots");

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium), as .ci/run does`);
  }
  await mkdir(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    // no background traffic: this machine's network is closed, and the page under test must need none
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** axe-core's serious and critical findings on the page (it is injected, so the page's CSP must be bypassed). */
export async function seriousA11yViolations(
  page: Page,
): Promise<{ id: string; impact: string; help: string; nodes: string[] }[]> {
  const { source } = (await import("axe-core")).default as unknown as { source: string };
  await page.evaluate(source);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: unknown[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations as { id: string; impact: string; help: string; nodes: { target: string[] }[] }[];
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) }));
}

/** A review page's pictures: an <img>, or the inline SVG of a picture shown on many cards (an <image>, or a <use> of one). */
export const PICTURE = ":is(img, svg.pic)";

/**
 * The JPEG a picture of a review page shows (an element PICTURE selects): an <img>'s src, or the data URI of the
 * SVG's <image>, or of the <image> its <use> names, read back from the page.
 */
export async function shownJpeg(picture: Locator): Promise<Buffer> {
  const url = await picture.evaluate(pictureUrl);
  if (!url.startsWith("data:image/jpeg;base64,")) throw new Error(`the picture shows no JPEG data URI: ${url.slice(0, 80)}`);
  return Buffer.from(url.slice(url.indexOf(",") + 1), "base64");
}

/** The natural widths of the pictures the elements show, decoded by the browser; 0: none. */
export async function shownWidths(pictures: Locator): Promise<number[]> {
  const urls: string[] = [];
  for (const picture of await pictures.all()) urls.push(await picture.evaluate(pictureUrl));
  return pictures.page().evaluate(
    (all) =>
      Promise.all(
        all.map((url) => {
          const loaded = new Image();
          loaded.src = url;
          return loaded.decode().then(
            () => loaded.naturalWidth,
            () => 0,
          );
        }),
      ),
    urls,
  );
}

/** (runs in the page) the URL a picture element shows; "" when none. */
function pictureUrl(e: Element): string {
  const XLINK = "http://www.w3.org/1999/xlink";
  const href = (x: Element | null) => x?.getAttribute("href") ?? x?.getAttributeNS(XLINK, "href") ?? "";
  if (e instanceof HTMLImageElement) return e.currentSrc;
  const image = e.querySelector("image");
  if (image) return href(image);
  const ref = href(e.querySelector("use"));
  return ref.startsWith("#") ? href(e.ownerDocument.getElementById(ref.slice(1))) : "";
}
