import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/find.js";
import { initConfig, SCHEMA_PATH } from "../../src/config/init.js";
import { parseConfig, parseJsonWithComments } from "../../src/config/load.js";
import { archivesIn, configProblems, copyFixtureTree, ROOT, readZip, sha256, tempDir, wopack, workspace } from "../helpers.js";

const issues = (raw: unknown): string[] => configProblems(parseConfig, raw);

describe("config schema (§10): each rule accepts and refuses", () => {
  it("accepts the empty config, with the documented defaults", () => {
    const c = parseConfig({});
    const { checks, ...images } = c.images;
    expect(images).toEqual({ quality: 90, maxImageSize: 5_000_000, maxPixels: 100_000_000, stripGps: false, verify: "pixels" });
    expect(Object.entries(checks).map(([name, check]) => [name, check.action])).toEqual([
      ["reuse", "warn"],
      ["duplicate", "warn"],
      ["blur", "warn"],
      ["exposure", "warn"],
      ["age", "off"],
      ["distance", "off"],
    ]);
    expect(c.archive.prefix).toBe("batch");
    expect(c.metadata).toEqual({ fields: {}, idColumn: "work_order", omitWhenEmpty: false });
  });

  it.each([
    [{ taskGroups: ["meter_reading", "cabinet-front"] }, { taskGroups: ["meter-2"] }, "taskGroups.0:"],
    [{ aliases: { "Meter photos": "meter_reading" } }, { aliases: { "Meter photos": "meter photo" } }, "aliases.Meter photos:"],
    [{ defaultTaskGroup: "general" }, { defaultTaskGroup: "general-1" }, "defaultTaskGroup:"],
    [
      { rootFilePattern: "^(?<workOrder>\\d+)_(?<taskGroup>\\w+)\\." },
      { rootFilePattern: "^(?<workOrder>\\d+)_" },
      "rootFilePattern:",
    ],
    [{ rootFilePattern: "^(?<workOrder>a)(?<taskGroup>b)" }, { rootFilePattern: "([" }, "rootFilePattern:"],
    [{ images: { maxImageSize: "2MiB" } }, { images: { maxImageSize: "2 parsecs" } }, "images.maxImageSize:"],
    [{ images: { quality: 100 } }, { images: { quality: 101 } }, "images.quality:"],
    [{ archive: { prefix: "acme_nightly" } }, { archive: { prefix: "acme nightly" } }, "archive.prefix:"],
    [{ archive: { maxSize: "2GiB", maxWorkOrders: 10 } }, { archive: { maxWorkOrders: 0 } }, "archive.maxWorkOrders:"],
    [{ watch: { settle: "30s" } }, { watch: { settle: "soon" } }, "watch.settle:"],
    [
      { metadata: { fields: { n: { type: "number", default: 3 } } } },
      { metadata: { fields: { n: { type: "number", default: "x" } } } },
      "metadata.fields.n.default:",
    ],
    [
      { metadata: { fields: { c: { type: "number", from: "count:photos" } } } },
      { metadata: { fields: { c: { type: "boolean", from: "count:photos" } } } },
      "metadata.fields.c.from:",
    ],
    [
      { metadata: { fields: { w: { type: "text", from: "workOrder" } } } },
      { metadata: { fields: { w: { type: "number", from: "workOrder" } } } },
      "metadata.fields.w.from:",
    ],
    [
      { metadata: { fields: { b: { type: "boolean" } } } },
      { metadata: { fields: { b: { type: "bool" } } } },
      "metadata.fields.b.type:",
    ],
    [{ metadata: { idColumn: "wo" } }, { metadata: { idColumn: "" } }, "metadata.idColumn:"],
  ])("%j is valid; %j is not (%s)", (good, bad, path) => {
    expect(issues(good)).toEqual([]);
    expect(issues(bad).some((l) => l.startsWith(path))).toBe(true);
  });

  it("refuses unknown keys, so that typos do not pass silently", () => {
    expect(issues({ taskgroups: [] })).toEqual([expect.stringContaining("taskgroups")]);
  });

  it("lists every problem at once, one `path: message` per line", () => {
    const lines = issues({ images: { quality: 0 }, archive: { prefix: "" }, taskGroups: ["a-1"], bogus: true });
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l).toMatch(/^[\w.()]+: .+/);
  });
});

describe("config files", () => {
  it("allow comments and trailing commas, and report syntax errors by line and column", () => {
    expect(parseJsonWithComments('{\n  // a comment\n  "archive": { "prefix": "x", },\n}', "t")).toEqual({
      archive: { prefix: "x" },
    });
    expect(() => parseJsonWithComments('{\n  "a": 1\n  "b": 2\n}', "t")).toThrow(/line 3, column 3: CommaExpected/);
  });

  it("are found in the current folder first, then in the staging folder", async () => {
    const cwd = await tempDir();
    const staging = await tempDir();
    await writeFile(path.join(staging, "wopack.config.json"), '{"archive": {"prefix": "staging"}}');
    expect((await loadConfig({ cwd, staging })).config.archive.prefix).toBe("staging");
    await writeFile(path.join(cwd, "wopack.config.json"), '{"archive": {"prefix": "cwd"}}');
    expect((await loadConfig({ cwd, staging })).config.archive.prefix).toBe("cwd");
    expect((await loadConfig({ cwd: await tempDir() })).path).toBeNull();
  });
});

describe("wopack init", () => {
  it("writes a commented starter config that loads, matches the shipped JSON Schema, and points at it", async () => {
    const dir = await tempDir();
    const { file } = await initConfig(dir);
    const text = await readFile(file, "utf8");
    expect(text).toMatch(/^\s*\/\/ /m);
    const raw = parseJsonWithComments(text, file) as { $schema: string };
    // the schema sits beside the config (a path into the install would break once the config is copied)
    expect(raw.$schema).toBe("./wopack.config.schema.json");
    const schema = JSON.parse(await readFile(path.resolve(dir, raw.$schema), "utf8"));
    expect(schema).toEqual(JSON.parse(await readFile(SCHEMA_PATH, "utf8")));
    const ajv = new Ajv({ strict: false });
    expect(ajv.validate(schema, raw), JSON.stringify(ajv.errors)).toBe(true);
    expect(() => parseConfig(raw)).not.toThrow();
    // the same JSON Schema refuses what zod refuses
    expect(ajv.validate(schema, { ...raw, bogus: 1 })).toBe(false);
    expect(ajv.validate(schema, { images: { quality: 101 } })).toBe(false);
  });

  it("an unedited starter config changes nothing: the sample packs into the same entries as without it", async () => {
    const plain = await workspace();
    await copyFixtureTree(path.join(ROOT, "sample-input"), plain.staging);
    const withInit = await workspace();
    await copyFixtureTree(path.join(ROOT, "sample-input"), withInit.staging);
    await initConfig(withInit.dir);
    expect((await wopack(["pack", plain.staging, "--out", plain.out], { cwd: plain.dir })).code).toBe(0);
    const run = await wopack(["pack", withInit.staging, "--out", withInit.out, "--verbose"], { cwd: withInit.dir });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`config: ${path.join(withInit.dir, "wopack.config.json")}`);
    const entries = async (out: string) =>
      (await readZip((await archivesIn(out))[0]!)).map((e) => [e.name, sha256(e.data)] as const);
    expect(await entries(withInit.out)).toEqual(await entries(plain.out));
  });

  it("the JSON Schema describes every key (editors show it on hover) and constrains sizes, durations and task groups as zod does", async () => {
    const schema = JSON.parse(await readFile(SCHEMA_PATH, "utf8"));
    const undescribed: string[] = [];
    const walk = (node: unknown, at: string) => {
      if (!node || typeof node !== "object") return;
      const o = node as Record<string, unknown>;
      for (const [k, v] of Object.entries((o.properties as Record<string, { description?: string }>) ?? {})) {
        if (!v.description) undescribed.push(`${at}.${k}`);
        walk(v, `${at}.${k}`);
      }
      for (const [k, v] of Object.entries(o)) if (k !== "properties") walk(v, at);
    };
    walk(schema, "");
    expect(undescribed).toEqual([]);
    const ajv = new Ajv({ strict: false });
    const check = ajv.compile(schema);
    const cases: unknown[] = [
      { images: { maxImageSize: "5MB" } },
      { images: { maxImageSize: "2 gib" } },
      { images: { maxImageSize: 10_000 } },
      { images: { maxImageSize: 9_999 } },
      { images: { maxImageSize: "5 apples" } },
      { images: { maxImageSize: -1 } },
      { archive: { maxSize: "100kb" } },
      { watch: { settle: "30s" } },
      { watch: { settle: "10 minutes" } },
      { watch: { settle: "250ms" } },
      { watch: { poll: "1h" } },
      { upload: { maxElapsed: "2h" } },
      { taskGroups: ["meter_reading", "cabinet-front"] },
      { taskGroups: ["meter-1"] },
      { taskGroups: ["Meter photo"] },
      { taskGroups: ["-lead"] },
      { aliases: { "Meter photos": "meter_reading" } },
      { aliases: { x: "meter reading" } },
      { images: { checks: { reuse: { action: "refuse", maxDistance: 8 } } } },
      { images: { checks: { reuse: { action: "block" } } } },
      { images: { checks: { reuse: { maxDistance: 33 } } } },
      { images: { checks: { age: { maxAge: "30d" } } } },
      { images: { checks: { age: { maxAge: 30 } } } },
      { images: { checks: { distance: { maxDistance: "2.5km" } } } },
      { images: { checks: { distance: { maxDistance: 500 } } } },
      { images: { checks: { distance: { maxDistance: "5 miles" } } } },
      { images: { checks: { exposure: { darkFraction: 1.5 } } } },
    ];
    for (const c of cases) expect(check(c), JSON.stringify(c)).toBe(issues(c).length === 0);
  });

  it("never overwrites an existing config unless forced", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, "wopack.config.json"), "{}");
    await expect(initConfig(dir)).rejects.toMatchObject({ code: "E_CONFIG_EXISTS", kind: "usage" });
    await initConfig(dir, { force: true });
    expect(await readFile(path.join(dir, "wopack.config.json"), "utf8")).toContain("$schema");
  });
});
