// Leftover of issue 21: the Retention and Uploads sections of watch --http's status page, in headless
// Chromium. A real status server on 127.0.0.1 serves a status whose `prune` is off, not run yet, or has
// run (with items kept and failed); the page draws each as a sentence, follows a change by server-sent
// events, and a real `watch --http` with watch.prune in its config shows its first prune.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WatchStatus } from "../../src/core/types.js";
import type { StatusServer } from "../../src/serve/server.js";
import { launchChromium, SCREENSHOTS, seriousA11yViolations } from "../browser.js";
import { workspace } from "../helpers.js";
import { quietStatus, serveLiveStatus, Watcher } from "../watcher.js";

const H = 3_600_000;
const D = 24 * H;
const base: WatchStatus = quietStatus({ staging: "/staging", out: "/out" });
let setStatus: (next: WatchStatus) => void;

let browser: Browser;
let server: StatusServer;

beforeAll(async () => {
  browser = await launchChromium();
  const live = await serveLiveStatus(base);
  server = live.server;
  setStatus = live.set;
});

afterAll(async () => {
  await server?.close();
  await browser?.close();
});

async function open(url = server.url, width = 1280): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const tab = await context.newPage();
  await tab.goto(url);
  await expect.poll(() => tab.locator("#status").textContent()).toMatch(/\w/);
  return tab;
}

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

describe("the Retention section of the status page (Chromium)", () => {
  it("draws every state of watch.prune as one sentence (table); hidden when it is off", async () => {
    const table: { what: string; prune: WatchStatus["prune"]; text: RegExp | null }[] = [
      { what: "off", prune: null, text: null },
      {
        what: "not run yet",
        prune: { olderThanMs: 30 * D, everyMs: D, lastAt: null, nextAt: null, last: null, lastError: null },
        text: /^Deletes what was committed over 30 days ago and is safe to delete, every 24 hours\. Not run yet\.$/,
      },
      {
        what: "run, nothing to delete",
        prune: {
          ...{ olderThanMs: 7 * D, everyMs: 6 * H, lastAt: inMs(-5_000), nextAt: inMs(6 * H) },
          last: { pruned: 0, bytes: 0, kept: 0, failed: 0 },
          lastError: null,
        },
        text: /^Deletes what was committed over 7 days ago and is safe to delete, every 6 hours\. Last \(\d+ s ago\): nothing deleted\. Next in [56] h \d+ min\.$/,
      },
      {
        what: "run: deleted, kept and failed",
        prune: {
          ...{ olderThanMs: 36 * H, everyMs: 30 * 60_000, lastAt: inMs(-90_000), nextAt: inMs(60_000) },
          last: { pruned: 1, bytes: 12_345_678, kept: 2, failed: 3 },
          lastError: null,
        },
        text: /^Deletes what was committed over 36 hours ago and is safe to delete, every 30 minutes\. Last \(\d+ (s|min) ago\): 1 item deleted \(12\.3 MB\), 2 kept \(not confirmed by the platform\), 3 could not be deleted\. Next in \d+ s\.$/,
      },
      {
        what: "the last run failed as a whole (after one that deleted: its counts are not shown)",
        prune: {
          ...{ olderThanMs: 30 * D, everyMs: D, lastAt: inMs(-5_000), nextAt: inMs(D - 5_000), last: null },
          lastError: { code: "E_IO", message: "cannot read the upload journal /out/.wopack/uploads.jsonl (EISDIR)" },
        },
        text: /^Deletes what was committed over 30 days ago and is safe to delete, every 24 hours\. Last \(\d+ s ago\) failed: E_IO: cannot read the upload journal \/out\/\.wopack\/uploads\.jsonl \(EISDIR\)\. Next in 2[34] h \d+ min\.$/,
      },
    ];
    for (const row of table) {
      setStatus({ ...base, prune: row.prune });
      const tab = await open();
      const section = tab.locator("#prune-section");
      await expect.poll(() => tab.locator("#archives").textContent()).toContain("No archive yet.");
      if (row.text === null) expect(await section.isHidden(), row.what).toBe(true);
      else {
        expect(await section.isVisible(), row.what).toBe(true);
        expect(await section.locator("h2").textContent(), row.what).toBe("Retention");
        expect(await tab.locator("#prune").textContent(), row.what).toMatch(row.text);
        expect(await seriousA11yViolations(tab), row.what).toEqual([]);
        if (row.prune?.last?.failed)
          await tab.screenshot({ path: path.join(SCREENSHOTS, "status-retention.png"), fullPage: true });
      }
      await tab.context().close();
    }
  });

  it("follows a prune as it runs (server-sent events), and fits 640 px", async () => {
    const prune = { olderThanMs: 30 * D, everyMs: D, lastAt: null, nextAt: null, last: null, lastError: null };
    setStatus({ ...base, prune });
    const tab = await open(server.url, 640);
    await expect.poll(() => tab.locator("#prune").textContent()).toContain("Not run yet.");
    setStatus({
      ...base,
      prune: { ...prune, lastAt: inMs(0), nextAt: inMs(D), last: { pruned: 4, bytes: 2e6, kept: 1, failed: 0 } },
    });
    await expect.poll(() => tab.locator("#prune").textContent()).toContain("4 items deleted (2.0 MB), 1 kept");
    expect(await tab.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(640);
    await tab.context().close();
  });
});

const HOSTILE = `<img src=x onerror="window.__pwned=1">`;

describe("the Uploads section of the status page (Chromium)", () => {
  it("draws what is sent, what waits to retry (when, why) and a stop; hidden without --upload; names as text (table)", async () => {
    const none = { uploaded: 0, failed: 0, queued: 0, sending: null, retrying: [], stopped: null, attention: [] };
    // (uploads is made when its row is drawn: times made when the table was built were 8 s old under load)
    const table: { what: string; uploads: () => WatchStatus["uploads"]; lines: RegExp[]; rows?: unknown[][] }[] = [
      { what: "off", uploads: () => null, lines: [] },
      { what: "idle", uploads: () => none, lines: [/^Nothing is being sent\.$/] },
      {
        what: "sending",
        uploads: () => ({
          ...none,
          queued: 2,
          sending: { archive: "batch-1.zip", since: inMs(-65_000), lastProgressAt: inMs(-3_000) },
        }),
        lines: [/^Sending batch-1\.zip since 1 min ago \(last confirmed bytes \d+ s ago\)$/],
      },
      {
        what: "waiting to retry",
        uploads: () => ({
          ...none,
          failed: 3,
          retrying: [
            {
              archive: "batch-2.zip",
              attempts: 2,
              nextAttemptAt: inMs(90_000),
              platformAsked: false,
              lastError: { code: "E_UPLOAD_GAVE_UP", message: "HTTP 503" },
            },
            {
              archive: `${HOSTILE}.zip`,
              attempts: 1,
              nextAttemptAt: inMs(3 * H),
              platformAsked: false,
              lastError: { code: "E_UPLOAD_REFUSED", message: HOSTILE },
            },
          ],
        }),
        lines: [/^Nothing is being sent\.$/],
        rows: [
          ["batch-2.zip", "2", expect.stringMatching(/^in (8\d|90) s$/), "E_UPLOAD_GAVE_UP: HTTP 503"],
          // (never "2 h 60 min": the minutes are rounded before the hours are taken)
          [`${HOSTILE}.zip`, "1", expect.stringMatching(/^in (2 h 59|3 h 0) min$/), `E_UPLOAD_REFUSED: ${HOSTILE}`],
        ],
      },
      {
        what: "uploaded, not moved to --uploaded-to",
        uploads: () => ({
          ...none,
          uploaded: 1,
          notMoved: [
            { archive: `${HOSTILE}.zip`, to: "/mnt/sent", reason: "it does not exist (mount or create it)", at: inMs(-60_000) },
          ],
        }),
        lines: [
          /^Nothing is being sent\.$/,
          /^Uploaded, not moved: each archive below waits in the output folder for the folder --uploaded-to names\. Mount the disk .*moves them within seconds\.$/,
        ],
        rows: [[`${HOSTILE}.zip`, "/mnt/sent", expect.stringMatching(/\d/), "it does not exist (mount or create it)"]],
      },
      {
        what: "stopped",
        uploads: () => ({
          ...none,
          stopped: { at: inMs(-1000), code: "E_UPLOAD_CREDENTIALS", message: "the platform refused the upload credentials" },
        }),
        lines: [
          /^Sending stopped: E_UPLOAD_CREDENTIALS \(.+\): the platform refused the upload credentials$/,
          /^Nothing is being sent\.$/,
        ],
      },
    ];
    for (const row of table) {
      const uploads = row.uploads();
      setStatus({ ...base, uploads });
      const tab = await open();
      await expect.poll(() => tab.locator("#archives").textContent()).toContain("No archive yet.");
      const section = tab.locator("#uploads-section");
      if (!uploads) {
        expect(await section.isHidden(), row.what).toBe(true);
        expect(await tab.locator("#totals").textContent(), row.what).not.toContain("uploaded");
        await tab.context().close();
        continue;
      }
      expect(await section.isVisible(), row.what).toBe(true);
      const lines = await tab.locator("#uploads > p").allTextContents();
      expect(lines.length, `${row.what}: ${lines.join(" | ")}`).toBe(row.lines.length);
      for (const [i, re] of row.lines.entries()) expect(lines[i], row.what).toMatch(re);
      const cells = await tab
        .locator("#uploads tbody tr")
        .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")));
      expect(
        cells.map((r) => r.map((c, i) => (i === 2 ? c.replace(/ \(.*\)$/, "") : c))),
        row.what,
      ).toEqual(row.rows ?? []);
      expect(await tab.locator('img[src="x"]').count(), row.what).toBe(0);
      expect(await tab.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), row.what).toBeUndefined();
      expect(await seriousA11yViolations(tab), row.what).toEqual([]);
      if (row.what === "waiting to retry")
        await tab.screenshot({ path: path.join(SCREENSHOTS, "status-uploads.png"), fullPage: true });
      await tab.context().close();
    }
  });
});

describe("the page's words for a time ahead and a duration (generated over seconds)", () => {
  it("'now', 'in N s', 'in N min', 'in H h M min' with M < 60, never going back as the time grows; spans in minutes, hours, days", async () => {
    setStatus(base);
    const tab = await open();
    const seconds = [0, 1, 59, 60, 119, 120, 7199, 7200, 7229, 7230, 7231, 10_770, 10_799, 10_800, 86_399, 86_400];
    for (let s = 0; s < 3 * 86_400; s += 977) seconds.push(s);
    const said = await tab.evaluate((list) => {
      // (the page's clock stands still meanwhile: on a loaded machine the list took over half a second, and
      // the same time ahead, asked twice, read 'in 1 s' and then 'now')
      const at = Date.now();
      const clock = Date.now;
      Date.now = () => at;
      try {
        const w = window as unknown as { until(iso: string): string; span(ms: number): string };
        return list.map((s) => ({ s, until: w.until(new Date(at + s * 1000 + 500).toISOString()), span: w.span(s * 1000) }));
      } finally {
        Date.now = clock;
      }
    }, seconds);
    const minutes = (t: string) => {
      const m = /^in (?:(\d+) h (\d+) min|(\d+) min|(\d+) s)$/.exec(t);
      if (t === "now") return 0;
      expect(m, t).not.toBeNull();
      if (m![1]) expect(Number(m![2]), t).toBeLessThan(60);
      return m![1] ? Number(m![1]) * 60 + Number(m![2]) : m![3] ? Number(m![3]) : Number(m![4]) / 60;
    };
    const sorted = [...said].sort((a, b) => a.s - b.s);
    for (const [i, x] of sorted.entries()) {
      expect(Math.abs(minutes(x.until) - x.s / 60), `${x.s} s: ${x.until}`).toBeLessThanOrEqual(1);
      if (i) expect(minutes(x.until), `${x.s} s: ${x.until}`).toBeGreaterThanOrEqual(minutes(sorted[i - 1]!.until));
      expect(x.span, `${x.s} s`).toMatch(/^\d+ (minute|hour|day)s?$/);
    }
    await tab.context().close();
  });
});

describe("a real watch --http with watch.prune", () => {
  it("shows its first prune, run at start, and when the next one is due", async () => {
    const ws = await workspace();
    const config = path.join(ws.dir, "wopack.config.json");
    await writeFile(config, JSON.stringify({ watch: { prune: { olderThan: "30d", every: "12h" } } }));
    const watcher = new Watcher([ws.staging, "--out", ws.out, "--settle", "1s", "--http", "127.0.0.1:0", "--config", config]);
    try {
      await watcher.until("started", (w) => w.events.some((e) => e.event === "started"));
      const url = String((watcher.events.find((e) => e.event === "started") as unknown as { url: string }).url);
      const tab = await open(url);
      await expect
        .poll(() => tab.locator("#prune").textContent(), { timeout: 30_000 })
        .toMatch(
          /^Deletes what was committed over 30 days ago and is safe to delete, every 12 hours\. Last \(\d+ s ago\): nothing deleted\. Next in 1[12] h \d+ min\.$/,
        );
      await tab.context().close();
    } finally {
      await watcher.stop();
    }
  }, 60_000);
});
