// Operator input is checked before anything is touched: flags, folders, files of the wrong kind or encoding,
// dates from cameras without a clock, names from a Mac.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, utimes } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { flagsSchema } from "../../src/config/schema.js";
import { plausibleExifDate } from "../../src/scan/scan.js";
import { entryName, parseEntryName } from "../../src/spec/images.js";
import { isTaskGroupName, isWorkOrderId } from "../../src/spec/names.js";
import { archivesIn, put, readZip, waitFor, wopack, workspace } from "../helpers.js";
import { plan } from "../plan-builders.js";
import { Watcher } from "../watcher.js";

const tinyJpeg = () =>
  sharp({ create: { width: 16, height: 16, channels: 3, background: "#abc" } })
    .jpeg()
    .toBuffer();

describe("number, size and duration flags are checked like the config (§9, §10)", () => {
  it.for<[string, string[]]>([
    ["--max-dimension 10.5", ["--max-dimension", "10.5"]],
    ["--max-dimension -1", ["--max-dimension", "-1"]],
    ["--max-image-size 0", ["--max-image-size", "0"]],
    ["--max-pixels abc", ["--max-pixels", "abc"]],
    ["--concurrency 0", ["--concurrency", "0"]],
    ["--max-work-orders abc", ["--max-work-orders", "abc"]],
    ["--max-archive-size 12 apples", ["--max-archive-size", "12 apples"]],
    ["--settle soon", ["--settle", "soon"]],
    ["--ready-marker ../x", ["--ready-marker", "../x"]],
  ])("pack %s: exit 2 naming the flag, nothing written", async ([, flag]) => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/a.jpg", tinyJpeg());
    const run = await wopack(["pack", ws.staging, "--out", ws.out, ...flag]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("E_FLAG_INVALID");
    expect(run.stderr).toContain(`${flag[0]} "${flag[1]}"`);
    // the problem on a line of its own under the summary, not after a literal \n
    expect(run.stderr).not.toContain("\\n");
    expect(run.stderr.split("\n")).toContainEqual(expect.stringMatching(new RegExp(`^ {2}${flag[0]} "`)));
    expect(existsSync(ws.out)).toBe(false);
  });

  it("a config that is not JSON: exit 2, each syntax error on a line of its own, nothing written", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/a.jpg", tinyJpeg());
    const config = await put(ws.dir, "wopack.config.json", '{"images": {,, }\n "x": }');
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--config", config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("E_CONFIG_INVALID");
    expect(run.stderr).not.toContain("\\n");
    expect(run.stderr.split("\n").filter((l) => /^ {2}line \d+, column \d+: /.test(l)).length).toBeGreaterThan(1);
    expect(existsSync(ws.out)).toBe(false);
  });

  it("lists every bad flag at once, for watch too", async () => {
    const ws = await workspace();
    const run = await wopack(["watch", ws.staging, "--out", ws.out, "--poll", "0", "--batch-window", "x", "--max-pixels", "1.5"]);
    expect(run.code).toBe(2);
    for (const flag of ["--poll", "--batch-window", "--max-pixels"])
      expect(run.stderr.split("\n")).toContainEqual(expect.stringMatching(new RegExp(`^ {2}${flag} "`)));
    expect(run.stderr).not.toContain("\\n");
    expect(existsSync(ws.out)).toBe(false);
  });

  it("accepts exactly the whole numbers from 1 (property)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.integer().map(String), fc.double().map(String)), (text) => {
        const parsed = flagsSchema.safeParse({ "max-dimension": text, concurrency: text });
        const n = Number(text);
        const whole = text.trim() !== "" && Number.isInteger(n) && n >= 1 && n <= 1024 && /^\s*\+?\d+(\.0*)?\s*$/.test(text);
        expect(parsed.success).toBe(whole);
        if (parsed.success) expect(parsed.data["max-dimension"]).toBe(n);
      }),
      { numRuns: 500 },
    );
  });

  it("the same limits hold in the config file: maxImageSize 0 is a config error", async () => {
    const ws = await workspace();
    await put(ws.dir, "wopack.config.json", '{"images": {"maxImageSize": 0, "maxDimension": 2.5}}');
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--config", path.join(ws.dir, "wopack.config.json")]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("images.maxImageSize");
    expect(run.stderr).toContain("images.maxDimension");
  });
});

describe("folders and files of the wrong kind (§9)", () => {
  it("a missing staging folder is a usage error for pack: exit 2, nothing written", async () => {
    const ws = await workspace();
    const run = await wopack(["pack", path.join(ws.dir, "nope"), "--out", ws.out]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("E_STAGING_MISSING");
    expect(existsSync(ws.out)).toBe(false);
  });

  it("watch over a missing staging folder reports itself in error, then recovers when it appears", async () => {
    const ws = await workspace();
    const staging = path.join(ws.dir, "share");
    const health = path.join(ws.out, ".wopack", "health.json");
    const watcher = new Watcher([staging, "--out", ws.out, "--settle", "0"]);
    try {
      await waitFor(async () => {
        const h = JSON.parse(await readFile(health, "utf8").catch(() => "{}"));
        return h.status === "error" && /staging/.test(h.lastError?.message) && !Number.isNaN(Date.parse(h.lastError.at));
      }, "a health file in error, with a timestamped error");
      // empty values are null, not ""
      expect(JSON.parse(await readFile(health, "utf8")).lastPackAt).toBeNull();
      await put(staging, "WO_1/a.jpg", tinyJpeg());
      // the retry comes within 30 s; the test waits for it
      await watcher.until("WO_1 packed", (w) => w.packedIds().includes("WO_1"), 60_000);
      // (the file is rewritten at the end of the pass that packed it)
      await waitFor(async () => JSON.parse(await readFile(health, "utf8")).status === "idle", "a healthy health file");
    } finally {
      await watcher.stop();
    }
  });

  it("a FIFO given as --config, --metadata or to validate is refused at once (it would block for ever)", async (ctx) => {
    const ws = await workspace();
    const fifo = path.join(ws.dir, "pipe.json");
    if (spawnSync("mkfifo", [fifo]).status !== 0) ctx.skip();
    await put(ws.staging, "WO_1/a.jpg", tinyJpeg());
    const asConfig = await wopack(["pack", ws.staging, "--out", ws.out, "--config", fifo]);
    expect(asConfig.code).toBe(2);
    expect(asConfig.stderr).toContain("E_CONFIG_UNREADABLE");
    expect(asConfig.stderr).toContain("named pipe");
    const asSidecar = await wopack(["pack", ws.staging, "--out", ws.out, "--metadata", fifo]);
    expect(asSidecar.code).toBe(2);
    expect(asSidecar.stderr).toContain("E_SIDECAR_UNREADABLE");
    const asTarget = await wopack(["validate", fifo]);
    expect(asTarget.code).toBe(2);
    expect(asTarget.stderr).toContain("E_TARGET_NOT_A_FILE");
  });
});

describe("text that is not UTF-8 is refused with where; a byte-order mark is fine (§6)", () => {
  it("a Latin-1 metadata.json refuses its work order, naming the line", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/a.jpg", tinyJpeg());
    await put(ws.staging, "WO_1/metadata.json", Buffer.from('{\n  "site": "M\xfcnchen"\n}', "latin1"));
    await put(ws.staging, "WO_2/a.jpg", tinyJpeg());
    await put(
      ws.staging,
      "WO_2/metadata.json",
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"site": "Köln"}')]),
    );
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result.refused[0].id).toBe("WO_1");
    expect(result.refused[0].problems[0].message).toMatch(/not UTF-8 text: byte 0xFC at line 2/);
    const entries = await readZip((await archivesIn(ws.out))[0]!);
    expect(JSON.parse(entries.find((e) => e.name === "WO_2/metadata.json")!.data.toString())).toEqual({ site: "Köln" });
  });

  it("a Latin-1 CSV sidecar stops the run before anything is written; a BOM config and JSON sidecar are read", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/a.jpg", tinyJpeg());
    const csv = await put(ws.dir, "erp.csv", Buffer.from("work_order;site\nWO_1;D\xfcsseldorf\n", "latin1"));
    const bad = await wopack(["pack", ws.staging, "--out", ws.out, "--metadata", csv]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/E_SIDECAR_INVALID.*not UTF-8 text: byte 0xFC at line 2/);
    expect(existsSync(ws.out)).toBe(false);

    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const config = await put(
      ws.dir,
      "wopack.config.json",
      Buffer.concat([bom, Buffer.from('{"metadata": {"fields": {"site": {"type": "text", "required": true}}}}')]),
    );
    const json = await put(ws.dir, "erp.json", Buffer.concat([bom, Buffer.from('{"WO_1": {"site": "Düsseldorf"}}')]));
    const good = await wopack(["pack", ws.staging, "--out", ws.out, "--metadata", json, "--config", config]);
    expect(good.code, good.stderr).toBe(0);
    const entries = await readZip((await archivesIn(ws.out))[0]!);
    expect(JSON.parse(entries.find((e) => e.name === "WO_1/metadata.json")!.data.toString())).toEqual({ site: "Düsseldorf" });
  });
});

describe("camera clocks (§5, §6)", () => {
  it.for<[string, string | undefined]>([
    ["2024:03:04 05:06:07", "2024:03:04 05:06:07"],
    ["0000:00:00 00:00:00", undefined],
    ["    :  :     :  :  ", undefined],
    ["2024:00:10 10:00:00", undefined],
    ["2024:13:01 10:00:00", undefined],
    ["1899:12:31 23:59:59", undefined],
    ["2024:02:30 25:00:00", undefined],
  ])("EXIF date %j is %j", ([value, expected]) => {
    expect(plausibleExifDate(value)).toBe(expected);
  });

  it("a photo dated 0000:00:00 has no capture date (exiftool writes the tag)", async (ctx) => {
    if (spawnSync("exiftool", ["-ver"]).status !== 0) ctx.skip();
    const ws = await workspace();
    const file = await put(ws.staging, "WO_1/meter/a.jpg", tinyJpeg());
    // (#= writes the raw value: exiftool would refuse month 00 through its date conversion)
    spawnSync("exiftool", ["-q", "-overwrite_original", "-DateTimeOriginal#=0000:00:00 00:00:00", file]);
    expect(spawnSync("exiftool", ["-s3", "-DateTimeOriginal", file], { encoding: "utf8" }).stdout.trim()).toBe(
      "0000:00:00 00:00:00",
    );
    const config = await put(
      ws.dir,
      "c.json",
      '{"metadata": {"fields": {"taken": {"type": "text", "from": "exif:DateTimeOriginal", "default": "unknown"}}}}',
    );
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--config", config]);
    expect(run.code, run.stderr).toBe(0);
    const entries = await readZip((await archivesIn(ws.out))[0]!);
    expect(JSON.parse(entries.find((e) => e.name === "WO_1/metadata.json")!.data.toString())).toEqual({ taken: "unknown" });
  });

  it("files dated in the future (a card with a wrong clock) settle by when they really arrived", async () => {
    const ws = await workspace();
    const file = await put(ws.staging, "WO_1/a.jpg", tinyJpeg());
    const nextYear = new Date(Date.now() + 365 * 86_400_000);
    await utimes(file, nextYear, nextYear);
    await utimes(path.join(ws.staging, "WO_1"), nextYear, nextYear);
    await new Promise((r) => setTimeout(r, 1200)); // (the settle time below must pass, by the real clock)
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--settle", "1s", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).packed.map((w: { id: string }) => w.id)).toEqual(["WO_1"]);
  });

  it("watch packs a work order dated in the future once, without spinning", async () => {
    const ws = await workspace();
    const watcher = new Watcher([ws.staging, "--out", ws.out, "--settle", "300ms"]);
    try {
      await watcher.until("started", (w) => w.events.some((e) => e.event === "started"));
      const file = await put(ws.staging, "WO_1/a.jpg", tinyJpeg());
      const later = new Date(Date.now() + 86_400_000);
      await utimes(file, later, later);
      await watcher.until("WO_1 packed", (w) => w.packedIds().includes("WO_1"));
      await new Promise((r) => setTimeout(r, 1500));
      expect(watcher.events.filter((e) => e.event === "ready")).toHaveLength(1);
    } finally {
      await watcher.stop();
    }
  });
});

describe("names (§5)", () => {
  it("numbering after -999999999 refuses the photo instead of writing a name validate rejects", () => {
    const p = plan({ "WO_1/meter-999999999.jpg": {}, "WO_1/meter/b.jpg": {} });
    expect(p.refused[0]?.problems.map((x) => x.code)).toEqual(["E_ORDER_TOO_LARGE"]);
  });

  it("every planned entry name passes the archive validator's rules (property)", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/);
    const order = fc.oneof(
      fc.constant(""),
      fc.integer({ min: 0, max: 999_999_999 }).map((n) => `-${n}`),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(name, name, order, fc.boolean()), { minLength: 1, maxLength: 8 }), (files) => {
        const p = plan(
          Object.fromEntries(
            files.map(([id, group, n, inFolder]) => [inFolder ? `${id}/${group}/x${n}.jpg` : `${id}/${group}${n}.jpg`, {}]),
          ),
        );
        for (const wo of p.ready) {
          expect(isWorkOrderId(wo.id)).toBe(true);
          for (const photo of wo.photos) {
            const entry = entryName(wo.id, photo.taskGroup, photo.n, "jpg");
            const read = parseEntryName(entry.slice(wo.id.length + 1));
            expect(read, entry).toEqual({ taskGroup: photo.taskGroup, n: photo.n, ext: "jpg" });
            expect(isTaskGroupName(read!.taskGroup)).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("a folder named on a Mac (decomposed) matches its alias and field names typed composed", () => {
    const nfd = "Za\u0308hler"; // "Zähler" as macOS writes it
    const p = plan(
      { [`WO_1/${nfd}/a.jpg`]: {}, "WO_1/metadata.json": { json: { "Gera\u0308t": "X1" } } },
      { aliases: { Zähler: "meter_reading" }, metadata: { fields: { Gerät: { type: "text", required: true } } } },
    );
    expect(p.refused).toEqual([]);
    expect(p.ready[0]?.photos[0]?.taskGroup).toBe("meter_reading");
    expect(p.ready[0]?.metadata).toEqual({ Gerät: "X1" });
  });
});
