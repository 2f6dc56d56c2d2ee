// Compacting the ledger keeps what prune needs: the move records of every submission whose folder is still in
// --move-to (processed/), not only each work order's last one (issue 21). Property-based over submissions and
// which of their folders prune already took.
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { appendLedger, compactLedger, type LedgerRecord, ledgerPath, readLedger } from "../../src/commit/ledger.js";
import { systemClock } from "../../src/core/clock.js";
import type { MoveItem } from "../../src/core/types.js";
import { recordedFiles } from "../../src/run/pruneSources.js";
import { tempDir } from "../helpers.js";

/** One submission: its work order, whether it was a root photo (moved into a folder made for it), whether prune took its folder. */
const submission = fc.record({ wo: fc.integer({ min: 1, max: 3 }), root: fc.boolean(), gone: fc.boolean() });

describe("compacting the ledger (§8 --move-to, prune)", () => {
  it("keeps the moves of every submission whose processed folder is still there, and forgets those prune took", async () => {
    const root = await tempDir("wopack-compact-");
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(submission, { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 0, max: 30 }),
        async (subs, padding) => {
          const dir = path.join(root, String(run++));
          const processed = path.join(dir, "processed");
          await mkdir(path.join(dir, ".wopack", "tmp"), { recursive: true });
          // (processed/ itself is there, as prune leaves it: a folder missing from a --move-to that is not there
          // at all is no proof that prune took it, and its records stay: ledger.compactBounded)
          await mkdir(processed, { recursive: true });
          const records: LedgerRecord[] = [];
          const folders = new Map<string, boolean>(); // folder name -> still in processed/
          const count = new Map<number, number>();
          for (const [i, s] of subs.entries()) {
            const n = (count.get(s.wo) ?? 0) + 1;
            count.set(s.wo, n);
            const name = n === 1 ? `WO_${s.wo}` : `WO_${s.wo}.${n}`;
            const target = path.join(processed, name);
            const stamp = { rel: s.root ? "" : "a.jpg", size: 10 + i, mtimeMs: 1000 + i };
            const move: MoveItem = s.root
              ? { from: path.join(dir, "staging", `p${i}.jpg`), to: path.join(target, `p${i}.jpg`), packed: [stamp] }
              : { from: path.join(dir, "staging", `WO_${s.wo}`), to: target, packed: [stamp], alongside: [] };
            const archive = `n${i}.zip`;
            records.push({
              type: "commit",
              id: `WO_${s.wo}`,
              fingerprint: `f${i}`,
              archive,
              at: `2026-11-${10 + i}T00:00:00Z`,
              moves: [move],
            });
            records.push({ type: "moved", id: `WO_${s.wo}`, archive, at: "x" });
            folders.set(name, !s.gone);
            if (!s.gone) await mkdir(target, { recursive: true });
          }
          for (let p = 0; p < padding; p++)
            records.push({ type: "commit", id: "WO_9", fingerprint: `g${p}`, archive: `m${p}.zip`, at: "y" });
          await appendLedger(dir, records);
          const before = await readLedger(dir);
          expect(await compactLedger(dir, before, systemClock, true)).toBe(true);
          const after = await readLedger(dir);

          const [was, now] = [recordedFiles(before.moves), recordedFiles(after.moves)];
          for (const [name, there] of folders)
            if (there) expect(now.get(name), `${name} is in processed/`).toEqual(was.get(name));
          const keyOf = (r: LedgerRecord) => (r.type === "commit" ? `${r.archive}\0${r.id}` : "");
          for (const r of records)
            if (
              r.type === "commit" &&
              r.moves?.some((m) => folders.get(path.basename(r.moves![0]!.packed![0]!.rel ? m.to : path.dirname(m.to))))
            )
              expect(after.commits.has(keyOf(r)), `${r.archive} holds ${r.id}`).toBe(true);
          expect(after.fingerprints).toEqual(before.fingerprints);
          expect(after.archives).toEqual(before.archives);
          expect(after.pendingMoves).toEqual([]);
          // and it still shrinks: a submission whose folder prune took is forgotten, as are the older commits of WO_9
          const lines = (await readFile(ledgerPath(dir), "utf8")).trim().split("\n").length;
          expect(lines).toBeLessThanOrEqual(1 + after.latest.size + [...folders.values()].filter(Boolean).length);
        },
      ),
      { numRuns: 60 },
    );
  });
});
