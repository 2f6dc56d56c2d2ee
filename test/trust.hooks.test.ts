// Hooks and long waits cannot wedge a run; a run that fails half-way says exactly what it committed.
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { archivesIn, BIN, noiseJpeg, put, readZip, waitFor, wopack, workspace } from "./helpers.js";

async function staging(workOrders = 1) {
  const ws = await workspace();
  const photo = await noiseJpeg(200, 150);
  for (let i = 0; i < workOrders; i++) await put(ws.staging, `WO_${i}/meter/a.jpg`, photo);
  return ws;
}

/** A hook script; `tag` marks its processes so that the test can look for survivors. */
async function hook(dir: string, body: string): Promise<string> {
  const file = await put(dir, "hook.sh", `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

const running = (tag: string) => spawnSync("pgrep", ["-f", tag]).status === 0;

describe("--on-archive cannot wedge a run (§4, §8)", () => {
  it("a hook that never exits is stopped after --on-archive-timeout, its children too; the archive is kept (exit 1)", async () => {
    const ws = await staging();
    const tag = `sleep 4242${process.pid}`;
    const script = await hook(ws.dir, `${tag} &\n${tag}`);
    const started = Date.now();
    const run = await wopack([
      "pack",
      ws.staging,
      "--out",
      ws.out,
      "--on-archive",
      script,
      "--on-archive-timeout",
      "1s",
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    const result = JSON.parse(run.stdout);
    expect(result.hooks[0]).toMatchObject({ ok: false, killed: "timeout" });
    expect(result.hooks[0].output).toContain("stopped after 1s");
    expect(await archivesIn(ws.out)).toHaveLength(1);
    await waitFor(() => !running(tag), "the hook's children to be gone", 10_000);
  });

  it("SIGTERM while a hook runs: the hook's process group is stopped and the run exits promptly, lock released", async () => {
    const ws = await staging();
    const tag = `sleep 4343${process.pid}`;
    const script = await hook(ws.dir, `${tag} &\n${tag}`);
    const child = spawn(process.execPath, [BIN, "pack", ws.staging, "--out", ws.out, "--on-archive", script], {
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((r) => child.on("close", r));
    await waitFor(() => running(tag), "the hook to start");
    const stoppedAt = Date.now();
    child.kill("SIGTERM");
    const code = await exited;
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    expect([1, 130]).toContain(code);
    await waitFor(() => !running(tag), "the hook's children to be gone", 10_000);
    expect(await readdir(path.join(ws.out, ".wopack"))).not.toContain("lock");
    expect(await archivesIn(ws.out)).toHaveLength(1);
  });

  it("a hook that prints 8 MB and reads its stdin runs to the end: output is streamed, stdin is closed", async () => {
    const ws = await staging();
    const script = await hook(ws.dir, 'cat\nhead -c 8000000 /dev/zero | tr "\\\\0" "x" | fold -w 100\necho\necho "uploaded $1"');
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--on-archive", script, "--json"]);
    expect(run.code, run.stderr.slice(-500)).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.hooks[0].ok).toBe(true);
    expect(result.hooks[0].output.split("\n").length).toBeLessThanOrEqual(20);
    expect(result.hooks[0].output).toMatch(/uploaded .*\.zip$/);
    expect(run.stderr).toContain("--on-archive: uploaded");
  });
});

describe("a split run that fails half-way (§8, §9)", () => {
  it("disk full on the second archive: exit 3, the first stays committed and is named; a rerun finishes the rest once", async (ctx) => {
    const ws = await staging(6);
    await mkdir(ws.out);
    // each work order is ~0.1 MB; two per archive; 300 kB of disk fits the first archive and not the rest
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=300k", "tmpfs", ws.out]).status !== 0) ctx.skip();
    let committed: string[];
    try {
      const run = await wopack(["pack", ws.staging, "--out", ws.out, "--max-work-orders", "2", "--json"]);
      expect(run.code).toBe(3);
      expect(run.stderr).toContain("E_IO_ENOSPC");
      expect(run.stderr).toContain("committed before the failure, and kept");
      const result = JSON.parse(run.stdout);
      expect(result.error.code).toBe("E_IO_ENOSPC");
      expect(result.committed.length).toBeGreaterThanOrEqual(1);
      const zips = await archivesIn(ws.out);
      expect(result.committed.map((c: { path: string }) => c.path)).toEqual(zips);
      for (const c of result.committed) expect(run.stderr).toContain(c.path);
      committed = result.committed.flatMap((c: { workOrders: string[] }) => c.workOrders);
      expect(committed.length).toBeLessThan(6);
      for (const zip of zips) await readZip(zip);

      // room again: the rerun packs what was not committed, and nothing twice
      expect(spawnSync("mount", ["-o", "remount,size=8m", ws.out]).status).toBe(0);
      const rerun = await wopack(["pack", ws.staging, "--out", ws.out, "--max-work-orders", "2"]);
      expect(rerun.code, rerun.stderr).toBe(0);
      const counts: Record<string, number> = {};
      for (const zip of await archivesIn(ws.out))
        for (const id of new Set((await readZip(zip)).map((e) => e.name.split("/")[0]!))) counts[id] = (counts[id] ?? 0) + 1;
      expect(counts).toEqual(Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`WO_${i}`, 1])));
    } finally {
      spawnSync("umount", [ws.out]);
    }
  });
});
