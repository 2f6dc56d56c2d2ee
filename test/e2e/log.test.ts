// Issue 12 §4: one structured log for pack and watch (src/cli/log.ts). JSON lines carry time, level, event, pid,
// version and the event's fields; text lines carry the time; every warning reaches the log (watch too);
// the progress bar and log lines never share a line.
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { archivesIn, BIN, photoChecksOff, put, wopack, workspace } from "../helpers.js";
import { Watcher } from "../watcher.js";

const jpeg = (w = 320, h = 240) =>
  sharp({ create: { width: w, height: h, channels: 3, background: "#468" } })
    .jpeg()
    .toBuffer();
const webp = () =>
  sharp({ create: { width: 320, height: 240, channels: 3, background: "#864" } })
    .webp()
    .toBuffer();

interface Line {
  time: string;
  level: string;
  pid: number;
  version: string;
  event?: string;
  message: string;
  [k: string]: unknown;
}

const lines = (text: string): Line[] =>
  text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Line);

describe("pack's log", () => {
  it("--log-format json: every line has time, level, pid and version; packed carries photos, bytes, SHA-256, duration", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", jpeg());
    await put(ws.staging, "WO_1/meter/b.webp", webp());
    await put(ws.staging, "stray.txt", "not a work order");
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--log-format", "json"]);
    expect(run.code, run.stderr).toBe(0);
    const log = lines(run.stderr);
    const { version } = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8"));
    for (const l of log) {
      expect(Number.isNaN(Date.parse(l.time))).toBe(false);
      expect(["debug", "info", "warn", "error"]).toContain(l.level);
      expect(l.pid).toBeGreaterThan(0);
      expect(l.version).toBe(version);
    }
    const packed = log.find((l) => l.event === "packed")!;
    const [archive] = await archivesIn(ws.out);
    const report = JSON.parse(await readFile(`${archive}.report.json`, "utf8"));
    expect(packed).toMatchObject({
      level: "info",
      archive,
      workOrders: ["WO_1"],
      photos: 2,
      bytes: report.bytes,
      sha256: report.sha256,
      conversions: { webp: 1 },
    });
    expect(typeof packed.durationMs).toBe("number");
    // the stray file's warning reaches the log, with its code and path
    expect(log.find((l) => l.event === "warning")).toMatchObject({
      level: "warn",
      code: "W_ROOT_FILE_UNMATCHED",
      path: "stray.txt",
    });
    // the result itself is still on stdout
    expect(run.stdout).toContain("packed 1 work order");
  });

  it("text lines start with the time; --log-level warn keeps only warnings and errors", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", jpeg());
    await put(ws.staging, "stray.txt", "x");
    const run = await wopack(["pack", ws.staging, "--out", ws.out]);
    const text = run.stderr.split("\n").filter(Boolean);
    expect(text.length).toBeGreaterThan(0);
    for (const l of text) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    expect(text.some((l) => / packed WO_1 into batch-/.test(l))).toBe(true);
    expect(text.some((l) => / warn: W_ROOT_FILE_UNMATCHED: stray\.txt/.test(l))).toBe(true);

    const quiet = await wopack(["pack", ws.staging, "--out", `${ws.out}-2`, "--log-format", "json", "--log-level", "warn"]);
    const levels = new Set(lines(quiet.stderr).map((l) => l.level));
    expect([...levels]).toEqual(["warn"]);
  });

  it("on a terminal, the progress bar is cleared before each log line: the two never share a line", async (ctx) => {
    if (spawnSync("script", ["--version"]).status !== 0) ctx.skip();
    const ws = await workspace();
    for (let i = 0; i < 6; i++) await put(ws.staging, `WO_${i}/meter/a.webp`, webp());
    await put(ws.staging, "stray.txt", "x");
    const cmd = `${process.execPath} ${BIN} pack ${ws.staging} --out ${ws.out} --max-work-orders 1`;
    const run = spawnSync("script", ["-qefc", cmd, "/dev/null"], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/\[[#-]+\] \d\/\d+ photos/); // the bar was drawn
    // what the terminal shows: each \r returns to the start of the line, \x1b[K clears it
    const screen = run.stdout.split(/\r?\n/).map((l) => l.split("\r").at(-1)!.replaceAll("\u001b[K", ""));
    const logLines = screen.filter((l) => /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/.test(l));
    expect(logLines.length).toBeGreaterThanOrEqual(6);
    for (const l of logLines) expect(l, JSON.stringify(l)).toMatch(/^\d{4}-\d\d-\d\dT/);
    for (const l of screen) expect(l).not.toMatch(/photos .*\d{4}-\d\d-\d\dT/);
  });
});

describe("watch's log", () => {
  it("tells a stray file at the staging root once, as a warning, even while nothing is ready", async () => {
    const ws = await workspace();
    await put(ws.staging, "notes.txt", "left here by someone");
    const watcher = new Watcher([ws.staging, "--out", ws.out, "--settle", "1s", ...(await photoChecksOff(ws.dir))]);
    try {
      await watcher.until("the warning", (w) => w.events.some((e) => e.event === "warning"));
      const warning = watcher.events.find((e) => e.event === "warning") as unknown as Line;
      expect(warning).toMatchObject({ level: "warn", code: "W_ROOT_FILE_UNMATCHED", path: "notes.txt" });
      expect(typeof warning.pid).toBe("number");
      // more passes, and a work order packed: still told once
      await put(ws.staging, "WO_1/meter/a.jpg", jpeg());
      await watcher.until("WO_1 packed", (w) => w.packedIds().includes("WO_1"));
      expect(watcher.events.filter((e) => e.event === "warning")).toHaveLength(1);
      const packed = watcher.events.find((e) => e.event === "packed") as unknown as Line;
      expect(packed).toMatchObject({ photos: 1, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    } finally {
      await watcher.stop();
    }
  });
});

describe("one event, one line (issue 24)", () => {
  it("watch tells a refusal (found reading the photo) once, and stops with one stopped line", async () => {
    const ws = await workspace();
    const cut = await jpeg(640, 480);
    await put(ws.staging, "WO_cut/meter/a.jpg", cut.subarray(0, cut.length - 200));
    await put(ws.staging, "WO_ok/meter/a.jpg", jpeg());
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "0"]);
    await w.until("both judged", (x) => x.events.some((e) => e.event === "refused") && x.packedIds().includes("WO_ok"));
    const { code } = await w.stop();
    expect(code).toBe(0);
    const text = `${w.events.map((e) => JSON.stringify(e)).join("\n")}\n${w.stderr}`;
    expect(
      text.split("\n").filter((l) => l.includes("refused WO_cut")),
      "the refusal",
    ).toHaveLength(1);
    expect(
      w.events.filter((e) => e.event === "stopped"),
      "stopped",
    ).toHaveLength(1);
  });

  /**
   * A night with one of each thing a run tells: a work order refused when planned and one refused when its
   * photo is read, a stray root file, a hook that fails, a work order packed. Each is told exactly once across
   * stdout and stderr, in text and JSON alike, and the summary counts them.
   */
  for (const format of ["text", "json"] as const) {
    it(`pack --log-format ${format}`, async () => {
      const ws = await workspace();
      await put(ws.staging, "WO_ok/meter/a.jpg", jpeg());
      await put(ws.staging, "WO_badname/Meter photo 1/a.jpg", jpeg());
      const cut = await jpeg(640, 480);
      await put(ws.staging, "WO_cut/meter/a.jpg", cut.subarray(0, cut.length - 200));
      await put(ws.staging, "stray.txt", "hello");
      const run = await wopack([
        "pack",
        ws.staging,
        "--out",
        ws.out,
        "--log-format",
        format,
        "--on-archive",
        "false",
        ...(await photoChecksOff(ws.dir)),
      ]);
      expect(run.code, run.stderr).toBe(1);
      const all = `${run.stdout}\n${run.stderr}`;
      const times = (needle: string) => all.split("\n").filter((l) => l.includes(needle)).length;
      expect(times("refused WO_badname"), "plan-time refusal").toBe(1);
      expect(times("refused WO_cut"), "refusal found reading the photo").toBe(1);
      expect(times("W_ROOT_FILE_UNMATCHED"), "warning").toBe(1);
      expect(times("--on-archive failed"), "failed hook").toBe(1);
      expect(times("packed WO_ok"), "archive").toBe(1);
      if (format === "json") {
        const events = lines(run.stderr).map((l) => l.event);
        expect(events.filter((e) => e === "refused")).toHaveLength(2);
        expect(events.filter((e) => e === "warning")).toHaveLength(1);
      }
      // the summary counts what was told, and names the refused work orders with their codes only
      expect(run.stdout).toMatch(
        /packed 1 work order, refused 2, already packed 0, pending 0; 1 warning, 1 failed hook \(logged above\)/,
      );
      expect(run.stdout).toMatch(/^refused: WO_badname \(E_TASK_GROUP_NAME\), WO_cut \(E_IMAGE_TRUNCATED\)$/m);
    });
  }
});
