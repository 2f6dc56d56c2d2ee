import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers.js";

async function sources(): Promise<[string, string][]> {
  const dir = path.join(ROOT, "src");
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith(".ts"));
  return Promise.all(files.map(async (f) => [f, await readFile(path.join(dir, f), "utf8")] as [string, string]));
}

describe("rules the code keeps", () => {
  it("exifr is only given options objects made once: it caches every options object it sees, for ever", async () => {
    // A literal per call leaked ~12 KB per photo (peak RSS for 10,000 photos: 266 MB -> 188 MB once fixed).
    const offenders = (await sources()).flatMap(([file, text]) =>
      [...text.matchAll(/exifr\.\w+\([^)]*\{/g)].map((m) => `${file}: ${m[0]}`),
    );
    expect(offenders).toEqual([]);
  });
});

describe("one fact, one place", () => {
  // Codes two modules report on purpose, each with the hint its situation needs: the planner merges a
  // work order's metadata from defaults, the sidecar and metadata.json (and can leave a field out);
  // validate checks an archive's final metadata.json, which can only be edited.
  const differentSituations = new Set(["E_METADATA_REQUIRED", "E_METADATA_TYPE", "W_METADATA_UNKNOWN_FIELD"]);

  it("each problem code is worded in one module (rules shared by stages live in spec/problems.ts)", async () => {
    const where = new Map<string, Set<string>>();
    for (const [file, text] of await sources()) {
      const built = [
        ...text.matchAll(/problem\(\s*"([EW]_[A-Z0-9_]+)"/g),
        ...text.matchAll(/[{\n]\s*code: "([EW]_[A-Z0-9_]+)",\s*message:/g),
        ...text.matchAll(/new WopackError\(\s*"\w+",\s*"([EW]_[A-Z0-9_]+)"/g),
      ].map((m) => m[1]!);
      for (const code of built) where.set(code, (where.get(code) ?? new Set()).add(file));
    }
    expect(where.size).toBeGreaterThan(50); // the patterns still find what they are meant to
    const twice = [...where].filter(([code, files]) => files.size > 1 && !differentSituations.has(code));
    expect(twice.map(([code, files]) => `${code}: ${[...files].join(", ")}`)).toEqual([]);
  });
});
