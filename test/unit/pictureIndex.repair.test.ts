// Issue 26 follow-up: damage in the index of packed pictures is told once. The run that finds it while it
// holds the lock on --out compacts the index at once, without what it could not read (before, every pack
// told W_PICTURE_INDEX_DAMAGED again until the journal grew past COMPACT_AFTER_BYTES); a run without the
// lock (a dry run) changes nothing.
import { mkdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { openPictureIndex } from "../../src/checks/pictureIndex.js";
import {
  appendPictures,
  compactPictures,
  journalPath,
  MAX_INDEX_FILE_BYTES,
  type NewPicture,
  snapshotPath,
} from "../../src/checks/pictureStore.js";
import { appendLedger, readLedger } from "../../src/commit/ledger.js";
import { acquireLock } from "../../src/commit/lock.js";
import { lockPath, tmpDir } from "../../src/commit/paths.js";
import { tempDir } from "../helpers.js";

const pic = (i: number): NewPicture => ({
  hash: BigInt(i + 1) * 0x9e3779b97f4a7c15n,
  sha256: (i + 1).toString(16).padStart(32, "0").padEnd(64, "5"),
  workOrder: `WO_${i}`,
  entry: `WO_${i}/meter-${i}.jpg`,
});

/** An outbox with a snapshot (pictures 0, 1) and a journal of two archives after it (2, then 3). */
async function outbox(): Promise<string> {
  const out = await tempDir("wopack-repair-");
  await mkdir(path.join(out, ".wopack", "tmp"), { recursive: true });
  const commit = async (archive: string, pictures: NewPicture[], at: number) => {
    await appendPictures(out, archive, pictures, new Date(at));
    await appendLedger(
      out,
      pictures.map((p) => ({ type: "commit", id: p.workOrder, fingerprint: "f", archive, at: new Date(at).toISOString() })),
    );
  };
  await commit("a0.zip", [pic(0), pic(1)], 1);
  await compactPictures(out, true);
  await commit("a1.zip", [pic(2)], 2);
  await commit("a2.zip", [pic(3)], 3);
  return out;
}

const open = async (out: string) => openPictureIndex(out, { siblings: false, ledger: await readLedger(out) });
const seen = (index: Awaited<ReturnType<typeof open>>) =>
  [0, 1, 2, 3].filter((i) => index.find(pic(i).hash, undefined, 0, "WO_other")?.picture.workOrder === `WO_${i}`);
const codes = (index: Awaited<ReturnType<typeof open>>) => index.problems.map((p) => p.code);

/** The ways an index is damaged (not torn by a crash): what each does to the files. */
const DAMAGE: [string, (out: string) => Promise<void>][] = [
  ["a byte of the journal's last record", (out) => flip(journalPath(out), -3)],
  ["a byte of the journal's first record", (out) => flip(journalPath(out), 24)],
  ["a byte of the snapshot", (out) => flip(snapshotPath(out), -10)],
  ["a snapshot larger than wopack writes", (out) => grow(snapshotPath(out), MAX_INDEX_FILE_BYTES + 1)],
  ["a journal larger than wopack writes", (out) => grow(journalPath(out), MAX_INDEX_FILE_BYTES + 1)],
];

async function flip(file: string, at: number): Promise<void> {
  const bytes = await readFile(file);
  bytes[at < 0 ? bytes.length + at : at]! ^= 0xff;
  await writeFile(file, bytes);
}

/** (sparse: no disk used) */
async function grow(file: string, size: number): Promise<void> {
  await writeFile(file, "garbage, not an index");
  await truncate(file, size);
}

async function withLock<T>(out: string, run: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(lockPath(out), tmpDir(out), new Date());
  try {
    return await run();
  } finally {
    await lock.release();
  }
}

describe("damage in the picture index is told once", () => {
  it.each(DAMAGE)(
    "%s: the run holding the lock tells it and compacts it away; the next run has nothing to tell",
    async (_, damage) => {
      const out = await outbox();
      await damage(out);
      const first = await withLock(out, () => open(out));
      expect(codes(first)).toEqual(["W_PICTURE_INDEX_DAMAGED"]);
      const kept = seen(first);
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.length).toBeLessThan(4);
      for (const name of ["pictures.journal", "pictures.snapshot"])
        expect((await stat(path.join(out, ".wopack", name))).size).toBeLessThan(1024 * 1024);
      const next = await withLock(out, () => open(out));
      expect(codes(next)).toEqual([]);
      expect(seen(next)).toEqual(kept);
    },
  );

  it.each(DAMAGE)("%s: a run without the lock (a dry run) tells it and writes nothing", async (_, damage) => {
    const out = await outbox();
    await damage(out);
    const before = await Promise.all([journalPath(out), snapshotPath(out)].map((f) => stat(f)));
    const first = await open(out);
    const after = await Promise.all([journalPath(out), snapshotPath(out)].map((f) => stat(f)));
    expect(after.map((s) => [s.size, s.mtimeMs])).toEqual(before.map((s) => [s.size, s.mtimeMs]));
    expect(codes(first)).toEqual(["W_PICTURE_INDEX_DAMAGED"]);
    expect(codes(await open(out))).toEqual(["W_PICTURE_INDEX_DAMAGED"]);
  });

  it("any byte of the journal's records flipped: told once, and what was read before is what is kept", async () => {
    const size = (await stat(journalPath(await outbox()))).size;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 16, max: size - 1 }), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
        const out = await outbox();
        const bytes = await readFile(journalPath(out));
        expect(bytes.length).toBe(size);
        bytes[at]! ^= mask;
        await writeFile(journalPath(out), bytes);
        const first = await withLock(out, () => open(out));
        const next = await withLock(out, () => open(out));
        expect(codes(next)).toEqual([]);
        expect(seen(next)).toEqual(seen(first));
      }),
      { numRuns: 30 },
    );
  });
});
