// What the CLI knows of the config without zod (src/config/defaults.ts) is what the schema says: a run with
// no config file gets configSchema.parse({}), and a flag zod would check is never let through unchecked.
import { describe, expect, it } from "vitest";
import { CHECKED_FLAGS, defaultConfig } from "../../src/config/defaults.js";
import { loadConfig } from "../../src/config/find.js";
import { configSchema, flagsSchema } from "../../src/config/schema.js";
import { tempDir } from "../helpers.js";

describe("the config without zod", () => {
  it("the defaults are configSchema.parse({}), a new copy each time", async () => {
    expect(defaultConfig()).toStrictEqual(configSchema.parse({}));
    const a = defaultConfig();
    a.images.checks.reuse.maxDistance = 99;
    a.aliases.x = "y";
    expect(defaultConfig()).toStrictEqual(configSchema.parse({}));
    const loaded = await loadConfig({ cwd: await tempDir("wopack-defaults-") });
    expect(loaded).toStrictEqual({ config: configSchema.parse({}), path: null });
  });

  it("the flags checked are flagsSchema's keys, every one", () => {
    expect([...CHECKED_FLAGS].sort()).toEqual(Object.keys(flagsSchema.shape).sort());
  });
});
