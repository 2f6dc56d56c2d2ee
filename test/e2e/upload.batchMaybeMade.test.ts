// A batch creation whose answer is lost (the platform made the batch, then a gateway's 5xx or a dropped
// connection reached wopack): the API cannot list batches by name, so wopack cannot find it again. Each such
// loss is journaled (with the time); what is said of them is folded, one W_BATCH_MAYBE_MADE per archive and try
// with their count and first/last time, and status shows them (folded) until the archive is uploaded or
// cleared. An answer that says the request was not handled (429, 503) is no such loss.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { uploadsPath } from "../../src/commit/uploads.js";
import { archivesIn, committedCopy, wopack } from "../helpers.js";
import type { Faults, UploadServer } from "../upload-server.js";
import { useUploadServer } from "../useUploadServer.js";

const KEY = "wk_live_maybe_made_0123";
let server: UploadServer;
useUploadServer(KEY, (s) => (server = s));
// (the CLI's retry backoff a tenth as long: a Retry-After is waited as sent)
const env = () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY, WOPACK_TEST_TIME_SCALE: "0.1" });

const table: { fault: string; faults: Faults; made: number }[] = [
  { fault: "502 after making it", faults: { loseCreated: { count: 1, how: 502 } }, made: 1 },
  { fault: "500 after making it", faults: { loseCreated: { count: 1, how: 500 } }, made: 1 },
  { fault: "504 after making it, twice", faults: { loseCreated: { count: 2, how: 504 } }, made: 2 },
  { fault: "the connection dropped after making it", faults: { loseCreated: { count: 1, how: "drop" } }, made: 1 },
  { fault: "503 (not handled)", faults: { unavailable: 1 }, made: 0 },
  { fault: "429 (not handled)", faults: { tooMany: { count: 1, retryAfter: 1 } }, made: 0 },
];

describe("a batch creation whose answer is lost", () => {
  for (const { fault, faults, made } of table) {
    it(`${fault}: ${made ? `${made} batch(es) that may have been made, said once, folded` : "nothing said"}; accepted once`, async () => {
      const ws = await committedCopy(1);
      const [zip] = await archivesIn(ws.out);
      const name = path.basename(zip!);
      server.faults = faults;
      const r = await wopack(["upload", ws.out], { env: env() });
      expect(r.code, r.stderr).toBe(0);

      const filename = name.replace(/\.zip$/, "");
      const batches = [...server.batches.values()].filter((b) => b.filename === filename);
      expect(batches).toHaveLength(1 + made); // the orphans the lost answers left
      expect(server.accepted().get(filename)).toHaveLength(1);
      expect(server.violations).toEqual([]);

      const warnings = r.stderr.split("\n").filter((l) => l.includes("W_BATCH_MAYBE_MADE"));
      expect(warnings, r.stderr).toHaveLength(made ? 1 : 0); // folded: one per try of the archive
      for (const w of warnings) expect(w).toContain(name);
      if (made > 1) expect(warnings[0]).toContain(`${made} batch creations`);

      const journal = (await readFile(uploadsPath(ws.out), "utf8"))
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; archive: string; at: string });
      const maybe = journal.filter((j) => j.type === "maybeBatch");
      expect(maybe).toHaveLength(made);
      for (const m of maybe) expect(m.archive).toBe(name);
      for (const m of maybe) expect(Number.isNaN(Date.parse(m.at))).toBe(false);

      // uploaded: status tells where the archive stands, no note of a try before
      const st = await wopack(["status", ws.out, "--json"]);
      expect(st.code, st.stderr).toBe(0);
      const [line] = JSON.parse(st.stdout).archives;
      expect(line.state).toBe("uploaded");
      expect(line.maybeBatches).toBeUndefined();
      expect((await wopack(["status", ws.out])).stdout).not.toContain("W_BATCH_MAYBE_MADE");
    });
  }

  for (const lost of [2, 4])
    it(`every answer lost (${lost} tries): one folded note, in status until the archive is uploaded`, async () => {
      const ws = await committedCopy(1);
      const [zip] = await archivesIn(ws.out);
      const name = path.basename(zip!);
      server.faults = { loseCreated: { count: lost, how: 502 } };
      const r = await wopack(["upload", ws.out, "--upload-retries", String(lost - 1)], { env: env() });
      expect(r.code, r.stderr).not.toBe(0);
      const warnings = r.stderr.split("\n").filter((l) => l.includes("W_BATCH_MAYBE_MADE"));
      expect(warnings, r.stderr).toHaveLength(1);
      expect(warnings[0]).toContain(`${lost} batch creations`);

      const st = await wopack(["status", ws.out, "--json"]);
      const [line] = JSON.parse(st.stdout).archives;
      expect(line.state).toBe("failed");
      expect(line.maybeBatches).toMatchObject({ count: lost });
      const text = (await wopack(["status", ws.out])).stdout.split("\n");
      expect(text.filter((l) => l.includes("W_BATCH_MAYBE_MADE"))).toHaveLength(1);
      expect(text.find((l) => l.includes("W_BATCH_MAYBE_MADE"))).toContain(`${lost} batch creations`);

      const again = await wopack(["upload", ws.out], { env: env() });
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).not.toContain("W_BATCH_MAYBE_MADE");
      const [after] = JSON.parse((await wopack(["status", ws.out, "--json"])).stdout).archives;
      expect(after.state).toBe("uploaded");
      expect(after.maybeBatches).toBeUndefined();
      expect(server.accepted().get(name.replace(/\.zip$/, ""))).toHaveLength(1);
    });
});
