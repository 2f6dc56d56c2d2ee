import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appendLedger, compactLedger, type LedgerRecord, ledgerPath, readLedger } from "../../src/commit/ledger.js";
import { systemClock } from "../../src/core/clock.js";
import { tempDir } from "../helpers.js";

async function out() {
  const dir = await tempDir();
  await mkdir(path.join(dir, ".wopack", "tmp"), { recursive: true });
  return dir;
}

const commit = (id: string, fingerprint: string, archive: string, moves?: { from: string; to: string }[]): LedgerRecord => ({
  type: "commit",
  id,
  fingerprint,
  archive,
  at: "2026-11-28T00:00:00Z",
  ...(moves ? { moves } : {}),
});

describe("the ledger", () => {
  it("starts a fresh line after a torn one, so that no new record is lost", async () => {
    const dir = await out();
    await writeFile(ledgerPath(dir), `${JSON.stringify(commit("WO_1", "f1", "a.zip"))}\n{"type":"commit","id":"WO_2","fing`);
    await appendLedger(dir, [commit("WO_3", "f3", "b.zip")]);
    const ledger = await readLedger(dir);
    expect([...ledger.fingerprints]).toEqual([
      ["WO_1", "f1"],
      ["WO_3", "f3"],
    ]);
  });

  it("compacts to what it still needs: every archive, each last commit, pending moves", async () => {
    const dir = await out();
    const move = [{ from: "/staging/WO_2", to: "/processed/WO_2" }];
    const records: LedgerRecord[] = [];
    for (let night = 0; night < 50; night++) records.push(commit("WO_1", `f${night}`, `n${night}.zip`));
    records.push(commit("WO_2", "old", "n10.zip", move)); // its move never finished...
    records.push(commit("WO_2", "new", "n49.zip")); // ...and it was packed again since
    records.push(commit("WO_3", "g", "n49.zip", move), { type: "moved", id: "WO_3", archive: "n49.zip", at: "x" });
    // --on-archive outcomes: n3's failed and was never fixed, n4's failed and then succeeded
    records.push({ type: "hook", archive: "n3.zip", ok: false, exitCode: 1, at: "x" });
    records.push(
      { type: "hook", archive: "n4.zip", ok: false, exitCode: 1, at: "x" },
      { type: "hook", archive: "n4.zip", ok: true, exitCode: 0, at: "x" },
    );
    await appendLedger(dir, records);
    const before = await readLedger(dir);
    expect(await compactLedger(dir, before, systemClock, true)).toBe(true);
    const after = await readLedger(dir);
    expect(after.fingerprints).toEqual(before.fingerprints);
    expect(after.fingerprints.get("WO_2")).toBe("new");
    expect(after.archives).toEqual(before.archives);
    expect(after.pendingMoves).toEqual(before.pendingMoves);
    expect([...after.hookFailed]).toEqual(["n3.zip"]);
    expect(after.pendingMoves.map((m) => `${m.id} ${m.archive}`)).toEqual(["WO_2 n10.zip"]);
    // what the finished move of WO_3 put in processed/ stays known: prune deletes only that (issue 21)
    expect(after.moves).toContainEqual(move[0]);
    expect(after.latest.get("WO_3")?.moves).toEqual(move);
    expect((await readFile(ledgerPath(dir), "utf8")).trim().split("\n").length).toBeLessThan(records.length / 8);
  });

  it("is left alone while short", async () => {
    const dir = await out();
    await appendLedger(dir, [commit("WO_1", "f", "a.zip"), commit("WO_1", "g", "b.zip")]);
    expect(await compactLedger(dir, await readLedger(dir), systemClock)).toBe(false);
  });
});
