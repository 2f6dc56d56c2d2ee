// The layout's one rule, checked over src/: a stage imports only from its own folder or from folders
// below it, so the pipeline reads top down and no two stages depend on each other.
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers.js";

/** Each folder of src/ and its floor: a folder may import from lower floors only (and from itself). */
const FLOORS: Record<string, number> = {
  core: 0, // errors, shared types, small helpers
  spec: 1, // the format's rules, pure
  config: 2,
  archive: 3, // zip writing and reading back
  commit: 3, // lock, ledger, recovery, moves, hooks
  convert: 3, // sniffing, decoding, JPEG encoding
  scan: 4,
  checks: 4, // what the pixels say about a photo (SPEC §15), the index of packed pictures
  plan: 5, // pure
  prepare: 6,
  validate: 6,
  upload: 6, // the platform's protocol and one archive's upload
  serve: 6, // watch --http: the status page, /healthz, /metrics (read-only)
  review: 6, // an archive's review page (HTML), from the spool or from the zip
  run: 7, // the only modules that compose stages
  cli: 8,
  "index.ts": 9,
};

async function imports(): Promise<{ from: string; to: string }[]> {
  const src = path.join(ROOT, "src");
  const files = (await readdir(src, { recursive: true })).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
  const edges: { from: string; to: string }[] = [];
  for (const file of files) {
    const text = await readFile(path.join(src, file), "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = path.normalize(path.join(path.dirname(file), m[1]!));
      edges.push({ from: file.split(path.sep).join("/"), to: target.split(path.sep).join("/") });
    }
  }
  return edges;
}

const folderOf = (file: string) => file.split("/")[0]!;

/** The imports that run from a folder to another on the same floor or higher. */
function upward(edges: { from: string; to: string }[]): { from: string; to: string }[] {
  return edges.filter(({ from, to }) => {
    const [a, b] = [folderOf(from), folderOf(to)];
    return a !== b && FLOORS[b]! >= FLOORS[a]!;
  });
}

/** Import circles among files (inside one folder too): each as the files around it, or none. */
function circles(edges: { from: string; to: string }[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to.replace(/\.js$/, ".ts")]);
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (file: string, trail: string[]) => {
    const at = trail.indexOf(file);
    if (at >= 0) return void found.push(trail.slice(at));
    if (done.has(file)) return;
    for (const to of next.get(file) ?? []) visit(to, [...trail, file]);
    done.add(file);
  };
  for (const file of next.keys()) visit(file, []);
  return found;
}

describe("the layout (docs/architecture.md)", () => {
  it("every folder of src/ has a floor", async () => {
    const folders = new Set((await imports()).flatMap((e) => [folderOf(e.from), folderOf(e.to)]));
    expect([...folders].filter((f) => !(f in FLOORS))).toEqual([]);
  });

  it("imports run one way: from a folder to itself or to a lower floor", async () => {
    expect(upward(await imports()).map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it("no import circles, inside a folder either", async () => {
    expect(circles(await imports())).toEqual([]);
    expect(
      circles([
        { from: "convert/a.ts", to: "convert/b.js" },
        { from: "convert/b.ts", to: "convert/a.js" },
      ]),
    ).toEqual([["convert/a.ts", "convert/b.ts"]]);
  });

  it("no two modules share a name, in whatever folders (a newcomer finds the one they look for)", async () => {
    const files = (await readdir(path.join(ROOT, "src"), { recursive: true })).filter(
      (f) => f.endsWith(".ts") && !f.endsWith(".d.ts"),
    );
    const byName = new Map<string, string[]>();
    for (const f of files) byName.set(path.basename(f), [...(byName.get(path.basename(f)) ?? []), f]);
    expect([...byName.values()].filter((same) => same.length > 1)).toEqual([]);
  });

  it("the CLI is a table of commands, one module each, which never import each other", async () => {
    const dir = path.join(ROOT, "src", "cli", "commands");
    const modules = (await readdir(dir)).filter((f) => f.endsWith("Command.ts"));
    const table = await readFile(path.join(ROOT, "src", "cli", "commandTable.ts"), "utf8");
    for (const m of modules) {
      const name = m.replace(/\.ts$/, "");
      expect(table, `commandTable.ts lists ${name}`).toContain(`(await import("./commands/${name}.js")).${name}`);
      const text = await readFile(path.join(dir, m), "utf8");
      expect(text.match(/from "\.\/[^"]*Command\.js"/g) ?? [], m).toEqual([]);
    }
    expect(modules.length).toBeGreaterThanOrEqual(9);
  });

  it("sharp and exifr are loaded on first use (convert/onFirstUse.ts), never imported at a module's top", async () => {
    const src = path.join(ROOT, "src");
    const files = (await readdir(src, { recursive: true })).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
    const found: string[] = [];
    for (const file of files) {
      const text = await readFile(path.join(src, file), "utf8");
      // (a type import is erased; `import("sharp")` in onFirstUse.ts is the one load)
      for (const m of text.matchAll(/^import (?!type )[^;]*from\s*["'](sharp|exifr)["']/gm)) found.push(`${file}: ${m[1]}`);
      if (!file.endsWith("onFirstUse.ts") && /\bimport\(\s*["'](sharp|exifr)["']/.test(text)) found.push(`${file}: import()`);
    }
    expect(found).toEqual([]);
  });

  it("the check sees a wrong import (a planted one is caught)", () => {
    const planted = [
      { from: "plan/plan.ts", to: "run/pack.js" },
      { from: "spec/names.ts", to: "spec/ignore.js" },
    ];
    expect(upward(planted)).toEqual([planted[0]]);
  });
});
