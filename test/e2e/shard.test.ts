import { spawn } from "node:child_process";
import { mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { shardScan } from "../../src/plan/group.js";
import type { StagingScan } from "../../src/scan/scan.js";
import { parseShard, shardOf, shardTag } from "../../src/spec/shard.js";
import { archivesIn, BIN, noiseJpeg, put, readZip, tempDir, waitFor, wopack } from "../helpers.js";
import { Watcher } from "../watcher.js";

describe("which shard packs which work order (spec/shard.ts)", () => {
  it("is pinned: the same ids fall to the same shards on every machine and every Node version", () => {
    const ids = ["WO_1", "WO_2", "WO_10", "4500123456", "Bestellung-Müller", "wo_a", "A", "x".repeat(128)];
    expect(ids.map((id) => shardOf(id, 3))).toEqual([1, 1, 1, 2, 1, 1, 0, 2]);
    expect(ids.map((id) => shardOf(id, 7))).toEqual([0, 6, 0, 6, 3, 2, 4, 2]);
    expect(ids.map((id) => shardOf(id, 1))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("spreads work orders evenly", () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[shardOf(`WO_${String(i).padStart(5, "0")}`, 3)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(850);
  });

  it.each([
    ["0/1", { index: 0, count: 1 }],
    ["2/3", { index: 2, count: 3 }],
    [" 1/3 ", { index: 1, count: 3 }],
    ["999/1000", { index: 999, count: 1000 }],
  ])("reads %j", (text, shard) => {
    expect(parseShard(text)).toEqual(shard);
    expect(shardTag(shard)).toBe(`s${shard.index}of${shard.count}`);
  });

  it.each(["3/3", "-1/3", "1/0", "a/3", "1/3/4", "1/1001", "", "1.5/3", "1 / 3"])("refuses %j", (text) => {
    expect(parseShard(text)).toBeUndefined();
  });

  it("splits a staging folder into disjoint parts that add up to it; a stray root file goes to shard 0 only", () => {
    const file = (rel: string) => ({ rel, kind: "file" as const, size: 1, mtimeMs: 0, ctimeMs: 0, abs: `/s/${rel}` });
    const ids = Array.from({ length: 30 }, (_, i) => `WO_${i}`);
    const scan = {
      root: "/s",
      folders: ids.map((rel) => ({ rel, mtimeMs: 0 })),
      entries: [
        ...ids.flatMap((id) => [file(`${id}/meter/a.jpg`), file(`${id}/meter/.DS_Store`)]),
        file("WO_7__meter.jpg"), // a root file that names its work order
        file("stray.jpg"),
      ],
    } as unknown as StagingScan;
    const parts = [0, 1, 2].map((index) => shardScan(scan, {}, { index, count: 3 }));
    const all = parts.flatMap((p) => p.entries.map((e) => e.rel)).sort();
    expect(all).toEqual(scan.entries.map((e) => e.rel).sort());
    expect(new Set(all).size).toBe(all.length);
    expect(parts.flatMap((p) => p.folders.map((f) => f.rel)).sort()).toEqual([...ids].sort());
    expect(parts[0]!.entries.map((e) => e.rel)).toContain("stray.jpg");
    const seven = parts[shardOf("WO_7", 3)]!.entries.map((e) => e.rel);
    expect(seven).toEqual(expect.arrayContaining(["WO_7/meter/a.jpg", "WO_7__meter.jpg"]));
    for (const [i, p] of parts.entries()) for (const f of p.folders) expect(shardOf(f.rel, 3), `${f.rel} in shard ${i}`).toBe(i);
    expect(shardScan(scan, {}, undefined)).toBe(scan);
  });
});

/** Which work orders each archive in these outs holds, read with yauzl: id -> archive names. */
async function packedBy(outs: string[]): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for (const out of outs) {
    for (const zip of await archivesIn(out)) {
      const ids = new Set((await readZip(zip)).map((e) => e.name.split("/")[0]!));
      for (const id of ids) found.set(id, [...(found.get(id) ?? []), path.basename(zip)]);
    }
  }
  return found;
}

async function stage300(count = 300): Promise<{ dir: string; staging: string; ids: string[] }> {
  const dir = await tempDir();
  const staging = path.join(dir, "staging");
  const photo = await noiseJpeg(320, 240, 3, 80);
  const ids = Array.from({ length: count }, (_, i) => `WO_${String(i).padStart(3, "0")}`);
  for (const id of ids) await put(staging, `${id}/meter_reading/IMG_1.jpg`, photo);
  return { dir, staging, ids };
}

describe("three shards over one staging folder (pack --shard)", () => {
  it("pack every work order exactly once, each into its own outbox, moving only their own", async () => {
    const { dir, staging, ids } = await stage300();
    const outs = [0, 1, 2].map((i) => path.join(dir, `out-${i}`));
    const processed = path.join(dir, "processed");
    const runs = await Promise.all(
      outs.map((out, i) =>
        wopack(["pack", staging, "--out", out, "--shard", `${i}/3`, "--move-to", processed, "--max-work-orders", "25", "--json"]),
      ),
    );
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    const packed = await packedBy(outs);
    expect([...packed.keys()].sort()).toEqual(ids);
    for (const [id, archives] of packed) {
      expect(archives, id).toHaveLength(1);
      expect(archives[0], id).toMatch(new RegExp(`^batch-\\d{8}T\\d{6}Z-s${shardOf(id, 3)}of3-\\d+\\.zip$`));
    }
    // each shard's report names its own work orders only, and each moved what it packed
    for (const [i, run] of runs.entries()) {
      const result = JSON.parse(run.stdout) as { packed: { id: string }[] };
      for (const wo of result.packed) expect(shardOf(wo.id, 3)).toBe(i);
    }
    expect((await readdir(processed)).sort()).toEqual(ids);
    expect(await readdir(staging)).toEqual([]);
  });

  it("a shard killed with kill -9 and started again finishes its part, and nothing is packed twice", async () => {
    const { dir, staging, ids } = await stage300();
    const outs = [0, 1, 2].map((i) => path.join(dir, `out-${i}`));
    const processed = path.join(dir, "processed");
    const args = (i: number) => [
      "pack",
      staging,
      "--out",
      outs[i]!,
      "--shard",
      `${i}/3`,
      "--move-to",
      processed,
      "--max-work-orders",
      "5",
    ];
    const others = Promise.all([0, 2].map((i) => wopack(args(i))));
    const victim = spawn(process.execPath, [BIN, ...args(1)], { stdio: "ignore" });
    const exited = new Promise((resolve) => victim.on("exit", resolve));
    await waitFor(
      async () => (await readdir(outs[1]!).catch(() => [])).some((n) => n.endsWith(".zip")),
      "shard 1's first archive",
    );
    victim.kill("SIGKILL");
    await exited;
    expect((await readdir(path.join(staging))).length).toBeGreaterThan(0);
    const again = await wopack(args(1));
    expect(again.code, again.stderr).toBe(0);
    for (const run of await others) expect(run.code, run.stderr).toBe(0);
    const packed = await packedBy(outs);
    expect([...packed.keys()].sort()).toEqual(ids);
    for (const [id, archives] of packed) expect(archives, id).toHaveLength(1);
    expect((await readdir(processed)).sort()).toEqual(ids);
    // and the restarted shard's ledger holds each of its work orders once
    const ledger = (await readFile(path.join(outs[1]!, ".wopack", "ledger.jsonl"), "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; id?: string })
      .filter((r) => r.type === "commit");
    expect(new Set(ledger.map((r) => r.id)).size).toBe(ledger.length);
  });

  it("refuses a malformed --shard before anything is written", async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, "staging"));
    const run = await wopack(["pack", path.join(dir, "staging"), "--out", path.join(dir, "out"), "--shard", "3/3"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--shard "3\/3": <i>\/<n>/);
    expect(await readdir(dir)).toEqual(["staging"]);
  });
});

describe("three watch shards over one staging folder while work orders keep arriving (watch --shard)", () => {
  it("pack each work order exactly once, each shard its own", async () => {
    const dir = await tempDir();
    const staging = path.join(dir, "staging");
    await mkdir(staging);
    const outs = [0, 1, 2].map((i) => path.join(dir, `out-${i}`));
    const watchers = outs.map((out, i) => new Watcher([staging, "--out", out, "--shard", `${i}/3`, "--settle", "300ms"]));
    const photo = await noiseJpeg(160, 120, 5, 80);
    const ids: string[] = [];
    try {
      for (const w of watchers) await w.until("started", (x) => x.events.some((e) => e.event === "started"));
      for (let wave = 0; wave < 3; wave++) {
        for (let i = 0; i < 20; i++) {
          const id = `WO_${wave}_${String(i).padStart(2, "0")}`;
          ids.push(id);
          await put(staging, `${id}/meter_reading/IMG_1.jpg`, photo);
        }
        await new Promise((r) => setTimeout(r, 400)); // the next wave lands while this one is packed
      }
      const all = () => new Set(watchers.flatMap((w) => w.packedIds()));
      await waitFor(() => ids.every((id) => all().has(id)), "every work order packed by some shard", 60_000);
    } finally {
      for (const w of watchers) await w.stop();
    }
    for (const [i, w] of watchers.entries()) for (const id of w.packedIds()) expect(shardOf(id, 3), id).toBe(i);
    const packed = await packedBy(outs);
    expect([...packed.keys()].sort()).toEqual([...ids].sort());
    for (const [id, archives] of packed) expect(archives, id).toHaveLength(1);
    expect((await readdir(path.join(dir, "processed"))).sort()).toEqual([...ids].sort());
  });
});

describe("changing the number of shards between nights (no --move-to)", () => {
  it("packs nothing twice: each shard also reads the ledgers beside its --out", async () => {
    const { dir, staging, ids } = await stage300(60);
    const outbox = path.join(dir, "outbox");
    const night = (n: number) =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          wopack(["pack", staging, "--out", path.join(outbox, `n${n}-s${i}`), "--shard", `${i}/${n}`, "--json"]),
        ),
      );
    for (const run of await night(2)) expect(run.code, run.stderr).toBe(0);
    const second = await night(3);
    for (const run of second) {
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as { packed: unknown[]; alreadyPacked: unknown[] };
      expect(result.packed).toEqual([]);
    }
    const all = [...(await readdir(outbox))].map((o) => path.join(outbox, o));
    const packed = await packedBy(all);
    expect([...packed.keys()].sort()).toEqual(ids);
    for (const [id, archives] of packed) expect(archives, id).toHaveLength(1);
    // a work order whose photo changed since is packed again, by its new shard
    await put(staging, "WO_007/meter_reading/IMG_1.jpg", await noiseJpeg(320, 240, 9, 80));
    const third = await night(3);
    const again = third.flatMap((run) => (JSON.parse(run.stdout) as { packed: { id: string }[] }).packed.map((w) => w.id));
    expect(again).toEqual(["WO_007"]);
  });
});
