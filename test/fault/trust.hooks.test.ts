// Hooks and long waits cannot wedge a run; a run that fails half-way says exactly what it committed.
import { spawn, spawnSync } from "node:child_process";
import { chmod, mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { archivesIn, BIN, noiseJpeg, put, readZip, waitFor, wopack, workspace } from "../helpers.js";

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
      // (--json: the log stays JSON; its error line lists what was committed before the failure)
      expect(JSON.parse(run.stderr.trim().split("\n").at(-1)!).committed.length).toBeGreaterThan(0);
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

describe("--on-archive failures are remembered and run again (issue 11)", () => {
  it("a failed hook is retried with --on-archive-retries; one that still fails is run again by `upload --hooks`, once it works", async () => {
    const ws = await staging(2);
    const calls = path.join(ws.dir, "calls.log");
    // fails on its first call for each archive, succeeds on the next: a flaky upload script
    const flaky = await hook(ws.dir, `echo "$1" >> ${calls}\n[ "$(grep -c "$1" ${calls})" -ge 2 ]`);
    const retried = await wopack([
      "pack",
      ws.staging,
      "--out",
      ws.out,
      "--max-work-orders",
      "1",
      "--on-archive",
      flaky,
      "--on-archive-retries",
      "1",
      "--json",
    ]);
    expect(retried.code, retried.stderr).toBe(0);
    expect(JSON.parse(retried.stdout).hooks.map((h: { ok: boolean }) => h.ok)).toEqual([true, true]);
    const { readFile } = await import("node:fs/promises");
    expect((await readFile(calls, "utf8")).trim().split("\n")).toHaveLength(4);

    // a broken hook for new work: the archive is kept and the failure is written down
    await put(ws.staging, "WO_9/meter/a.jpg", await noiseJpeg(200, 150, 9));
    const broken = await hook(path.join(ws.dir, "b"), "exit 3");
    const failed = await wopack(["pack", ws.staging, "--out", ws.out, "--on-archive", broken]);
    expect(failed.code).toBe(1);
    const [, , third] = (await archivesIn(ws.out)).sort();

    // fixed: `upload --hooks` runs the command again for that archive only (no platform configured)
    const seen = path.join(ws.dir, "seen.log");
    const fixed = await hook(path.join(ws.dir, "c"), `echo "$1" >> ${seen}`);
    const again = await wopack(["upload", ws.out, "--hooks", "--on-archive", fixed], {
      env: { WOPACK_API_URL: "", WOPACK_API_KEY: "" },
    });
    expect(again.code, again.stderr).toBe(0);
    expect((await readFile(seen, "utf8")).trim()).toBe(third);
    const nothing = await wopack(["upload", ws.out, "--hooks", "--on-archive", fixed], {
      env: { WOPACK_API_URL: "", WOPACK_API_KEY: "" },
    });
    expect(nothing.stdout).toMatch(/every one succeeded/);
  });
});
