import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { archivesIn, copyFixtureTree, FIXTURES, put, ROOT, readZip, tempDir, wopack, workspace } from "../helpers.js";

const CONFIG = {
  metadata: {
    fields: {
      customer: { type: "text", required: true },
      odometer: { type: "number", required: true },
      meter_replaced: { type: "boolean", required: true },
      work_order: { type: "text", from: "workOrder" },
      photo_count: { type: "number", from: "count:photos" },
      captured_at: { type: "text", from: "exif:DateTimeOriginal" },
      packed_at: { type: "text", from: "now" },
      crew: { type: "text", default: "day shift" },
    },
    idColumn: "WO Number",
  },
};

async function metadataOf(out: string): Promise<Record<string, Record<string, unknown>>> {
  const result: Record<string, Record<string, unknown>> = {};
  for (const zip of await archivesIn(out)) {
    for (const e of await readZip(zip)) {
      if (e.name.endsWith("/metadata.json")) result[e.name.split("/")[0]!] = JSON.parse(e.data.toString());
    }
  }
  return result;
}

describe("metadata from config, a 1,000-row CSV sidecar and the photos (§6)", () => {
  let ws: Awaited<ReturnType<typeof workspace>>;
  let config: string;
  let sidecar: string;
  const started = Date.now();

  beforeAll(async () => {
    ws = await workspace();
    const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: "#555" } })
      .jpeg()
      .withExif({ IFD2: { DateTimeOriginal: "2026:11:02 07:30:00" } })
      .toBuffer();
    for (let i = 0; i < 12; i++) await put(ws.staging, `WO_${String(i).padStart(4, "0")}/meter/a.jpg`, jpeg);
    await put(ws.staging, "WO_0000/meter/b.heic", readFile(path.join(FIXTURES, "quad.heic"))); // EXIF 2024:03:04 05:06:07
    await put(ws.staging, "WO_0003/metadata.json", JSON.stringify({ odometer: 99, crew: "night shift" }));
    // an ERP export: semicolons, a BOM, a quoted cell, more rows than work orders, extra columns
    const rows = ["\ufeffWO Number;Customer Name;customer;odometer;meter_replaced"];
    for (let i = 0; i < 1000; i++) {
      const id = `WO_${String(i).padStart(4, "0")}`;
      if (id === "WO_0005") continue; // no row: required fields missing (so WO_0007 is on line 8)
      const odometer = id === "WO_0007" ? "12 km" : String(1000 + i);
      const replaced = ["yes", "no", "1", "0", "true", "FALSE"][i % 6];
      rows.push(`${id};"Acme; Inc";cust-${i};${odometer};${replaced}`);
    }
    sidecar = path.join(ws.dir, "erp.csv");
    await writeFile(sidecar, rows.join("\r\n") + "\r\n");
    config = path.join(ws.dir, "wopack.config.json");
    await writeFile(config, JSON.stringify(CONFIG));
  });

  it("fills every work order's metadata.json with typed values, and refuses the ones it cannot", async () => {
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--config", config, "--metadata", sidecar, "--json"]);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result.packed).toHaveLength(10);
    const meta = await metadataOf(ws.out);
    expect(meta.WO_0000).toEqual({
      customer: "cust-0",
      odometer: 1000,
      meter_replaced: true,
      work_order: "WO_0000",
      photo_count: 2,
      captured_at: "2024-03-04T05:06:07",
      packed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      crew: "day shift",
    });
    expect(Date.parse(meta.WO_0000!.packed_at as string)).toBeGreaterThanOrEqual(started - 1000);
    expect(meta.WO_0001).toMatchObject({
      meter_replaced: false,
      odometer: 1001,
      captured_at: "2026-11-02T07:30:00",
      photo_count: 1,
    });
    expect(meta.WO_0003).toMatchObject({ odometer: 99, crew: "night shift", customer: "cust-3" }); // metadata.json wins
    expect(meta.WO_0005).toBeUndefined();
    expect(meta.WO_0007).toBeUndefined();

    const problems = Object.fromEntries(
      result.refused.map((r: { id: string; problems: { message: string }[] }) => [r.id, r.problems.map((p) => p.message)]),
    );
    expect(problems.WO_0007).toEqual(['work order WO_0007: field "odometer" is "12 km" (erp.csv line 8), which is not a number']);
    expect(problems.WO_0005).toEqual([
      'work order WO_0005: required field "customer" has no value',
      'work order WO_0005: required field "odometer" has no value',
      'work order WO_0005: required field "meter_replaced" has no value',
    ]);
  });

  it("--allow-incomplete writes null for missing required fields, with a warning", async () => {
    const out = path.join(ws.dir, "incomplete");
    const run = await wopack(["pack", ws.staging, "--out", out, "--config", config, "--metadata", sidecar, "--allow-incomplete"]);
    expect(run.code).toBe(1); // WO_0007's value still cannot be coerced
    // the warning is told once, in the log; the summary counts it
    expect(run.stderr.match(/W_METADATA_INCOMPLETE/g)?.length).toBeGreaterThan(0);
    expect(run.stdout).not.toContain("W_METADATA_INCOMPLETE");
    expect(run.stdout).toMatch(/; \d+ warnings? \(logged above\)/);
    expect((await metadataOf(out)).WO_0005).toMatchObject({
      customer: null,
      odometer: null,
      meter_replaced: null,
      crew: "day shift",
    });
  });

  it("a sidecar without the id column stops the run with exit 2 and writes nothing", async () => {
    const bad = path.join(ws.dir, "bad.csv");
    await writeFile(bad, "id;customer\nWO_0000;x\n");
    const out = path.join(ws.dir, "never");
    const run = await wopack(["pack", ws.staging, "--out", out, "--config", config, "--metadata", bad]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('E_SIDECAR_ID_COLUMN: bad.csv has no "WO Number" column (it has: id, customer)');
    await expect(readFile(out)).rejects.toThrow();
  });
});

describe("task groups from the config (§3)", () => {
  it("maps folder names through aliases and refuses unknown groups with the nearest suggested", async () => {
    const ws = await workspace();
    const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: "#123" } })
      .jpeg()
      .toBuffer();
    await put(ws.staging, "WO_1/Meter photos/a.jpg", jpeg);
    await put(ws.staging, "WO_2/cabinet_frnt/a.jpg", jpeg);
    await writeFile(
      path.join(ws.dir, "c.json"),
      JSON.stringify({ taskGroups: ["meter_reading", "cabinet_front"], aliases: { "Meter photos": "meter_reading" } }),
    );
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--config", path.join(ws.dir, "c.json"), "--json"]);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result.packed[0].entries.map((e: { entry: string }) => e.entry)).toEqual(["WO_1/meter_reading-0.jpg"]);
    expect(result.refused[0].problems[0]).toMatchObject({ code: "E_TASK_GROUP_UNKNOWN", path: "WO_2/cabinet_frnt/a.jpg" });
    expect(result.refused[0].problems[0].hint).toContain('did you mean "cabinet_front"?');
  });

  it("a task group ending in -<digits> is refused when the config loads: exit 2", async () => {
    const ws = await workspace();
    await writeFile(path.join(ws.dir, "c.json"), JSON.stringify({ taskGroups: ["meter-2"] }));
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--config", path.join(ws.dir, "c.json")]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("taskGroups.0: a task group is letters, digits, _ and -, and must not end in -<digits>");
  });
});

describe("wopack init", () => {
  it("writes a config that pack accepts unchanged", async () => {
    const dir = await tempDir();
    const staging = path.join(dir, "staging");
    await copyFixtureTree(path.join(ROOT, "sample-input"), staging);
    const init = await wopack(["init"], { cwd: dir });
    expect(init.code).toBe(0);
    expect(init.stdout).toContain("wrote");
    const run = await wopack(["pack", "staging", "--out", "out", "--json"], { cwd: dir });
    expect(run.code).toBe(0);
    const meta = await metadataOf(path.join(dir, "out"));
    // unedited, it changes nothing: the work order keeps its own metadata, nothing is computed in
    expect(meta.WO_100231).toEqual({ site: "Substation 12", technician: "R. Alvarez" });
    expect((await wopack(["init"], { cwd: dir })).code).toBe(2);
  });
});

describe("parameters.json and empty metadata (§2, §6)", () => {
  it("passes parameters.json through byte for byte, refuses one that is not an object, and omits {} metadata when asked", async () => {
    const ws = await workspace();
    const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: "#234" } })
      .jpeg()
      .toBuffer();
    const parameters = '{ "model":  "v2",\n  "threshold": 0.8 }\n'; // odd spacing: must survive unchanged
    await put(ws.staging, "WO_1/meter/a.jpg", jpeg);
    await put(ws.staging, "WO_1/parameters.json", parameters);
    await put(ws.staging, "WO_2/meter/a.jpg", jpeg);
    await put(ws.staging, "WO_2/parameters.json", "[1, 2]");
    await put(ws.staging, "WO_3/meter/a.jpg", jpeg);
    await put(ws.staging, "WO_3/metadata.json", '{"site": "A"}');
    await writeFile(path.join(ws.dir, "c.json"), JSON.stringify({ metadata: { omitWhenEmpty: true } }));
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--config", path.join(ws.dir, "c.json"), "--json"]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).refused[0].problems[0]).toMatchObject({
      code: "E_PARAMETERS_NOT_OBJECT",
      path: "WO_2/parameters.json",
    });
    const entries = await readZip((await archivesIn(ws.out))[0]!);
    expect(entries.map((e) => e.name)).toEqual([
      "WO_1/meter-0.jpg",
      "WO_1/parameters.json",
      "WO_3/metadata.json",
      "WO_3/meter-0.jpg",
    ]);
    expect(entries.find((e) => e.name === "WO_1/parameters.json")!.data.toString()).toBe(parameters);
  });
});
