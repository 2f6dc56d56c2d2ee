// The lock on --out: a dead holder's lock is taken over by exactly one run, a reused pid or a reboot never
// blocks for ever, and a live holder always wins.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir, readFile, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { holderAlive, processStartTicks } from "../../src/commit/lock.js";
import { archivesIn, put, ROOT, solidJpeg, tempDir, wopack, workspace } from "../helpers.js";

const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
const deadPid = () => spawnSync("true").pid!;

describe("who holds the lock (§8)", () => {
  const me = { host: hostname(), bootId, pid: process.pid };
  const sleeper = spawn("sleep", ["60"]);
  const live = { pid: sleeper.pid!, host: hostname(), startedAt: "" };

  it.for<[string, object, boolean]>([
    ["a live process, its start time matching", { startTicks: processStartTicks(sleeper.pid!), bootId }, true],
    ["a live process in the old format (no start time)", {}, true],
    ["its pid reused by another process (start time differs)", { startTicks: 1, bootId }, false],
    ["a holder from before a reboot", { bootId: "00000000-0000-0000-0000-000000000000" }, false],
    ["a dead process", { pid: deadPid() }, false],
    ["our own pid (a restarted container's pid 1)", { pid: process.pid, startTicks: 1 }, false],
    ["a holder on another machine (cannot be checked)", { host: "elsewhere", pid: deadPid() }, true],
  ])("%s: alive is %s", ([, fields, alive]) => {
    expect(holderAlive({ ...live, ...fields }, me)).toBe(alive);
  });

  it("(stops its sleeper)", () => {
    sleeper.kill();
  });
});

/**
 * Runs `n` processes that each take the lock, hold it 30 ms and release it; returns who held it when. They
 * start at once (loaded first, then released by a clock barrier), so that they meet inside the takeover.
 */
async function race(n: number, out: string): Promise<{ pid: number; from: number; to: number }[]> {
  const go = Date.now() + 1500;
  const script = `
    const { acquireLock } = await import(${JSON.stringify(path.join(ROOT, "dist/commit/lock.js"))});
    const { appendFileSync } = await import("node:fs");
    const out = ${JSON.stringify(out)};
    await new Promise((r) => setTimeout(r, ${go} - Date.now()));
    try {
      const lock = await acquireLock(out + "/.wopack/lock", out + "/.wopack/tmp", new Date());
      const from = performance.timeOrigin + performance.now();
      await new Promise((r) => setTimeout(r, 30));
      const to = performance.timeOrigin + performance.now();
      appendFileSync(out + "/held.jsonl", JSON.stringify({ pid: process.pid, from, to }) + "\\n");
      await lock.release();
    } catch (err) {
      if (err.code !== "E_LOCKED") { console.error(err); process.exit(70); }
      process.exit(4);
    }`;
  const codes = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<number | null>((resolve) =>
          spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "inherit" }).on("close", resolve),
        ),
    ),
  );
  for (const c of codes) expect([0, 4]).toContain(c);
  const text = await readFile(path.join(out, "held.jsonl"), "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe("taking over a dead run's lock (§8)", () => {
  it("many runs racing over a stale lock: never two holders at once, and one of them gets it", async () => {
    for (let round = 0; round < 6; round++) {
      const out = await tempDir("wopack-lock-");
      await put(out, ".wopack/lock", JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: "2026-01-01T00:00:00Z" }));
      const held = (await race(8, out)).sort((a, b) => a.from - b.from);
      expect(held.length).toBeGreaterThanOrEqual(1);
      for (let i = 1; i < held.length; i++) expect(held[i]!.from, "two holders at once").toBeGreaterThanOrEqual(held[i - 1]!.to);
      expect((await readdir(path.join(out, ".wopack"))).filter((n) => n.startsWith("lock"))).toEqual([]);
      // (nor a draft, or the link of one a takeover renames over the lock)
      expect((await readdir(path.join(out, ".wopack", "tmp"))).filter((n) => n.startsWith("lock."))).toEqual([]);
    }
  });

  it("a lock whose pid now belongs to another process is taken over; a live holder is not", async () => {
    const ws = await workspace();
    await put(
      ws.staging,
      "WO_1/a.jpg",
      sharp({ create: { width: 8, height: 8, channels: 3, background: "#123" } })
        .jpeg()
        .toBuffer(),
    );
    const other = spawn("sleep", ["30"]);
    try {
      const lock = { pid: other.pid, host: hostname(), bootId, startedAt: "2026-01-01T00:00:00Z" };
      await put(ws.out, ".wopack/lock", JSON.stringify({ ...lock, startTicks: processStartTicks(other.pid!)! }));
      const blocked = await wopack(["pack", ws.staging, "--out", ws.out]);
      expect(blocked.code).toBe(4);
      expect(blocked.stderr).toContain(`pid ${other.pid}`);

      await put(ws.out, ".wopack/lock", JSON.stringify({ ...lock, startTicks: processStartTicks(other.pid!)! - 1 }));
      const run = await wopack(["pack", ws.staging, "--out", ws.out]);
      expect(run.code, run.stderr).toBe(0);
      expect(await archivesIn(ws.out)).toHaveLength(1);
    } finally {
      other.kill();
    }
  });

  it("a takeover left half-done by a crash does not block the next run", async () => {
    const ws = await workspace();
    await put(
      ws.staging,
      "WO_1/a.jpg",
      sharp({ create: { width: 8, height: 8, channels: 3, background: "#321" } })
        .jpeg()
        .toBuffer(),
    );
    const stale = JSON.stringify({ pid: deadPid(), host: hostname(), bootId, startedAt: "2026-01-01T00:00:00Z" });
    await put(ws.out, ".wopack/lock", stale);
    // the run that was taking it over died holding the takeover token for that stale holder
    const token = `lock.takeover.${createHash("sha256").update(stale).digest("hex").slice(0, 16)}`;
    await put(ws.out, `.wopack/${token}`, JSON.stringify({ pid: deadPid(), host: hostname(), bootId, startedAt: "" }));
    const run = await wopack(["pack", ws.staging, "--out", ws.out]);
    expect(run.code, run.stderr).toBe(0);
    expect(await archivesIn(ws.out)).toHaveLength(1);
    expect((await readdir(path.join(ws.out, ".wopack"))).filter((n) => n.startsWith("lock"))).toEqual([]);
  });
});

describe("the holder drafts a killed run leaves in .wopack/tmp", () => {
  it("the next run removes a dead holder's draft and one never written, and keeps a live or unknowable one's", async () => {
    const sleeper = spawn("sleep", ["60"]);
    try {
      const ws = await workspace();
      await put(ws.staging, "WO_1/a.jpg", solidJpeg("#123", 8, 8));
      const tmp = path.join(ws.out, ".wopack", "tmp");
      const holder = (fields: object) =>
        JSON.stringify({ pid: deadPid(), host: hostname(), startedAt: "", nonce: "n", ...fields });
      const drafts: [string, string, boolean, number?][] = [
        // name, content, kept; an age in seconds for an empty draft
        ["lock.dead", holder({ bootId }), false],
        ["lock.reused-pid", holder({ pid: sleeper.pid, startTicks: 1, bootId }), false],
        ["lock.before-reboot", holder({ pid: sleeper.pid, bootId: "00000000-0000-0000-0000-000000000000" }), false],
        ["lock.empty-old", "", false, 120],
        ["lock.half-written-old", '{"pid": 12', false, 120],
        ["lock.live", holder({ pid: sleeper.pid, startTicks: processStartTicks(sleeper.pid!), bootId }), true],
        ["lock.elsewhere", holder({ host: "another-machine" }), true],
        ["lock.empty-fresh", "", true, 1],
      ];
      for (const [name, text, , ageS] of drafts) {
        const file = await put(tmp, name, text);
        if (ageS) await utimes(file, Date.now() / 1000 - ageS, Date.now() / 1000 - ageS);
      }
      const run = await wopack(["pack", ws.staging, "--out", ws.out]);
      expect(run.code, run.stderr).toBe(0);
      const left = (await readdir(tmp)).filter((n) => n.startsWith("lock.")).sort();
      expect(left).toEqual(
        drafts
          .filter(([, , kept]) => kept)
          .map(([name]) => name)
          .sort(),
      );
    } finally {
      sleeper.kill();
    }
  });
});
