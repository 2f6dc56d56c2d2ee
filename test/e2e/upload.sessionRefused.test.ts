// A 401/403 from the upload session is not the key's fault (the key never goes there): the archive goes on
// in a new batch, or fails alone; it never stops every upload with E_UPLOAD_CREDENTIALS (exit 5), which
// made a watch --upload stop sending until restarted and told the operator to check a key that was fine.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readUploads } from "../../src/commit/uploads.js";
import { committedCopy, committedOutbox, sha256, wopack } from "../helpers.js";
import type { UploadServer } from "../upload-server.js";
import { useUploadServer } from "../useUploadServer.js";

const KEY = "wk_live_session_refused_4e1a";
let server: UploadServer;
useUploadServer(KEY, (s) => (server = s));

describe("the upload session answers 403", () => {
  it("(table) now and then: the archive is sent in a new batch, once; always: it fails alone, exit 1, the key not blamed", async () => {
    for (const refused of [1, 2, 1000]) {
      const ws = await committedCopy(2);
      const env = { WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY };
      server.batches.clear();
      server.faults = { refuseSession: refused };
      const r = await wopack(["upload", ws.out], { env });
      const journal = await readUploads(ws.out);
      const uploaded = [...journal.archives.values()].filter((a) => a.uploaded);
      if (refused < 1000) {
        expect(r.code, `${refused}: ${r.stderr}`).toBe(0);
        expect(uploaded, `${refused}`).toHaveLength(2);
        // each archive in one accepted batch, byte for byte; the refused batches deleted
        for (const [name, batches] of server.accepted()) {
          expect(batches, `${refused}: ${name}`).toHaveLength(1);
          const zip = path.join(ws.out, `${name}.zip`);
          expect(server.received(batches[0]!.id).sha256).toBe(sha256(await readFile(zip)));
        }
        expect([...server.batches.values()].filter((b) => !b.deleted)).toHaveLength(2);
      } else {
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).not.toMatch(/E_UPLOAD_CREDENTIALS|WOPACK_API_KEY/);
        expect(r.stderr).toMatch(/HTTP 403/);
        expect(uploaded).toHaveLength(0);
        // both archives were tried (the first did not stop the second), each failed on its own
        expect([...journal.archives.values()].filter((a) => a.failed)).toHaveLength(2);
      }
      expect(server.violations).toEqual([]);
    }
  });
});

describe("the upload session keeps a few bytes of each chunk", () => {
  it("is a protocol error for that archive after a few answers, not an upload that goes on for ever", async () => {
    const ws = await committedOutbox(1, 3);
    server.faults = { keepAtMost: 1000 };
    const r = await wopack(["upload", ws.out], { env: { WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY } });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/E_UPLOAD_PROTOCOL.*took 1000 of the/);
    // a handful of chunks, not one per kilobyte of the archive
    const puts = server.log.filter((l) => l.method === "PUT" && l.url.startsWith("/upload"));
    expect(puts.length).toBeLessThan(10);
    expect(server.violations).toEqual([]);
  });
});
