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

/**
 * The JPEG an <img> of a review page shows: its src, or the picture its class gives it (a picture on many cards
 * is written once, as CSS `content`), read back from the page and decoded by the browser.
 */
export async function shownJpeg(img: Locator): Promise<Buffer> {
  const url = await img.evaluate((e) => {
    const src = (e as HTMLImageElement).currentSrc;
    if (src) return src;
    return /^url\("?(data:[^")]+)"?\)$/.exec(getComputedStyle(e).content)?.[1] ?? "";
  });
  if (!url.startsWith("data:image/jpeg;base64,")) throw new Error(`the image shows no JPEG data URI: ${url.slice(0, 80)}`);
  return Buffer.from(url.slice(url.indexOf(",") + 1), "base64");
}

/** The natural widths of the pictures <img>s show (their src, or the picture their class gives them); 0: none. */
export async function shownWidths(images: Locator): Promise<number[]> {
  return images.evaluateAll((els) =>
    Promise.all(
      els.map(async (e) => {
        const img = e as HTMLImageElement;
        if (img.currentSrc) return img.naturalWidth;
        const url = /^url\("?(data:[^")]+)"?\)$/.exec(getComputedStyle(img).content)?.[1];
        if (!url) return 0;
        const loaded = new Image();
        loaded.src = url;
        return loaded.decode().then(
          () => loaded.naturalWidth,
          () => 0,
        );
      }),
    ),
  );
}
