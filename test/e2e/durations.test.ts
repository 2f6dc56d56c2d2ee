// Issue 21, item 5: durations always carry a unit (SPEC §4). A bare number is a usage error (exit 2) that
// says the unit probably meant, for every duration flag and config key; `--older-than 30` once meant 30
// seconds and, with --delete --processed, deleted an archive and its photos seconds after packing.
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SCHEMA_PATH } from "../../src/config/init.js";
import { parseConfig } from "../../src/config/load.js";
import { flagsSchema } from "../../src/config/schema.js";
import { DURATION_TEXT, type DurationUnit, parseDuration } from "../../src/config/units.js";
import { pack } from "../../src/run/pack.js";
import { put, snapshot, solidJpeg, wopack, workspace } from "../helpers.js";

const MS: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Every duration flag: the command that takes it and the unit a bare number probably meant. */
const FLAGS: Record<string, { command: string; likely: DurationUnit }> = {
  settle: { command: "pack", likely: "s" },
  "batch-window": { command: "watch", likely: "s" },
  poll: { command: "watch", likely: "s" },
  "on-archive-timeout": { command: "pack", likely: "s" },
  "older-than": { command: "prune", likely: "d" },
  "max-age": { command: "status", likely: "h" },
};

/** Every duration key of the config, and the unit a bare number probably meant. */
const KEYS: Record<string, DurationUnit> = {
  "images.checks.age.maxAge": "d",
  "upload.maxElapsed": "s",
  "upload.retryBackoff": "s",
  "watch.settle": "s",
  "watch.batchWindow": "s",
  "watch.poll": "s",
  "watch.prune.olderThan": "d",
  "watch.prune.every": "h",
};

/** { watch: { settle: value } } from "watch.settle" (any depth) */
const nested = (key: string, value: unknown): Record<string, unknown> =>
  key === "watch.prune.every" // (watch.prune needs its olderThan beside it)
    ? { watch: { prune: { olderThan: "30d", every: value } } }
    : (key.split(".").reduceRight<unknown>((inner, name) => ({ [name]: inner }), value) as Record<string, unknown>);

/** The value at "watch.settle" (any depth). */
const at = (o: unknown, key: string): unknown => key.split(".").reduce((v, k) => (v as Record<string, unknown>)?.[k], o);

const bareNumber = fc.oneof(
  fc.integer({ min: 1, max: 1_000_000 }).map(String),
  fc.float({ min: 1, max: 1e6, noNaN: true }).map((n) => n.toFixed(2)),
);
const unit = fc.constantFrom<DurationUnit>("ms", "s", "m", "h", "d");
const spelling = fc
  .tuple(fc.integer({ min: 1, max: 100_000 }), unit, fc.constantFrom("", " "), fc.boolean())
  .map(([n, u, gap, upper]) => ({ n, u, text: `${n}${gap}${upper ? u.toUpperCase() : u}` }));

describe("durations carry a unit (SPEC §4)", () => {
  it("the flags and config keys in the tables above are every duration there is", async () => {
    // a flag that reads "10s" as 10000 ms is a duration flag
    const durationFlags = Object.keys(flagsSchema.shape).filter((k) => {
      const r = flagsSchema.safeParse({ [k]: "10s" });
      return r.success && (r.data as Record<string, unknown>)[k] === 10_000;
    });
    expect(durationFlags.sort()).toEqual(Object.keys(FLAGS).sort());
    // a config key whose JSON Schema is the duration pattern is a duration key
    const schema = JSON.parse(await readFile(SCHEMA_PATH, "utf8"));
    const keys: string[] = [];
    type Node = { properties?: Record<string, Node>; anyOf?: unknown[] };
    const walk = (node: Node, prefix: string) => {
      for (const [name, v] of Object.entries(node.properties ?? {})) {
        // (a key whose own alternatives hold the duration pattern, at any depth)
        if (JSON.stringify(v.anyOf ?? []).includes(JSON.stringify(DURATION_TEXT.source).slice(1, -1))) keys.push(prefix + name);
        walk(v, `${prefix}${name}.`);
      }
    };
    walk(schema, "");
    expect(keys.sort()).toEqual(Object.keys(KEYS).sort());
  });

  it("every duration flag: a bare number is refused with the unit probably meant; a number and its unit is read; nonsense is refused (property)", () => {
    for (const [flag, { likely }] of Object.entries(FLAGS)) {
      fc.assert(
        fc.property(bareNumber, (text) => {
          const r = flagsSchema.safeParse({ [flag]: text });
          expect(r.success, `--${flag} ${text}`).toBe(false);
          expect(r.error!.issues.map((i) => i.message)).toEqual([`a duration needs a unit; did you mean ${text}${likely}?`]);
        }),
      );
      fc.assert(
        fc.property(spelling, ({ n, u, text }) => {
          const r = flagsSchema.safeParse({ [flag]: text });
          const min = flag === "poll" ? 50 : flag === "on-archive-timeout" ? 1000 : 0;
          expect(r.success, `--${flag} ${text}`).toBe(n * MS[u] >= min);
          if (r.success) expect((r.data as Record<string, unknown>)[flag]).toBe(n * MS[u]);
        }),
      );
      fc.assert(
        fc.property(
          fc.string().filter((t) => !/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$/i.test(t) && !(flag === "poll" && t === "")),
          (text) => {
            const r = flagsSchema.safeParse({ [flag]: text });
            expect(r.success, `--${flag} ${JSON.stringify(text)}`).toBe(false);
            expect(r.error!.issues[0]!.message).toMatch(/not a duration; write a number and its unit/);
          },
        ),
      );
    }
  });

  it("0 needs no unit (it is 0 in every one); the parser never gives a bare number a unit", () => {
    expect(flagsSchema.parse({ settle: "0", "older-than": "0" })).toMatchObject({ settle: 0, "older-than": 0 });
    fc.assert(
      fc.property(bareNumber, (text) => {
        expect(parseDuration(text)).toBeUndefined();
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1 }), (n) => {
        expect(parseDuration(n)).toBeUndefined();
      }),
    );
  });

  it("every duration key of the config: a bare number (JSON number or text) is a config error with the unit probably meant", () => {
    for (const [key, likely] of Object.entries(KEYS)) {
      for (const value of [30, "30", 1.5]) {
        expect(() => parseConfig(nested(key, value)), `${key}: ${JSON.stringify(value)}`).toThrow(
          `${key}: a duration needs a unit; did you mean ${value}${likely}?`,
        );
      }
      expect(() => parseConfig(nested(key, "2 fortnights"))).toThrow(`${key}: "2 fortnights" is not a duration`);
      expect(at(parseConfig(nested(key, "2m")), key)).toBe(120_000);
    }
  });

  it.for(Object.entries(FLAGS))(
    "the CLI: --%s 30 exits 2 naming the flag and the unit meant, nothing written",
    async ([flag, { command, likely }]) => {
      const ws = await workspace();
      await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg());
      const before = await snapshot(ws.dir);
      // (watch with --print-config: should the flag be taken, the test ends rather than a watch that runs on)
      const target =
        command === "pack"
          ? [ws.staging, "--out", ws.out]
          : command === "watch"
            ? [ws.staging, "--out", ws.out, "--print-config"]
            : [ws.out];
      const run = await wopack([command, ...target, `--${flag}`, "30"]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(`--${flag} "30": a duration needs a unit; did you mean 30${likely}?`);
      expect(await snapshot(ws.dir)).toEqual(before);
      // and from the environment (WOPACK_SETTLE=30 is --settle 30)
      const env = `WOPACK_${flag.toUpperCase().replace(/-/g, "_")}`;
      const fromEnv = await wopack([command, ...target], { env: { [env]: "30" } });
      expect(fromEnv.code, fromEnv.stderr).toBe(2);
      expect(fromEnv.stderr).toContain(`did you mean 30${likely}?`);
      expect(await snapshot(ws.dir)).toEqual(before);
    },
  );

  it.for(Object.entries(KEYS))(
    "the CLI: %s: 30 in the config file exits 2 with the unit meant, nothing written",
    async ([key, likely]) => {
      const ws = await workspace();
      await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg());
      const config = path.join(ws.dir, "wopack.config.json");
      await writeFile(config, JSON.stringify(nested(key, 30)));
      const before = await snapshot(ws.dir);
      const run = await wopack(["pack", ws.staging, "--out", ws.out, "--config", config]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toContain(`${key}: a duration needs a unit; did you mean 30${likely}?`);
      expect(await snapshot(ws.dir)).toEqual(before);
    },
  );

  it("--poll alone keeps its default interval (1s)", async () => {
    const ws = await workspace();
    const run = await wopack(["watch", ws.staging, "--out", ws.out, "--poll", "--print-config"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).config.watch.poll).toBe(1000);
  });

  it("a destructive command never reads a missing unit as the smallest one: prune --older-than 30 --delete right after packing deletes nothing", async () => {
    const ws = await workspace();
    const processed = path.join(ws.dir, "processed");
    await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg());
    // packed a minute ago: older than 30 s (or 30 ms), far younger than 30 days
    const minuteAgo = new Date(Date.now() - 60_000);
    await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config: parseConfig({}), now: () => minuteAgo });
    expect(existsSync(path.join(processed, "WO_1"))).toBe(true);
    const before = await snapshot(ws.dir);
    for (const age of ["30", "30.0", " 30 ", "1"]) {
      const run = await wopack(["prune", ws.out, "--older-than", age, "--processed", processed, "--delete"]);
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(/did you mean \d+(\.\d+)?d\?/);
      expect(await snapshot(ws.dir)).toEqual(before);
    }
    // with the unit it was meant in, nothing is old enough either
    const meant = await wopack(["prune", ws.out, "--older-than", "30d", "--processed", processed, "--delete", "--json"]);
    expect(meant.code, meant.stderr).toBe(0);
    expect(JSON.parse(meant.stdout).pruned).toEqual([]);
    expect(await snapshot(ws.dir)).toEqual(before);
  });
});
