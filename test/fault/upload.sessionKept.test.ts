// The upload journal names a session without its bearer token (SPEC §12), and a restart still resumes it: the
// session URL is kept apart (.wopack/sessions, 0600) from before the batch is journaled until the session ends.
// kill -9 at each step of that, then a rerun: every archive uploaded once, no token in any journal line, no
// session file left (issue 21). A batch made and kept but never journaled is adopted by the rerun.
import { readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { stateDir } from "../../src/commit/paths.js";
import { uploadsPath } from "../../src/commit/uploads.js";
import { committedCopy, wopack } from "../helpers.js";
import { type Faults, UploadServer } from "../upload-server.js";

const KEY = "wk_live_7f3c9a1e5b2d4c6a8e0f";
const UPLOAD_ID = "ADPycdsess1ontoken9Q";
let server: UploadServer;
beforeEach(async () => {
  server = await new UploadServer(KEY).start();
  server.faults.uploadIdPrefix = UPLOAD_ID;
});
afterEach(async () => {
  await server.stop();
});
const env = (fault?: string) => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY, ...(fault ? { WOPACK_FAULT: fault } : {}) });

async function sessionFiles(out: string): Promise<string[]> {
  const dir = path.join(stateDir(out), "sessions");
  return (await readdir(dir).catch(() => [] as string[])).map((f) => path.join(dir, f));
}

/**
 * Each row: where the first run is killed, and what the platform did before. `batches`: how many the platform
 * holds in the end (a lost creation answer leaves its own, W_BATCH_MAYBE_MADE; a batch made and kept but never
 * journaled is adopted by the rerun, never a second made beside it; an abandoned one is never resumed).
 */
const table: { point: string; faults?: Faults; batches: number; journaled: boolean }[] = [
  { point: "session-kept", batches: 1, journaled: false },
  { point: "session-kept", faults: { loseCreated: { count: 1, how: 502 } }, batches: 2, journaled: false },
  { point: "session-kept", faults: { unavailable: 1 }, batches: 1, journaled: false },
  { point: "batch-journaled", batches: 1, journaled: true },
  { point: "session-ended", batches: 1, journaled: true },
  // (the session expires mid-way: its batch deleted and abandoned, killed before its URL is removed)
  { point: "session-ended", faults: { expireAtBytes: 1 }, batches: 2, journaled: true },
];

describe("an upload session's URL kept apart from the journal (SPEC §12)", () => {
  for (const { point, faults, batches, journaled } of table)
    it(`kill -9 at ${point}${faults ? ` after ${JSON.stringify(faults)}` : ""}, then a rerun: uploaded once, ${batches} batch(es), no token journaled, nothing left`, async () => {
      const ws = await committedCopy(1);
      server.faults = { ...server.faults, ...faults };
      const killed = await wopack(["upload", ws.out], { env: env(point) });
      expect(killed.code, `${killed.stdout}\n${killed.stderr}`).toBeNull();
      const kept = await sessionFiles(ws.out);
      expect(kept.length, "the session URL is on disk from before its batch is journaled").toBe(1);
      expect((await stat(kept[0]!)).mode & 0o777).toBe(0o600);
      expect(await readFile(kept[0]!, "utf8")).toContain(`upload_id=${UPLOAD_ID}`);
      const journal = await readFile(uploadsPath(ws.out), "utf8");
      expect(journal).not.toContain(UPLOAD_ID);
      expect(journal.includes('"type":"batch"')).toBe(journaled);

      server.faults = { uploadIdPrefix: UPLOAD_ID };
      const rerun = await wopack(["upload", ws.out], { env: env() });
      expect(rerun.code, `${rerun.stdout}\n${rerun.stderr}`).toBe(0);
      const accepted = [...server.accepted().values()];
      expect(accepted.map((b) => b.length)).toEqual([1]);
      expect(server.batches.size).toBe(batches);
      expect(server.violations).toEqual([]);
      expect(await readFile(uploadsPath(ws.out), "utf8")).not.toContain(UPLOAD_ID);
      expect(await sessionFiles(ws.out)).toEqual([]);
    }, 60_000);
});

/**
 * A batch made and kept but never journaled whose archive is then never sent: its twin (the same bytes, from a
 * --repack) was uploaded first, or the archive was removed from --out by hand. The batch holds nothing: the
 * next run deletes it on the platform and its session URL (a bearer token) leaves the disk.
 */
describe("a kept, never journaled batch whose archive is not sent after all", () => {
  const zips = async (out: string) => (await readdir(out)).filter((n) => n.endsWith(".zip")).sort();
  for (const how of ["its twin uploaded first", "its archive removed by hand"] as const)
    it(`${how}: the batch is deleted on the platform and its session file removed`, async () => {
      const ws = await committedCopy(1);
      if (how === "its twin uploaded first") {
        const repack = await wopack(["pack", ws.staging, "--out", ws.out, "--repack"]);
        expect(repack.code, repack.stderr).toBe(0);
      }
      const [x, twin] = await zips(ws.out);
      const killed = await wopack(["upload", ws.out, x!], { env: env("session-kept") });
      expect(killed.code, killed.stderr).toBeNull();
      expect(await sessionFiles(ws.out)).toHaveLength(1);
      const [made] = [...server.batches.values()];
      if (twin) {
        const up = await wopack(["upload", ws.out, twin], { env: env() });
        expect(up.code, up.stderr).toBe(0);
      } else for (const f of [x!, `${x}.report.json`]) await rm(path.join(ws.out, f));
      const rerun = await wopack(["upload", ws.out], { env: env() });
      expect(rerun.code, `${rerun.stdout}\n${rerun.stderr}`).toBe(0);
      expect(rerun.stderr).not.toContain("W_BATCH_LEFT");
      expect(made!.deleted, "the empty batch of the stopped run").toBe(true);
      expect(await sessionFiles(ws.out)).toEqual([]);
      expect([...server.accepted().values()].flat()).toHaveLength(twin ? 1 : 0);
      expect(server.violations).toEqual([]);
    }, 60_000);
});
