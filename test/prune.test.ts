// Issue 13: `wopack prune` — retention for what is done: a dry run by default; never anything not
// committed, never an archive not uploaded once the outbox uploads at all; recent work kept.
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appendUploads } from "../src/commit/uploads.js";
import { parseConfig } from "../src/config/load.js";
import { pack } from "../src/run/pack.js";
import { archivesIn, put, snapshot, solidJpeg, wopack, workspace } from "./helpers.js";

const DAY = 86_400_000;

describe("wopack prune", () => {
  it("says what would go, keeps what is not uploaded or not committed, and deletes only with --delete", async () => {
    const ws = await workspace();
    const processed = path.join(ws.dir, "processed");
    const config = parseConfig({});
    // two work orders committed 40 days ago, one archive each; one today
    await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg());
    await put(ws.staging, "WO_2/meter/a.jpg", solidJpeg());
    const longAgo = new Date(Date.now() - 40 * DAY);
    await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config, maxWorkOrders: 1, now: () => longAgo });
    await put(ws.staging, "WO_3/meter/a.jpg", solidJpeg());
    await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config });
    const [old1, old2, recent] = await archivesIn(ws.out);
    expect(recent).toBeDefined();
    // a folder someone put in processed/ by hand: never committed from this outbox
    await mkdir(path.join(processed, "WO_stranger"));
    const before = await snapshot(ws.dir);

    const dry = await wopack(["prune", ws.out, "--older-than", "30d", "--processed", processed, "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout);
    expect(planned.dryRun).toBe(true);
    expect(planned.pruned.map((p: { path: string }) => path.relative(ws.dir, p.path)).sort()).toEqual(
      [
        `out/${path.basename(old1!)}`,
        `out/${path.basename(old1!)}.report.json`,
        `out/${path.basename(old1!, ".zip")}.html`,
        `out/${path.basename(old2!)}`,
        `out/${path.basename(old2!)}.report.json`,
        `out/${path.basename(old2!, ".zip")}.html`,
        "processed/WO_1",
        "processed/WO_2",
      ].sort(),
    );
    expect(planned.kept).toEqual([
      { path: path.join(processed, "WO_stranger"), reason: expect.stringMatching(/never committed/) },
    ]);
    expect(await snapshot(ws.dir)).toEqual(before); // a dry run touches nothing

    // once the outbox uploads, an archive not uploaded yet stays
    await appendUploads(ws.out, [
      { type: "intent", archive: path.basename(old1!), sha256: "a".repeat(64), bytes: 1, at: new Date().toISOString() },
      { type: "uploaded", archive: path.basename(old1!), sha256: "a".repeat(64), batchId: "b1", at: new Date().toISOString() },
      { type: "intent", archive: path.basename(old2!), sha256: "b".repeat(64), bytes: 1, at: new Date().toISOString() },
    ]);
    const run = await wopack(["prune", ws.out, "--older-than", "30d", "--processed", processed, "--delete"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`kept  ${old2}  (not uploaded yet)`);
    expect(run.stdout).toMatch(/freed \d+\.\d MB \(5 items\)/);
    expect(existsSync(old1!)).toBe(false);
    expect(existsSync(`${old1}.report.json`)).toBe(false);
    expect(existsSync(old2!)).toBe(true);
    expect(existsSync(recent!)).toBe(true);
    expect((await readdir(processed)).sort()).toEqual(["WO_3", "WO_stranger"]);

    // the ledger keeps every commit (what makes a rerun skip a work order it has packed)
    const ledger = await readFile(path.join(ws.out, ".wopack", "ledger.jsonl"), "utf8");
    for (const id of ["WO_1", "WO_2", "WO_3"]) expect(ledger).toContain(`"id":"${id}"`);
  });

  it("needs an age it can read", async () => {
    const ws = await workspace();
    await mkdir(ws.out);
    const run = await wopack(["prune", ws.out, "--older-than", "a month"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--older-than "a month": "a month" is not a duration; write a number and its unit: .*30d/);
  });
});
