// `upload <archive> --attention-cleared` while another run holds --out (issue 21): what it says must be true. The
// holder here is this test process (the lock on --out taken as a watch, or a first --attention-cleared, holds it).
// An archive cleared already (the second of two clearings at once) or uploaded already is no failure (exit 0),
// and `status` never says "uploading 0.0 MB" of an archive nothing is being sent to: it is to send again.
import { appendFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { acquireLock, type Lock } from "../../src/commit/lock.js";
import { lockPath, stateDir, tmpDir } from "../../src/commit/paths.js";
import { uploadsPath } from "../../src/commit/uploads.js";
import { archivesIn, committedOutbox, wopack } from "../helpers.js";

const AT = "2026-12-06T05:00:00.000Z";
const env = { WOPACK_API_URL: "http://127.0.0.1:9", WOPACK_API_KEY: "wk_cleared_beside_0123" };

/** The journal's records for the archive before the run, by what happened to it. */
const history: Record<string, (a: string) => object[]> = {
  "never sent": () => [],
  "needing attention": (a) => [
    { type: "intent", archive: a, sha256: "0".repeat(64), bytes: 1, at: AT },
    { type: "batch", archive: a, batchId: "b1", uploadUrl: "http://x/s", at: AT },
    { type: "attention", archive: a, batchId: "b1", reason: "deleting the batch was refused", at: AT },
  ],
  "cleared by another run just before": (a) => [
    ...history["needing attention"]!(a),
    { type: "cleared", archive: a, batchId: "b1", at: AT },
  ],
  uploaded: (a) => [{ type: "uploaded", archive: a, sha256: "0".repeat(64), batchId: "b2", at: AT }],
};

const table: { what: string; code: number; says: RegExp; status: RegExp }[] = [
  { what: "needing attention", code: 0, says: /^cleared /m, status: /committed, to send again \(attention cleared at / },
  { what: "cleared by another run just before", code: 0, says: /^cleared /m, status: /committed, to send again/ },
  { what: "uploaded", code: 0, says: /^already .*batch b2/m, status: /uploaded \(batch b2/ },
  { what: "never sent", code: 1, says: /E_UPLOAD_OUT_LOCKED.*needs no attention/, status: /committed, not uploaded/ },
];

let lock: Lock | undefined;
afterEach(async () => {
  await lock?.release();
  lock = undefined;
});

describe("--attention-cleared beside the run holding --out", () => {
  for (const { what, code, says, status } of table)
    it(`an archive ${what}: exit ${code}, ${says}; status: ${status}`, async () => {
      const ws = await committedOutbox(1);
      const name = path.basename((await archivesIn(ws.out))[0]!);
      await mkdir(stateDir(ws.out), { recursive: true });
      await appendFile(
        uploadsPath(ws.out),
        history[what]!(name)
          .map((r) => `${JSON.stringify(r)}\n`)
          .join(""),
      );
      lock = await acquireLock(lockPath(ws.out), tmpDir(ws.out), new Date());

      const r = await wopack(["upload", ws.out, name, "--attention-cleared"], { env });
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(code);
      expect(`${r.stdout}\n${r.stderr}`).toMatch(says);

      const st = await wopack(["status", ws.out]);
      expect(st.stdout).toMatch(status);
      expect(st.stdout).not.toMatch(/uploading 0\.0 MB/);
    });
});
