// W_BATCH_MAYBE_MADE folded (issue 21): a creation whose answer is lost is journaled each time, but what the
// journal says of an archive is one record — how many since it was last uploaded or cleared, the first and the
// last time — however many tries (up to 21 per try, a try every backoff in watch) lost their answer. Uploading
// the archive, or the operator clearing it, ends the note; a compacted journal of an older wopack (a list) reads
// folded too.
import { mkdir, writeFile } from "node:fs/promises";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stateDir } from "../../src/commit/paths.js";
import { readUploads, type UploadRecord, uploadsPath } from "../../src/commit/uploads.js";
import { tempDir } from "../helpers.js";

const A = "WO-1.zip";
type Step = "lost" | "intent" | "batch" | "failed" | "uploaded" | "attention" | "cleared";

function record(step: Step, i: number): UploadRecord {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  const batchId = "b1";
  switch (step) {
    case "lost":
      return { type: "maybeBatch", archive: A, detail: `HTTP 502 #${i}`, at };
    case "intent":
      return { type: "intent", archive: A, sha256: "0".repeat(64), bytes: 10, at };
    case "batch":
      return { type: "batch", archive: A, batchId, uploadUrl: "http://x/s", at };
    case "failed":
      return { type: "failed", archive: A, code: "E_PLATFORM_UNAVAILABLE", message: "busy", at };
    case "uploaded":
      return { type: "uploaded", archive: A, sha256: "0".repeat(64), batchId, at };
    case "attention":
      return { type: "attention", archive: A, batchId, reason: "r", at };
    case "cleared":
      return { type: "cleared", archive: A, batchId, at };
  }
}

async function journalOf(lines: object[]): Promise<Awaited<ReturnType<typeof readUploads>>> {
  const out = await tempDir();
  await mkdir(stateDir(out), { recursive: true });
  await writeFile(uploadsPath(out), lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
  return readUploads(out);
}

describe("lost batch creations, folded per archive", () => {
  it("one record: the count, first and last since the last upload or clearing, for any sequence", async () => {
    const steps = fc.constantFrom<Step>("lost", "lost", "lost", "intent", "batch", "failed", "uploaded", "attention", "cleared");
    await fc.assert(
      fc.asyncProperty(fc.array(steps, { maxLength: 60 }), async (seq) => {
        const recs = seq.map(record);
        const state = (await journalOf(recs)).archives.get(A);
        const since = Math.max(seq.lastIndexOf("uploaded"), seq.lastIndexOf("cleared"));
        const lost = recs.slice(since + 1).filter((r) => r.type === "maybeBatch");
        if (!lost.length) {
          expect(state?.maybeBatches).toBeUndefined();
          return;
        }
        expect(state?.maybeBatches).toEqual({
          count: lost.length,
          first: lost[0]!.at,
          last: lost.at(-1)!.at,
          detail: (lost.at(-1) as { detail: string }).detail,
        });
      }),
      { numRuns: 60 },
    );
  });

  it("a compacted state of an older wopack (one entry per loss) reads folded", async () => {
    const list = [0, 1, 2].map((i) => ({ at: `2026-01-01T00:00:0${i}.000Z`, detail: `HTTP 504 #${i}` }));
    const j = await journalOf([{ type: "state", archive: A, confirmed: 0, at: list[2]!.at, maybeBatches: list }]);
    expect(j.archives.get(A)?.maybeBatches).toEqual({ count: 3, first: list[0]!.at, last: list[2]!.at, detail: "HTTP 504 #2" });
  });
});
