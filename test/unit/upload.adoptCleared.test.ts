// A running watch --upload adopts an archive another process cleared (`upload --attention-cleared` beside it)
// only on proof: a "cleared" record of the very batch that needed attention. A journal that is missing for a
// moment, cut back (a restore), or that clears another batch must never make the watch send the archive again
// while the platform still keeps the batch that needed a person (a reviewer's finding: a renamed journal did).
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { adoptCleared, readUploads, type UploadRecord, uploadsPath } from "../../src/commit/uploads.js";
import { tempDir } from "../helpers.js";

const ARCHIVE = "batch-20261206T101500Z-001.zip";
const AT = "2026-12-06T10:15:00.000Z";
const lines = (recs: UploadRecord[]) => recs.map((r) => `${JSON.stringify(r)}\n`).join("");

/** The journal as the watch read it: the archive sent once to batch `b1`, which needs attention. */
function history(batches: string[]): UploadRecord[] {
  const recs: UploadRecord[] = [{ type: "intent", archive: ARCHIVE, sha256: "a".repeat(64), bytes: 10, at: AT }];
  for (const b of batches) {
    recs.push({ type: "batch", archive: ARCHIVE, batchId: b, uploadUrl: `http://127.0.0.1:9/s/${b}`, at: AT });
    recs.push({ type: "attention", archive: ARCHIVE, batchId: b, reason: "the platform keeps part of it", at: AT });
  }
  return recs;
}

/** What may be on disk when the watch looks again, and whether that proves the clearing of the last batch. */
type Disk = { what: string; write: (file: string, batches: string[]) => Promise<void>; proves: boolean };
const DISKS: Disk[] = [
  { what: "the journal moved aside", write: async (f) => rename(f, `${f}.aside`), proves: false },
  { what: "an empty journal", write: (f) => writeFile(f, ""), proves: false },
  { what: "cut back before the attention", write: (f, b) => writeFile(f, lines(history(b).slice(0, -1))), proves: false },
  { what: "cut back to its first line", write: (f, b) => writeFile(f, lines(history(b).slice(0, 1))), proves: false },
  {
    what: "an earlier batch cleared",
    write: async (f, b) => {
      const recs = history(b);
      recs.splice(3, 0, { type: "cleared", archive: ARCHIVE, batchId: b[0]!, at: AT });
      await writeFile(f, lines(recs));
    },
    proves: false,
  },
  {
    what: "another archive cleared",
    write: (f, b) =>
      writeFile(f, lines([...history(b), { type: "cleared", archive: `x${ARCHIVE}`, batchId: b.at(-1)!, at: AT }])),
    proves: false,
  },
  {
    what: "this batch cleared",
    write: (f, b) => writeFile(f, lines([...history(b), { type: "cleared", archive: ARCHIVE, batchId: b.at(-1)!, at: AT }])),
    proves: true,
  },
  {
    what: "this batch cleared, then the journal compacted",
    write: async (f, b) => {
      await writeFile(f, lines([...history(b), { type: "cleared", archive: ARCHIVE, batchId: b.at(-1)!, at: AT }]));
      const state = (await readUploads(path.dirname(path.dirname(f)))).archives.get(ARCHIVE)!;
      await writeFile(f, lines([{ type: "state", ...state }]));
    },
    proves: true,
  },
];

describe("a watch adopts a clearing only on proof", () => {
  it.each(DISKS)("$what", async ({ write, proves }) => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.stringMatching(/^[0-9a-f]{8}$/), { minLength: 2, maxLength: 4 }), async (batches) => {
        const out = await tempDir();
        await mkdir(path.join(out, ".wopack"), { recursive: true });
        const file = uploadsPath(out);
        await writeFile(file, lines(history(batches)));
        const journal = await readUploads(out);
        expect(journal.archives.get(ARCHIVE)?.attention?.batchId).toBe(batches.at(-1));
        await write(file, batches);
        expect(await adoptCleared(out, journal)).toEqual(proves ? [ARCHIVE] : []);
        expect(journal.archives.get(ARCHIVE)?.attention === undefined).toBe(proves);
      }),
      { numRuns: 10 },
    );
  });
});
