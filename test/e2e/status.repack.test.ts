// pack --repack of work that did not change makes an archive of the very bytes already uploaded: upload
// rightly sends nothing (W_UPLOAD_DUPLICATE), and status must not call it "committed, not uploaded" for ever
// (a --max-age alarm that never clears): it is uploaded, as the same bytes, in the batch that holds them.
// Work that did change is a new archive, not uploaded until it is sent. A table of repacks.
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { committedOutbox, noiseJpeg, put, tempDir, wopack } from "../helpers.js";
import type { UploadServer } from "../upload-server.js";
import { useUploadServer } from "../useUploadServer.js";

const KEY = "wk_status_repack";
let server: UploadServer;
useUploadServer(KEY, (s) => (server = s));
const env = () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY });

interface Line {
  archive: string;
  state: string;
  batchId?: string;
  sameAs?: string;
}

const table: { what: string; uploadedTo: boolean; repacks: number; change: boolean }[] = [
  { what: "unchanged work, repacked once", uploadedTo: false, repacks: 1, change: false },
  { what: "unchanged work, repacked twice", uploadedTo: false, repacks: 2, change: false },
  { what: "unchanged work, the first archive moved by --uploaded-to", uploadedTo: true, repacks: 1, change: false },
  { what: "changed work (a photo replaced)", uploadedTo: false, repacks: 1, change: true },
];

describe("status after pack --repack of uploaded work", () => {
  for (const { what, uploadedTo, repacks, change } of table) {
    it(`${what}: ${change ? "committed, not uploaded, until sent" : "uploaded, as the same bytes"}`, async () => {
      const ws = await committedOutbox(1, 2);
      const sent = path.join(await tempDir(), "sent");
      await mkdir(sent); // (never made by wopack: missing, nothing would be moved)
      const up = await wopack(["upload", ws.out, ...(uploadedTo ? ["--uploaded-to", sent] : [])], { env: env() });
      expect(up.code, up.stderr).toBe(0);
      const [first] = server.batches.values();
      for (let i = 0; i < repacks; i++) {
        if (change) {
          await rm(path.join(ws.staging, "WO_0/meter/p0.jpg"));
          await put(ws.staging, "WO_0/meter/p0.jpg", noiseJpeg(400, 300, 99));
        }
        const r = await wopack(["pack", ws.staging, "--out", ws.out, "--repack"]);
        expect(r.code, r.stderr).toBe(0);
      }
      const again = await wopack(["upload", ws.out, "--json"], { env: env() });
      expect(again.code, again.stderr).toBe(0);
      expect(server.accepted().size).toBe(change ? 2 : 1); // unchanged bytes are never sent twice

      const st = await wopack(["status", ws.out, "--json", "--max-age", "0s"]);
      const lines = JSON.parse(st.stdout).archives as Line[];
      const repacked = lines.filter((l) => !l.sameAs && l.batchId !== first!.id);
      if (!change) {
        expect(st.code, st.stdout).toBe(0); // no alarm: everything is on the platform
        for (const l of lines) expect(l.state, l.archive).toBe("uploaded");
        for (const l of lines) expect(l.batchId, l.archive).toBe(first!.id);
        expect(lines.filter((l) => l.sameAs)).toHaveLength(repacks);
        const text = await wopack(["status", ws.out]);
        expect(text.stdout).toMatch(/same bytes as/);
      } else {
        expect(lines.filter((l) => l.sameAs)).toEqual([]);
        expect(repacked.map((l) => l.state)).toEqual(["uploaded"]);
      }
    });
  }
});
