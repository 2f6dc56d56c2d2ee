// The index of packed pictures (SPEC §15, docs/photo-checks.md "The index"): lookups against a linear scan,
// and what a crash, damage or an uncommitted archive leave in the journal.
import { mkdir, readFile, stat, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { openPictureIndex, SCAN_ADDED } from "../../src/checks/pictureIndex.js";
import {
  appendPictures,
  COMPACT_AFTER_BYTES,
  compactPictures,
  journalPath,
  MAX_INDEX_FILE_BYTES,
  type NewPicture,
  snapshotPath,
} from "../../src/checks/pictureStore.js";
import type { IndexedPicture } from "../../src/checks/pictures.js";
import { appendLedger, readLedger } from "../../src/commit/ledger.js";
import { tempDir } from "../helpers.js";

async function outbox(parent?: string, name = "out"): Promise<string> {
  const dir = parent ? path.join(parent, name) : await tempDir();
  await mkdir(path.join(dir, ".wopack", "tmp"), { recursive: true });
  return dir;
}

/** What the commit step does for an archive: its pictures first, then (when it got that far) the ledger. */
async function commitArchive(out: string, archive: string, pictures: NewPicture[], at: number, committed = true) {
  await appendPictures(out, archive, pictures, new Date(at));
  if (committed)
    await appendLedger(
      out,
      [...new Set(pictures.map((p) => p.workOrder))].map((id) => ({
        type: "commit",
        id,
        fingerprint: "f",
        archive,
        at: new Date(at).toISOString(),
      })),
    );
}

const open = async (out: string, siblings = false) => openPictureIndex(out, { siblings, ledger: await readLedger(out) });

function distance(a: bigint, b: bigint): number {
  const x = BigInt.asUintN(64, a ^ b);
  let n = 0;
  for (let half of [Number(x >> 32n), Number(x & 0xffffffffn)]) {
    for (; half; half >>>= 1) n += half & 1;
  }
  return n;
}

interface Known extends IndexedPicture {
  at: number;
}

/** The rule find() keeps, by brute force: another work order's picture within the radius; exact SHA-256 first,
 * then the smallest distance, then the earliest (by its archive's time, then the order it was recorded in). */
function scan(all: Known[], hash: bigint, sha: string | undefined, r: number, workOrder: string) {
  let best: { p: Known; d: number; exact: boolean; i: number } | undefined;
  for (const [i, p] of all.entries()) {
    const d = distance(p.hash, hash);
    if (d > r || p.workOrder === workOrder) continue;
    const exact = sha !== undefined && p.sha256 !== undefined && p.sha256.slice(0, 32) === sha.slice(0, 32);
    const better =
      !best || (exact !== best.exact ? exact : d !== best.d ? d < best.d : p.at !== best.p.at ? p.at < best.p.at : i < best.i);
    if (better) best = { p, d, exact, i };
  }
  return best;
}

/** A SHA-256 in hex whose first 16 bytes (what the index keeps) differ by n. */
const hex = (n: number) => (n + 1).toString(16).padStart(32, "0").padEnd(64, "5");
const flip = (h: bigint, bits: number[]) => bits.reduce((x, b) => x ^ (1n << BigInt(b)), h);

/** Each query finds in `index` what the linear scan of `all` finds. */
function expectFoundAsScanned(
  index: { find: (hash: bigint, sha: string | undefined, r: number, workOrder: string) => unknown },
  all: Known[],
  bases: bigint[],
  queries: [{ base: number; bits: number[]; wo: string; sha?: number | undefined }, number][],
) {
  for (const [q, r] of queries) {
    const hash = flip(bases[q.base]!, q.bits);
    const sha = q.sha === undefined ? undefined : hex(q.sha);
    const want = scan(all, hash, sha, r, q.wo);
    const got = index.find(hash, sha, r, q.wo);
    if (!want) expect(got).toBeUndefined();
    else {
      const { at: _at, ...picture } = want.p;
      // (the index keeps 16 bytes of a committed picture's SHA-256; this run's are as given)
      if (picture.sha256 && want.p.at !== Number.POSITIVE_INFINITY) picture.sha256 = picture.sha256.slice(0, 32);
      expect(got).toEqual({ picture, distance: want.d, exact: want.exact });
    }
  }
}

// pictures near a few base hashes (so that radii 0..12 find some and miss others), from a few work orders
const pictureArb = (bases: bigint[]) =>
  fc.record({
    base: fc.nat({ max: bases.length - 1 }),
    bits: fc.uniqueArray(fc.nat({ max: 63 }), { maxLength: 9 }),
    wo: fc.constantFrom("WO_1", "WO_2", "WO_3", "WO_é4"),
    task: fc.constantFrom("meter_reading", "cabinet_front", "x"),
    sha: fc.option(fc.nat({ max: 5 }), { nil: undefined }),
  });

describe("the index of packed pictures: find() against a linear scan", () => {
  it("finds exactly what the scan finds, for random hashes and radii 0..12 (snapshot, journal and this run)", async () => {
    const bases = [0x0123456789abcdefn, 0xfedcba9876543210n, 0n, 0xffffffffffffffffn];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(pictureArb(bases), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.nat({ max: 8 }),
        fc.array(pictureArb(bases), { maxLength: 6 }),
        fc.array(fc.tuple(pictureArb(bases), fc.integer({ min: 0, max: 12 })), { minLength: 1, maxLength: 25 }),
        async (archives, committed, compactAfter, added, queries) => {
          const out = await outbox();
          const all: Known[] = [];
          for (const [k, pics] of archives.entries()) {
            const archive = `batch-${k}.zip`;
            // archive times out of order sometimes (clocks): the earliest is by time, then by order
            const at = 1_000_000 + (k % 3) * 1000;
            const pictures = pics.map((p, j) => ({
              hash: flip(bases[p.base]!, p.bits),
              ...(p.sha === undefined ? {} : { sha256: hex(p.sha) }),
              workOrder: p.wo,
              entry: `${p.wo}/${p.task}-${j}.jpg`,
            }));
            await commitArchive(out, archive, pictures, at, committed[k]!);
            if (committed[k]) all.push(...pictures.map((p) => ({ ...p, archive, out, at })));
            if (k === compactAfter) await compactPictures(out, true);
          }
          const index = await open(out);
          const run = added.map((p, j) => ({
            hash: flip(bases[p.base]!, p.bits),
            ...(p.sha === undefined ? {} : { sha256: hex(p.sha) }),
            workOrder: p.wo,
            entry: `${p.wo}/${p.task}-${j}.jpg`,
            archive: "",
            out,
          }));
          index.add(run);
          all.push(...run.map((p) => ({ ...p, at: Number.POSITIVE_INFINITY })));
          expect(index.size).toBe(all.length);
          expectFoundAsScanned(index, all, bases, queries);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("this run's pictures: compared one by one up to SCAN_ADDED, by bucket past it, finding the same either way", async () => {
    const bases = [0x0123456789abcdefn, 0xfedcba9876543210n, 0n];
    await fc.assert(
      fc.asyncProperty(
        fc.array(pictureArb(bases), { minLength: 3, maxLength: 3 }),
        fc.array(fc.tuple(pictureArb(bases), fc.integer({ min: 0, max: 12 })), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        async (batches, queries, seed) => {
          const out = await outbox();
          const index = await open(out);
          const all: Known[] = [];
          let x = seed;
          const next = () => {
            x ^= x << 13;
            x ^= x >>> 17;
            x ^= x << 5;
            return x >>> 0;
          };
          // three batches that end below, at and past the threshold: each then looked up
          for (const [k, size] of [SCAN_ADDED - 10, 10, 300].entries()) {
            const p = batches[k]!;
            const run = Array.from({ length: size }, (_, j) => ({
              hash: flip(bases[p.base]!, [...p.bits, next() % 64, next() % 64, next() % 64]),
              ...(j % 7 === 0 && p.sha !== undefined ? { sha256: hex(p.sha) } : {}),
              workOrder: `WO_${next() % 50}`,
              entry: `WO_x/${p.task}-${k}-${j}.jpg`,
              archive: "",
              out,
            }));
            index.add(run);
            all.push(...run.map((q) => ({ ...q, at: Number.POSITIVE_INFINITY })));
            expectFoundAsScanned(index, all, bases, queries);
          }
        },
      ),
      { numRuns: 6 },
    );
  });

  it("one picture repeated (copies in archives whose times go back and forth, and in this run): what the scan finds", async () => {
    // (a placeholder image sent night after night: a lookup may stop at the first copy only where no later one
    // can be earlier; generated with few work orders, so that a query's own copies are passed over)
    const h = 0x5a5a5a5a01234567n;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            at: fc.integer({ min: 1, max: 4 }),
            copies: fc.array(fc.record({ wo: fc.constantFrom("WO_1", "WO_2", "WO_3"), sha: fc.constantFrom(0, 1, undefined) }), {
              minLength: 1,
              maxLength: 4,
            }),
          }),
          { maxLength: 6 },
        ),
        fc.nat({ max: 6 }),
        fc.array(fc.record({ wo: fc.constantFrom("WO_1", "WO_2", "WO_3"), sha: fc.constantFrom(0, 1, undefined) }), {
          maxLength: 4,
        }),
        fc.boolean(),
        async (archives, compactAfter, added, many) => {
          const out = await outbox();
          const all: Known[] = [];
          for (const [k, { at, copies }] of archives.entries()) {
            const archive = `batch-${k}.zip`;
            const pictures = copies.map((c, j) => ({
              hash: h,
              ...(c.sha === undefined ? {} : { sha256: hex(c.sha) }),
              workOrder: c.wo,
              entry: `${c.wo}/x-${k}-${j}.jpg`,
            }));
            await commitArchive(out, archive, pictures, at);
            all.push(...pictures.map((p) => ({ ...p, archive, out, at })));
            if (k === compactAfter) await compactPictures(out, true);
          }
          const index = await open(out);
          // this run's copies, past SCAN_ADDED others (looked up by bucket) when `many`
          const filler = many ? SCAN_ADDED : 0;
          const run = [
            ...Array.from({ length: filler }, (_, j) => ({
              hash: flip(h, [j % 64, (j >> 6) % 64, 63 - (j % 60)]),
              workOrder: "WO_9",
            })),
            ...added.map((c) => ({ hash: h, ...(c.sha === undefined ? {} : { sha256: hex(c.sha) }), workOrder: c.wo })),
          ].map((p, j) => ({ ...p, entry: `${p.workOrder}/y-${j}.jpg`, archive: "", out }));
          index.add(run);
          all.push(...run.map((p) => ({ ...p, at: Number.POSITIVE_INFINITY })));
          const queries = ["WO_1", "WO_2", "WO_3", "WO_4"].flatMap((wo) =>
            [0, 1, undefined].flatMap((sha) => [0, 2].map((r) => [{ base: 0, bits: [], wo, sha }, r] as const)),
          );
          expectFoundAsScanned(index, all, [h], queries as never);
        },
      ),
      { numRuns: 120 },
    );
  });

  it("a table: another work order only; exact SHA-256 before distance; the smaller distance; then the earliest", async () => {
    const out = await outbox();
    const h = 0xabcdef0123456789n;
    await commitArchive(out, "a1.zip", [{ hash: flip(h, [1, 2]), workOrder: "WO_A", entry: "WO_A/x-0.jpg" }], 1);
    await commitArchive(out, "a2.zip", [{ hash: flip(h, [3]), workOrder: "WO_B", entry: "WO_B/x-0.jpg" }], 2);
    await commitArchive(out, "a3.zip", [{ hash: flip(h, [4]), workOrder: "WO_C", entry: "WO_C/x-0.jpg" }], 3);
    await commitArchive(
      out,
      "a4.zip",
      [{ hash: flip(h, [5, 6, 7]), sha256: hex(7), workOrder: "WO_D", entry: "WO_D/x-0.jpg" }],
      4,
    );
    const index = await open(out);
    const who = (sha: string | undefined, r: number, wo: string) => index.find(h, sha, r, wo)?.picture.workOrder;
    expect(who(undefined, 0, "WO_Z")).toBeUndefined();
    expect(who(undefined, 1, "WO_Z")).toBe("WO_B"); // distance 1: B and C, B earlier
    expect(who(undefined, 1, "WO_B")).toBe("WO_C"); // its own work order is never "reused"
    expect(who(hex(7), 3, "WO_Z")).toBe("WO_D"); // the same bytes first
    expect(who(hex(7), 2, "WO_Z")).toBe("WO_B"); // ... within the radius only
    expect(index.find(h, hex(7), 3, "WO_Z")).toMatchObject({ distance: 3, exact: true });
    expect(index.find(h, undefined, 3, "WO_Z")?.picture).toEqual({
      hash: flip(h, [3]),
      workOrder: "WO_B",
      entry: "WO_B/x-0.jpg",
      archive: "a2.zip",
      out,
    });
  });

  it("entry names that do not start with their work order survive the string table", async () => {
    const out = await outbox();
    const odd = ["/abs.jpg", "\0x", "WO_A", "WO_Ab/x.jpg", "other/x.jpg", ""];
    await commitArchive(
      out,
      "a.zip",
      odd.map((entry, i) => ({ hash: BigInt(i) << 40n, workOrder: "WO_A", entry })),
      1,
    );
    for (const compacted of [false, true]) {
      if (compacted) await compactPictures(out, true);
      const index = await open(out);
      expect(odd.map((_, i) => index.find(BigInt(i) << 40n, undefined, 0, "WO_Z")?.picture.entry)).toEqual(odd);
    }
  });
});

describe("the index of packed pictures on disk", () => {
  const pic = (i: number, wo = `WO_${i}`): NewPicture => ({
    hash: BigInt(i) * 0x9e3779b97f4a7c15n,
    sha256: hex(i + 1),
    workOrder: wo,
    entry: `${wo}/meter-${i}.jpg`,
  });
  const found = (index: Awaited<ReturnType<typeof open>>, i: number) =>
    index.find(pic(i).hash, undefined, 0, "WO_other")?.picture.workOrder === `WO_${i}`;

  it("a torn journal tail of every length: the earlier archives are all there, the torn one is not, and no warning", async () => {
    const base = await outbox();
    await commitArchive(base, "a0.zip", [pic(0), pic(1)], 1);
    const before = (await stat(journalPath(base))).size;
    await commitArchive(base, "a1.zip", [pic(2), pic(3)], 2, false); // torn below: never committed
    const whole = await readFile(journalPath(base));
    const ledger = await readFile(path.join(base, ".wopack", "ledger.jsonl"));
    for (let cut = before; cut < whole.length; cut++) {
      const out = await outbox();
      await writeFile(journalPath(out), whole.subarray(0, cut));
      await writeFile(path.join(out, ".wopack", "ledger.jsonl"), ledger);
      const index = await open(out);
      expect([0, 1, 2, 3].map((i) => found(index, i))).toEqual([true, true, false, false]);
      expect(index.stats).toEqual({ tornBytes: cut - before, damaged: 0, ignored: 0 });
      expect(index.problems).toEqual([]);
      // the next run appends after the torn bytes: read, and the torn ones are still not called damage
      await commitArchive(out, "a2.zip", [pic(4)], 3);
      const again = await open(out);
      expect([0, 1, 2, 3, 4].map((i) => found(again, i))).toEqual([true, true, false, false, true]);
      expect(again.stats.damaged).toBe(0);
      expect(again.problems).toEqual([]);
    }
  });

  it("a damaged byte anywhere in the journal loses exactly the record it is in, and says so", async () => {
    const out = await outbox();
    const records: [number, number][] = [];
    for (let k = 0; k < 4; k++) {
      const from = await stat(journalPath(out)).then(
        (s) => s.size,
        () => 16,
      );
      await commitArchive(out, `a${k}.zip`, [pic(2 * k), pic(2 * k + 1)], k);
      records.push([from, (await stat(journalPath(out))).size]);
    }
    const whole = await readFile(journalPath(out));
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: whole.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        const damaged = Buffer.from(whole);
        damaged[at]! ^= xor;
        await writeFile(journalPath(out), damaged);
        const index = await open(out);
        const hit = records.findIndex(([a, b]) => at >= a && at < b);
        const want = Array.from({ length: 8 }, (_, i) => Math.floor(i / 2) !== hit);
        expect(Array.from({ length: 8 }, (_, i) => found(index, i))).toEqual(want);
        if (hit >= 0 && hit < records.length - 1) {
          // (a damaged length can pass for a torn append: lost all the same, but not told)
          if (at >= records[hit]![0] + 4 && at < records[hit]![0] + 8) return;
          expect(index.stats.damaged).toBe(1);
          expect(index.problems.map((p) => p.code)).toEqual(["W_PICTURE_INDEX_DAMAGED"]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("the pictures of an archive the ledger does not hold are ignored, and compaction drops them", async () => {
    const out = await outbox();
    await commitArchive(out, "a0.zip", [pic(0)], 1);
    await commitArchive(out, "a1.zip", [pic(1)], 2, false); // crashed before the ledger
    await commitArchive(out, "a2.zip", [pic(2)], 3);
    const index = await open(out);
    expect([0, 1, 2].map((i) => found(index, i))).toEqual([true, false, true]);
    expect(index.stats.ignored).toBe(1);
    // recovery later adopting a1 from its report (the archive was published): then it counts
    await appendLedger(out, [{ type: "commit", id: "WO_1", fingerprint: "f", archive: "a1.zip", at: "x" }]);
    expect(found(await open(out), 1)).toBe(true);
    await commitArchive(out, "a3.zip", [pic(3)], 4, false);
    expect(await compactPictures(out, true)).toBe(true);
    await appendLedger(out, [{ type: "commit", id: "WO_3", fingerprint: "f", archive: "a3.zip", at: "x" }]);
    // (a3 was dropped by compaction: a name committed after it would be an archive it was not recorded for)
    const after = await open(out);
    expect([0, 1, 2, 3].map((i) => found(after, i))).toEqual([true, true, true, false]);
    expect(after.stats).toEqual({ tornBytes: 0, damaged: 0, ignored: 0 });
  });

  it("compaction carries over the record of an archive in place but not yet in the ledger (recovery adopts it)", async () => {
    const out = await outbox();
    await commitArchive(out, "a0.zip", [pic(0)], 1);
    await commitArchive(out, "a1.zip", [pic(1)], 2, false);
    await commitArchive(out, "a2.zip", [pic(2)], 3, false);
    await writeFile(path.join(out, "a1.zip"), "published: a crash came before the ledger");
    expect(await compactPictures(out, true)).toBe(true);
    expect((await open(out)).stats.ignored).toBe(1); // a1 waits; a2 is gone
    await appendLedger(out, [{ type: "commit", id: "WO_1", fingerprint: "f", archive: "a1.zip", at: "x" }]);
    await appendLedger(out, [{ type: "commit", id: "WO_2", fingerprint: "f", archive: "a2.zip", at: "x" }]);
    const after = await open(out);
    expect([0, 1, 2].map((i) => found(after, i))).toEqual([true, true, false]);
    await compactPictures(out, true);
    const again = await open(out);
    expect([0, 1, 2].map((i) => found(again, i))).toEqual([true, true, false]);
    expect((await stat(journalPath(out))).size).toBe(16);
  });

  it("the last record of an archive name counts: an earlier one is an attempt that failed before it was published", async () => {
    const out = await outbox();
    await commitArchive(out, "a.zip", [pic(0), pic(1)], 1, false);
    await commitArchive(out, "a.zip", [pic(2)], 2);
    const index = await open(out);
    expect([0, 1, 2].map((i) => found(index, i))).toEqual([false, false, true]);
  });

  it("compaction keeps every committed picture, in order, and shrinks the journal to its header", async () => {
    const out = await outbox();
    for (let k = 0; k < 30; k++) await commitArchive(out, `a${k}.zip`, [pic(2 * k), pic(2 * k + 1, `WO_${2 * k}`)], k);
    expect(await compactPictures(out)).toBe(false); // small: not worth it
    const before = await open(out);
    expect(await compactPictures(out, true)).toBe(true);
    expect((await stat(journalPath(out))).size).toBe(16);
    const after = await open(out);
    expect(after.size).toBe(before.size);
    for (let i = 0; i < 60; i++) {
      for (const r of [0, 5])
        expect(after.find(pic(i).hash, hex(i + 1), r, "WO_x")).toEqual(before.find(pic(i).hash, hex(i + 1), r, "WO_x"));
    }
    // twice over, with more appended between
    await commitArchive(out, "b.zip", [pic(100)], 100);
    await compactPictures(out, true);
    const third = await open(out);
    expect(third.size).toBe(61);
    expect([100, 0, 58].map((i) => found(third, i))).toEqual([true, true, true]);
  });

  it("compacts by itself once the journal is past its threshold", async () => {
    const out = await outbox();
    const many = Array.from({ length: 2000 }, (_, i) => pic(i, `WO_${i}_${"x".repeat(40)}`));
    let k = 0;
    while (
      (await stat(journalPath(out)).then(
        (s) => s.size,
        () => 0,
      )) < COMPACT_AFTER_BYTES
    )
      await commitArchive(out, `a${k++}.zip`, many, k);
    expect(await compactPictures(out)).toBe(true);
    expect((await open(out)).size).toBe(k * 2000);
  });

  it("a compaction stopped between its two renames: no picture twice, nothing waiting for recovery lost", async () => {
    const out = await outbox();
    await commitArchive(out, "a0.zip", [pic(0)], 1);
    await commitArchive(out, "a1.zip", [pic(1)], 2);
    await commitArchive(out, "a2.zip", [pic(2)], 3, false); // in place, not yet in the ledger
    await writeFile(path.join(out, "a2.zip"), "published");
    const oldJournal = await readFile(journalPath(out));
    await compactPictures(out, true);
    await writeFile(journalPath(out), oldJournal); // as if the crash came before the journal's rename
    const index = await open(out);
    expect(index.size).toBe(2);
    expect([0, 1, 2].map((i) => found(index, i))).toEqual([true, true, false]);
    await appendLedger(out, [{ type: "commit", id: "WO_2", fingerprint: "f", archive: "a2.zip", at: "x" }]); // recovery
    await commitArchive(out, "a3.zip", [pic(3)], 4);
    const later = await open(out);
    expect(later.size).toBe(4);
    expect([0, 1, 2, 3].map((i) => found(later, i))).toEqual([true, true, true, true]);
    await compactPictures(out, true);
    expect((await stat(journalPath(out))).size).toBe(16);
    expect((await open(out)).size).toBe(4);
  });

  it("a damaged snapshot is told, its pictures not compared; the journal still counts", async () => {
    const out = await outbox();
    await commitArchive(out, "a0.zip", [pic(0)], 1);
    await compactPictures(out, true);
    await commitArchive(out, "a1.zip", [pic(1)], 2);
    const snap = await readFile(snapshotPath(out));
    snap[snap.length - 10]! ^= 1;
    await writeFile(snapshotPath(out), snap);
    const index = await open(out);
    expect([found(index, 0), found(index, 1)]).toEqual([false, true]);
    expect(index.problems.map((p) => [p.code, p.path])).toEqual([["W_PICTURE_INDEX_DAMAGED", snapshotPath(out)]]);
    await truncate(snapshotPath(out), 5);
    expect(found(await open(out), 1)).toBe(true);
  });

  // (sparse files: the sizes cost no disk. Before, a file past 2 GiB stopped every pack of the outbox (exit 3),
  // and one under it was read whole into memory on every run)
  it.each([
    ["pictures.snapshot", MAX_INDEX_FILE_BYTES + 1],
    ["pictures.snapshot", 3 * 1024 ** 3],
    ["pictures.journal", MAX_INDEX_FILE_BYTES + 1],
    ["pictures.journal", 3 * 1024 ** 3],
  ])(
    "%s of %d bytes (damage: larger than wopack writes) is told, not read; packing goes on, compaction drops it",
    async (name, size) => {
      const out = await outbox();
      await commitArchive(out, "a0.zip", [pic(0)], 1);
      await compactPictures(out, true);
      await commitArchive(out, "a1.zip", [pic(1)], 2);
      const file = path.join(out, ".wopack", name);
      const intact = name === "pictures.snapshot" ? 1 : 0; // the pictures in the other file
      await writeFile(file, "garbage, not an index");
      await truncate(file, size);
      const index = await open(out);
      expect([found(index, 0), found(index, 1)]).toEqual([intact === 0, intact === 1]);
      expect(index.problems.map((p) => [p.code, p.path])).toEqual([["W_PICTURE_INDEX_DAMAGED", file]]);
      // compaction puts a small index in its place, keeping what could be read: by itself for that journal
      // (past COMPACT_AFTER_BYTES); for that snapshot when the journal is next compacted (forced here), as for any
      // damaged one (before, a snapshot that size was never compacted: the journal never reached a quarter of it)
      expect(await compactPictures(out, name === "pictures.snapshot")).toBe(true);
      expect((await stat(file)).size).toBeLessThan(1024);
      await commitArchive(out, "a2.zip", [pic(2)], 3);
      const after = await open(out);
      expect([0, 1, 2].map((i) => found(after, i))).toEqual([intact === 0, intact === 1, true]);
      expect(after.problems).toEqual([]);
    },
  );

  it("shards: the sibling outboxes' committed pictures too, each against its own ledger, and only when asked", async () => {
    const parent = await tempDir();
    const [a, b, c] = await Promise.all(["s0", "s1", "s2"].map((n) => outbox(parent, n)));
    await commitArchive(a!, "a.zip", [pic(0)], 1);
    await commitArchive(b!, "b.zip", [pic(1)], 2);
    await commitArchive(b!, "b2.zip", [pic(2)], 3, false);
    await commitArchive(c!, "c.zip", [pic(3)], 4);
    await compactPictures(c!, true);
    await mkdir(path.join(parent, "not-an-outbox"));
    const alone = await open(a!);
    expect([0, 1, 2, 3].map((i) => found(alone, i))).toEqual([true, false, false, false]);
    const all = await open(a!, true);
    expect([0, 1, 2, 3].map((i) => found(all, i))).toEqual([true, true, false, true]);
    expect(all.find(pic(1).hash, undefined, 0, "WO_x")?.picture).toMatchObject({ archive: "b.zip", out: b });
  });
});
