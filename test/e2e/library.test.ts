// Issue 23 / SPEC §11: the library is used the way a user's script uses it — `import … from "wopack"` in a
// script of its own, run by Node — and does what the CLI does with the same config: the library works out
// the effective settings itself (settingsFor), the CLI only passes its flags over them.
import { spawn } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { archivesIn, put, ROOT, readZip, solidJpeg, wopack, workspace } from "../helpers.js";

/** Runs an ES module script beside a node_modules/wopack that is this package, as an installed one would be. */
async function script(dir: string, source: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  await mkdir(path.join(dir, "node_modules"), { recursive: true });
  await symlink(ROOT, path.join(dir, "node_modules", "wopack")).catch(() => undefined);
  const file = path.join(dir, `script-${Math.random().toString(36).slice(2)}.mjs`);
  await writeFile(file, source);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function threeWorkOrders(staging: string): Promise<void> {
  for (const id of ["WO_1", "WO_2", "WO_3"]) await put(staging, `${id}/meter/a.jpg`, solidJpeg());
}

describe('the library, as a script imports it ("wopack")', () => {
  it("exports every entry point SPEC §11 names, and settingsFor", async () => {
    const ws = await workspace();
    const run = await script(
      ws.dir,
      `import * as w from "wopack";
       const names = ["pack", "watch", "validate", "upload", "status", "prune", "loadConfig", "settingsFor"];
       console.log(JSON.stringify(Object.fromEntries(names.map((n) => [n, typeof w[n]]))));`,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      pack: "function",
      watch: "function",
      validate: "function",
      upload: "function",
      status: "function",
      prune: "function",
      loadConfig: "function",
      settingsFor: "function",
    });
  });

  it("pack({ config }) splits archives as the config says, as wopack pack --config does", async () => {
    const config = { archive: { maxWorkOrders: 1 } };
    const viaLibrary = await workspace();
    await threeWorkOrders(viaLibrary.staging);
    const run = await script(
      viaLibrary.dir,
      `import { pack, parseConfig } from "wopack";
       const r = await pack({ staging: ${JSON.stringify(viaLibrary.staging)}, out: ${JSON.stringify(viaLibrary.out)}, config: parseConfig(${JSON.stringify(config)}) });
       console.log(JSON.stringify(r.archives.map((a) => a.workOrders.length)));`,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([1, 1, 1]);

    const viaCli = await workspace();
    await threeWorkOrders(viaCli.staging);
    const configFile = await put(viaCli.dir, "wopack.config.json", JSON.stringify(config));
    const cli = await wopack(["pack", viaCli.staging, "--out", viaCli.out, "--config", configFile]);
    expect(cli.code, cli.stderr).toBe(0);
    const archives = await archivesIn(viaCli.out);
    expect(archives).toHaveLength(3);
    expect(await archivesIn(viaLibrary.out)).toHaveLength(3);
    // one work order each, read back by a reader that is not the writer
    for (const a of archives) expect(new Set((await readZip(a)).map((e) => e.name.split("/")[0])).size).toBe(1);
    // an explicit option still wins over the config, as a flag does
    const over = await workspace();
    await threeWorkOrders(over.staging);
    const overRun = await script(
      over.dir,
      `import { pack, parseConfig } from "wopack";
       const r = await pack({ staging: ${JSON.stringify(over.staging)}, out: ${JSON.stringify(over.out)}, config: parseConfig(${JSON.stringify(config)}), maxWorkOrders: 3 });
       console.log(JSON.stringify(r.archives.map((a) => a.workOrders.length)));`,
    );
    expect(JSON.parse(overRun.stdout)).toEqual([3]);
  });

  it("watch({ config, signal }) waits for the config's ready marker, and resolves once signal aborts", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_READY/meter/a.jpg", solidJpeg());
    await put(ws.staging, "WO_READY/.done", "");
    await put(ws.staging, "WO_COPYING/meter/a.jpg", solidJpeg());
    const run = await script(
      ws.dir,
      `import { watch, parseConfig } from "wopack";
       const controller = new AbortController();
       const packed = [];
       const summary = await watch({
         staging: ${JSON.stringify(ws.staging)},
         out: ${JSON.stringify(ws.out)},
         config: parseConfig({ watch: { readyMarker: ".done" } }),
         signal: controller.signal,
         onEvent: (e) => {
           if (e.event === "packed") packed.push(...e.workOrders);
           // the pass that packed what was ready is over: stop
           if (e.event === "packed") setTimeout(() => controller.abort(), 300);
         },
       });
       console.log(JSON.stringify({ packed, summary: typeof summary }));`,
    );
    expect(run.code, run.stderr).toBe(0);
    const said = JSON.parse(run.stdout);
    // the marker came from the config (through the library, with no flag): the folder without it waits,
    // and with a marker watch does not also wait 30 s for the folder to settle
    expect(said.packed).toEqual(["WO_READY"]);
    expect(said.summary).toBe("object");
  });

  it("settingsFor is what --print-config prints, for pack and watch alike", async () => {
    const ws = await workspace();
    const config = { archive: { maxWorkOrders: 4 }, images: { maxDimension: 2000 }, watch: { poll: true, readyMarker: ".ok" } };
    const configFile = await put(ws.dir, "wopack.config.json", JSON.stringify(config));
    for (const command of ["pack", "watch"] as const) {
      const cli = await wopack([
        command,
        ws.staging,
        "--out",
        ws.out,
        "--config",
        configFile,
        "--max-work-orders",
        "2",
        "--settle",
        "5s",
        "--print-config",
      ]);
      expect(cli.code, cli.stderr).toBe(0);
      const run = await script(
        ws.dir,
        `import { settingsFor, parseConfig } from "wopack";
         console.log(JSON.stringify(settingsFor(${JSON.stringify(command)}, parseConfig(${JSON.stringify(config)}), { maxWorkOrders: 2, settleMs: 5000 }).config));`,
      );
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(cli.stdout).config, command).toEqual(JSON.parse(run.stdout));
      expect(JSON.parse(run.stdout).archive.maxWorkOrders).toBe(2);
      expect(JSON.parse(run.stdout).watch.settle).toBe(5000);
    }
  });
});
