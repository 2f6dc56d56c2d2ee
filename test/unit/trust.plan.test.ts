// Property-based tests of the pure planner: whatever the names in a staging folder, planning never throws,
// every work order lands in exactly one outcome, and names from Object.prototype are ordinary names.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ConfigInput } from "../../src/config/schema.js";
import { type FileSpec, plan } from "../plan-builders.js";

/** Names that break code looking them up in a plain object: Object.prototype's members and friends. */
const PROTO_NAMES = [...Object.getOwnPropertyNames(Object.prototype), "prototype", "__proto__", "hasOwn", "then"];

const segment = fc.oneof(
  fc.constantFrom(...PROTO_NAMES),
  fc.constantFrom("WO_1", "meter", "cabinet_front", "IMG_0001", "a b", "Zähler", ".hidden", "x-3", "-1", "ÿ"),
  fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes("/") && s !== "." && s !== ".."),
);
const extension = fc.constantFrom(".jpg", ".JPG", ".png", ".heic", ".json", ".txt", "", ".part");

/** A staging folder: 1 to 3 levels of user-chosen names, as files arrive from phones, scanners and ERPs. */
const stagingFiles = fc
  .array(
    fc.record({
      parts: fc.array(segment, { minLength: 1, maxLength: 3 }),
      ext: extension,
      type: fc.constantFrom<FileSpec["type"]>("jpeg", "png", "heic", null),
      json: fc.oneof(fc.constant(undefined), fc.dictionary(fc.constantFrom(...PROTO_NAMES, "site"), fc.jsonValue())),
    }),
    { minLength: 1, maxLength: 12 },
  )
  .map((files) =>
    Object.fromEntries(
      files.map(({ parts, ext, type, json }) => {
        const rel = parts.join("/") + ext;
        const spec: FileSpec = rel.endsWith(".json") ? { type: null, json: json ?? {} } : { type };
        return [rel, spec];
      }),
    ),
  );

const config: fc.Arbitrary<ConfigInput> = fc.record({
  aliases: fc.dictionary(fc.constantFrom(...PROTO_NAMES, "meter"), fc.constantFrom("meter_reading", "cabinet")),
  metadata: fc.constant({
    fields: { site: { type: "text" as const }, valueOf: { type: "number" as const }, constructor: { type: "boolean" as const } },
  }),
});

describe("planning any staging folder (§3, §9)", () => {
  it("never throws, and every work order is exactly one of ready, refused, pending or already packed", () => {
    fc.assert(
      fc.property(stagingFiles, config, (files, cfg) => {
        const p = plan(files, cfg);
        const outcomes = [...p.ready, ...p.refused, ...p.alreadyPacked, ...p.pending].map((w) => w.id);
        expect(new Set(outcomes).size).toBe(outcomes.length);
        for (const wo of p.refused) {
          expect(wo.problems.length).toBeGreaterThan(0);
          for (const problem of wo.problems) expect(problem.code).toMatch(/^E_[A-Z_]+$/);
          // a bug would surface here as E_INTERNAL: names are data, never code paths
          expect(wo.problems.map((x) => x.code)).not.toContain("E_INTERNAL");
        }
        for (const wo of p.ready) {
          for (const photo of wo.photos) expect(photo.taskGroup).toMatch(/^[A-Za-z0-9_]/);
          expect(Object.getPrototypeOf(wo.metadata)).toBe(Object.prototype);
        }
      }),
      { numRuns: 300 },
    );
  });

  it.for(PROTO_NAMES)("a task group, folder or metadata field named %s is an ordinary name", (name) => {
    const p = plan(
      Object.fromEntries([
        [`WO_1/${name}.jpg`, {}],
        [`${name}/meter/a.jpg`, {}],
        ["WO_2/meter.jpg", {}],
        ["WO_2/metadata.json", { json: JSON.parse(`{"${name}": "x", "site": "S1"}`) }],
      ]),
      { metadata: { fields: { site: { type: "text" } } } },
    );
    const valid = /^[A-Za-z0-9_]+$/.test(name);
    // a valid name is a task group like any other; one outside the rule is refused with a hint, never a crash
    if (valid) expect(p.ready.find((w) => w.id === "WO_1")?.photos[0]?.taskGroup).toBe(name);
    else expect(p.refused.find((w) => w.id === "WO_1")?.problems.map((x) => x.code)).toEqual(["E_TASK_GROUP_NAME"]);
    expect(p.ready.find((w) => w.id === "WO_2")?.metadata).toEqual({ site: "S1" });
    expect(p.refused.flatMap((w) => w.problems).map((x) => x.code)).not.toContain("E_INTERNAL");
  });
});
