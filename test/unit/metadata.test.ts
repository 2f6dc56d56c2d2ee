import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { ConfigInput } from "../../src/config/schema.js";
import { type MetadataInput, resolveMetadata } from "../../src/plan/metadata.js";
import { loadSidecar } from "../../src/scan/sidecar.js";
import { coerceValue } from "../../src/spec/values.js";
import { tempDir } from "../helpers.js";

describe("coercion (§6)", () => {
  it.each([
    ["12", "number", 12],
    [" 12.5 ", "number", 12.5],
    [-3, "number", -3],
    ["1e3", "number", 1000],
    ["true", "boolean", true],
    ["YES", "boolean", true],
    ["no", "boolean", false],
    ["0", "boolean", false],
    [1, "boolean", true],
    [false, "boolean", false],
    ["abc", "text", "abc"],
    [42, "text", "42"],
    [true, "text", "true"],
  ] as const)("accepts %j as %s", (value, type, want) => {
    expect(coerceValue(value, type)).toBe(want);
  });

  it.each([
    ["12 km", "number"],
    ["1,5", "number"],
    ["", "number"],
    [Number.NaN, "number"],
    ["maybe", "boolean"],
    [2, "boolean"],
    [{}, "text"],
    [null, "text"],
  ] as const)("refuses %j as %s", (value, type) => {
    expect(coerceValue(value, type)).toBeUndefined();
  });
});

const FIELDS: ConfigInput = {
  metadata: {
    fields: {
      customer: { type: "text", required: true },
      odometer: { type: "number", required: true },
      replaced: { type: "boolean", default: false },
      id: { type: "text", from: "workOrder" },
      photos: { type: "number", from: "count:photos" },
      taken: { type: "text", from: "exif:DateTimeOriginal" },
      run: { type: "text", from: "now" },
    },
  },
};

function resolve(config: ConfigInput, input: Partial<MetadataInput>) {
  return resolveMetadata(parseConfig(config).metadata, {
    id: "WO_1",
    captureDates: [],
    photoCount: 0,
    now: "2026-11-28T12:00:00.000Z",
    given: {},
    givenPath: "WO_1/metadata.json",
    allowIncomplete: false,
    ...input,
  });
}

describe("metadata merge (§6)", () => {
  it("fills each from-source: workOrder, count:photos, exif:DateTimeOriginal (earliest), now", () => {
    const r = resolve(FIELDS, {
      captureDates: ["2024:05:01 10:00:02", "2024:05:01 09:59:59"],
      photoCount: 2,
      given: { customer: "ACME", odometer: 5 },
    });
    expect(r.problems).toEqual([]);
    expect(r.values).toEqual({
      customer: "ACME",
      odometer: 5,
      replaced: false,
      id: "WO_1",
      photos: 2,
      taken: "2024-05-01T09:59:59",
      run: "2026-11-28T12:00:00.000Z",
    });
  });

  it("later wins: default < sidecar < metadata.json, each coerced to its type", () => {
    const sidecar = { values: { customer: "from csv", odometer: "120", replaced: "yes" }, where: "erp.csv line 2" };
    expect(resolve(FIELDS, { sidecar }).values).toMatchObject({ customer: "from csv", odometer: 120, replaced: true });
    expect(resolve(FIELDS, { sidecar, given: { odometer: 7, replaced: "no" } }).values).toMatchObject({
      odometer: 7,
      replaced: false,
    });
  });

  it("refuses a value that cannot be coerced, naming work order, field, value and where it came from", () => {
    const r = resolve(FIELDS, { sidecar: { values: { customer: "x", odometer: "12 km" }, where: "erp.csv line 7" } });
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ code: "E_METADATA_TYPE" });
    expect(r.problems[0]!.message).toBe('work order WO_1: field "odometer" is "12 km" (erp.csv line 7), which is not a number');
  });

  it("refuses a missing required field; with allowIncomplete writes null and warns", () => {
    const strict = resolve(FIELDS, { given: { customer: "ACME" } });
    expect(strict.problems.map((p) => p.code)).toEqual(["E_METADATA_REQUIRED"]);
    expect(strict.problems[0]!.message).toContain('"odometer"');
    const lenient = resolve(FIELDS, { given: { customer: "ACME" }, allowIncomplete: true });
    expect(lenient.problems).toEqual([]);
    expect(lenient.values.odometer).toBeNull();
    expect(lenient.warnings.map((w) => w.code)).toEqual(["W_METADATA_INCOMPLETE"]);
  });

  it("leaves out an optional field with no value, and a from-source with nothing to give", () => {
    const r = resolve(
      { metadata: { fields: { note: { type: "text" }, taken: { type: "text", from: "exif:DateTimeOriginal" } } } },
      {},
    );
    expect(r.values).toEqual({});
    expect(r.problems).toEqual([]);
  });

  it("warns about metadata.json keys that are not configured fields, with a suggestion for typos", () => {
    const r = resolve(FIELDS, { given: { customer: "A", odometer: 1, odometr: 2 } });
    expect(r.warnings).toEqual([expect.objectContaining({ code: "W_METADATA_UNKNOWN_FIELD" })]);
    expect(r.warnings[0]!.hint).toContain('"odometer"');
    expect(r.values).not.toHaveProperty("odometr");
  });

  it("without configured fields, passes the sidecar row and metadata.json through (no id column)", () => {
    const r = resolve({}, { sidecar: { values: { work_order: "WO_1", site: "A" }, where: "x" }, given: { tech: "B" } });
    expect(r.values).toEqual({ site: "A", tech: "B" });
  });
});

describe("metadata sidecar", () => {
  async function file(name: string, content: string) {
    const f = path.join(await tempDir(), name);
    await writeFile(f, content);
    return f;
  }

  it("reads a CSV (comma, semicolon or tab; BOM; quoted cells), empty cells absent, line numbers kept", async () => {
    const csv = await file("erp.csv", '\ufeffwork_order;customer;odometer\nWO_1;"ACME; Inc";12\nWO_2;;7\n');
    const rows = await loadSidecar(csv, "work_order");
    expect(rows.get("WO_1")).toEqual({ values: { customer: "ACME; Inc", odometer: "12" }, where: "erp.csv line 2" });
    expect(rows.get("WO_2")!.values).toEqual({ odometer: "7" });
  });

  it("marks a work order with two rows as duplicate", async () => {
    const rows = await loadSidecar(await file("erp.csv", "work_order,a\nWO_1,1\nWO_1,2\n"), "work_order");
    expect(rows.get("WO_1")).toMatchObject({ where: "erp.csv line 2", duplicate: "erp.csv line 3" });
  });

  it("stops with a usage error when the id column is missing, naming the columns", async () => {
    const err = await loadSidecar(await file("erp.csv", "id,a\nWO_1,1\n"), "work_order").catch((e) => e);
    expect(err).toMatchObject({ kind: "usage", code: "E_SIDECAR_ID_COLUMN" });
    expect(err.message).toContain("it has: id, a");
  });

  it("stops with a usage error on a ragged CSV row", async () => {
    const err = await loadSidecar(await file("erp.csv", "work_order,a\nWO_1,1,extra\n"), "work_order").catch((e) => e);
    expect(err).toMatchObject({ kind: "usage", code: "E_SIDECAR_INVALID" });
  });

  it("reads a JSON object keyed by id, and refuses anything else", async () => {
    const rows = await loadSidecar(await file("m.json", '{"WO_1": {"odometer": 12}}'), "work_order");
    expect(rows.get("WO_1")!.values).toEqual({ odometer: 12 });
    const err = await loadSidecar(await file("m.json", "[1]"), "work_order").catch((e) => e);
    expect(err).toMatchObject({ code: "E_SIDECAR_INVALID" });
  });
});
