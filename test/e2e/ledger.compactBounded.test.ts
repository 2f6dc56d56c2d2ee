// A ledger of many commits with --move-to is compacted to what prune needs of the older ones (their moves into
// folders still in processed/), so it stays bounded by those folders, and prune finds every folder's age as
// before (issue 21). A table over how many folders are still there: all of them (no prune ever ran), or few.
import { mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { mkdir, readFile, rename } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appendLedger, compactLedger, type LedgerRecord, ledgerPath, readLedger } from "../../src/commit/ledger.js";
import { pruneHeld } from "../../src/run/prune.js";
import { tempDir } from "../helpers.js";

const WORK_ORDERS = 50;
const SUBMISSIONS = 200; // 10,000 commits, each with its move record: a ledger due for compaction
const MTIME_S = 1_700_000_000;
const now = () => new Date("2026-12-01T00:00:00Z");

const lines = async (out: string) => (await readFile(ledgerPath(out), "utf8")).trim().split("\n").length;

describe("compacting a ledger of 10,000 commits with --move-to", () => {
  for (const { name, there, away } of [
    { name: "no prune ever ran: every folder still in processed/", there: (_n: number) => true },
    { name: "prune took all but every 80th folder", there: (n: number) => n % 80 === 0 },
    { name: "prune took every folder but the last submissions'", there: (n: number) => n >= (SUBMISSIONS - 1) * WORK_ORDERS },
    // --move-to not reachable at that path while a run starts and compacts (moved aside, not mounted yet): a folder
    // not seen is not proof that prune took it, so every record stays for the prune once it is back
    { name: "every 500th folder there, but --move-to away while compacting", there: (n: number) => n % 500 === 0, away: true },
  ])
    it(`is bounded by the folders still there, and prune finds the same ages (${name})`, async () => {
      const out = await tempDir("wopack-bounded-");
      const processed = path.join(path.dirname(out), `${path.basename(out)}-processed`);
      await mkdir(path.join(out, ".wopack", "tmp"), { recursive: true });
      await mkdir(processed);
      const records: LedgerRecord[] = [];
      let present = 0;
      for (let n = 0; n < WORK_ORDERS * SUBMISSIONS; n++) {
        const id = `WO_${n % WORK_ORDERS}`;
        const sub = Math.floor(n / WORK_ORDERS) + 1;
        const folder = sub === 1 ? id : `${id}.${sub}`;
        const to = path.join(processed, folder);
        const stamp = { rel: "a.jpg", size: 3 + (n % 7), mtimeMs: MTIME_S * 1000 };
        const archive = `b${String(n).padStart(5, "0")}.zip`;
        const at = new Date(Date.parse("2026-01-01T00:00:00Z") + n * 60_000).toISOString();
        const moves = [{ from: path.join(out, "staging", id), to, packed: [stamp], alongside: [] }];
        records.push({ type: "commit", id, fingerprint: `f${n}`, archive, at, moves });
        records.push({ type: "moved", id, archive, at });
        if (!there(n)) continue;
        present++;
        // (synchronously: through libuv's pool, 10,000 folders cost some seconds more CPU)
        mkdirSync(to);
        writeFileSync(path.join(to, "a.jpg"), "x".repeat(stamp.size));
        utimesSync(path.join(to, "a.jpg"), MTIME_S, MTIME_S);
      }
      await appendLedger(out, records);
      const options = { out, olderThanMs: 0, processed, env: {}, now };
      const before = await pruneHeld(options);

      if (away) await rename(processed, `${processed}.away`);
      expect(await compactLedger(out, await readLedger(out), now)).toBe(true);
      if (away) await rename(`${processed}.away`, processed);
      else expect(await lines(out)).toBeLessThanOrEqual(1 + present + WORK_ORDERS);
      // the next start finds nothing due (no folder checked again) until the ledger has doubled
      expect(await compactLedger(out, await readLedger(out), now)).toBe(false);
      const after = await pruneHeld(options);
      expect(after.pruned).toEqual(before.pruned);
      expect(after.kept).toEqual(before.kept);
      expect(after.pruned.length).toBe(present);
    }, 120_000);
});
