// The index of packed pictures under SIGKILL (SPEC §15: "with the ledger's crash safety"). A child process runs
// the real commit step (dist/commit/commit.js, its pictures appended through recordPictures) archive after archive
// with compactions between, and is killed at random points and at every fault point; each time, what the next run
// does at its start (recovery, compaction; a compaction before it too) is done, and the index is opened: every picture of a committed archive
// is found and named after that archive, nothing of an uncommitted one is, and a work order packed again (after a
// crash took its first attempt) is never flagged against itself.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { openPictureIndex } from "../../src/checks/pictureIndex.js";
import { compactPictures } from "../../src/checks/pictureStore.js";
import { readLedger } from "../../src/commit/ledger.js";
import { recover } from "../../src/commit/recovery.js";
import { systemClock } from "../../src/core/clock.js";
import { ROOT, tempDir, waitFor } from "../helpers.js";

const dist = (p: string) => pathToFileURL(path.join(ROOT, "dist", p)).href;

/** A work order's photos as the index keeps them: distinct random-looking hashes, far from each other. */
function pictures(wo: string) {
  return [0, 1].map((j) => {
    const sha256 = createHash("sha256").update(`${wo}/${j}`).digest("hex");
    return { hash: BigInt(`0x${sha256.slice(0, 16)}`), sha256, workOrder: wo, entry: `${wo}/meter-${j}.jpg` };
  });
}

// Packs the work orders in WOS two to an archive, as a run does: recovery and compaction at its start, then
// each archive through the real commit step; compacts after every other archive too. Says "committed" after each.
const CHILD = `
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { createHash } from "node:crypto";
const { commitArchive } = await import(${JSON.stringify(dist("commit/commit.js"))});
const { recover } = await import(${JSON.stringify(dist("commit/recovery.js"))});
const { appendPictures, compactPictures } = await import(${JSON.stringify(dist("checks/pictureStore.js"))});
const { silentLogger } = await import(${JSON.stringify(dist("core/types.js"))});
const out = process.argv[2];
const wos = JSON.parse(process.env.WOS);
const now = () => new Date();
const pictures = (wo) => [0, 1].map((j) => {
  const sha256 = createHash("sha256").update(wo + "/" + j).digest("hex");
  return { hash: BigInt("0x" + sha256.slice(0, 16)), sha256, workOrder: wo, entry: wo + "/meter-" + j + ".jpg" };
});
await mkdir(path.join(out, ".wopack", "tmp"), { recursive: true });
await recover(out, now);
await compactPictures(out, true);
for (let k = 0; k * 2 < wos.length; k++) {
  const batch = wos.slice(2 * k, 2 * k + 2);
  const tmp = path.join(out, ".wopack", "tmp", process.pid + "." + k + ".zip.partial");
  await writeFile(tmp, "an archive of " + batch.join(", "));
  const all = batch.flatMap(pictures);
  await commitArchive(
    { tmp, sha256: "0".repeat(64), bytes: 1, seq: 1, openedAt: 0 },
    { workOrders: batch.map((id) => ({ id, fingerprint: "f-" + id, archive: "", entries: [], warnings: [] })), refused: [], warnings: [] },
    { out, staging: out, prefix: "batch", now, log: silentLogger, recordPictures: (name) => appendPictures(out, name, all, now()) },
  );
  process.stdout.write("committed\\n");
  if (k % 2 === 1) await compactPictures(out, true);
}
process.stdout.write("done\\n");
`;

interface Run {
  child: ChildProcess;
  lines: () => number;
  closed: Promise<void>;
}

function runChild(script: string, out: string, wos: string[], fault?: string): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, WOS: JSON.stringify(wos) };
  if (fault) env.WOPACK_FAULT = fault;
  const child = spawn(process.execPath, [script, out], { env, stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  child.stdout!.on("data", (d) => {
    text += String(d);
  });
  const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
  return { child, lines: () => text.split("\n").filter((l) => l === "committed").length, closed };
}

/** work order -> the archives whose reports (beside them, committed) hold it */
async function committedArchives(out: string): Promise<Map<string, Set<string>>> {
  const ledger = await readLedger(out);
  const where = new Map<string, Set<string>>();
  for (const name of await readdir(out)) {
    if (!name.endsWith(".zip.report.json")) continue;
    const archive = name.slice(0, -".report.json".length);
    if (!ledger.archives.has(archive)) continue;
    const report = JSON.parse(await readFile(path.join(out, name), "utf8")) as { workOrders: { id: string }[] };
    for (const wo of report.workOrders) where.set(wo.id, new Set([...(where.get(wo.id) ?? []), archive]));
  }
  return where;
}

/** A small seeded generator, so that a failure can be run again (the seed is in the test's name). */
function seeded(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

describe("the index of packed pictures under SIGKILL", () => {
  const seed = Number(process.env.WOPACK_TEST_SEED ?? Date.now() % 100_000);
  it(`killed at random points and at every fault point, reopened: committed pictures all found, nothing else (seed ${seed})`, async () => {
    const random = seeded(seed);
    const dir = await tempDir();
    const out = path.join(dir, "out");
    const script = path.join(dir, "child.mjs");
    await writeFile(script, CHILD);
    const faults = ["before-publish", "after-publish", "after-ledger", "pictures-compacting"];
    let pending: string[] = [];
    let next = 0;
    const attempted = new Set<string>();
    let cutShort = 0;
    for (let round = 0; round < 12; round++) {
      // the work orders a crash kept from being committed are packed again, then new ones
      for (let i = 0; i < 4; i++) pending.push(`WO_${String(next++).padStart(3, "0")}`);
      const fault = round < faults.length ? faults[round] : undefined;
      const run = runChild(script, out, pending, fault);
      if (!fault) {
        const after = 1 + random(2);
        await waitFor(async () => run.lines() >= after || run.child.exitCode !== null, `${after} archives committed`);
        // anywhere in the archive after it, or in the compaction after it: 0-15 ms on
        const delay = random(16);
        await new Promise((r) => setTimeout(r, delay));
        run.child.kill("SIGKILL");
      }
      await run.closed;
      for (const wo of pending) attempted.add(wo);

      // a compaction before recovery (as a watch pass might run it) keeps what recovery will adopt; then
      // what the next run does first, and the index as it opens it
      await compactPictures(out, true);
      await recover(out, systemClock);
      await compactPictures(out);
      const index = await openPictureIndex(out, { siblings: false, ledger: await readLedger(out) });
      const where = await committedArchives(out);
      expect(index.problems).toEqual([]);
      for (const wo of attempted) {
        for (const p of pictures(wo)) {
          const got = index.find(p.hash, p.sha256, 10, "WO_someone_else");
          if (where.has(wo)) {
            expect(got, `${wo}: committed in ${[...where.get(wo)!]}`).toMatchObject({ distance: 0, exact: true });
            expect(got!.picture.workOrder).toBe(wo);
            expect(where.get(wo)!.has(got!.picture.archive), `${wo} named after ${got!.picture.archive}`).toBe(true);
          } else expect(got, `${wo}: never committed`).toBeUndefined();
          // the work order itself, packed again: never flagged against its own photos
          expect(index.find(p.hash, p.sha256, 10, wo)).toBeUndefined();
        }
      }
      expect(index.size).toBe([...where.keys()].length * 2);
      pending = pending.filter((wo) => !where.has(wo));
      if (pending.length) cutShort++;
    }
    // the kills cut attempts short (their work orders packed again later), and most work orders got packed
    expect(cutShort).toBeGreaterThan(1);
    expect((await committedArchives(out)).size).toBeGreaterThan(attempted.size / 2);
  });
});
